package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
)

var exampleMappings = filepath.Join("..", "..", "examples", "mappings")

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMappingCheck(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "unused.db")
	sap := filepath.Join(exampleMappings, "sap-material-documents.yaml")
	out, errs, code := hub(t, db, "", "mapping", "check", sap, filepath.Join(exampleMappings, "csv-export.yaml"), filepath.Join(exampleMappings, "csv-export.test.yaml"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		sap + ": ok (11 rules, kinds a_materialdocumentitem)",
		"csv-export.yaml: ok (6 rules, kinds receipt, production, shipment, quality)",
		"csv-export.test.yaml: ok (test file, 10 cases)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	bad := writeFile(t, dir, "bad.yaml", `mapping: bad
version: 1
kinds: [k]
rules:
  - name: r
    emit:
      - id: id('x', A)
        type: recieve
        time: datetime(D)
        lot: {item: I, lot: L}
        qty: upper(Q)
        uom: 'EA'
`)
	out, errs, code = hub(t, db, "", "mapping", "check", bad)
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if out != "" {
		t.Errorf("stdout = %q, want nothing", out)
	}
	wantLines := []string{
		bad + `:8:15: unknown event type "recieve" (did you mean "receive"?)`,
		bad + ":11:14: qty must be a number, but `upper(Q)` gives text",
		"hub: 1 of 1 mapping files have errors",
	}
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if len(lines) != len(wantLines) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(wantLines), errs)
	}
	for i, want := range wantLines {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("stderr line %d = %q\nwant it to start with %q", i+1, lines[i], want)
		}
	}
}

func TestMappingTest(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "unused.db")
	out, errs, code := hub(t, db, "", "mapping", "test",
		filepath.Join(exampleMappings, "sap-material-documents.yaml"), filepath.Join(exampleMappings, "csv-export.yaml"))
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	if !strings.Contains(out, "  PASS goods receipt for a purchase order\n") || !strings.Contains(out, "11 passed, 0 failed") || !strings.Contains(out, "10 passed, 0 failed") {
		t.Errorf("stdout:\n%s", out)
	}

	m := writeFile(t, dir, "m.yaml", `mapping: m
version: 1
kinds: [k]
rules:
  - name: r
    emit:
      - id: id('x', A)
        type: hold
        time: '2026-03-01T00:00:00Z'
        lot: {item: I, lot: L}
`)
	writeFile(t, dir, "m.test.yaml", `- name: good
  fields: {A: "1", I: FLOUR, L: F-A}
  events:
    - {id: "x:1", type: hold, time: 2026-03-01T00:00:00Z, lot: {item: FLOUR, lot: F-A}}
- name: bad
  fields: {A: "1", I: FLOUR, L: F-B}
  events:
    - {id: "x:1", type: hold, time: 2026-03-01T00:00:00Z, lot: {item: FLOUR, lot: F-A}}
`)
	out, errs, code = hub(t, db, "", "mapping", "test", m)
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	want := "  PASS good\n  FAIL bad (" + filepath.Join(dir, "m.test.yaml") + ":5:3)\n       event 1 (id x:1):\n         - lot.lot: \"F-A\"\n         + lot.lot: \"F-B\"\n  1 passed, 1 failed\n"
	if !strings.Contains(out, want) {
		t.Errorf("stdout =\n%s\nwant it to contain\n%s", out, want)
	}
	if !strings.Contains(errs, "hub: 1 of 2 mapping tests failed") {
		t.Errorf("stderr = %q", errs)
	}

	os.Remove(filepath.Join(dir, "m.test.yaml"))
	_, errs, code = hub(t, db, "", "mapping", "test", m)
	if code != 2 || !strings.Contains(errs, "no test file "+filepath.Join(dir, "m.test.yaml")) {
		t.Errorf("without a test file: exit %d, stderr %q", code, errs)
	}
}

func TestMappingRun(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "unused.db")
	csvMap := filepath.Join(exampleMappings, "csv-export.yaml")
	records := writeFile(t, dir, "production.csv", "\xef\xbb\xbfWork Order,Line,Date,Time,Direction,Item,Lot,Qty,UoM\r\n"+
		"WO-1,1,03/02/2026,06:30,IN,FLOUR,F-A,400,lb\r\n"+
		"WO-1,2,03/02/2026,09:15,OUT,dough,7,\"1,000\",kg\r\n"+
		"WO-1,3,03/02/2026,09:15,SIDEWAYS,dough,7,1,kg\r\n")
	out, errs, code := hub(t, db, "", "mapping", "run", csvMap, "--kind", "production", records)
	if code != 2 {
		t.Errorf("exit %d, want 2 (one record fails)", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout has %d lines, want 2 events:\n%s", len(lines), out)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev["id"] != "csv:wo:WO-1:2" || ev["lot"].(map[string]any)["lot"] != "20260302-DOUGH-007" || ev["qty"] != 1000.0 {
		t.Errorf("second event = %s", lines[1])
	}
	// The error points at the mapping's rules: key.
	src, err := os.ReadFile(csvMap)
	if err != nil {
		t.Fatal(err)
	}
	rulesLine := 1 + strings.Count(string(src[:strings.Index(string(src), "\nrules:")+1]), "\n")
	wantErr := fmt.Sprintf("record %s:4 (kind production): %s:%d:1: no rule matches this record, which carries lot number \"7\" in field Lot", records, csvMap, rulesLine)
	if !strings.Contains(errs, wantErr) || !strings.Contains(errs, "3 records: 2 events, 0 records skipped, 1 records failed") {
		t.Errorf("stderr =\n%s\nwant it to contain\n%s", errs, wantErr)
	}

	// JSON Lines on standard input; the mapping's only kind is the default.
	sap := filepath.Join(exampleMappings, "sap-material-documents.yaml")
	in := `{"MaterialDocumentYear":"2026","MaterialDocument":"4900001234","MaterialDocumentItem":"0001","GoodsMovementType":"261","Material":"000000000000012345","Plant":"1010","Batch":"0000000042","QuantityInEntryUnit":"5.000","EntryUnit":"KG","ManufacturingOrder":"000001000123","PostingDate":"\/Date(1772323200000)\/"}` + "\n" +
		`{"GoodsMovementType":"201"}` + "\n"
	out, errs, code = hub(t, db, in, "mapping", "run", sap, "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := `{"id":"sap:MATDOC:2026:4900001234:0001","type":"consume","time":"2026-03-01T00:00:00+01:00","lot":{"item":"12345","lot":"42"},"qty":5,"uom":"KG","order":"1000123","site":"HAMBURG"}` + "\n"
	if out != want {
		t.Errorf("stdout =\n%s\nwant\n%s", out, want)
	}
	if !strings.Contains(errs, "2 records: 1 events, 1 records skipped, 0 records failed\n  skipped 1 by rule \"other movements\": movement that changes no genealogy") {
		t.Errorf("stderr = %q", errs)
	}

	_, errs, code = hub(t, db, "", "mapping", "run", csvMap, records)
	if code != 2 || !strings.Contains(errs, "--kind (one of receipt, production, shipment, quality)") {
		t.Errorf("without --kind: exit %d, stderr %q", code, errs)
	}
}

// TestSkipsVisible: records a mapping skips are counted by rule and reason
// in hub ingest --mapping (text and --json), and hub mapping run --explain
// says for each record which rule matched or why none did.
func TestSkipsVisible(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "hub.db")
	sap := filepath.Join(exampleMappings, "sap-material-documents.yaml")
	records := writeFile(t, dir, "docs.jsonl",
		`{"MaterialDocumentYear":"2026","MaterialDocument":"4900001234","MaterialDocumentItem":"0001","GoodsMovementType":"261","Material":"000000000000012345","Plant":"1010","Batch":"0000000042","QuantityInEntryUnit":"5.000","EntryUnit":"KG","ManufacturingOrder":"000001000123","PostingDate":"\/Date(1772323200000)\/"}`+"\n"+
			`{"MaterialDocumentYear":"2026","MaterialDocument":"4900001235","MaterialDocumentItem":"0001","GoodsMovementType":"201","Material":"000000000000012345","Batch":"0000000042"}`+"\n"+
			`{"MaterialDocumentYear":"2026","MaterialDocument":"4900001236","MaterialDocumentItem":"0001","GoodsMovementType":"201"}`+"\n")
	out, errs, code := hub(t, db, "", "ingest", "--mapping", sap, "--kind", "a_materialdocumentitem", records, "--json")
	if code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errs)
	}
	// The counts, and the skipped records by rule and reason (an added
	// field, as in a run's JSON).
	var st struct {
		Records, Skipped, Quarantined int
		Skips                         []core.SkipCount
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("ingest --json: %v\n%s", err, out)
	}
	if st.Records != 3 || st.Skipped != 2 || st.Quarantined != 0 ||
		!oneSkip(st.Skips, "other movements", "movement that changes no genealogy", 2) {
		t.Errorf("ingest --json = %s\nwant 3 records, 2 skipped by rule \"other movements\"", out)
	}
	// hub remap --json says the same of the archived records.
	out, errs, code = hub(t, db, "", "remap", "--mapping", sap, "--json")
	if code != 0 {
		t.Fatalf("remap: exit %d: %s", code, errs)
	}
	st.Skips = nil
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Skipped != 2 ||
		!oneSkip(st.Skips, "other movements", "movement that changes no genealogy", 2) {
		t.Errorf("remap --json = %s (%v), want the 2 records skipped by rule \"other movements\"", out, err)
	}
	// The skipped records are archived like the others.
	out, _, _ = hub(t, db, "", "ingest", "--mapping", sap, "--kind", "a_materialdocumentitem", records)
	if !strings.Contains(out, "0 quarantined, 2 skipped\n  skipped 2 by rule \"other movements\": movement that changes no genealogy") {
		t.Errorf("ingest text =\n%s", out)
	}

	out, _, code = hub(t, db, "", "mapping", "run", sap, "--explain", records)
	if code != 0 {
		t.Fatalf("mapping run --explain: exit %d", code)
	}
	for _, w := range []string{
		"docs.jsonl:1 (kind a_materialdocumentitem), lot 0000000042 in Batch\n",
		"rule \"issue to order\" (" + sap + ":",
		"): matched\n  → 1 event(s): consume sap:MATDOC:2026:4900001234:0001\n",
		"rule \"other movements\" (" + sap + ":",
		"): matched: skipped, movement that changes no genealogy",
		"→ skipped by rule \"other movements\"",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("--explain output lacks %q:\n%s", w, out)
		}
	}
	out, _, _ = hub(t, db, "", "mapping", "run", sap, "--explain", "--json", records)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var x struct {
		Record, Outcome string
		Rules           []struct{ Rule, Result string }
		Skip            *core.Skip
	}
	if len(lines) != 3 || json.Unmarshal([]byte(lines[1]), &x) != nil || x.Outcome != "skipped" || x.Skip == nil ||
		x.Skip.Rule != "other movements" || x.Rules[len(x.Rules)-1].Result == "" {
		t.Errorf("--explain --json =\n%s", out)
	}
}

// oneSkip reports whether skips is one count: records of the rule, for a
// reason that starts with reason.
func oneSkip(skips []core.SkipCount, rule, reason string, records int) bool {
	return len(skips) == 1 && skips[0].Rule == rule && strings.HasPrefix(skips[0].Reason, reason) && skips[0].Records == records
}

// counts reads the counts of hub ingest or hub remap --json: every field
// that is a number (skips, the counts by rule and reason, is an array).
func counts(t *testing.T, out string) map[string]int {
	t.Helper()
	var all map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatalf("counts: %v\n%s", err, out)
	}
	st := map[string]int{}
	for k, v := range all {
		var n int
		if json.Unmarshal(v, &n) == nil {
			st[k] = n
		}
	}
	return st
}
