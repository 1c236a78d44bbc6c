package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// recallJSON runs hub recall --json and decodes what the tests look at.
func recallJSON(t *testing.T, db, item, lot string) (lots []string, customers []string) {
	t.Helper()
	out, errs, code := hub(t, db, "", "recall", item, lot, "--json")
	if code != 0 {
		t.Fatalf("recall: exit %d: %s", code, errs)
	}
	var r struct {
		Lots      []struct{ Item, Lot string }
		Customers []struct{ ID string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("recall --json: %v\n%s", err, out)
	}
	lots, customers = []string{}, []string{}
	for _, l := range r.Lots {
		lots = append(lots, l.Item+"/"+l.Lot)
	}
	for _, c := range r.Customers {
		customers = append(customers, c.ID)
	}
	return lots, customers
}

func TestRemapFixesRecall(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hub.db")
	records := filepath.Join("testdata", "movements.jsonl")

	// Version 1 of the mapping takes the work order's output for a
	// purchase receipt: the recall of the flour lot finds nothing.
	out, errs, code := hub(t, db, "", "ingest", "--mapping", "testdata/movements-v1.yaml", "--kind", "movement", records, "--json")
	if code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errs)
	}
	st := counts(t, out)
	if st["records"] != 5 || st["new"] != 5 || st["quarantined"] != 1 {
		t.Fatalf("ingest = %v, want 5 records, 5 new events, 1 quarantined (the scrap no rule maps)", st)
	}
	errOut, _, _ := hub(t, db, "", "errors")
	if !strings.Contains(errOut, "movements.jsonl:5") || !strings.Contains(errOut, "movements-v1.yaml:10:1: no rule matches") {
		t.Errorf("hub errors does not say where the unmapped record and the rules are:\n%s", errOut)
	}
	lots, customers := recallJSON(t, db, "FLOUR", "123")
	if len(lots) != 0 || len(customers) != 0 {
		t.Fatalf("recall before the fix = %v %v, want nothing reached", lots, customers)
	}

	// The fixed mapping, replayed over the archive (no new input).
	out, errs, code = hub(t, db, "", "remap", "--mapping", "testdata/movements-v2.yaml", "--json")
	if code != 0 {
		t.Fatalf("remap: exit %d: %s", code, errs)
	}
	st = counts(t, out)
	if st["records"] != 5 || st["superseded"] != 1 || st["reversed"] != 1 || st["quarantined"] != 0 {
		t.Errorf("remap = %v, want 5 records, 1 superseded (receipt → output), 1 reversed (the move v2 no longer emits), 0 quarantined", st)
	}
	lots, customers = recallJSON(t, db, "FLOUR", "123")
	if strings.Join(lots, ",") != "BREAD/BR-1" || strings.Join(customers, ",") != "C-ALPHA" {
		t.Errorf("recall after remap = %v %v, want BREAD/BR-1 shipped to C-ALPHA", lots, customers)
	}
	// The scrap record maps now (to nothing, on purpose): released.
	errOut, _, _ = hub(t, db, "", "errors", "--json")
	if strings.Contains(errOut, "movements.jsonl") {
		t.Errorf("quarantine still holds the scrap record after remap:\n%s", errOut)
	}
	// History keeps both versions of the receipt and the reversed move.
	lotOut, _, _ := hub(t, db, "", "lot", "FLOUR", "123", "--json")
	if !strings.Contains(lotOut, `"id": "mv:2:move"`) || !strings.Contains(lotOut, `"status": "reversed"`) {
		t.Errorf("lot history does not show the reversed move:\n%s", lotOut)
	}
	// Remapping again changes nothing.
	out, _, _ = hub(t, db, "", "remap", "--mapping", "testdata/movements-v2.yaml", "--json")
	st = counts(t, out)
	if st["new"] != 0 || st["superseded"] != 0 || st["reversed"] != 0 || st["unchanged"] != 4 {
		t.Errorf("second remap = %v, want 4 unchanged and nothing else", st)
	}
	// Back to the broken mapping: history is reversible both ways.
	hub(t, db, "", "remap", "--mapping", "testdata/movements-v1.yaml")
	lots, _ = recallJSON(t, db, "FLOUR", "123")
	if len(lots) != 0 {
		t.Errorf("recall after remapping with v1 again = %v, want nothing reached", lots)
	}
}

func TestIngestMappingErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hub.db")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"NoKind", []string{"ingest", "--mapping", "testdata/movements-v2.yaml", "testdata/movements.jsonl"}, 2, "--mapping needs --kind"},
		{"WrongKind", []string{"ingest", "--mapping", "testdata/movements-v2.yaml", "--kind", "receipt", "testdata/movements.jsonl"}, 2, `does not map kind "receipt"`},
		{"NoFiles", []string{"ingest", "--mapping", "testdata/movements-v2.yaml", "--kind", "movement"}, 2, "needs the record files"},
		{"MissingMapping", []string{"ingest", "--mapping", "testdata/nope.yaml", "--kind", "movement", "testdata/movements.jsonl"}, 2, "nope.yaml"},
		{"Both", []string{"ingest", "--events", "x.jsonl", "--mapping", "testdata/movements-v2.yaml"}, 2, "either --events or --mapping"},
		{"RemapWithoutMapping", []string{"remap"}, 2, "--mapping MAP.yaml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs, code := hub(t, db, "", c.args...)
			if code != c.code || !strings.Contains(errs, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errs, c.code, c.want)
			}
		})
	}
}
