package outbox_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/internal/erpfake"
	"github.com/lothub/lothub/outbox"
)

// clock is a settable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// harness is a store, a configuration and a worker on a fake clock.
type harness struct {
	t   *testing.T
	ctx context.Context
	s   core.Store
	cfg *config.Hub
	clk *clock
	w   *outbox.Worker
	ing *core.Ingester
}

// s4Config is hub.yaml with an SAP connector on the fake and an action
// posting a goods receipt with a new batch for every scan at DOCK-1.
func s4Config(base, extra string) string {
	return `
connectors:
  - name: sap-prod
    plugin: sap
    mapping: sap.yaml
    config:
      system: s4
      base_url: ` + base + `
      sap_client: "100"
      user: LH_READER
      password: ${env:SAP_READ_PASSWORD}
scan_points:
  - name: DOCK-1
    makes: receive
    document: po
    site: P1010
    location: "101A"
actions:
  - name: sap-gr
    enabled: true
    kind: sap_goods_receipt
    connector: sap-prod
    trigger: {event: receive, source: "scan:DOCK-1"}
    timeout: 2s
    credentials:
      user: LH_WRITER
      password: ${env:SAP_WRITE_PASSWORD}
    fields:
      material: lot.item
      plant: site
      storage_location: location
      batch: lot.lot
      quantity: qty
      unit: uom
      purchase_order: po
      purchase_order_item: 10
      supplier_batch: supplier_lot
` + extra
}

func newHarness(t *testing.T, yaml string) *harness {
	t.Helper()
	t.Setenv("SAP_READ_PASSWORD", "read-only-pw")
	t.Setenv("SAP_WRITE_PASSWORD", "write-s3cret")
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	h := &harness{t: t, ctx: ctx, s: s, cfg: cfg, clk: clk}
	h.w = &outbox.Worker{Store: s, Config: cfg, Now: clk.now, BaseDelay: 10 * time.Second}
	h.ing = &core.Ingester{Store: s, Now: clk.now, Actions: outbox.NewPlanner(cfg)}
	return h
}

// scan ingests a receive event as POST /v1/scans makes it at DOCK-1.
func (h *harness) scan(id, item, lot string, qty float64) {
	h.t.Helper()
	line := fmt.Sprintf(`{"id":%q,"type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":%q,"lot":%q},"qty":%g,"uom":"KG","po":"4500000001","supplier_lot":"SUP-%s","site":"P1010","location":"101A"}`,
		id, item, lot, qty, lot)
	if _, err := h.ing.IngestBatch(h.ctx, []core.Input{core.NewInput("scan:DOCK-1", 1, []byte(line))}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) run() outbox.Stats {
	h.t.Helper()
	st, err := h.w.RunOnce(h.ctx)
	if err != nil {
		h.t.Fatalf("outbox pass: %v", err)
	}
	return st
}

func (h *harness) actions() []core.OutboxAction {
	h.t.Helper()
	as, err := h.s.Outbox(h.ctx, core.OutboxFilter{})
	if err != nil {
		h.t.Fatal(err)
	}
	return as
}

func (h *harness) only() core.OutboxAction {
	h.t.Helper()
	as := h.actions()
	if len(as) != 1 {
		h.t.Fatalf("outbox holds %d actions, want 1: %+v", len(as), as)
	}
	return as[0]
}

func TestScanBecomesGoodsReceiptWithNewBatch(t *testing.T) {
	sap := erpfake.NewS4(t)
	h := newHarness(t, s4Config(sap.BaseURL(), ""))
	h.scan("scan:DOCK-1:abc", "MAT-100", "B-0001", 250)
	a := h.only()
	if a.State != core.OutboxPending || a.Key != core.OutboxKey("scan:DOCK-1:abc", "sap-gr") {
		t.Fatalf("recorded action: %+v", a)
	}
	st := h.run()
	if st.Delivered != 1 {
		t.Fatalf("stats %+v", st)
	}
	docs := sap.Docs()
	if len(docs) != 1 {
		t.Fatalf("SAP has %d material documents, want 1", len(docs))
	}
	d := docs[0]
	it := d.Items[0]
	got := fmt.Sprint(d.Code, " ", d.HeaderText, " ", it["Material"], " ", it["Plant"], " ", it["StorageLocation"], " ", it["Batch"], " ",
		it["QuantityInEntryUnit"], " ", it["EntryUnit"], " ", it["PurchaseOrder"], " ", it["PurchaseOrderItem"], " ", it["GoodsMovementType"])
	want := "01 " + a.Key + " MAT-100 P1010 101A B-0001 250 KG 4500000001 10 101"
	if got != want {
		t.Errorf("material document:\n got  %s\n want %s", got, want)
	}
	if b := sap.Batches(); len(b) != 1 || b[0] != "MAT-100/P1010/B-0001" {
		t.Errorf("batches %v", b)
	}
	a = h.only()
	if a.State != core.OutboxDelivered || a.Document != d.Number+"/2026" {
		t.Errorf("action after delivery: %s %q, want delivered %s/2026", a.State, a.Document, d.Number)
	}
	// A second scan of the same batch: no second batch, a second receipt.
	h.scan("scan:DOCK-1:def", "MAT-100", "B-0001", 50)
	h.run()
	if n := sap.Count("POST /sap/opu/odata/sap/API_BATCH_SRV/A_Batch"); n != 1 {
		t.Errorf("batch created %d times", n)
	}
	if n := len(sap.Docs()); n != 2 {
		t.Errorf("%d documents after two scans", n)
	}
}

func TestNotTriggered(t *testing.T) {
	sap := erpfake.NewS4(t)
	h := newHarness(t, s4Config(sap.BaseURL(), ""))
	// Another source, and another event type: no action.
	line := `{"id":"r-file","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"M","lot":"L"},"qty":1,"uom":"KG","po":"P"}`
	if _, err := h.ing.IngestBatch(h.ctx, []core.Input{core.NewInput("receipts.jsonl", 1, []byte(line))}); err != nil {
		t.Fatal(err)
	}
	if n := len(h.actions()); n != 0 {
		t.Fatalf("%d actions for an event from a file", n)
	}
	// Disabled: nothing.
	cfg := strings.Replace(s4Config(sap.BaseURL(), ""), "enabled: true", "enabled: false", 1)
	h2 := newHarness(t, cfg)
	h2.scan("s1", "M", "L", 1)
	if n := len(h2.actions()); n != 0 {
		t.Fatalf("%d actions of a disabled action", n)
	}
}

func TestTransientFailuresRetriedOnce(t *testing.T) {
	sap := erpfake.NewS4(t)
	h := newHarness(t, s4Config(sap.BaseURL(), ""))
	sap.Inject(erpfake.Fault{Status: 429, RetryAfter: 7, Message: "Rate limit exceeded"}, erpfake.Fault{Status: 503, Message: "Service unavailable"})
	h.scan("s1", "MAT-1", "B-1", 10)
	h.run()
	a := h.only()
	if a.State != core.OutboxFailed || !strings.Contains(a.LastError, "HTTP 429") || !strings.Contains(a.LastError, "Rate limit exceeded") {
		t.Fatalf("after a 429: %s %q", a.State, a.LastError)
	}
	if got := a.NextAt.Sub(h.clk.t); got != 7*time.Second {
		t.Errorf("next attempt in %v, want the 7s of Retry-After", got)
	}
	if st := h.run(); st.Claimed != 0 {
		t.Errorf("claimed before Retry-After: %+v", st)
	}
	h.clk.t = a.NextAt
	h.run()
	a = h.only()
	if a.State != core.OutboxFailed || !strings.Contains(a.LastError, "HTTP 503") {
		t.Fatalf("after a 503: %s %q", a.State, a.LastError)
	}
	// Backoff: 10s doubled for the second attempt, ±20 %.
	if d := a.NextAt.Sub(h.clk.t); d < 16*time.Second || d > 24*time.Second {
		t.Errorf("backoff after attempt 2: %v, want 20s ± 20%%", d)
	}
	h.clk.t = a.NextAt
	h.run()
	a = h.only()
	if a.State != core.OutboxDelivered || a.Attempts != 3 || len(sap.Docs()) != 1 {
		t.Fatalf("after recovery: %s attempts %d, %d documents", a.State, a.Attempts, len(sap.Docs()))
	}
}

func TestUnknownOutcomeReadBackNotResent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault erpfake.Fault
	}{
		{"timeout", erpfake.Fault{Delay: 3 * time.Second}}, // the action's timeout is 2s
		{"lost answer", erpfake.Fault{Lost: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sap := erpfake.NewS4(t)
			h := newHarness(t, s4Config(sap.BaseURL(), ""))
			sap.Inject(tc.fault)
			h.scan("s1", "MAT-1", "B-1", 10)
			h.run()
			a := h.only()
			if a.State != core.OutboxFailed {
				t.Fatalf("after %s: %s %q", tc.name, a.State, a.LastError)
			}
			h.clk.t = a.NextAt
			st := h.run()
			a = h.only()
			if a.State != core.OutboxDelivered || st.Found != 1 {
				t.Fatalf("second attempt: %s %+v %q", a.State, st, a.LastError)
			}
			docs := sap.Docs()
			if len(docs) != 1 || a.Document != docs[0].Number+"/2026" {
				t.Fatalf("SAP holds %d documents (want exactly 1), action says %q", len(docs), a.Document)
			}
			if n := sap.Count("POST " + erpfake.S4Service + "/A_MaterialDocumentHeader"); n != 1 {
				t.Errorf("goods movement posted %d times", n)
			}
		})
	}
}

func TestPermanentRefusalIsDeadWithERPMessage(t *testing.T) {
	sap := erpfake.NewS4(t)
	h := newHarness(t, s4Config(sap.BaseURL(), ""))
	sap.Inject(erpfake.Fault{Status: 400, Message: "Purchase order 4500000001 item 00010 is blocked"})
	h.scan("s1", "MAT-1", "B-1", 10)
	h.run()
	a := h.only()
	if a.State != core.OutboxDead || !strings.Contains(a.LastError, "Purchase order 4500000001 item 00010 is blocked") {
		t.Fatalf("after a 400: %s %q", a.State, a.LastError)
	}
	h.clk.t = h.clk.t.Add(48 * time.Hour)
	if st := h.run(); st.Claimed != 0 {
		t.Fatalf("a dead action was claimed: %+v", st)
	}
	// The operator fixes the PO in SAP and retries: delivered once.
	if err := h.s.RetryOutbox(h.ctx, a.ID, h.clk.t); err != nil {
		t.Fatal(err)
	}
	h.run()
	if a = h.only(); a.State != core.OutboxDelivered || len(sap.Docs()) != 1 {
		t.Fatalf("after retry: %s, %d documents", a.State, len(sap.Docs()))
	}
}

// alerts records alerts.
type alerts struct{ got []core.Alert }

func (a *alerts) Alert(_ context.Context, x core.Alert) error {
	a.got = append(a.got, x)
	return nil
}

func TestStuckActionAlertedOnce(t *testing.T) {
	sap := erpfake.NewS4(t)
	h := newHarness(t, s4Config(sap.BaseURL(), "    alert_after: 30m\n"))
	al := &alerts{}
	h.w.Alerter = al
	for range 20 {
		sap.Inject(erpfake.Fault{Status: 500, Message: "Internal Server Error"})
	}
	h.scan("s1", "MAT-1", "B-1", 10)
	for range 8 {
		h.run()
		h.clk.t = h.clk.t.Add(10 * time.Minute)
	}
	if len(al.got) != 1 {
		t.Fatalf("%d alerts, want 1", len(al.got))
	}
	g := al.got[0].Gap
	if g.Kind != outbox.AlertKind || g.Item != "MAT-1" || !strings.Contains(g.Detail, "hub outbox retry") || !strings.Contains(g.Detail, "Internal Server Error") {
		t.Errorf("alert %+v", g)
	}
}

func TestGiveUpAfter(t *testing.T) {
	sap := erpfake.NewS4(t)
	h := newHarness(t, s4Config(sap.BaseURL(), "    give_up_after: 1h\n"))
	for range 50 {
		sap.Inject(erpfake.Fault{Status: 503})
	}
	h.scan("s1", "MAT-1", "B-1", 10)
	for i := 0; i < 40 && h.only().State != core.OutboxDead; i++ {
		h.run()
		h.clk.t = h.clk.t.Add(5 * time.Minute)
	}
	a := h.only()
	if a.State != core.OutboxDead || !strings.Contains(a.LastError, "gave up after 1h0m0s") {
		t.Fatalf("%s %q", a.State, a.LastError)
	}
}
