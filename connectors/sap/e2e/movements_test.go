package e2e_test

import (
	"context"
	"slices"
	"testing"

	"github.com/lothub/lothub/connectors/sap/internal/fake"
	"github.com/lothub/lothub/core"
)

// Issue 15 §4, end to end through the shipped mapping: movement types
// posted without a reference document, transfer postings that change the
// batch, quantities entered in another unit than the base unit, and the
// batch's shelf life dates.
//
// The items have the fields of A_MaterialDocumentItem as SAP publishes
// them (SAP Cloud SDK, MaterialDocumentItemType of API_MATERIAL_DOCUMENT_SRV:
// https://help.sap.com/doc/c3eb465862914a45adb2c0963287fe0d/1.0/en-US/interfaces/_sap_cloud_sdk_vdm_material_document_service.materialdocumentitemtype.html
// — GoodsMovementType, DebitCreditCode, QuantityInBaseUnit,
// MaterialBaseUnit, IssgOrRcvgMaterial, IssgOrRcvgBatch,
// ShelfLifeExpirationDate, ManufactureDate, ReversedMaterialDocument…).
// The 262 is posted the way SAP's sample payload posts it (SAP KBA
// 3027233, "sample payload for API API_MATERIAL_DOCUMENT_SRV to post
// movement type 262", S/4HANA Cloud 2102): ManufacturingOrder,
// EntryUnit, QuantityInEntryUnit and MaterialDocumentPostingType "1", no
// reference to the issue it returns.
func TestSyncS4ReturnsTransfersAndUnits(t *testing.T) {
	ctx := context.Background()
	s := fake.NewS4(t, false)
	flour := "000000000000012345"
	s.Add(
		// Flour F-R received, with its shelf life expiration and
		// manufacture dates (2026-08-31, 2026-02-25).
		fake.MatDoc("4900002001", "2026-03-01T07:00:00",
			fake.MatItem("101", flour, "F-R", "1000.000", "KG", "Supplier", "0017300001", "PurchaseOrder", "4500002001", "PurchaseOrderItem", "00010",
				"ShelfLifeExpirationDate", "/Date(1788134400000)/", "ManufactureDate", "/Date(1771977600000)/")),
		// 300 KG issued to order 2001.
		fake.MatDoc("4900002002", "2026-03-01T08:00:00",
			fake.MatItem("261", flour, "F-R", "300.000", "KG", "ManufacturingOrder", "000001002001", "DebitCreditCode", "H")),
		// The order's output, entered as 40 cartons of 12: 480 pieces.
		fake.MatDoc("4900002003", "2026-03-01T10:00:00",
			fake.MatItem("101", "BREAD-WHITE", "B-9", "40", "KAR", "StorageLocation", "FG01", "ManufacturingOrder", "000001002001",
				"MaterialBaseUnit", "ST", "QuantityInBaseUnit", "480")),
		// 50 KG of the flour go back from the order: a 262 without a
		// reference (MaterialDocumentPostingType 1).
		fake.MatDoc("4900002004", "2026-03-01T11:00:00",
			fake.MatItem("262", flour, "F-R", "50.000", "KG", "ManufacturingOrder", "000001002001", "MaterialDocumentPostingType", "1", "DebitCreditCode", "S")),
		// 100 pieces delivered to Alpha Foods.
		fake.MatDoc("4900002005", "2026-03-01T13:00:00",
			fake.MatItem("601", "BREAD-WHITE", "B-9", "100", "ST", "StorageLocation", "FG01", "Customer", "0017100001", "Delivery", "0080002001", "DebitCreditCode", "H")),
		// 200 KG of F-R re-batched as F-R2 (311 with a batch change) and
		// put away from RM01 into RM02: the item the user entered and the
		// one SAP created. Neither carries dates.
		fake.MatDoc("4900002006", "2026-03-02T08:00:00",
			fake.MatItem("311", flour, "F-R", "200.000", "KG", "IssuingOrReceivingPlant", "1010", "IssuingOrReceivingStorageLoc", "RM02",
				"IssgOrRcvgMaterial", flour, "IssgOrRcvgBatch", "F-R2", "DebitCreditCode", "H"),
			fake.MatItem("311", flour, "F-R2", "200.000", "KG", "StorageLocation", "RM02", "IssuingOrReceivingPlant", "1010", "IssuingOrReceivingStorageLoc", "RM01",
				"IssgOrRcvgMaterial", flour, "IssgOrRcvgBatch", "F-R", "DebitCreditCode", "S", "IsAutomaticallyCreated", "X")),
		// 80 KG of F-R2 become material RYE-MIX batch R-1 (309).
		fake.MatDoc("4900002007", "2026-03-02T09:00:00",
			fake.MatItem("309", flour, "F-R2", "80.000", "KG", "IssgOrRcvgMaterial", "RYE-MIX", "IssgOrRcvgBatch", "R-1", "DebitCreditCode", "H"),
			fake.MatItem("309", "RYE-MIX", "R-1", "80.000", "KG", "IssgOrRcvgMaterial", flour, "IssgOrRcvgBatch", "F-R2", "DebitCreditCode", "S", "IsAutomaticallyCreated", "X")),
	)
	e := newEnv(t, s)
	run, err := e.r.Sync(ctx, "s4", "manual")
	if err != nil {
		t.Fatalf("sync: %v\nlogs:\n%s", err, e.logs)
	}
	if run.Status != core.RunOK || run.Records != 9 || run.Quarant != 0 {
		t.Fatalf("run = %+v; want ok, 9 records, none quarantined", run)
	}
	q := &core.Queries{Store: e.store}
	onHand := func(item, lot string) []core.Qty {
		t.Helper()
		st, err := q.Lot(ctx, core.LotRef{Item: item, Lot: lot})
		if err != nil {
			t.Fatalf("lot %s/%s: %v", item, lot, err)
		}
		return st.OnHand
	}
	for _, tc := range []struct {
		item, lot string
		want      []core.Qty
	}{
		// 1000 received − 300 issued + 50 returned − 200 re-batched.
		{"12345", "F-R", []core.Qty{{Qty: 550, UOM: "KG"}}},
		{"12345", "F-R2", []core.Qty{{Qty: 120, UOM: "KG"}}},
		{"RYE-MIX", "R-1", []core.Qty{{Qty: 80, UOM: "KG"}}},
		// Made in cartons, delivered in pieces: one unit.
		{"BREAD-WHITE", "B-9", []core.Qty{{Qty: 380, UOM: "EA"}}},
	} {
		if got := onHand(tc.item, tc.lot); !slices.Equal(got, tc.want) {
			t.Errorf("on hand of %s/%s = %+v, want %+v", tc.item, tc.lot, got, tc.want)
		}
	}

	// The order still consumed 250 KG of F-R: the bread stays its child,
	// and the re-batched flour and what was made of it are reached too.
	rec, err := q.Recall(ctx, core.Selector{Lot: &core.LotRef{Item: "12345", Lot: "F-R"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lotNames(rec.Lots), []string{"12345/F-R2", "BREAD-WHITE/B-9", "RYE-MIX/R-1"}; !slices.Equal(got, want) {
		t.Errorf("recall of 12345/F-R reaches %v, want %v", got, want)
	}
	if rec.Customers == nil || len(*rec.Customers) != 1 || (*rec.Customers)[0].Name != "Alpha Foods" {
		t.Errorf("recall customers = %+v, want Alpha Foods", rec.Customers)
	}
	// The return names the order in the lot's history.
	st, err := q.Lot(ctx, core.LotRef{Item: "12345", Lot: "F-R"})
	if err != nil {
		t.Fatal(err)
	}
	var ret *core.Event
	for _, ev := range st.Events {
		if ev.ID == "sap:MATDOC:2026:4900002004:0001" {
			ret = ev.Event
		}
	}
	if ret == nil || ret.Type != core.Adjust || ret.Order != "1002001" || ret.Qty == nil || *ret.Qty != 50 {
		t.Errorf("the 262 without a reference = %+v, want an adjust of +50 naming order 1002001", ret)
	}
	// hub balance --order nets the return: 300 KG issued, 50 back.
	ob, err := q.OrderMassBalance(ctx, "1002001", 0.05)
	if err != nil {
		t.Fatal(err)
	}
	var kg *core.OrderUnitBalance
	for i := range ob.Units {
		if ob.Units[i].UOM == "KG" {
			kg = &ob.Units[i]
		}
	}
	if kg == nil || kg.In != 250 || kg.InAdjusted != -50 || len(ob.Adjustments) != 1 || ob.Adjustments[0].Event != "sap:MATDOC:2026:4900002004:0001" || ob.Adjustments[0].Side != "in" {
		t.Errorf("balance of order 1002001 = %+v, want 250 KG in (300 issued, 50 returned by the 262)", ob)
	}
	// The batch's dates are its attributes.
	if got := st.Attributes; got["expiration_date"] != "2026-08-31" || got["manufacturing_date"] != "2026-02-25" {
		t.Errorf("attributes of 12345/F-R = %v, want expiration_date 2026-08-31, manufacturing_date 2026-02-25", got)
	}
	// The re-batched flour keeps the dates of the batch it was made from
	// (the 311 sent none), is where it was put away, and so is the
	// material it became by the 309, two batches on.
	for _, tc := range []struct{ item, lot, location string }{{"12345", "F-R2", "RM02"}, {"RYE-MIX", "R-1", "RM01"}} {
		st, err := q.Lot(ctx, core.LotRef{Item: tc.item, Lot: tc.lot})
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Attributes; got["expiration_date"] != "2026-08-31" || got["manufacturing_date"] != "2026-02-25" {
			t.Errorf("attributes of %s/%s = %v, want F-R's: expiration_date 2026-08-31, manufacturing_date 2026-02-25", tc.item, tc.lot, got)
		}
		if st.Location != tc.location || st.Site != "HAMBURG" {
			t.Errorf("%s/%s is at %s %s, want HAMBURG %s (the receiving side of the transfer)", tc.item, tc.lot, st.Site, st.Location, tc.location)
		}
	}
}

// TestSyncS4FullReturnTakesTheLink: components issued to a production
// order (261) and all returned by 262s posted without a reference (SAP KBA
// 3027233's sample payload) are no input of the order: a recall of the
// batch no longer reaches the order's output and its customer, the output
// has no input (a gap says so), and a later issue of the batch to the
// order links them again. Field names as in TestSyncS4ReturnsTransfersAndUnits.
func TestSyncS4FullReturnTakesTheLink(t *testing.T) {
	ctx := context.Background()
	s := fake.NewS4(t, false)
	flour := "000000000000012345"
	s.Add(
		fake.MatDoc("4900003001", "2026-03-01T07:00:00",
			fake.MatItem("101", flour, "F-Z", "100.000", "KG", "Supplier", "0017300001", "PurchaseOrder", "4500003001", "PurchaseOrderItem", "00010")),
		fake.MatDoc("4900003002", "2026-03-01T08:00:00",
			fake.MatItem("261", flour, "F-Z", "100.000", "KG", "ManufacturingOrder", "000001003001", "DebitCreditCode", "H")),
		fake.MatDoc("4900003003", "2026-03-01T10:00:00",
			fake.MatItem("101", "BREAD-WHITE", "B-30", "100", "ST", "StorageLocation", "FG01", "ManufacturingOrder", "000001003001")),
		fake.MatDoc("4900003004", "2026-03-01T12:00:00",
			fake.MatItem("601", "BREAD-WHITE", "B-30", "100", "ST", "StorageLocation", "FG01", "Customer", "0017100001", "Delivery", "0080003001", "DebitCreditCode", "H")),
		// The whole issue comes back, in two 262s without a reference.
		fake.MatDoc("4900003005", "2026-03-01T11:00:00",
			fake.MatItem("262", flour, "F-Z", "60.000", "KG", "ManufacturingOrder", "000001003001", "MaterialDocumentPostingType", "1", "DebitCreditCode", "S")),
		fake.MatDoc("4900003006", "2026-03-01T11:30:00",
			fake.MatItem("262", flour, "F-Z", "40.000", "KG", "ManufacturingOrder", "000001003001", "MaterialDocumentPostingType", "1", "DebitCreditCode", "S")),
	)
	e := newEnv(t, s)
	q := &core.Queries{Store: e.store}
	reach := func() (lots, customers []string) {
		t.Helper()
		rec, err := q.Recall(ctx, core.Selector{Lot: &core.LotRef{Item: "12345", Lot: "F-Z"}})
		if err != nil {
			t.Fatal(err)
		}
		if rec.Customers != nil {
			for _, c := range *rec.Customers {
				customers = append(customers, c.Name)
			}
		}
		return lotNames(rec.Lots), customers
	}
	run, err := e.r.Sync(ctx, "s4", "manual")
	if err != nil || run.Status != core.RunOK || run.Records != 6 || run.Quarant != 0 {
		t.Fatalf("sync: %+v, %v\nlogs:\n%s", run, err, e.logs)
	}
	if lots, customers := reach(); len(lots) != 0 || len(customers) != 0 {
		t.Errorf("all 100 KG returned: the recall of F-Z reaches %v and %v, want nothing", lots, customers)
	}
	gaps, err := q.Gaps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(gaps) != 1 || gaps[0].Kind != core.GapOutputWithoutInput || gaps[0].Order != "1003001" {
		t.Errorf("gaps = %+v, want order 1003001's output without input", gaps)
	}
	// 10 KG issued again, read by the next sync.
	s.Add(fake.MatDoc("4900003007", "2026-03-01T13:00:00",
		fake.MatItem("261", flour, "F-Z", "10.000", "KG", "ManufacturingOrder", "000001003001", "DebitCreditCode", "H")))
	if run, err := e.r.Sync(ctx, "s4", "manual"); err != nil || run.Status != core.RunOK {
		t.Fatalf("second sync: %+v, %v", run, err)
	}
	if lots, customers := reach(); !slices.Equal(lots, []string{"BREAD-WHITE/B-30"}) || !slices.Equal(customers, []string{"Alpha Foods"}) {
		t.Errorf("issued again: the recall of F-Z reaches %v and %v, want BREAD-WHITE/B-30 and Alpha Foods", lots, customers)
	}
}
