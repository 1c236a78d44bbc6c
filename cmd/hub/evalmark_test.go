package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSyncWithNoNewEventsEvaluatesWhatAnEarlierSyncLeft: a sync that
// committed its events and never evaluated them (killed after its last
// commit; here --evaluate=false, which leaves the store in the same state)
// is completed by a sync that reads nothing new. That sync must still
// evaluate: whether the gap rules are due is read from the store. The
// store then ends like one uninterrupted sync: the same gaps, and the
// same lots born on hold.
func TestSyncWithNoNewEventsEvaluatesWhatAnEarlierSyncLeft(t *testing.T) {
	hubBin, pluginDir := buildBinaries(t)
	t.Setenv("LOTHUB_TEST_WEBHOOK", "whsec-0123456789")
	dir := t.TempDir()
	cfg := writeConfig(t, dir, pluginDir, 50)
	scanPlant(t, filepath.Join(dir, "scans"), 40)
	// Raw lot R-0 is on hold before the plant runs: what is made from it
	// is born on hold.
	hold := filepath.Join(dir, "hold.jsonl")
	if err := os.WriteFile(hold, []byte(`{"id":"qa:hold:1","type":"hold","time":"2026-02-28T08:00:00Z","lot":{"item":"RAW","lot":"R-0"},"reason":"supplier recall"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hub := func(db string, args ...string) string {
		t.Helper()
		cmd := exec.Command(hubBin, append([]string{"--db", db, "--config", cfg}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			stderr := ""
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("hub %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return string(out)
	}
	// gaps and holds render what the store holds, ids and times of
	// evaluation left out.
	gaps := func(db string) []string {
		t.Helper()
		var v struct {
			Gaps []struct {
				Kind, Item, Lot, Order, Detail, Since, Status string
				Records                                       []string
			}
		}
		if err := json.Unmarshal([]byte(hub(db, "gaps", "--json")), &v); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range v.Gaps {
			out = append(out, fmt.Sprint(g))
		}
		slices.Sort(out)
		return out
	}
	holds := func(db string) []string {
		t.Helper()
		var v struct {
			Holds []struct{ Item, Lot, Since, Event, Origin string }
		}
		if err := json.Unmarshal([]byte(hub(db, "holds", "--json")), &v); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, h := range v.Holds {
			out = append(out, fmt.Sprint(h))
		}
		slices.Sort(out)
		return out
	}

	clean := filepath.Join(dir, "clean.db")
	hub(clean, "ingest", "--events", hold)
	hub(clean, "sync", "mes")
	wantGaps, wantHolds := gaps(clean), holds(clean)
	if len(wantGaps) == 0 || len(wantHolds) < 2 {
		t.Fatalf("clean run: %d gaps, %d holds; want gaps and lots born on hold\n%v", len(wantGaps), len(wantHolds), wantHolds)
	}

	resumed := filepath.Join(dir, "resumed.db")
	hub(resumed, "ingest", "--events", hold, "--evaluate=false")
	hub(resumed, "sync", "mes", "--evaluate=false")
	if got := gaps(resumed); len(got) != 0 {
		t.Fatalf("before the second sync: %d gaps, want none (nothing evaluated yet)", len(got))
	}
	var run struct {
		Status string
		Events int
	}
	if err := json.Unmarshal([]byte(hub(resumed, "sync", "mes", "--json")), &run); err != nil || run.Status != "ok" || run.Events != 0 {
		t.Fatalf("second sync = %+v (%v), want ok with no new events", run, err)
	}
	if got := gaps(resumed); !slices.Equal(got, wantGaps) {
		t.Errorf("gaps after a sync with no new events:\n got  %d %v\n want %d %v", len(got), got, len(wantGaps), wantGaps)
	}
	if got := holds(resumed); !slices.Equal(got, wantHolds) {
		t.Errorf("holds after a sync with no new events:\n got  %v\n want %v", got, wantHolds)
	}
}
