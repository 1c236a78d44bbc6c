package epcis_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/epcis"
)

func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// capture captures data into db as hub ingest --format epcis does.
func capture(t *testing.T, db core.Store, data string, opt epcis.Options) (*epcis.Result, core.RecordStats) {
	t.Helper()
	res, err := epcis.Capture([]byte(data), "test.jsonld", opt)
	if err != nil {
		t.Fatal(err)
	}
	in := &core.Ingester{Store: db}
	st, err := in.IngestRecords(context.Background(), res.Records, "epcis", nil)
	if err != nil {
		t.Fatal(err)
	}
	return res, st
}

func readGS1(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/gs1", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func gtin(t *testing.T, urn string) string {
	t.Helper()
	id := epcis.ParseID(urn)
	if id.GTIN == "" {
		t.Fatalf("no GTIN in %s", urn)
	}
	return id.GTIN
}

func TestEpcisCaptureGS1ExamplesAccountForEveryEvent(t *testing.T) {
	files, _ := filepath.Glob("testdata/gs1/*.jsonld")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			db := openStore(t)
			data := readGS1(t, filepath.Base(f))
			res, st := capture(t, db, data, epcis.Options{})
			if st.Records != res.Events || st.Archived != res.Events {
				t.Errorf("%d events: %d records, %d archived", res.Events, st.Records, st.Archived)
			}
			if st.Quarantined != 0 {
				t.Errorf("%d quarantined", st.Quarantined)
			}
			// Every event is stored or counted as unusable, never dropped.
			unusable := 0
			for _, n := range res.Unusable {
				unusable += n
			}
			if st.Skipped != unusable {
				t.Errorf("skipped %d, unusable %d", st.Skipped, unusable)
			}
			// Capturing again changes nothing.
			_, again := capture(t, db, data, epcis.Options{})
			if again.New != 0 || again.Superseded != 0 {
				t.Errorf("second capture: %+v", again)
			}
		})
	}
}

func TestEpcisCaptureGS1ReceivingFromSource(t *testing.T) {
	db := openStore(t)
	_, st := capture(t, db, readGS1(t, "Example_9.6.2-ObjectEvent.jsonld"), epcis.Options{})
	if st.New != 1 {
		t.Fatalf("stats %+v", st)
	}
	lot := core.LotRef{Item: gtin(t, "urn:epc:class:lgtin:4012345.012345.998877"), Lot: "998877"}
	q := &core.Queries{Store: db}
	tr, err := q.Trace(context.Background(), core.Backward, core.Selector{Lot: &lot})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Suppliers) != 1 || tr.Suppliers[0].ID != "urn:epc:id:sgln:4012345.00001.0" || tr.Suppliers[0].SupplierLot != "998877" {
		t.Errorf("suppliers %+v, want the owning party of the source list", tr.Suppliers)
	}
}

func TestEpcisCaptureGS1AggregationReachesPallet(t *testing.T) {
	db := openStore(t)
	capture(t, db, readGS1(t, "Example_9.6.3-AggregationEvent.jsonld"), epcis.Options{})
	lot := core.LotRef{Item: gtin(t, "urn:epc:class:lgtin:4012345.012345.998877"), Lot: "998877"}
	q := &core.Queries{Store: db}
	tr, err := q.Trace(context.Background(), core.Forward, core.Selector{Lot: &lot})
	if err != nil {
		t.Fatal(err)
	}
	want := core.LotRef{Item: "SSCC", Lot: epcis.ParseID("urn:epc:id:sscc:0614141.1234567890").SSCC}
	if len(tr.Lots) != 1 || tr.Lots[0].Item != want.Item || tr.Lots[0].Lot != want.Lot {
		t.Errorf("lots %+v, want the pallet %v", tr.Lots, want)
	}
}

// An ERP production and an EPCIS packing and shipping join on the same lot
// through gtin_items, and a recall of the raw material reaches the
// customer of the pallet.
func TestEpcisCaptureJoinsERPLotAndRecallReachesCustomer(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	erp := `{"id":"erp:1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"WHEAT","lot":"W1"},"qty":1000,"uom":"KG","supplier":{"id":"V-FARM"}}
{"id":"erp:2","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"WHEAT","lot":"W1"},"qty":1000,"uom":"KG","order":"WO-1"}
{"id":"erp:3","type":"produce","time":"2026-03-02T10:00:00Z","lot":{"item":"FLOUR","lot":"L42"},"qty":40,"uom":"EA","order":"WO-1"}
`
	in := &core.Ingester{Store: db}
	if _, err := in.IngestJSONL(ctx, strings.NewReader(erp), "erp.jsonl"); err != nil {
		t.Fatal(err)
	}
	doc := `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
 "type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-03-03T00:00:00Z",
 "epcisBody":{"eventList":[
  {"type":"AggregationEvent","eventID":"urn:uuid:5b6f1f2e-0000-4000-8000-000000000001","eventTime":"2026-03-03T09:00:00Z","eventTimeZoneOffset":"+00:00",
   "action":"ADD","bizStep":"urn:epcglobal:cbv:bizstep:packing","parentID":"urn:epc:id:sscc:9506000.0000000001",
   "childQuantityList":[{"epcClass":"urn:epc:class:lgtin:9506000.013435.L42","quantity":40}]},
  {"type":"ObjectEvent","eventID":"urn:uuid:5b6f1f2e-0000-4000-8000-000000000002","eventTime":"2026-03-03T10:00:00Z","eventTimeZoneOffset":"+00:00",
   "action":"OBSERVE","bizStep":"https://ref.gs1.org/cbv/BizStep-shipping","disposition":"in_transit",
   "epcList":["urn:epc:id:sscc:9506000.0000000001"],
   "destinationList":[{"type":"owning_party","destination":"https://id.gs1.org/417/9506000000012"}],
   "bizTransactionList":[{"type":"po","bizTransaction":"urn:epcglobal:cbv:bt:9506000000012:PO-77"}]},
  {"type":"ObjectEvent","eventID":"urn:uuid:5b6f1f2e-0000-4000-8000-000000000003","eventTime":"2026-03-03T11:00:00Z","eventTimeZoneOffset":"+00:00",
   "action":"OBSERVE","bizStep":"shipping","epcList":["https://id.gs1.org/01/09506000134352/10/L42/21/77"],
   "destinationList":[{"type":"owning_party","destination":"https://id.gs1.org/417/9506000000029"}]}
 ]}}`
	res, st := capture(t, db, doc, epcis.Options{GTINItems: map[string]string{"09506000134352": "FLOUR"}})
	if st.New != 3 || st.Quarantined != 0 || st.Skipped != 0 {
		t.Fatalf("stats %+v, unusable %v", st, res.Unusable)
	}
	q := &core.Queries{Store: db}
	tr, err := q.Recall(ctx, core.Selector{Lot: &core.LotRef{Item: "WHEAT", Lot: "W1"}})
	if err != nil {
		t.Fatal(err)
	}
	customers := map[string]bool{}
	for _, s := range tr.Shipments {
		customers[s.Customer.ID] = true
	}
	for _, c := range []string{"https://id.gs1.org/417/9506000000012", "https://id.gs1.org/417/9506000000029"} {
		if !customers[c] {
			t.Errorf("recall of WHEAT/W1 misses customer %s: shipments %+v", c, tr.Shipments)
		}
	}
	reached := map[string]bool{}
	for _, l := range tr.Lots {
		reached[l.Item+"/"+l.Lot] = true
	}
	if !reached["FLOUR/L42"] || !reached["SSCC/"+epcis.ParseID("urn:epc:id:sscc:9506000.0000000001").SSCC] {
		t.Errorf("recall reached %v, want FLOUR/L42 and the pallet", reached)
	}
}

func TestEpcisCaptureErrorDeclarationReverses(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	ship := `{"type":"ObjectEvent","eventID":"urn:uuid:00000000-0000-4000-8000-00000000000a","eventTime":"2026-03-03T10:00:00Z","eventTimeZoneOffset":"+00:00",
   "action":"OBSERVE","bizStep":"shipping","quantityList":[{"epcClass":"urn:epc:class:lgtin:9506000.013435.L42","quantity":5}],
   "destinationList":[{"type":"owning_party","destination":"urn:epc:id:pgln:9506000.00001"}]`
	doc := func(events ...string) string {
		return `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0",
 "creationDate":"2026-03-04T00:00:00Z","epcisBody":{"eventList":[` + strings.Join(events, ",") + `]}}`
	}
	capture(t, db, doc(ship+"}"), epcis.Options{})
	lot := core.LotRef{Item: "09506000134352", Lot: "L42"}
	q := &core.Queries{Store: db}
	tr, _ := q.Trace(ctx, core.Forward, core.Selector{Lot: &lot})
	if len(tr.Shipments) != 1 {
		t.Fatalf("shipments %+v before the declaration", tr.Shipments)
	}
	_, st := capture(t, db, doc(ship+`,"errorDeclaration":{"declarationTime":"2026-03-04T08:00:00Z","reason":"incorrect_data"}}`), epcis.Options{})
	if st.New != 1 {
		t.Fatalf("declaration: %+v", st)
	}
	tr, _ = q.Trace(ctx, core.Forward, core.Selector{Lot: &lot})
	if len(tr.Shipments) != 0 {
		t.Errorf("shipments %+v after the error declaration, want none", tr.Shipments)
	}
}

func TestEpcisCaptureTransformationIDJoinsEvents(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	ev := func(id, side, lot string) string {
		return `{"type":"TransformationEvent","eventID":"urn:uuid:00000000-0000-4000-8000-00000000000` + id + `","eventTime":"2026-03-03T10:00:00Z","eventTimeZoneOffset":"+00:00",
  "transformationID":"urn:uuid:11111111-0000-4000-8000-000000000001","bizStep":"commissioning",
  "` + side + `":[{"epcClass":"urn:epc:class:lgtin:9506000.013435.` + lot + `","quantity":10,"uom":"KGM"}]}`
	}
	// The output comes first; the link is made when the input arrives.
	for _, e := range []string{ev("1", "outputQuantityList", "OUT"), ev("2", "inputQuantityList", "IN")} {
		capture(t, db, `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-03-04T00:00:00Z","epcisBody":{"eventList":[`+e+`]}}`, epcis.Options{})
	}
	q := &core.Queries{Store: db}
	tr, err := q.Trace(ctx, core.Forward, core.Selector{Lot: &core.LotRef{Item: "09506000134352", Lot: "IN"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Lots) != 1 || tr.Lots[0].Lot != "OUT" {
		t.Errorf("lots %+v, want OUT", tr.Lots)
	}
}

func TestEpcisCaptureRefusesInvalidDocumentWhole(t *testing.T) {
	data := strings.Replace(readGS1(t, "Example_9.6.1-ObjectEvent.jsonld"), `"action": "OBSERVE"`, `"action": "LOOK"`, 1)
	_, err := epcis.Capture([]byte(data), "bad.jsonld", epcis.Options{})
	var inv *epcis.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("err %v, want an InvalidError", err)
	}
	if core.ErrorCode(err) != core.EINVALID {
		t.Errorf("code %s", core.ErrorCode(err))
	}
	if !strings.Contains(err.Error(), "/epcisBody/eventList/0/action") || !strings.Contains(err.Error(), "nothing was stored") {
		t.Errorf("error %q", err)
	}
}

func TestEpcisCaptureUnusableEventIsCounted(t *testing.T) {
	db := openStore(t)
	res, st := capture(t, db, readGS1(t, "Example_9.6.1-ObjectEvent.jsonld"), epcis.Options{})
	if st.Skipped != 2 || st.Archived != 2 || st.New != 0 {
		t.Errorf("stats %+v", st)
	}
	for reason := range res.Unusable {
		if !strings.Contains(reason, "without a lot") {
			t.Errorf("reason %q", reason)
		}
	}
}

func FuzzEpcisCapture(f *testing.F) {
	files, _ := filepath.Glob("testdata/gs1/*.jsonld")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"type":"EPCISDocument"}`))
	f.Add([]byte(`<epcis:EPCISDocument/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := epcis.Capture(data, "fuzz", epcis.Options{})
		if err == nil {
			for _, r := range res.Records {
				for _, e := range r.Events {
					_ = e.Validate()
				}
			}
		}
	})
}
