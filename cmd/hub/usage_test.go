package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command that groups others refuses an unknown subcommand as bad
// usage (exit 2), naming the group; the groups are found by walking the
// command tree, so a new group is held to it too.
func TestUnknownCommandEveryGroup(t *testing.T) {
	db := t.TempDir() + "/hub.db"
	var groups []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() {
			groups = append(groups, c)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk((&app{}).rootCommand())
	if len(groups) < 5 {
		t.Fatalf("found %d command groups, want hub, trace, gap, mapping, cursor and more", len(groups))
	}
	for _, g := range groups {
		path := strings.Fields(g.CommandPath())[1:] // without "hub"
		t.Run(strings.Join(append([]string{"hub"}, path...), "_"), func(t *testing.T) {
			args := append(append([]string{}, path...), "nosuch", "x")
			out, errs, code := hub(t, db, "", args...)
			want := `unknown command "nosuch" for "` + g.CommandPath() + `"`
			if code != exitInvalid || !strings.Contains(errs, want) {
				t.Errorf("hub %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(args, " "), code, errs, want)
			}
			if !strings.Contains(errs, "Run '"+g.CommandPath()+" --help' for usage.") {
				t.Errorf("hub %s: stderr %q does not point to the group's help", strings.Join(args, " "), errs)
			}
			if out != "" {
				t.Errorf("hub %s printed %q on stdout, want nothing", strings.Join(args, " "), out)
			}
			// With no subcommand, a group prints its help and succeeds; a
			// command that runs and has subcommands (hub errors) runs.
			if len(path) > 0 && g.Runnable() {
				if _, errs, code := hub(t, db, "", path...); code != exitOK {
					t.Errorf("hub %s: exit %d, stderr %q; want it to run", strings.Join(path, " "), code, errs)
				}
			} else if len(path) > 0 {
				out, errs, code = hub(t, db, "", path...)
				if code != exitOK || !strings.Contains(out, "Usage:") {
					t.Errorf("hub %s: exit %d, stdout %q, stderr %q; want its help and exit 0", strings.Join(path, " "), code, out, errs)
				}
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	db := t.TempDir() + "/hub.db"
	tests := []struct {
		name string
		args []string
		code int
		want string // on stderr, or stdout when the exit is 0
	}{
		{"Root", []string{"nosuchcmd"}, exitInvalid, `hub: unknown command "nosuchcmd" for "hub"` + "\nRun 'hub --help' for usage.\n"},
		{"RootDidYouMean", []string{"sycn", "sap"}, exitInvalid, `unknown command "sycn" for "hub" (did you mean "sync"?)`},
		{"CursorDidYouMean", []string{"cursor", "rest", "sap"}, exitInvalid, `unknown command "rest" for "hub cursor" (did you mean "reset"?)`},
		{"GapDidYouMean", []string{"gap", "wave", "G-1"}, exitInvalid, `unknown command "wave" for "hub gap" (did you mean "waive"?)`},
		{"MappingFarOff", []string{"mapping", "nosuch"}, exitInvalid, `unknown command "nosuch" for "hub mapping"` + "\n"},
		{"TraceDidYouMean", []string{"trace", "forwards", "F", "L"}, exitInvalid, `unknown command "forwards" for "hub trace" (did you mean "forward"?)`},
		{"HelpUnknown", []string{"help", "nosuch"}, exitInvalid, `unknown command "nosuch" for "hub"`},
		{"HelpUnknownSub", []string{"help", "cursor", "rest"}, exitInvalid, `unknown command "rest" for "hub cursor" (did you mean "reset"?)`},
		{"Help", []string{"help"}, exitOK, "Available Commands:"},
		{"HelpCursor", []string{"help", "cursor"}, exitOK, "hub cursor [command]"},
		{"CursorHelpFlag", []string{"cursor", "--help"}, exitOK, "hub cursor [command]"},
		{"NoCommand", []string{}, exitOK, "Available Commands:"},
		{"KnownSubcommand", []string{"cursor", "reset", "nothing-stored", "--reason", "start over"}, exitOK, "position reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := hub(t, db, "", tt.args...)
			got := errs
			if tt.code == exitOK {
				got = out
			}
			if code != tt.code || !strings.Contains(got, tt.want) {
				t.Errorf("hub %s: exit %d, stdout %q, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), code, out, errs, tt.code, tt.want)
			}
		})
	}
}

// Not found is exit 3 for every command that takes a lot (or a gap, an
// order, a connector's cursor): the CLI contract, docs/cli.md.
func TestNotFoundExit3(t *testing.T) {
	db := newPlant(t)
	cfg := filepath.Join(t.TempDir(), "hub.yaml")
	if err := os.WriteFile(cfg, []byte("connectors:\n  - {name: drop, plugin: filedrop, mapping: m.yaml, config: {source: /nonexistent}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--config", cfg, "sync", "nosuch"}, `no connector "nosuch"`},
		{[]string{"trace", "forward", "FLOUR", "F-X"}, "lot FLOUR/F-X not found"},
		{[]string{"trace", "backward", "FLOUR", "F-X", "--json"}, "lot FLOUR/F-X not found"},
		{[]string{"recall", "FLOUR", "F-X"}, "lot FLOUR/F-X not found"},
		{[]string{"recall", "--supplier-lot", "NOPE"}, "no lot"},
		{[]string{"trace", "backward", "--sales-order", "SO-NOPE"}, "no lot"},
		{[]string{"trace", "backward", "--customer", "C-NOPE"}, "no lot"},
		{[]string{"lot", "FLOUR", "F-X", "--json"}, "lot FLOUR/F-X not found"},
		{[]string{"hold", "FLOUR", "F-X", "--reason", "test", "--by", "qa"}, "FLOUR/F-X"},
		{[]string{"release", "FLOUR", "F-X", "--reason", "test", "--by", "qa"}, "FLOUR/F-X"},
		{[]string{"balance", "FLOUR", "F-X"}, "FLOUR/F-X"},
		{[]string{"balance", "--order", "WO-NOPE", "--json"}, "WO-NOPE"},
		{[]string{"gap", "show", "GAP-999999"}, "GAP-999999"},
		{[]string{"gap", "ack", "GAP-999999", "--by", "qa"}, "GAP-999999"},
		{[]string{"gap", "waive", "GAP-999999", "--by", "qa", "--reason", "test"}, "GAP-999999"},
		{[]string{"confirm", "GAP-999999", "--result", "pass", "--by", "qa", "--note", "n"}, "GAP-999999"},
		{[]string{"cursor", "show", "nosuch"}, "nosuch"},
		{[]string{"user", "passwd", "nosuch", "--password-stdin"}, `no user "nosuch"`},
		{[]string{"user", "disable", "nosuch"}, `no user "nosuch"`},
		{[]string{"token", "create", "--user", "nosuch"}, `no user "nosuch"`},
		{[]string{"token", "revoke", "nosuch"}, `no token "nosuch"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[:2], "_"), func(t *testing.T) {
			out, errs, code := hub(t, db, "", tt.args...)
			if code != exitNotFound || !strings.Contains(errs, tt.want) {
				t.Errorf("hub %s: exit %d, stderr %q; want exit 3 and %q", strings.Join(tt.args, " "), code, errs, tt.want)
			}
			if out != "" {
				t.Errorf("hub %s printed %q on stdout, want nothing", strings.Join(tt.args, " "), out)
			}
		})
	}
}
