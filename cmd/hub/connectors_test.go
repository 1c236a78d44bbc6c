package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSyncRunsCursorConnectorsCLI(t *testing.T) {
	hubBin, pluginDir := buildBinaries(t)
	t.Setenv("LOTHUB_TEST_WEBHOOK", "whsec-0123456789")
	dir := t.TempDir()
	cfg := writeConfig(t, dir, pluginDir, 50)
	scanPlant(t, filepath.Join(dir, "scans"), 40)
	db := filepath.Join(dir, "hub.db")
	run := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(hubBin, append([]string{"--db", db, "--config", cfg}, args...)...)
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}

	out, code := run("connectors", "--json")
	if code != 0 {
		t.Fatalf("connectors: exit %d", code)
	}
	var list struct {
		Connectors []struct {
			Name, Version, Path string
			Builtin             bool
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("connectors --json: %v\n%s", err, out)
	}
	found := false
	for _, c := range list.Connectors {
		if c.Name == "scans" {
			found = true
			if c.Builtin || c.Version != "0.1.0" || !strings.HasPrefix(c.Path, pluginDir) {
				t.Errorf("external plugin listed as %+v, want version 0.1.0 from %s", c, pluginDir)
			}
		}
	}
	if !found {
		t.Errorf("connectors --json does not list the installed plugin: %s", out)
	}

	if _, code := run("cursor", "show", "mes"); code != 3 {
		t.Errorf("cursor show before any sync: exit %d, want 3 (not found)", code)
	}
	out, code = run("sync", "mes", "--json")
	if code != 0 {
		t.Fatalf("sync: exit %d: %s", code, out)
	}
	var r struct {
		ID      int64
		Status  string
		Records int
		Events  int
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Status != "ok" || r.Records != 80 || r.Events != 80 {
		t.Fatalf("sync --json = %+v (%v), want ok with 80 records and events\n%s", r, err, out)
	}
	// The sync evaluated the gap rules: the raw lots the scans consumed
	// were never received.
	out, _ = run("gaps", "--json")
	if n := strings.Count(out, `"kind": "unknown_lot"`); n != 9 {
		t.Errorf("gaps after the sync: %d unknown_lot gaps, want 9 (R-0 … R-8)\n%s", n, out)
	}
	out, _ = run("runs", "--json")
	var runs struct{ Runs []struct{ ID int64 } }
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs.Runs) != 1 || runs.Runs[0].ID != r.ID {
		t.Errorf("runs --json = %s", out)
	}
	out, code = run("cursor", "show", "mes", "--json")
	if code != 0 || !strings.Contains(out, `"run_id": `) {
		t.Errorf("cursor show: exit %d: %s", code, out)
	}
	if _, code := run("cursor", "reset", "mes", "--reason", "read again"); code != 0 {
		t.Errorf("cursor reset: exit %d", code)
	}
	if _, code := run("sync", "nope"); code != 3 {
		t.Errorf("sync of an unknown connector: exit %d, want 3", code)
	}
}
