package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// line returns the first line of out that contains all of parts, or "".
func line(out string, parts ...string) string {
	for _, l := range strings.Split(out, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return l
		}
	}
	return ""
}

// ingestMore adds JSONL events to the plant.
func ingestMore(t *testing.T, db, events string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "more.jsonl")
	if err := os.WriteFile(file, []byte(events), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := hub(t, db, "", "ingest", "--events", file); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errs)
	}
}

// The text of recall and trace says which lots are on hold and which
// links were supplied by hand, as --json does.
func TestTraceTextShowsHoldsAndConfirmedLinks(t *testing.T) {
	db := newPlant(t)
	run := func(args ...string) string {
		t.Helper()
		out, errs, code := hub(t, db, "", args...)
		if code != 0 {
			t.Fatalf("hub %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	out := run("recall", "FLOUR", "F-A")
	if strings.Contains(out, "ON HOLD") || strings.Contains(out, "confirmed by hand") {
		t.Fatalf("nothing held or confirmed yet, but the recall says so:\n%s", out)
	}
	// FLOUR/F-A and, with --propagate, BREAD/BR-1 (on hand) go on hold;
	// DOUGH/D-1 has nothing on hand and stays free. WO-9's missing input
	// is confirmed by hand.
	run("hold", "FLOUR", "F-A", "--reason", "supplier recall", "--by", "qa", "--propagate")
	run("confirm", "GAP-1", "--consumed", "FLOUR/F-A:5:KG", "--by", "ana", "--note", "paper batch record")

	out = run("recall", "FLOUR", "F-A")
	checks := []struct {
		what       string
		line       []string
		want, dont string
	}{
		{"summary", []string{"Recall of FLOUR/F-A"}, "2 on hold, 1 link(s) confirmed by hand", ""},
		{"the recalled lot", []string{"FLOUR/F-A  [on hand"}, "ON HOLD", ""},
		{"a held descendant", []string{"BREAD/BR-1  [on hand"}, "ON HOLD", ""},
		{"a free descendant", []string{"DOUGH/D-1  [on hand"}, "(via WO-1)", "ON HOLD"},
		{"the confirmed link", []string{"BREAD/BR-9  [on hand"}, "(via WO-9, confirmed by hand)", "ON HOLD"},
		{"the listed confirmed link", []string{"FLOUR/F-A", "BREAD/BR-9", "WO-9"}, "FLOUR/F-A", "["},
		{"the confirmed consumption", []string{"consume", "WO-9"}, "(confirmed by hand)", ""},
		{"the scanned consumption", []string{"consume", "WO-1"}, "40 KG", "confirmed"},
		{"the held stock", []string{"  on hand", "55 KG"}, "(ON HOLD)", ""},
	}
	for _, c := range checks {
		l := line(out, c.line...)
		if l == "" || !strings.Contains(l, c.want) || (c.dont != "" && strings.Contains(l, c.dont)) {
			t.Errorf("%s: line %q, want it to contain %q and not %q; recall:\n%s", c.what, l, c.want, c.dont, out)
		}
	}
	if !strings.Contains(out, "Links confirmed by hand") {
		t.Errorf("recall does not list the links confirmed by hand:\n%s", out)
	}

	out = run("trace", "backward", "BREAD", "BR-9")
	if l := line(out, "FLOUR/F-A", "via"); !strings.Contains(l, "(via WO-9, confirmed by hand)") {
		t.Errorf("backward trace: line %q, want the link marked as confirmed by hand:\n%s", l, out)
	}
	out = run("trace", "forward", "FLOUR", "F-A")
	if l := line(out, "DOUGH/D-1", "via"); l == "" || strings.Contains(l, "confirmed") {
		t.Errorf("forward trace: scanned link %q marked as confirmed by hand:\n%s", l, out)
	}

	run("release", "FLOUR", "F-A", "--reason", "cleared", "--by", "qa", "--propagate")
	if out = run("recall", "FLOUR", "F-A"); strings.Contains(out, "ON HOLD") {
		t.Errorf("released, but the recall still shows a hold:\n%s", out)
	}
}

func TestOrderBalance(t *testing.T) {
	db := newPlant(t)
	// WO-1 turned 40 KG of flour into 40 KG of dough; now 10 KG more
	// dough is reported from it, 25 % more than went in.
	ingestMore(t, db, `{"id":"p1b","type":"produce","time":"2026-03-02T09:30:00Z","lot":{"item":"DOUGH","lot":"D-2"},"qty":10,"uom":"KG","order":"WO-1"}`+"\n")
	dir := t.TempDir()
	loose := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(loose, []byte("gaps:\n  rules:\n    yield: {tolerance: 0.3}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut []string
	}{
		{"Conversion", []string{"balance", "--order", "WO-2"}, exitOK, []string{"Order WO-2: within tolerance", "not compared: no input in this unit", "DOUGH/D-1", "BREAD/BR-1"}},
		{"OutOfTolerance", []string{"balance", "--order", "WO-1"}, exitOK, []string{"NOT within tolerance (outputs may exceed inputs by 5 %)", "NO: 25.0 % more out than in", "DOUGH/D-2"}},
		{"ConfiguredTolerance", []string{"--config", loose, "balance", "--order", "WO-1"}, exitOK, []string{"Order WO-1: within tolerance (outputs may exceed inputs by 30 %)"}},
		{"NoInputAtAll", []string{"balance", "--order", "WO-9"}, exitOK, []string{"NOT within tolerance", "NO: nothing went in at all", "Inputs: none recorded"}},
		{"UnknownOrder", []string{"balance", "--order", "WO-404"}, exitNotFound, []string{"order WO-404 not found"}},
		{"LotAndOrder", []string{"balance", "FLOUR", "F-A", "--order", "WO-1"}, exitInvalid, []string{"not both"}},
		{"NeitherLotNorOrder", []string{"balance"}, exitInvalid, []string{"ITEM LOT, or --order ORDER"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := hub(t, db, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; output:\n%s%s", code, tt.code, out, errs)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out+errs, want) {
					t.Errorf("output lacks %q:\n%s%s", want, out, errs)
				}
			}
		})
	}

	t.Run("JSON", func(t *testing.T) {
		// WO-9's input is confirmed by hand: the order balances.
		if _, errs, code := hub(t, db, "", "confirm", "GAP-1", "--consumed", "FLOUR/F-A:12:KG", "--by", "ana", "--note", "batch record WO-9"); code != 0 {
			t.Fatalf("confirm: exit %d: %s", code, errs)
		}
		out, errs, code := hub(t, db, "", "balance", "--order", "WO-1", "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var b struct {
			Order           string
			Tolerance       float64
			WithinTolerance bool `json:"within_tolerance"`
			Units           []struct {
				UOM             string
				In, Out         float64
				Difference      float64
				Compared        bool
				WithinTolerance bool `json:"within_tolerance"`
			}
			Inputs, Outputs []struct {
				Item, Lot, UOM, Event string
				Qty                   float64
				Confirmed             bool
			}
		}
		if err := json.Unmarshal([]byte(out), &b); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if b.Order != "WO-1" || b.Tolerance != 0.05 || b.WithinTolerance || len(b.Units) != 1 {
			t.Fatalf("balance = %+v, want WO-1 out of the 5 %% tolerance in one unit", b)
		}
		if u := b.Units[0]; u.UOM != "KG" || u.In != 40 || u.Out != 50 || u.Difference != -10 || !u.Compared || u.WithinTolerance {
			t.Errorf("unit = %+v, want KG 40 in, 50 out, -10, out of tolerance", u)
		}
		if len(b.Inputs) != 1 || b.Inputs[0].Lot != "F-A" || b.Inputs[0].Qty != 40 || len(b.Outputs) != 2 {
			t.Errorf("inputs %+v, outputs %+v; want F-A 40 in, D-1 and D-2 out", b.Inputs, b.Outputs)
		}
		out, _, _ = hub(t, db, "", "balance", "--order", "WO-9", "--json")
		if !strings.Contains(out, `"within_tolerance": true`) || !strings.Contains(out, `"confirmed": true`) {
			t.Errorf("WO-9 after confirmation: want within tolerance and its input marked confirmed:\n%s", out)
		}
	})
}
