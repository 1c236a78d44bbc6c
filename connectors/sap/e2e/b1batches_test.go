package e2e_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lothub/lothub/connectors/sap/internal/fake"
	"github.com/lothub/lothub/core"
)

// Issue 15 §2 (with its erratum): a Goods Receipt PO whose line of a
// batch-managed item comes back with "BatchNumbers": []. The batches are
// in the inventory log (OITL/ITL1 joined to OBTN), which the Service Layer
// reaches only through SQLQueries, for tables in its SQL allowlist; SAP's
// default list has not the log (error 702).
//
// Shapes: Service Layer documents as in the Service Layer API reference
// (DocumentLines[].BatchNumbers, Items.ManageBatchNumbers tYES/tNO);
// SQLQueries as in SAP's "SAP Business One Service Layer – SQL Query"
// (blogs.sap.com, 2021-01-08: POST SQLQueries {SqlCode, SqlName,
// SqlText}; POST SQLQueries('code')/List answers {"SqlText", "value"});
// the allowlist file b1s_sqltable.conf in the Service Layer's Conf
// directory.
func TestSyncB1BatchesFromTheInventoryLog(t *testing.T) {
	grpo := func(s *fake.B1) {
		s.Items["FLOUR"], s.Items["SALT"] = "tYES", "tNO"
		s.Add("PurchaseDeliveryNotes",
			fake.B1Doc("PurchaseDeliveryNotes", 7, "2026-03-05T09:00:00", map[string]any{"CardCode": "V100", "CardName": "Mill Co"},
				fake.B1Line(0, "FLOUR", "01", 22, 5),  // batch-managed: batches not sent
				fake.B1Line(1, "SALT", "01", 22, 5),   // not managed by batch
				fake.B1Line(2, "FLOUR", "01", 22, 5))) // batch-managed, nothing in the log either
		// OITL/ITL1 of Goods Receipt PO 7 (object type 20), line 0.
		s.Log = []fake.B1LogRow{
			{DocType: 20, DocEntry: 7, DocLine: 0, ItemCode: "FLOUR", DistNumber: "F-9", MnfSerial: "M-9001", Quantity: 600},
			{DocType: 20, DocEntry: 7, DocLine: 0, ItemCode: "FLOUR", DistNumber: "F-10", Quantity: 400},
			{DocType: 59, DocEntry: 7, DocLine: 0, ItemCode: "BREAD", DistNumber: "BR-7", Quantity: 10}, // another document 7
		}
	}
	sync := func(t *testing.T, allow bool) (*env, core.Run) {
		s := fake.NewB1(t, "v1")
		grpo(s)
		if allow {
			for _, tb := range []string{"OITL", "ITL1", "OBTN"} {
				s.SQLAllowed[tb] = true
			}
		}
		t.Setenv("LOTHUB_TEST_B1_PASSWORD", s.Password)
		e := newHub(t, "b1", "../b1-mapping.yaml", fmt.Sprintf(`
      system: b1
      base_url: %s
      company_db: %s
      user: %s
      password: ${env:LOTHUB_TEST_B1_PASSWORD}
      b1_documents: PurchaseDeliveryNotes`, s.URL, s.CompanyDB, s.User))
		run, err := e.r.Sync(context.Background(), "b1", "manual")
		if err != nil {
			t.Fatalf("sync: %v\nlogs:\n%s", err, e.logs)
		}
		if strings.Contains(e.logs.String(), s.Password) {
			t.Error("the password shows in the hub's logs")
		}
		return e, run
	}
	quarantined := func(t *testing.T, e *env) []string {
		rows, err := e.store.Quarantined(context.Background(), core.QuarantineFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, r.Reason)
		}
		return out
	}

	t.Run("DefaultAllowlist", func(t *testing.T) {
		e, run := sync(t, false)
		if run.Records != 3 || run.Quarant != 2 {
			t.Fatalf("run = %+v, want 3 records, 2 quarantined (the two FLOUR lines)", run)
		}
		q := quarantined(t, e)
		for _, line := range []string{"line 0", "line 2"} {
			if !slices.ContainsFunc(q, func(r string) bool {
				return strings.Contains(r, "PurchaseDeliveryNotes 7 (DocNum 1007) "+line+", item FLOUR") &&
					strings.Contains(r, "702") && strings.Contains(r, "b1s_sqltable.conf")
			}) {
				t.Errorf("no quarantine entry naming %s of document 7, SAP's 702 and the allowlist: %q", line, q)
			}
		}
		if _, err := (&core.Queries{Store: e.store}).Lot(context.Background(), core.LotRef{Item: "FLOUR", Lot: "F-9"}); core.ErrorCode(err) != core.ENOTFOUND {
			t.Errorf("lot FLOUR/F-9 exists without the log being read (a guessed batch?): %v", err)
		}
	})

	t.Run("AllowedByTheAdministrator", func(t *testing.T) {
		e, run := sync(t, true)
		if run.Records != 3 || run.Quarant != 1 {
			t.Fatalf("run = %+v, want 3 records, 1 quarantined (line 2, absent from the log)", run)
		}
		q := quarantined(t, e)
		if len(q) != 1 || !strings.Contains(q[0], "line 2, item FLOUR") || !strings.Contains(q[0], "inventory log (OITL/ITL1) has none") {
			t.Errorf("quarantine = %q, want line 2 of document 7, not in the log", q)
		}
		qs := &core.Queries{Store: e.store}
		for lot, want := range map[string]float64{"F-9": 600, "F-10": 400} {
			st, err := qs.Lot(context.Background(), core.LotRef{Item: "FLOUR", Lot: lot})
			if err != nil {
				t.Fatalf("lot FLOUR/%s: %v", lot, err)
			}
			if len(st.OnHand) != 1 || st.OnHand[0].Qty != want || len(st.Receipts) != 1 || st.Receipts[0].Name != "Mill Co" {
				t.Errorf("FLOUR/%s: on hand %+v, receipts %+v; want %v received from Mill Co", lot, st.OnHand, st.Receipts, want)
			}
		}
		back, err := qs.Trace(context.Background(), core.Forward, core.Selector{Lot: &core.LotRef{Item: "FLOUR", Lot: "F-9"}})
		if err != nil || len(back.Suppliers) != 1 || back.Suppliers[0].SupplierLot != "M-9001" {
			t.Errorf("suppliers of FLOUR/F-9 = %+v (%v), want the manufacturer's batch M-9001 from the log", back, err)
		}
	})
}
