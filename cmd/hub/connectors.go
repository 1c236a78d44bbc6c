package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/internal/bulkgc"
	"github.com/lothub/lothub/outbox"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/sdk"
)

// builtins are the connectors this binary serves as plugins (hub plugin
// NAME), filled by builtin.go. An executable lothub-connector-NAME in the
// plugin directory replaces the built-in of the same name.
var builtins = map[string]func() sdk.Connector{}

func builtinNames() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	return names
}

// configPath is the configuration file asked for: --config, $HUB_CONFIG,
// or ./hub.yaml; given reports whether one was named.
func (a *app) configPath() (path string, given bool) {
	if a.config != "" {
		return a.config, true
	}
	if p := os.Getenv("HUB_CONFIG"); p != "" {
		return p, true
	}
	return "hub.yaml", false
}

// loadConfig reads the hub configuration: --config, $HUB_CONFIG, or
// ./hub.yaml. It resolves no secret but the store's, and that only when
// --db and $HUB_DB leave the store to the file: a command resolves the
// secrets of what it starts (hub sync its connector's, hub serve all),
// so that one that uses no connector never asks for its password.
func (a *app) loadConfig() (*config.Hub, error) {
	path, _ := a.configPath()
	h, err := config.LoadDeferred(path)
	if err != nil {
		return nil, err
	}
	if !a.dbSet {
		if err := h.Store.Resolve(); err != nil {
			return nil, fmt.Errorf("%w (or give the database with --db)", err)
		}
		if h.Store.Value() != "" {
			a.db = h.Store.Value()
		}
	}
	return h, nil
}

// configOrDefaults is loadConfig, or the defaults (config.Defaults: no
// connectors) when no file was named and ./hub.yaml does not exist; found
// tells which.
func (a *app) configOrDefaults() (h *config.Hub, found bool, err error) {
	if path, given := a.configPath(); !given {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return config.Defaults(), false, nil
		}
	}
	h, err = a.loadConfig()
	return h, err == nil, err
}

func (a *app) plugins(h *config.Hub) *runner.Plugins {
	return &runner.Plugins{Builtins: builtinNames(), Dir: h.PluginDir}
}

// logger writes the hub's logs to stderr.
func (a *app) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func (a *app) syncCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "sync CONNECTOR",
		Short: "Run one sync of a configured connector now",
		Long: `Reads the connector's source from its stored position to the end, batch by
batch: each batch's records are archived, mapped and ingested, and the new
position stored, in one transaction. Killed at any point, the next sync
resumes after the last committed batch with nothing lost or doubled.

Transient errors (rate limits, 5xx, timeouts, a crashed plugin) are retried
with backoff for the connector's max_retry; then the run fails, keeping every
committed batch. Every run is recorded: see 'hub runs'. When the run wrote
events, the gap rules are evaluated after it (--evaluate=false to skip).`,
		Args: exactArgs(1, "CONNECTOR, a name from the configuration file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			bulkgc.Tune()
			h, err := a.loadConfig()
			if err != nil {
				return err
			}
			// The connector's secrets, before anything starts: a missing
			// one is reported at its file:line:col. An unknown name is
			// left to the runner, which says which names are configured.
			if c, err := h.Connector(args[0]); err == nil {
				if err := c.Resolve(); err != nil {
					return fmt.Errorf("connector %s: %w", c.Name, err)
				}
			}
			return a.withStore(cmd.Context(), func(s core.Store) error {
				r := &runner.Runner{Store: s, Config: h, Plugins: a.plugins(h), Logger: a.logger(), Actions: outbox.NewPlanner(h)}
				bar := newProgress(a.stderr, args[0])
				r.Progress = bar.update
				run, err := r.Sync(cmd.Context(), args[0], "manual")
				bar.done()
				// Gaps the new events raised or closed, and lots born from
				// held material, as hub serve does after a sync: due when
				// the store holds events no evaluation has seen, whether
				// this run wrote them or one killed before it did.
				a.evaluateIfDue(cmd.Context(), s, h)
				if asJSON {
					if jerr := writeJSON(a.stdout, run); jerr != nil {
						return jerr
					}
				} else if run.ID != 0 {
					fmt.Fprintf(a.stdout, "run %d of %s: %s; %d records in %d batches, %d events written, %d unchanged, %d quarantined, %d skipped, %s\n",
						run.ID, run.Connector, run.Status, run.Records, run.Batches, run.Events, run.Unchanged, run.Quarant, run.Skipped,
						run.Ended.Sub(run.Started).Round(time.Millisecond))
					writeSkips(a.stdout, "  ", run.Skips)
					if run.Quarant > 0 {
						fmt.Fprintln(a.stdout, "quarantined records: run 'hub errors' to see why")
					}
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the run as JSON")
	cmd.Flags().BoolVar(&a.evaluate, "evaluate", true, "evaluate the gap rules after the sync when events are unevaluated (--evaluate=false for a bulk backfill; the next sync, ingest or 'hub gaps --evaluate' catches up)")
	return cmd
}

func (a *app) runsCommand() *cobra.Command {
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "runs [CONNECTOR]",
		Short: "List sync runs, newest first",
		Args:  maxArgs(1, "at most one CONNECTOR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := core.RunFilter{Limit: limit}
			if len(args) == 1 {
				f.Connector = args[0]
			}
			return a.withStore(cmd.Context(), func(s core.Store) error {
				runs, err := s.Runs(cmd.Context(), f)
				if err != nil {
					return err
				}
				if asJSON {
					if runs == nil {
						runs = []core.Run{}
					}
					return writeJSON(a.stdout, map[string]any{"runs": runs})
				}
				if len(runs) == 0 {
					fmt.Fprintln(a.stdout, "no runs yet: 'hub sync CONNECTOR' runs one, 'hub serve' runs the schedules")
					return nil
				}
				t := newTable(a.stdout, "RUN", "CONNECTOR", "TRIGGER", "STARTED", "TOOK", "STATUS", "RECORDS", "EVENTS", "QUARANTINED", "SKIPPED", "ERROR")
				for _, r := range runs {
					took := "-"
					if !r.Ended.IsZero() {
						took = r.Ended.Sub(r.Started).Round(time.Millisecond).String()
					}
					t.row(fmt.Sprint(r.ID), r.Connector, r.Trigger, r.Started.Format(time.RFC3339), took, r.Status,
						fmt.Sprint(r.Records), fmt.Sprint(r.Events), fmt.Sprint(r.Quarant), fmt.Sprint(r.Skipped), r.Error)
				}
				t.flush()
				// Skips are never silent: say which rule skipped what, and
				// why, under the table.
				for _, r := range runs {
					if len(r.Skips) > 0 {
						fmt.Fprintf(a.stdout, "run %d skipped %d record(s):\n", r.ID, r.Skipped)
						writeSkips(a.stdout, "  ", r.Skips)
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many runs (0 for all)")
	return cmd
}

func (a *app) cursorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cursor show|reset CONNECTOR",
		Short: "Show or reset a connector's stored position",
	}
	var asJSON bool
	show := &cobra.Command{
		Use:  "show CONNECTOR",
		Args: exactArgs(1, "CONNECTOR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(s core.Store) error {
				c, err := s.Cursor(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, c)
				}
				fmt.Fprintf(a.stdout, "%s: position %q, committed %s by run %d\n", c.Connector, c.Position, c.Updated.Format(time.RFC3339), c.RunID)
				return nil
			})
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	var reason string
	reset := &cobra.Command{
		Use:   "reset CONNECTOR --reason TEXT",
		Short: "Forget the position: the next sync reads the source from the beginning (nothing doubles)",
		Args:  exactArgs(1, "CONNECTOR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := core.RequireReason("reset the position of "+args[0], reason); err != nil {
				return err
			}
			return a.withStore(cmd.Context(), func(s core.Store) error {
				if err := s.ResetCursor(cmd.Context(), args[0], strings.TrimSpace(reason)); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%s: position reset; the next sync reads from the beginning\n", args[0])
				return nil
			})
		},
	}
	reset.Flags().StringVar(&reason, "reason", "", "why the source is read again (required; recorded in the audit trail)")
	cmd.AddCommand(show, reset)
	return cmd
}

func (a *app) connectorsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "connectors",
		Short: "List the connector plugins available, with versions and where each comes from",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := ""
			if h, err := a.loadConfig(); err == nil {
				dir = h.PluginDir
			} else if a.config != "" || core.ErrorCode(err) == core.EINVALID && !os.IsNotExist(err) && fileExists("hub.yaml") {
				return err
			}
			ps := &runner.Plugins{Builtins: builtinNames(), Dir: dir}
			list, err := ps.List()
			if err != nil {
				return err
			}
			for i := range list {
				list[i].Version = pluginVersion(cmd.Context(), list[i])
			}
			if asJSON {
				return writeJSON(a.stdout, map[string]any{"connectors": list})
			}
			t := newTable(a.stdout, "NAME", "VERSION", "FROM")
			for _, p := range list {
				from := "built in"
				if !p.Builtin {
					from = p.Path
				}
				t.row(p.Name, p.Version, from)
			}
			t.flush()
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// pluginVersion asks a plugin for its spec; built-ins answer in process.
func pluginVersion(ctx context.Context, p runner.Plugin) string {
	if p.Builtin {
		if f, ok := builtins[p.Name]; ok {
			return f().Spec().Version
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := sdk.Launch(ctx, p.Command(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return "unavailable: " + err.Error()
	}
	defer c.Close()
	return c.Spec().Version
}

func (a *app) pluginCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "plugin NAME",
		Short:  "Serve a built-in connector as a plugin (run by the hub itself)",
		Hidden: true,
		Args:   exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, ok := builtins[args[0]]
			if !ok {
				return core.Errorf(core.ENOTFOUND, "no built-in connector %q", args[0])
			}
			// A plugin serves syncs: pages in, records out, in bulk, with
			// a small live heap that Go's default collects every few
			// megabytes (a tenth of the REST connector's CPU).
			bulkgc.Tune()
			// sdk.Serve refuses to run without the hub's handshake
			// variable, so running this by hand only prints an error.
			sdk.Serve(f())
			return nil
		},
	}
}
