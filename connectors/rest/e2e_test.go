package rest_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/rest"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/intake"
	"github.com/lothub/lothub/mapping"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/sdk"
)

// openStore opens a new SQLite store file.
func openStore(t *testing.T) core.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// syncInto reads the connector from the start to the end in batches of
// 50, as a sync does: each batch goes through the default mapping
// mappingFile and intake (archive, map, ingest) into st, as source. A
// 429 is retried at once from the same position (the runner waits
// Retry-After; the delays are returned).
func syncInto(t *testing.T, st core.Store, cfg sdk.Config, mappingFile, source string) (core.RecordStats, []time.Duration) {
	t.Helper()
	ctx := context.Background()
	m, err := mapping.Load(mappingFile)
	if err != nil {
		t.Fatal(err)
	}
	p := &intake.Pipeline{Ingester: &core.Ingester{Store: st}, Mapping: m, Source: source}
	c := rest.New()
	var stats core.RecordStats
	var waits []time.Duration
	var pos sdk.Position
	for range 100 {
		res, err := c.Read(ctx, cfg, pos, 50)
		if d, retry := sdk.RetryDelay(err); retry && len(waits) < 5 {
			waits = append(waits, d)
			continue
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if len(res.Records) > 0 {
			inputs, err := runner.Inputs(res.Records)
			if err != nil {
				t.Fatal(err)
			}
			s, err := p.Ingest(ctx, inputs, nil)
			if err != nil {
				t.Fatal(err)
			}
			stats.Add(s)
		}
		if len(res.Next) > 0 {
			pos = res.Next
		}
		if !res.More {
			return stats, waits
		}
	}
	t.Fatal("the read does not end")
	return stats, waits
}

func recallOf(t *testing.T, st core.Store, item, lot string) *core.TraceResult {
	t.Helper()
	rec, err := (&core.Queries{Store: st}).Recall(context.Background(), core.Selector{Lot: &core.LotRef{Item: item, Lot: lot}})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func reached(rec *core.TraceResult) []string {
	var out []string
	for _, l := range rec.Lots {
		out = append(out, l.Item+"/"+l.Lot)
	}
	slices.Sort(out)
	return out
}

func customers(rec *core.TraceResult) []string {
	var out []string
	if rec.Customers != nil {
		for _, c := range *rec.Customers {
			out = append(out, c.ID+" "+c.Name)
		}
	}
	slices.Sort(out)
	return out
}

func onHand(t *testing.T, st core.Store, item, lot string) []core.Qty {
	t.Helper()
	s, err := (&core.Queries{Store: st}).Lot(context.Background(), core.LotRef{Item: item, Lot: lot})
	if err != nil {
		t.Fatal(err)
	}
	return s.OnHand
}

// eventTime is the time of the stored event id.
func eventTime(t *testing.T, st core.Store, item, lot, id string) string {
	t.Helper()
	s, err := (&core.Queries{Store: st}).Lot(context.Background(), core.LotRef{Item: item, Lot: lot})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range s.Events {
		if e.ID == id {
			return e.Time
		}
	}
	t.Fatalf("lot %s/%s has no event %s", item, lot, id)
	return ""
}

// --- Epicor ---

// epicorTran is one PartTran row as Kinetic's REST v2 writes it; kv
// sets or adds fields.
func epicorTran(num int, typ, part, lot string, qty float64, um, date string, kv ...any) map[string]any {
	row := map[string]any{
		"Company": "EPIC06", "TranNum": num, "TranType": typ, "PartNum": part, "LotNum": lot,
		"TranQty": qty, "UM": um, "JobNum": "", "PONum": 0, "POLine": 0, "VendorNum": 0, "PackNum": 0,
		"PackLine": 0, "OrderNum": 0, "OrderLine": 0, "CustNum": 0, "Plant": "MfgSys", "WareHouseCode": "MAIN",
		"TranDate": date, "SysDate": date, "SysTime": 3600, "SysRevID": int64(500000 + num),
	}
	for i := 0; i+1 < len(kv); i += 2 {
		row[kv[i].(string)] = kv[i+1]
	}
	return row
}

// epicorPlant: flour F-A bought on PO 4711, issued to job J-1001 on the
// day US clocks change (2026-03-08, America/Chicago), 2 KG of it put back
// by a reversed issue (negative STK-MTL); bread B-1 received from the job
// the day after, in CDT, and shipped to customer 77. Flour F-B's receipt
// is reversed (negative PUR-STK). Salt is not lot-tracked; a move is
// skipped.
func epicorPlant() []map[string]any {
	return []map[string]any{
		epicorTran(9000, "PUR-STK", "FLOUR", "F-A", 25, "KG", "2026-03-07T00:00:00", "PONum", 4711, "POLine", 1, "VendorNum", 12),
		epicorTran(9001, "PUR-STK", "FLOUR", "F-B", 10, "KG", "2026-03-07T00:00:00", "PONum", 4712, "VendorNum", 12),
		epicorTran(9002, "PUR-STK", "FLOUR", "F-B", -10, "KG", "2026-03-07T00:00:00", "PONum", 4712, "VendorNum", 12),
		epicorTran(9003, "PUR-STK", "SALT", "", 50, "KG", "2026-03-07T00:00:00", "PONum", 4713, "VendorNum", 14),
		epicorTran(9004, "STK-STK", "FLOUR", "F-A", 25, "KG", "2026-03-07T00:00:00"),
		epicorTran(9005, "STK-MTL", "FLOUR", "F-A", 20, "KG", "2026-03-08T00:00:00", "JobNum", "J-1001"),
		epicorTran(9006, "STK-MTL", "FLOUR", "F-A", -2, "KG", "2026-03-08T00:00:00", "JobNum", "J-1001"),
		epicorTran(9007, "MFG-STK", "BREAD", "B-1", 100, "EA", "2026-03-09T00:00:00", "JobNum", "J-1001"),
		epicorTran(9008, "STK-CUS", "BREAD", "B-1", 40, "EA", "2026-03-09T00:00:00", "PackNum", 1201, "PackLine", 1,
			"OrderNum", 5001, "OrderLine", 1, "CustNum", 77),
	}
}

// From Kinetic's REST v2 to a recall: the Epicor fake (with a 429 on the
// second page), the epicor-kinetic profile and its default mapping, a
// SQLite store; the recall of flour F-A reaches the bread and customer
// 77, reversals change the stock, and dates land on the right side of
// the DST change.
func TestEpicorEndToEnd(t *testing.T) {
	f := newFakeEpicor(t, epicorPlant())
	f.fail429 = true
	c := rest.New()
	cfg := mustConfig(t, c, f.config())
	st := openStore(t)
	stats, _ := syncInto(t, st, cfg, "profiles/epicor-kinetic.mapping.yaml", "epicor")
	if stats.Records != 9 || stats.Quarantined != 0 || stats.Skipped != 2 || stats.New != 7 {
		t.Fatalf("records %d, new events %d, quarantined %d, skipped %d (%+v); want 9, 7, 0, 2",
			stats.Records, stats.New, stats.Quarantined, stats.Skipped, stats.Skips)
	}
	// The 429 came after the first page: the connector handed over the
	// records read before it, and the next read went on.
	if f.fail429 {
		t.Error("the fake served no 429")
	}
	rec := recallOf(t, st, "FLOUR", "F-A")
	if got, want := reached(rec), []string{"BREAD/B-1"}; !slices.Equal(got, want) {
		t.Errorf("recall of F-A reaches %v, want %v", got, want)
	}
	if got, want := customers(rec), []string{"77 "}; !slices.Equal(got, want) {
		t.Errorf("recall customers %v, want %v", got, want)
	}
	// 25 received − 20 issued + 2 put back by the reversed issue.
	if got := onHand(t, st, "FLOUR", "F-A"); len(got) != 1 || got[0] != (core.Qty{Qty: 7, UOM: "KG"}) {
		t.Errorf("on hand of F-A %v, want 7 KG", got)
	}
	if got := onHand(t, st, "FLOUR", "F-B"); len(got) > 1 || len(got) == 1 && got[0].Qty != 0 {
		t.Errorf("on hand of F-B, whose receipt was reversed: %v, want nothing", got)
	}
	// TranDate has no offset: read in America/Chicago, CST before the
	// change on 2026-03-08 at 02:00, CDT after.
	// (The store keeps times in UTC.)
	if got := eventTime(t, st, "FLOUR", "F-A", "epicor:EPIC06:9005"); got != "2026-03-08T06:00:00Z" {
		t.Errorf("issue on the DST day at %s, want 2026-03-08T06:00:00Z (midnight CST)", got)
	}
	if got := eventTime(t, st, "BREAD", "B-1", "epicor:EPIC06:9007"); got != "2026-03-09T05:00:00Z" {
		t.Errorf("job receipt after the DST change at %s, want 2026-03-09T05:00:00Z (midnight CDT)", got)
	}
}

// --- Infor ---

func inforTran(num int, typ, ref, refNum, item, lot, qty, um string, at time.Time, kv ...string) []map[string]any {
	fields := map[string]string{
		"TransNum": strconv.Itoa(num), "TransType": typ, "RefType": ref, "RefNum": refNum, "RefLineSuf": "1",
		"RefRelease": "0", "Item": item, "Lot": lot, "Qty": qty, "UM": um, "Whse": "MAIN", "Loc": "STOCK",
		"TransDate": at.Format(inforDate), "RecordDate": at.Add(1500 * time.Millisecond).Format(inforDate),
		"VendNum": "", "CustNum": "", "VendLot": "",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		fields[kv[i]] = kv[i+1]
	}
	return inforRow(fields, num)
}

// inforPlant: flour F-A received on a PO just before the month ends
// (UTC, the profile's zone), issued to job J42 just after it; 2 KG
// returned by a negative issue; bread B-1 finished and shipped to C0077
// (a shipment is written negative); 5 KG of F-B received and the receipt
// adjusted away; a stock move skipped; an item without lots skipped.
func inforPlant() [][]map[string]any {
	at := time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC)
	min := func(n int) time.Time { return at.Add(time.Duration(n) * 20 * time.Second) }
	return [][]map[string]any{
		inforTran(70000, "R", "P", "PO00000123", "FLOUR", "F-A", "25.00000000", "KG", min(0), "VendNum", "  V0012", "VendLot", "M-7781"),
		inforTran(70001, "R", "P", "PO00000124", "FLOUR", "F-B", "5.00000000", "KG", min(1), "VendNum", "  V0012"),
		inforTran(70002, "R", "P", "PO00000124", "FLOUR", "F-B", "-5.00000000", "KG", min(2), "VendNum", "  V0012"),
		inforTran(70003, "R", "P", "PO00000125", "SALT", "", "50.00000000", "KG", min(3), "VendNum", "  V0014"),
		inforTran(70004, "I", "J", "J000000042", "FLOUR", "F-A", "20.00000000", "KG", min(4)),
		inforTran(70005, "I", "J", "J000000042", "FLOUR", "F-A", "-2.00000000", "KG", min(5)),
		inforTran(70006, "M", "I", "", "FLOUR", "F-A", "-3.00000000", "KG", min(6)),
		inforTran(70007, "F", "J", "J000000042", "BREAD", "B-1", "100.00000000", "EA", min(7)),
		inforTran(70008, "S", "O", "CO00000501", "BREAD", "B-1", "-40.00000000", "EA", min(8), "CustNum", "   C0077"),
	}
}

// From the IDO REST service behind ION API to a recall, through the
// gateway's 429 on the first load (the wait it asks for is honoured) and
// bookmarks, with the default mapping into SQLite.
func TestInforEndToEnd(t *testing.T) {
	f := newFakeInforRows(t, inforPlant())
	f.fail429At = 1
	c := rest.New()
	cfg := mustConfig(t, c, f.config(t))
	st := openStore(t)
	stats, waits := syncInto(t, st, cfg, "profiles/infor-csi.mapping.yaml", "infor")
	if stats.Records != 9 || stats.Quarantined != 0 || stats.Skipped != 2 || stats.New != 7 {
		t.Fatalf("records %d, new events %d, quarantined %d, skipped %d (%+v); want 9, 7, 0, 2",
			stats.Records, stats.New, stats.Quarantined, stats.Skipped, stats.Skips)
	}
	if !slices.Equal(waits, []time.Duration{11 * time.Second}) {
		t.Errorf("retry waits %v, want the 11s of Retry-After", waits)
	}
	rec := recallOf(t, st, "FLOUR", "F-A")
	if got, want := reached(rec), []string{"BREAD/B-1"}; !slices.Equal(got, want) {
		t.Errorf("recall of F-A reaches %v, want %v", got, want)
	}
	if got, want := customers(rec), []string{"C0077 "}; !slices.Equal(got, want) {
		t.Errorf("recall customers %v, want %v", got, want)
	}
	if got := onHand(t, st, "FLOUR", "F-A"); len(got) != 1 || got[0] != (core.Qty{Qty: 7, UOM: "KG"}) {
		t.Errorf("on hand of F-A %v, want 7 KG (25 − 20 + 2)", got)
	}
	if got := onHand(t, st, "FLOUR", "F-B"); len(got) > 1 || len(got) == 1 && got[0].Qty != 0 {
		t.Errorf("on hand of F-B, whose receipt was adjusted away: %v, want nothing", got)
	}
	// The receipt in March, the issue in April: the month end in UTC.
	if got := eventTime(t, st, "FLOUR", "F-A", "infor:70000"); got != "2026-03-31T23:59:00Z" {
		t.Errorf("receipt at %s", got)
	}
	if got := eventTime(t, st, "FLOUR", "F-A", "infor:70004"); got != "2026-04-01T00:00:20Z" {
		t.Errorf("issue at %s", got)
	}
}

// The same site read with timezone Europe/Berlin: IDO dates on both
// sides of the EU DST change (2026-03-29, 02:00 → 03:00) become the
// right instants.
func TestInforTimezoneDST(t *testing.T) {
	before := time.Date(2026, 3, 29, 1, 59, 0, 0, time.UTC) // wall clock, written without an offset
	after := time.Date(2026, 3, 29, 3, 1, 0, 0, time.UTC)
	f := newFakeInforRows(t, [][]map[string]any{
		inforTran(71000, "R", "P", "PO1", "FLOUR", "F-A", "1", "KG", before, "VendNum", "V1"),
		inforTran(71001, "R", "P", "PO1", "FLOUR", "F-B", "1", "KG", after, "VendNum", "V1"),
	})
	c := rest.New()
	raw := f.config(t)
	raw["timezone"] = "Europe/Berlin"
	recs, _ := readAll(t, c, mustConfig(t, c, raw), nil, 10)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	for i, want := range []string{"2026-03-29T00:59:00Z", "2026-03-29T01:01:00Z"} {
		if got := recs[i].Time.UTC().Format(time.RFC3339); got != want {
			t.Errorf("record %s at %s, want %s", recs[i].ID, got, want)
		}
	}
}

// --- Oracle ---

// A work order return (Fusion's reversal of an issue: the lot comes back
// to stock) and a shipment stamped in a -07:00 offset on the evening of
// the month's last day, which is already April in UTC (the profile's
// zone).
func TestOracleEndToEnd(t *testing.T) {
	la := time.FixedZone("PDT", -7*3600)
	txn := func(id int64, typ, item, lot string, qty float64, src string, at time.Time) oracleTxn {
		return oracleTxn{ID: id, Type: typ, Date: at, Updated: at, Item: item, Qty: qty, UOM: "KG", Source: src,
			Lots: []map[string]any{{"LotNumber": lot, "TransactionQuantity": qty}}}
	}
	d := time.Date(2026, 3, 30, 8, 0, 0, 0, time.UTC)
	data := []oracleTxn{
		txn(300200000, "Purchase Order Receipt", "FLOUR", "F-A", 25, "PO-77", d),
		txn(300200001, "Work Order Issue", "FLOUR", "F-A", -20, "WO-1001", d.Add(time.Hour)),
		txn(300200002, "Work Order Return", "FLOUR", "F-A", 4, "WO-1001", d.Add(2*time.Hour)),
		txn(300200003, "Work Order Completion", "BREAD", "B-1", 100, "WO-1001", d.Add(3*time.Hour)),
		txn(300200004, "Sales Order Issue", "BREAD", "B-1", -40, "SO-5", time.Date(2026, 3, 31, 23, 30, 0, 0, la)),
	}
	data[0].Supplier, data[4].Customer = "Mill Co", "Alpha Foods"
	data[3].UOM, data[4].UOM = "Ea", "Ea"
	f := newFakeOracle(t, data)
	f.fail429 = 0 // the first page
	c := rest.New()
	st := openStore(t)
	stats, waits := syncInto(t, st, mustConfig(t, c, f.config("page_size", "3")), "profiles/oracle-fusion-scm.mapping.yaml", "fusion")
	if stats.Records != 5 || stats.New != 5 || stats.Quarantined != 0 {
		t.Fatalf("records %d, new events %d, quarantined %d", stats.Records, stats.New, stats.Quarantined)
	}
	if !slices.Equal(waits, []time.Duration{7 * time.Second}) {
		t.Errorf("retry waits %v, want the 7s of Retry-After", waits)
	}
	rec := recallOf(t, st, "FLOUR", "F-A")
	if got := customers(rec); !slices.Equal(got, []string{"Alpha Foods Alpha Foods"}) {
		t.Errorf("recall customers %v", got)
	}
	if got := onHand(t, st, "FLOUR", "F-A"); len(got) != 1 || got[0] != (core.Qty{Qty: 9, UOM: "KG"}) {
		t.Errorf("on hand of F-A %v, want 9 KG (25 − 20 + 4 returned)", got)
	}
	if got := eventTime(t, st, "BREAD", "B-1", "oracle:300200004:B-1"); got != "2026-04-01T06:30:00Z" {
		t.Errorf("shipment at %s, want 2026-04-01T06:30:00Z (March 31 in PDT, April in UTC)", got)
	}
}

// --- Oracle and SAP in one hub ---

// A plant buys flour in Oracle Fusion and bakes in SAP S/4HANA: lot F-A
// of item 12345 is received in Fusion (read by the rest connector from
// the Fusion fake, mapped by the Oracle default mapping), consumed by
// SAP production order 1000123, whose bread B-0107 ships to Alpha Foods
// (SAP material document items, as the sap connector hands them over,
// mapped by the SAP default mapping: its fake is internal to
// connectors/sap). Both sides name the item and the lot alike (SAP's
// leading zeros are removed from the material by its mapping), so the recall of the Oracle
// lot reaches the SAP customer, and the bread traces back to the Oracle
// supplier and PO.
func TestOracleAndSAPRecall(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	f := newFakeOracle(t, []oracleTxn{{ID: 300300000, Type: "Purchase Order Receipt", SourceType: "Purchase order",
		Date: t0, Updated: t0, Item: "12345", Qty: 1000, UOM: "KG", Source: "PO-77", Supplier: "Mill Co",
		Lots: []map[string]any{{"LotNumber": "F-A", "TransactionQuantity": 1000, "SupplierLotNumber": "M-7781"}}}})
	if s, _ := syncInto(t, st, mustConfig(t, rest.New(), f.config()), "profiles/oracle-fusion-scm.mapping.yaml", "fusion"); s.New != 1 {
		t.Fatalf("Oracle: %d events", s.New)
	}

	m, err := mapping.Load("../sap/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	item := func(doc, mvt, material, batch, qty, unit string, kv ...string) intake.Input {
		fields := map[string]any{"MaterialDocumentYear": "2026", "MaterialDocument": doc, "MaterialDocumentItem": "0001",
			"GoodsMovementType": mvt, "Material": material, "Plant": "1010", "StorageLocation": "RM01", "Batch": batch,
			"QuantityInEntryUnit": qty, "EntryUnit": unit, "ManufacturingOrder": "", "PurchaseOrder": "", "Customer": "",
			"ReversedMaterialDocument": "", "PostingDate": "/Date(1773619200000)/", "CreationTime": "PT10H00M00S"}
		for i := 0; i+1 < len(kv); i += 2 {
			fields[kv[i]] = kv[i+1]
		}
		return intake.Input{Record: mapping.Record{Kind: "a_materialdocumentitem", ID: "2026/" + doc + "/0001", Fields: fields}}
	}
	sapDocs := []intake.Input{
		item("4900002000", "261", "000000000000012345", "F-A", "250", "KG", "ManufacturingOrder", "000001000123"),
		item("4900002001", "101", "BREAD-WHITE", "B-0107", "480", "ST", "ManufacturingOrder", "000001000123", "StorageLocation", "FG01"),
		item("4900002002", "601", "BREAD-WHITE", "B-0107", "100", "ST", "Customer", "0017100001", "SalesOrder", "1234", "Delivery", "80000123"),
	}
	p := &intake.Pipeline{Ingester: &core.Ingester{Store: st}, Mapping: m, Source: "s4"}
	if s, err := p.Ingest(ctx, sapDocs, nil); err != nil || s.New != 3 || s.Quarantined != 0 {
		t.Fatalf("SAP: %+v, %v", s, err)
	}

	rec := recallOf(t, st, "12345", "F-A")
	if got, want := reached(rec), []string{"BREAD-WHITE/B-0107"}; !slices.Equal(got, want) {
		t.Errorf("recall of the Oracle lot reaches %v, want %v", got, want)
	}
	if got, want := customers(rec), []string{"17100001 Alpha Foods"}; !slices.Equal(got, want) {
		t.Errorf("recall customers %v, want %v", got, want)
	}
	back, err := (&core.Queries{Store: st}).Trace(ctx, core.Backward, core.Selector{Lot: &core.LotRef{Item: "BREAD-WHITE", Lot: "B-0107"}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range back.Suppliers {
		found = found || s.Lot == "F-A" && s.Name == "Mill Co" && s.PO == "PO-77" && s.SupplierLot == "M-7781"
	}
	if !found {
		t.Errorf("backward trace suppliers %+v, want Mill Co on PO-77 (from Oracle)", back.Suppliers)
	}
}
