package dynamics_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/connectors/dynamics"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/runner"
)

// bcAnalyticsRoute is Microsoft's analytics API, an API query:
// GET …/api/microsoft/analytics/v1.0/companies({companyId})/itemLedgerEntries
// https://learn.microsoft.com/dynamics365/business-central/dev-itpro/api-analytics/api/dynamics_itemledgerentry_get
const bcAnalyticsRoute = "microsoft/analytics/v1.0"

// aile is an item ledger entry of the analytics API, with the fields of
// https://learn.microsoft.com/dynamics365/business-central/dev-itpro/api-analytics/resources/dynamics_itemledgerentry
// (query 36968 "Item Ledger Entries"): no id, no @odata.etag, no modified
// time, no order number, no names; a Positive flag.
type aile struct {
	n                      int
	typ, docType, doc      string
	srcType, src           string
	item, lot, serial, loc string
	qty                    float64
	uom, date              string
	positive               *bool // nil: the sign's
}

func (e aile) row() map[string]any {
	pos := e.qty > 0
	if e.positive != nil {
		pos = *e.positive
	}
	esc := func(s string) string {
		if s == "" {
			return "_x0020_"
		}
		return strings.NewReplacer(" ", "_x0020_", ".", "_x002E_").Replace(s)
	}
	return map[string]any{
		"entryNo": e.n, "entryType": esc(e.typ), "sourceType": esc(e.srcType), "sourceNo": e.src,
		"documentNo": e.doc, "documentType": esc(e.docType), "postingDate": e.date, "itemNo": e.item,
		"locationCode": cmpOr(e.loc, "MAIN"), "serialNo": e.serial, "expirationDate": "0001-01-01", "lotNo": e.lot,
		"quantity": e.qty, "unitOfMeasureCode": cmpOr(e.uom, "KG"), "remainingQuantity": e.qty,
		"costAmountActual": 0.0, "salesAmountActual": 0.0, "dimensionSetID": 0, "open": pos,
		"positive": pos, "invoicedQuantity": e.qty, "qtyPerUnitOfMeasure": 1,
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// plantAnalytics is the demo plant as the analytics API lists it: flour
// and salt bought, bread baked on RPO-1 (documentNo is the production
// order's number, as BC's production journal posts it), shipped, one
// bag returned, and the entries every audit finds: an entry posted before
// start, an issuing transfer side, and an entry whose Positive flag
// contradicts its quantity.
func plantAnalytics() []map[string]any {
	f := false
	return []map[string]any{
		aile{n: 1, typ: "Purchase", docType: "Purchase Receipt", doc: "PR-0", srcType: "Vendor", src: "V-OLD", item: "FLOUR", lot: "F-OLD", qty: 10, date: "2025-12-30"}.row(),
		aile{n: 2, typ: "Purchase", docType: "Purchase Receipt", doc: "PR-1", srcType: "Vendor", src: "V-MILL", item: "FLOUR", lot: "F-A", qty: 1000, date: "2026-03-01"}.row(),
		aile{n: 3, typ: "Purchase", docType: "Purchase Receipt", doc: "PR-2", srcType: "Vendor", src: "V-SALT", item: "SALT", lot: "S-1", qty: 50, date: "2026-03-01"}.row(),
		aile{n: 4, typ: "Transfer", docType: "Transfer Shipment", doc: "TS-1", item: "FLOUR", lot: "F-A", qty: -400, date: "2026-03-01"}.row(),
		aile{n: 5, typ: "Transfer", docType: "Transfer Receipt", doc: "TR-1", item: "FLOUR", lot: "F-A", loc: "BAKERY", qty: 400, date: "2026-03-01"}.row(),
		aile{n: 6, typ: "Consumption", doc: "RPO-1", srcType: "Item", src: "BREAD", item: "FLOUR", lot: "F-A", loc: "BAKERY", qty: -400, date: "2026-03-02"}.row(),
		aile{n: 7, typ: "Consumption", doc: "RPO-1", srcType: "Item", src: "BREAD", item: "SALT", lot: "S-1", qty: -5, date: "2026-03-02"}.row(),
		aile{n: 8, typ: "Output", doc: "RPO-1", srcType: "Item", src: "BREAD", item: "BREAD", lot: "BR-1", uom: "PCS", qty: 500, date: "2026-03-02"}.row(),
		aile{n: 9, typ: "Sale", docType: "Sales Shipment", doc: "SS-1", srcType: "Customer", src: "C-ALPHA", item: "BREAD", lot: "BR-1", uom: "PCS", qty: -200, date: "2026-03-03"}.row(),
		aile{n: 10, typ: "Sale", docType: "Sales Return Receipt", doc: "SRR-1", srcType: "Customer", src: "C-ALPHA", item: "BREAD", lot: "BR-1", uom: "PCS", qty: 20, date: "2026-03-04"}.row(),
		aile{n: 11, typ: "Sale", docType: "Sales Shipment", doc: "SS-2", srcType: "Customer", src: "C-BETA", item: "BREAD", lot: "BR-1", uom: "PCS", qty: 30, positive: &f, date: "2026-03-04"}.row(),
	}
}

// TestAnalyticsEndToEnd syncs Business Central's analytics API through
// the hub's runner, the plugin process and the default mapping into a
// SQLite store: every entry maps, is skipped on purpose, or is
// quarantined with its reason, and the run summary counts them.
func TestAnalyticsEndToEnd(t *testing.T) {
	hub := hubBinary(t)
	ctx := context.Background()
	f := newFake(t)
	f.bcRoute = bcAnalyticsRoute
	f.put(bcILE, plantAnalytics()...)
	dir := t.TempDir()
	t.Setenv("LOTHUB_TEST_DYNAMICS_SECRET", testSecret)
	mappingFile, err := filepath.Abs("dynamics-bc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`
connectors:
  - name: bc
    plugin: dynamics
    mapping: %s
    batch_size: 4
    timeout: 30s
    max_retry: 1m
    config:
      system: bc
      tenant_id: %s
      client_id: %s
      client_secret: ${env:LOTHUB_TEST_DYNAMICS_SECRET}
      base_url: %s
      authority_url: %s
      bc_company_id: %s
      bc_api: %s
      start: "2026-01-01"
      page_size: "3"
`, mappingFile, testTenant, testClientID, f.srv.URL, f.srv.URL, testCompany, bcAnalyticsRoute)
	h, err := config.Parse(filepath.Join(dir, "hub.yaml"), []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(ctx, filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := &runner.Runner{Store: s, Config: h,
		Plugins: &runner.Plugins{Builtins: []string{"dynamics"}, Self: hub},
		Sleep:   func(ctx context.Context, d time.Duration) error { return ctx.Err() }}

	run, err := r.Sync(ctx, "bc", "manual")
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	// Entries 2–11 (1 is before start): 8 events; the issuing side of the
	// transfer skipped; entry 11 quarantined.
	if run.Status != core.RunOK || run.Records != 10 || run.Events != 8 || run.Quarant != 1 {
		t.Fatalf("run = %+v, want ok with 10 records, 8 events, 1 quarantined", run)
	}
	for _, req := range f.dataRequests() {
		if strings.Contains(req, "cross-company") || strings.Contains(req, "systemModifiedAt") {
			t.Errorf("request %s: the analytics API has neither", req)
		}
	}
	q, err := s.Quarantined(ctx, core.QuarantineFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 1 || !strings.Contains(q[0].Reason, "item-ledger-entry/"+testCompany+"/11") ||
		!strings.Contains(q[0].Reason, `no entry "positive false, quantity > 0" in table "direction"`) {
		t.Errorf("quarantine = %+v, want entry 11 with its contradiction", q)
	}

	qs := &core.Queries{Store: s}
	res, err := qs.Recall(ctx, core.Selector{Lot: &core.LotRef{Item: "FLOUR", Lot: "F-A"}})
	if err != nil {
		t.Fatal(err)
	}
	var lots, customers []string
	for _, l := range res.Lots {
		lots = append(lots, l.Item+"/"+l.Lot)
	}
	for _, c := range *res.Customers {
		customers = append(customers, c.ID)
	}
	if !slices.Equal(lots, []string{"BREAD/BR-1"}) || !slices.Equal(customers, []string{"C-ALPHA"}) {
		t.Errorf("recall of FLOUR/F-A reaches %v and %v, want BREAD/BR-1 and C-ALPHA", lots, customers)
	}
	// 500 made, 200 shipped, 20 returned: the return is stock back, not a
	// shipment.
	bread, err := qs.Lot(ctx, core.LotRef{Item: "BREAD", Lot: "BR-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bread.OnHand, []core.Qty{{Qty: 320, UOM: "EA"}}) {
		t.Errorf("BREAD/BR-1 on hand = %v, want 320 EA", bread.OnHand)
	}
	if _, err := s.FindLot(ctx, core.LotRef{Item: "FLOUR", Lot: "F-OLD"}); err == nil {
		t.Errorf("entry 1, posted before start, was read")
	}

	// Nothing new: nothing read.
	again, err := r.Sync(ctx, "bc", "schedule")
	if err != nil || again.Records != 0 {
		t.Fatalf("second sync = %+v, %v; want no records", again, err)
	}
	// A new shipment, and an entry committed late with a lower number than
	// one already read (BC may commit entry numbers out of order): both
	// are read, once.
	f.put(bcILE,
		aile{n: 13, typ: "Sale", docType: "Sales Shipment", doc: "SS-3", srcType: "Customer", src: "C-DELTA", item: "BREAD", lot: "BR-1", uom: "PCS", qty: -30, date: "2026-03-05"}.row(),
		aile{n: 12, typ: "Negative Adjmt.", doc: "PHYS-1", item: "SALT", lot: "S-1", qty: -1, date: "2026-03-05"}.row())
	third, err := r.Sync(ctx, "bc", "schedule")
	if err != nil || third.Records != 2 || third.Events != 2 {
		t.Fatalf("third sync = %+v, %v; want the two new entries", third, err)
	}
	fourth, err := r.Sync(ctx, "bc", "schedule")
	if err != nil || fourth.Records != 0 {
		t.Fatalf("fourth sync = %+v, %v; want nothing", fourth, err)
	}
}

// TestAnalyticsPaging reads the analytics API in batches smaller than the
// server's pages (server-driven paging through @odata.nextLink, as in
// https://learn.microsoft.com/dynamics365/business-central/dev-itpro/webservices/server-driven-paging-in-odata-web-services):
// every entry once, in entry number order, and later passes ask only for
// the entries above the mark less the overlap.
func TestAnalyticsPaging(t *testing.T) {
	f := newFake(t)
	f.bcRoute = bcAnalyticsRoute
	f.maxPage, f.ignorePrefer = 10, true
	var rows []map[string]any
	for n := 5001; n <= 5025; n++ {
		rows = append(rows, aile{n: n, typ: "Purchase", docType: "Purchase Receipt", doc: fmt.Sprint("PR-", n), srcType: "Vendor",
			src: "V-MILL", item: "FLOUR", lot: fmt.Sprint("F-", n), qty: 10, date: "2026-03-01"}.row())
	}
	f.put(bcILE, rows...)
	c := dynamics.New()
	cfg := parse(t, bcConfig(f, "bc_api", bcAnalyticsRoute))
	got, pos := readAll(t, c, cfg, nil, 4)
	var want []string
	for n := 5001; n <= 5025; n++ {
		want = append(want, fmt.Sprintf("item-ledger-entry/%s/%d", testCompany, n))
	}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("read %v, want entries 5001 to 5025 in order", ids(got))
	}
	for _, r := range got {
		if !strings.Contains(string(r.Payload), `"@lothub.api":"microsoft/analytics/v1.0"`) {
			t.Fatalf("record %s does not say which API it comes from: %s", r.ID, r.Payload)
		}
	}
	if got[0].Time != time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) {
		t.Errorf("record time = %v, want the posting date", got[0].Time)
	}
	first := f.dataRequests()[0]
	if !strings.Contains(first, "$orderby=entryNo%20asc") || strings.Contains(first, "$filter") {
		t.Errorf("first request %s, want everything ordered by entryNo", first)
	}
	f.put(bcILE, aile{n: 5026, typ: "Purchase", docType: "Purchase Receipt", doc: "PR-26", srcType: "Vendor", src: "V-MILL",
		item: "FLOUR", lot: "F-26", qty: 10, date: "2026-03-02"}.row())
	more, _ := readAll(t, c, cfg, pos, 4)
	if !slices.Equal(ids(more), []string{"item-ledger-entry/" + testCompany + "/5026"}) {
		t.Errorf("second pass read %v, want entry 5026 only", ids(more))
	}
	// The mark was 5025; the pass reads again the last 1000 numbers.
	if reqs := f.dataRequests(); !slices.ContainsFunc(reqs, func(r string) bool {
		return strings.Contains(r, "%24filter=entryNo+gt+4025") || strings.Contains(r, "$filter=entryNo%20gt%204025")
	}) {
		t.Errorf("second pass asked %v, want a filter entryNo gt 4025", reqs)
	}
}
