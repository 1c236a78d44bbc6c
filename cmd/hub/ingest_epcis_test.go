package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lothub/lothub/epcis"
)

const epcisShipDoc = `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
 "type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-03-03T00:00:00Z",
 "epcisBody":{"eventList":[
  {"type":"ObjectEvent","eventTime":"2026-03-03T10:00:00Z","eventTimeZoneOffset":"+00:00",
   "action":"OBSERVE","bizStep":"shipping","quantityList":[{"epcClass":"urn:epc:class:lgtin:9506000.013435.BR-1","quantity":25}],
   "destinationList":[{"type":"owning_party","destination":"urn:epc:id:pgln:9506000.00001"}]},
  {"type":"ObjectEvent","eventTime":"2026-03-03T11:00:00Z","eventTimeZoneOffset":"+00:00",
   "action":"OBSERVE","bizStep":"inspecting","epcList":["urn:epc:id:sgtin:9506000.013435.1"]}
 ]}}`

func TestEpcisIngestJoinsERPLotAndRecalls(t *testing.T) {
	db := newPlant(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hub.yaml")
	doc := filepath.Join(dir, "ship.jsonld")
	if err := os.WriteFile(cfg, []byte("epcis:\n  gtin_items:\n    \"09506000134352\": BREAD\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(doc, []byte(epcisShipDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code := hub(t, db, "", "--config", cfg, "ingest", "--format", "epcis", doc, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	st := counts(t, out)
	// Two EPCIS events: the shipment, and an inspection of a serialised
	// item with no lot, stored and counted but of no use to the genealogy.
	if st["records"] != 2 || st["new"] != 1 || st["skipped"] != 1 || st["archived"] != 2 {
		t.Errorf("counts %v", st)
	}
	out, errs, code = hub(t, db, "", "recall", "BREAD", "BR-1", "--json")
	if code != 0 {
		t.Fatalf("recall: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "urn:epc:id:pgln:9506000.00001") {
		t.Errorf("recall of BREAD/BR-1 misses the EPCIS customer:\n%s", out)
	}
	// The same document again: nothing new.
	out, _, _ = hub(t, db, "", "--config", cfg, "ingest", "--format", "epcis", doc)
	if !strings.Contains(out, "0 new") {
		t.Errorf("second capture: %s", out)
	}
}

func TestEpcisIngestRefusesInvalidDocument(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "hub.db")
	data, err := os.ReadFile("../../epcis/testdata/gs1/Example_9.6.2-ObjectEvent.jsonld")
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.jsonld")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(data), `"quantity":200`, `"quantity":"200"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errs, code := hub(t, db, "", "ingest", "--format", "epcis", bad)
	if code != 2 || !strings.Contains(errs, "/epcisBody/eventList/0/quantityList/0/quantity") || !strings.Contains(errs, "nothing was stored") {
		t.Errorf("exit %d, stderr %s", code, errs)
	}
	if _, _, code := hub(t, db, "", "lot", epcis.ParseID("urn:epc:class:lgtin:4012345.012345.998877").GTIN, "998877", "--json"); code != 3 {
		t.Errorf("hub lot of the refused document's lot: exit %d, want 3 (not found)", code)
	}
	good := filepath.Join(dir, "good.jsonld")
	if err := os.WriteFile(good, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code := hub(t, db, "", "ingest", "--format", "epcis", good)
	if code != 0 || !strings.Contains(out, "1 new") {
		t.Errorf("exit %d: %s %s", code, out, errs)
	}
}
