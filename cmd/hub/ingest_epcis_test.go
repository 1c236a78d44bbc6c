package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lothub/lothub/epcis"
	"github.com/lothub/lothub/plantgen"
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

// An XML document from standard input, bigger than one transaction's
// batch: every event is captured, the genealogy spans the batches, and a
// second capture changes nothing.
func TestEpcisIngestXMLStreamedInBatches(t *testing.T) {
	old := captureBatch
	captureBatch = 100
	t.Cleanup(func() { captureBatch = old })
	db := filepath.Join(t.TempDir(), "hub.db")
	var doc bytes.Buffer
	if err := plantgen.EPCIS(context.Background(), &doc, 450, true); err != nil {
		t.Fatal(err)
	}
	out, errs, code := hub(t, db, doc.String(), "ingest", "--format", "epcis", "-", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var st map[string]int
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if st["records"] != 450 || st["archived"] != 450 || st["quarantined"] != 0 || st["skipped"] != 0 {
		t.Errorf("counts %v", st)
	}
	// Raw lot R99 (cycle 99, events 396–399) went into the finished lots
	// F99 and F100 (the next cycle's transformation, in the next batch),
	// and both went out on pallets to customers.
	raw := epcis.ParseID("urn:epc:class:lgtin:9506000.010019.R99")
	out, errs, code = hub(t, db, "", "recall", raw.GTIN, "R99", "--json")
	if code != 0 {
		t.Fatalf("recall: exit %d: %s", code, errs)
	}
	for _, want := range []string{`"lot": "F99"`, `"lot": "F100"`, "urn:epc:id:pgln:9506000.00199", "urn:epc:id:pgln:9506000.00200"} {
		if !strings.Contains(out, want) {
			t.Errorf("recall of R99 lacks %s:\n%s", want, out)
		}
	}
	out, _, _ = hub(t, db, doc.String(), "ingest", "--format", "epcis", "-", "--json")
	json.Unmarshal([]byte(out), &st)
	if st["new"] != 0 || st["superseded"] != 0 || st["unchanged"] != 675 {
		t.Errorf("second capture: %v", st)
	}
}

func TestEpcisIngestRefusesInvalidXML(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hub.db")
	var doc bytes.Buffer
	if err := plantgen.EPCIS(context.Background(), &doc, 8, true); err != nil {
		t.Fatal(err)
	}
	// The seventh event (line 10) says a quantity that is no number.
	bad := strings.Replace(doc.String(), "<quantity>1000</quantity><uom>KGM</uom></quantityElement></quantityList><sourceList><source type=\"urn:epcglobal:cbv:sdt:owning_party\">urn:epc:id:pgln:4012345.00001",
		"<quantity>lots</quantity><uom>KGM</uom></quantityElement></quantityList><sourceList><source type=\"urn:epcglobal:cbv:sdt:owning_party\">urn:epc:id:pgln:4012345.00001", 1)
	if bad == doc.String() {
		t.Fatal("test document not changed")
	}
	_, errs, code := hub(t, db, bad, "ingest", "--format", "epcis", "-")
	if code != 2 || !strings.Contains(errs, "line 9:") || !strings.Contains(errs, "/epcisBody/eventList/4/quantityList/0/quantity") || !strings.Contains(errs, "nothing was stored") {
		t.Errorf("exit %d, stderr %s", code, errs)
	}
	out, _, _ := hub(t, db, "", "gaps", "--json")
	if strings.Contains(out, "R0") {
		t.Errorf("the refused document's first events were stored: %s", out)
	}
}
