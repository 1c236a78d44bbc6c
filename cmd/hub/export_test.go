package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lothub/lothub/epcis/schema"
)

func TestEpcisExportCLIRoundTrip(t *testing.T) {
	src := newPlant(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(cfg, []byte("epcis:\n  gtin_items:\n    \"09506000134352\": BREAD\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(dir, "dough.jsonld")
	_, errs, code := hub(t, src, "", "--config", cfg, "export", "epcis", "DOUGH", "D-1", "--direction", "both", "--out", doc)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "FLOUR") || !strings.Contains(errs, "no GTIN") {
		t.Errorf("export does not say which items have no GTIN: %s", errs)
	}
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if probs, err := schema.ValidateJSON(data); err != nil || len(probs) > 0 {
		t.Fatalf("export invalid: %v %v", err, probs)
	}
	if !strings.Contains(string(data), "https://id.gs1.org/01/09506000134352/10/BR-1") {
		t.Errorf("BREAD is not written with its GTIN")
	}
	// --out exists: refused without --force.
	if _, errs, code := hub(t, src, "", "export", "epcis", "DOUGH", "D-1", "--out", doc); code != 2 || !strings.Contains(errs, "--force") {
		t.Errorf("second export to the same file: exit %d: %s", code, errs)
	}

	dst := filepath.Join(dir, "empty.db")
	if _, errs, code := hub(t, dst, "", "--config", cfg, "ingest", "--format", "epcis", doc); code != 0 {
		t.Fatalf("capture: exit %d: %s", code, errs)
	}
	for _, d := range []string{"forward", "backward"} {
		want := traceLotsLinks(t, src, d)
		got := traceLotsLinks(t, dst, d)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("trace %s after round trip:\n got %v\nwant %v", d, got, want)
		}
	}
}

// TestEpcisExportCLIXML: --format xml writes the EPCIS 2.0 XML binding,
// which hub ingest --format epcis reads back to the same traces.
func TestEpcisExportCLIXML(t *testing.T) {
	src := newPlant(t)
	dir := t.TempDir()
	doc := filepath.Join(dir, "dough.xml")
	if _, errs, code := hub(t, src, "", "export", "epcis", "DOUGH", "D-1", "--format", "xml", "--out", doc); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "<?xml") || !strings.Contains(string(data), `<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"`) {
		t.Fatalf("not EPCIS XML:\n%.400s", data)
	}
	dst := filepath.Join(dir, "empty.db")
	if _, errs, code := hub(t, dst, "", "ingest", "--format", "epcis", doc); code != 0 {
		t.Fatalf("capture: exit %d: %s", code, errs)
	}
	for _, d := range []string{"forward", "backward"} {
		if got, want := traceLotsLinks(t, dst, d), traceLotsLinks(t, src, d); !reflect.DeepEqual(got, want) {
			t.Errorf("trace %s after XML round trip:\n got %v\nwant %v", d, got, want)
		}
	}
	if _, errs, code := hub(t, src, "", "export", "epcis", "DOUGH", "D-1", "--format", "csv"); code != 2 || !strings.Contains(errs, "json") || !strings.Contains(errs, "xml") {
		t.Errorf("--format csv: exit %d: %s", code, errs)
	}
}

func traceLotsLinks(t *testing.T, db, dir string) []any {
	t.Helper()
	out, errs, code := hub(t, db, "", "trace", dir, "DOUGH", "D-1", "--json")
	if code != 0 {
		t.Fatalf("trace: exit %d: %s", code, errs)
	}
	var res struct {
		Lots  []any `json:"lots"`
		Links []any `json:"links"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	return []any{res.Lots, res.Links}
}

func TestEpcisExportCLIErrors(t *testing.T) {
	db := newPlant(t)
	if _, errs, code := hub(t, db, "", "export", "epcis", "DOUGH", "NOPE"); code != 3 {
		t.Errorf("unknown lot: exit %d, want 3: %s", code, errs)
	}
	if _, errs, code := hub(t, db, "", "export", "epcis", "DOUGH", "D-1", "--direction", "up"); code != 2 || !strings.Contains(errs, "backward, forward or both") {
		t.Errorf("bad direction: exit %d: %s", code, errs)
	}
	if _, _, code := hub(t, db, "", "export", "epcis", "DOUGH"); code != 2 {
		t.Errorf("missing LOT: exit %d, want 2", code)
	}
}
