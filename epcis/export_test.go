package epcis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/postgres"
	"github.com/lothub/lothub/epcis"
	"github.com/lothub/lothub/epcis/schema"
	"github.com/lothub/lothub/internal/testpg"
)

// exportPlant is a small plant with every kind of event an export
// carries: receipts (one without a supplier), two orders, a transform, a
// hold and a release, steps (one a CBV business step, one not), a move,
// adjustments both ways, shipments; FLOUR and BREAD have GTINs (gtin_items),
// SALT, DOUGH and CRUMB have none.
const exportPlant = `{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG","supplier":{"id":"V-MILL","name":"Mill Co"},"supplier_lot":"M-7781","po":"PO-1","location":"WH 1"}
{"id":"r2","type":"receive","time":"2026-03-01T08:30:00+01:00","lot":{"item":"SALT","lot":"S/1"},"qty":5,"uom":"kg"}
{"id":"c1","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":40,"uom":"KG","order":"WO-1"}
{"id":"c1b","type":"consume","time":"2026-03-02T08:05:00Z","lot":{"item":"SALT","lot":"S/1"},"qty":1,"uom":"kg","order":"WO-1"}
{"id":"p1","type":"produce","time":"2026-03-02T09:00:00Z","lot":{"item":"DOUGH","lot":"D-1"},"qty":40,"uom":"KG","order":"WO-1"}
{"id":"p1b","type":"produce","time":"2026-03-02T09:00:00Z","lot":{"item":"DOUGH","lot":"D-2"},"qty":1,"uom":"KG","order":"WO-1"}
{"id":"c2","type":"consume","time":"2026-03-02T10:00:00Z","lot":{"item":"DOUGH","lot":"D-1"},"qty":40,"uom":"KG","order":"WO-2"}
{"id":"p2","type":"produce","time":"2026-03-02T11:00:00Z","lot":{"item":"BREAD","lot":"BR-1"},"qty":100,"uom":"EA","order":"WO-2"}
{"id":"t1","type":"transform","time":"2026-03-02T12:00:00Z","inputs":[{"item":"BREAD","lot":"BR-1","qty":10,"uom":"EA"}],"outputs":[{"item":"CRUMB","lot":"CR-1","qty":2,"uom":"KG"}]}
{"id":"h1","type":"hold","time":"2026-03-02T13:00:00Z","lot":{"item":"BREAD","lot":"BR-1"},"reason":"metal detector"}
{"id":"h2","type":"release","time":"2026-03-02T15:00:00Z","lot":{"item":"BREAD","lot":"BR-1"},"reason":"retested"}
{"id":"st1","type":"step","time":"2026-03-02T13:30:00Z","lot":{"item":"BREAD","lot":"BR-1"},"step":"metal_detection","operator":"ana","equipment":"MD-2","params":{"result":"pass","sensitivity":"1.5mm"}}
{"id":"st2","type":"step","time":"2026-03-02T13:40:00Z","lot":{"item":"BREAD","lot":"BR-1"},"step":"inspecting"}
{"id":"m1","type":"move","time":"2026-03-02T14:00:00Z","lot":{"item":"BREAD","lot":"BR-1"},"qty":80,"uom":"EA","from":"BAKERY","to":"DOCK 2"}
{"id":"a1","type":"adjust","time":"2026-03-02T16:00:00Z","lot":{"item":"BREAD","lot":"BR-1"},"qty":-5,"uom":"EA","reason":"crushed"}
{"id":"a2","type":"adjust","time":"2026-03-02T16:30:00Z","lot":{"item":"BREAD","lot":"BR-1"},"qty":2,"uom":"EA","reason":"count found 2 more"}
{"id":"s1","type":"ship","time":"2026-03-03T10:00:00Z","lot":{"item":"BREAD","lot":"BR-1"},"qty":60,"uom":"EA","customer":{"id":"C-ALPHA","name":"Alpha Foods"},"sales_order":"SO-1","delivery":"DL-9"}
{"id":"s2","type":"ship","time":"2026-03-03T11:00:00Z","lot":{"item":"CRUMB","lot":"CR-1"},"qty":2,"uom":"KG","customer":{"id":"urn:epc:id:pgln:9506000.00001"},"sales_order":"SO-2"}
`

var exportGTINs = map[string]string{"09506000134352": "BREAD", "09506000134376": "FLOUR", "09506000134383": "FLOUR"}

func ingestCanonical(t *testing.T, db core.Store, jsonl string) {
	t.Helper()
	in := &core.Ingester{Store: db}
	st, err := in.IngestJSONL(context.Background(), strings.NewReader(jsonl), "plant.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if st.Quarantined > 0 {
		t.Fatalf("plant: %d quarantined", st.Quarantined)
	}
}

// traceShape is what a round trip must keep of a trace: the lots reached
// and the links, by parent, child and order (a transform's id is the
// capturing hub's: epcis:{eventID}:1).
func traceShape(t *testing.T, db core.Store, dir core.Direction, ref core.LotRef) (lots, links []string) {
	t.Helper()
	q := core.Queries{Store: db}
	res, err := q.Trace(context.Background(), dir, core.Selector{Lot: &ref})
	if err != nil {
		t.Fatalf("trace %s %s: %v", dir, ref, err)
	}
	for _, l := range res.Lots {
		lots = append(lots, fmt.Sprintf("%s/%s@%d", l.Item, l.Lot, l.Depth))
	}
	for _, l := range res.Links {
		via := "order " + l.Order
		if l.Transform != "" {
			via = "transform"
		}
		links = append(links, fmt.Sprintf("%s -> %s (%s)", l.Parent, l.Child, via))
	}
	sort.Strings(lots)
	sort.Strings(links)
	return lots, links
}

// TestEpcisExportRoundTrip: export, capture into an empty store, and
// the traces (and lots' steps, holds, stock) are the same, in JSON-LD and
// in XML, on both stores.
func TestEpcisExportRoundTrip(t *testing.T) {
	for _, format := range []string{epcis.FormatJSON, epcis.FormatXML} {
		t.Run(format, func(t *testing.T) {
			t.Run("SQLite", func(t *testing.T) {
				exportRoundTrip(t, format, func(t *testing.T) core.Store { return openStore(t) })
			})
			t.Run("PostgreSQL", func(t *testing.T) {
				exportRoundTrip(t, format, func(t *testing.T) core.Store {
					db, err := postgres.Open(context.Background(), testpg.NewDatabase(t))
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Close() })
					return db
				})
			})
		})
	}
}

func exportRoundTrip(t *testing.T, format string, open func(*testing.T) core.Store) {
	ctx := context.Background()
	src := open(t)
	ingestCanonical(t, src, exportPlant)
	fixed := func() time.Time { return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) }
	for _, root := range []core.LotRef{{Item: "DOUGH", Lot: "D-1"}, {Item: "BREAD", Lot: "BR-1"}, {Item: "SALT", Lot: "S/1"}} {
		q := core.Queries{Store: src}
		g, err := q.Genealogy(ctx, root, core.Backward, core.Forward)
		if err != nil {
			t.Fatal(err)
		}
		res, err := epcis.Export(g, epcis.ExportOptions{GTINItems: exportGTINs, Now: fixed, Format: format})
		if err != nil {
			t.Fatal(err)
		}
		if format == epcis.FormatJSON {
			if probs, err := schema.ValidateJSON(res.Document); err != nil || len(probs) > 0 {
				t.Fatalf("%s: export invalid: %v %v", root, err, probs)
			}
		} else if !strings.HasPrefix(string(res.Document), "<?xml") || !strings.Contains(string(res.Document), "<epcis:EPCISDocument") {
			t.Fatalf("%s: not an XML document:\n%.300s", root, res.Document)
		}
		if got, want := res.NoGTIN, []string{"CRUMB", "DOUGH", "SALT"}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: NoGTIN = %v, want %v", root, got, want)
		}
		// The same genealogy exports to the same bytes.
		again, _ := epcis.Export(g, epcis.ExportOptions{GTINItems: exportGTINs, Now: fixed, Format: format})
		if string(again.Document) != string(res.Document) {
			t.Errorf("%s: two exports differ", root)
		}

		dst := open(t)
		capture(t, dst, string(res.Document), epcis.Options{GTINItems: exportGTINs})
		for _, dir := range []core.Direction{core.Forward, core.Backward} {
			wantLots, wantLinks := traceShape(t, src, dir, root)
			gotLots, gotLinks := traceShape(t, dst, dir, root)
			if !reflect.DeepEqual(gotLots, wantLots) {
				t.Errorf("%s %s: lots after round trip\n got %v\nwant %v", dir, root, gotLots, wantLots)
			}
			if !reflect.DeepEqual(gotLinks, wantLinks) {
				t.Errorf("%s %s: links after round trip\n got %v\nwant %v", dir, root, gotLinks, wantLinks)
			}
		}
		// Receipts and shipments come back with their parties and
		// documents (names are not in EPCIS: ids only).
		q2 := core.Queries{Store: dst}
		back, err := q2.Trace(ctx, core.Backward, core.Selector{Lot: &root})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range back.Suppliers {
			if s.Lot == "F-A" && (s.ID != "V-MILL" || s.PO != "PO-1" || s.SupplierLot != "M-7781") {
				t.Errorf("receipt of F-A after round trip: %+v", s)
			}
		}
		// BREAD/BR-1's steps, move and adjustments come back: its steps
		// with operator, equipment and parameters, its place, and its
		// stock on hand (100 made, 10 transformed, 5 written off, 2
		// found, 60 shipped).
		if root.Item == "BREAD" {
			want, err := q.Lot(ctx, root)
			if err != nil {
				t.Fatal(err)
			}
			got, err := q2.Lot(ctx, root)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got.OnHand) != fmt.Sprint(want.OnHand) || got.Location != want.Location || want.Location != "DOCK 2" {
				t.Errorf("BR-1 after round trip: on hand %v at %q, want %v at %q", got.OnHand, got.Location, want.OnHand, want.Location)
			}
			steps := func(l *core.LotStatus) (out []string) {
				for _, s := range l.Steps {
					out = append(out, fmt.Sprintf("%s %s %s %v/%v", s.Step, s.Operator, s.Equipment, s.Params["result"], s.Params["sensitivity"]))
				}
				return out
			}
			if g, w := steps(got), steps(want); !reflect.DeepEqual(g, w) {
				t.Errorf("BR-1 steps after round trip\n got %v\nwant %v", g, w)
			}
			holds := func(l *core.LotStatus) (out []string) {
				for _, h := range l.Holds {
					out = append(out, fmt.Sprintf("%s %s %s", h.Type, h.Time, h.Reason)) // ids are the capturing hub's
				}
				return out
			}
			if !reflect.DeepEqual(holds(got), holds(want)) || len(want.Holds) != 2 {
				t.Errorf("BR-1 holds after round trip\n got %+v\nwant %+v", got.Holds, want.Holds)
			}
			var reasons []string
			for _, e := range got.Events {
				if e.Type == core.Adjust {
					reasons = append(reasons, e.Event.Reason)
				}
			}
			sort.Strings(reasons)
			if strings.Join(reasons, "; ") != "count found 2 more; crushed" {
				t.Errorf("adjustments' reasons after round trip: %v", reasons)
			}
		}
		fwd, err := q2.Trace(ctx, core.Forward, core.Selector{Lot: &root})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range fwd.Shipments {
			if s.Lot == "BR-1" && (s.Customer.ID != "C-ALPHA" || s.SalesOrder != "SO-1" || s.Delivery != "DL-9") {
				t.Errorf("shipment of BR-1 after round trip: %+v", s)
			}
		}
		// Capturing the same export again changes nothing.
		_, st := capture(t, dst, string(res.Document), epcis.Options{GTINItems: exportGTINs})
		if st.New != 0 || st.Superseded != 0 {
			t.Errorf("%s: second capture: %+v", root, st)
		}
	}
}

func TestEpcisExportDocument(t *testing.T) {
	db := openStore(t)
	ingestCanonical(t, db, exportPlant)
	q := core.Queries{Store: db}
	g, err := q.Genealogy(context.Background(), core.LotRef{Item: "BREAD", Lot: "BR-1"}, core.Backward)
	if err != nil {
		t.Fatal(err)
	}
	res, err := epcis.Export(g, epcis.ExportOptions{GTINItems: exportGTINs})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Context []any `json:"@context"`
		Body    struct {
			EventList []map[string]any `json:"eventList"`
		} `json:"epcisBody"`
	}
	if err := json.Unmarshal(res.Document, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Context) != 2 || doc.Context[0] != epcis.ContextURL || fmt.Sprint(doc.Context[1]) != "map[lothub:"+epcis.LothubNS+"]" {
		t.Errorf("@context = %v", doc.Context)
	}
	text := string(res.Document)
	for _, want := range []string{
		`"bizStep": "receiving"`, `"bizStep": "shipping"`, `"bizStep": "holding"`, `"disposition": "non_sellable_other"`,
		`"transformationID": "urn:lothub:order:WO-1"`, `"type": "prodorder"`,
		`"epcClass": "https://id.gs1.org/01/09506000134352/10/BR-1"`, // gtin_items inverse
		`"epcClass": "https://id.gs1.org/01/09506000134376/10/F-A"`,  // the smallest GTIN of FLOUR
		`"epcClass": "urn:lothub:lot:SALT:S%2F1"`,
		`"source": "urn:lothub:party:V-MILL"`, `"bizTransaction": "urn:lothub:po:PO-1"`,
		`"id": "urn:lothub:location:WH%201"`, `"uom": "KGM"`,
		`"lothub:supplierLot": "M-7781"`,
		`"bizStep": "urn:lothub:step:metal_detection"`, `"bizStep": "inspecting"`, `"lothub:operator": "ana"`,
		`"id": "urn:lothub:equipment:MD-2"`, `"result": "pass"`,
		`"bizStep": "storing"`, `"source": "urn:lothub:location:BAKERY"`, `"destination": "urn:lothub:location:DOCK%202"`,
		`"action": "DELETE"`, `"bizStep": "cycle_counting"`, `"lothub:reason": "crushed"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("export lacks %s", want)
		}
	}
	if strings.Contains(text, "urn:epcglobal:cbv") {
		t.Errorf("export has CBV URNs, want bare words (errata to issue 19)")
	}
	// The order WO-1 is one event with every input and output, although
	// DOUGH/D-2 is not an ancestor of BR-1.
	n := 0
	for _, e := range doc.Body.EventList {
		if e["transformationID"] == "urn:lothub:order:WO-1" {
			n++
			if len(e["inputQuantityList"].([]any)) != 2 || len(e["outputQuantityList"].([]any)) != 2 {
				t.Errorf("WO-1: %v", e)
			}
			if e["eventID"] != epcis.EventUUID("order:WO-1") {
				t.Errorf("WO-1 eventID %v", e["eventID"])
			}
		}
	}
	if n != 1 {
		t.Errorf("%d events of WO-1, want 1", n)
	}
}

func TestEpcisExportUnitWithoutCode(t *testing.T) {
	db := openStore(t)
	ingestCanonical(t, db, `{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"X","lot":"1"},"qty":1,"uom":"bucket"}`+"\n")
	q := core.Queries{Store: db}
	g, err := q.Genealogy(context.Background(), core.LotRef{Item: "X", Lot: "1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = epcis.Export(g, epcis.ExportOptions{})
	if err == nil || !strings.Contains(err.Error(), `"bucket"`) || !strings.Contains(err.Error(), "r1") {
		t.Errorf("err = %v, want the unit and the event named", err)
	}
}

func TestEpcisEventUUID(t *testing.T) {
	a, b := epcis.EventUUID("event:r1"), epcis.EventUUID("event:r2")
	if a == b || a != epcis.EventUUID("event:r1") || !strings.HasPrefix(a, "urn:uuid:") || a[23] != '5' {
		t.Errorf("EventUUID: %s %s", a, b)
	}
}

// countingStore is a real store that counts the per-lot and per-order
// reads an export makes.
type countingStore struct {
	core.Store
	perLot, perOrder, findLot int
}

func (c *countingStore) LotEvents(ctx context.Context, id int64) ([]core.EventRow, error) {
	c.perLot++
	return c.Store.LotEvents(ctx, id)
}

func (c *countingStore) FindLot(ctx context.Context, ref core.LotRef) (int64, error) {
	c.findLot++
	return c.Store.FindLot(ctx, ref)
}

func (c *countingStore) OrderEvents(ctx context.Context, order string) ([]core.EventRow, error) {
	c.perOrder++
	return c.Store.OrderEvents(ctx, order)
}

// TestEpcisGenealogyReadsInSets: the genealogy of a lot that reaches 300
// lots through 100 orders is read in sets — no read per lot or per order
// — and holds every event of those lots and orders.
func TestEpcisGenealogyReadsInSets(t *testing.T) {
	db := openStore(t)
	var b strings.Builder
	for i := range 100 {
		// FLOUR F-A goes into order i with salt lot S-i, making DOUGH D-i.
		fmt.Fprintf(&b, `{"id":"rs%d","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"SALT","lot":"S-%d"},"qty":5,"uom":"KG"}`+"\n", i, i)
		fmt.Fprintf(&b, `{"id":"c%d","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":1,"uom":"KG","order":"WO-%d"}`+"\n", i, i)
		fmt.Fprintf(&b, `{"id":"cs%d","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"SALT","lot":"S-%d"},"qty":1,"uom":"KG","order":"WO-%d"}`+"\n", i, i, i)
		fmt.Fprintf(&b, `{"id":"p%d","type":"produce","time":"2026-03-02T09:00:00Z","lot":{"item":"DOUGH","lot":"D-%d"},"qty":2,"uom":"KG","order":"WO-%d"}`+"\n", i, i, i)
		fmt.Fprintf(&b, `{"id":"s%d","type":"ship","time":"2026-03-03T09:00:00Z","lot":{"item":"DOUGH","lot":"D-%d"},"qty":2,"uom":"KG","customer":{"id":"C-%d"}}`+"\n", i, i, i)
	}
	b.WriteString(`{"id":"rf","type":"receive","time":"2026-03-01T07:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG"}` + "\n")
	ingestCanonical(t, db, b.String())
	cs := &countingStore{Store: db}
	q := core.Queries{Store: cs}
	root := core.LotRef{Item: "FLOUR", Lot: "F-A"}
	g, err := q.Genealogy(context.Background(), root, core.Forward)
	if err != nil {
		t.Fatal(err)
	}
	// (The trace looks its root up once.)
	if cs.perLot != 0 || cs.perOrder != 0 || cs.findLot > 1 {
		t.Errorf("genealogy of %d lots: %d LotEvents, %d OrderEvents, %d FindLot reads; want none, none, at most one", len(g.Lots), cs.perLot, cs.perOrder, cs.findLot)
	}
	// Forward from F-A: F-A and the 100 doughs; the orders bring their
	// salt consumptions (an order is exported whole).
	count := map[core.EventType]int{}
	for _, e := range g.Events {
		count[e.Type]++
	}
	if len(g.Lots) != 101 || count[core.Receive] != 1 || count[core.Consume] != 200 || count[core.Produce] != 100 || count[core.Ship] != 100 {
		t.Errorf("genealogy: %d lots, events %v; want 101 lots, 1 receive, 200 consume, 100 produce, 100 ship", len(g.Lots), count)
	}
	// The same events as read lot by lot (the store's per-lot reads).
	want := map[string]bool{}
	for _, l := range g.Lots {
		id, err := db.FindLot(context.Background(), l)
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := db.LotEvents(context.Background(), id)
		for _, r := range rows {
			if r.Status == core.Active {
				want[r.ID] = true
			}
		}
	}
	for i := range 100 {
		want[fmt.Sprintf("cs%d", i)] = true // the orders' other inputs
	}
	got := map[string]bool{}
	for _, e := range g.Events {
		got[e.ID] = true
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("genealogy events differ from the per-lot reads: %d vs %d", len(got), len(want))
	}
}
