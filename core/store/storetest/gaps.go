package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/core"
)

// Cases for gap exceptions: rules with windows under an injected clock,
// the lifecycle, confirmation and escalation.

// clock is a settable time for a Monitor.
type clock struct{ t time.Time }

func (c *clock) now() time.Time                    { return c.t }
func (c *clock) set(s string)                      { c.t, _ = time.Parse(time.RFC3339, s) }
func (c *clock) add(d time.Duration)               { c.t = c.t.Add(d) }
func newClock(s string) *clock                     { c := &clock{}; c.set(s); return c }
func noSleep(context.Context, time.Duration) error { return nil }

// alerts records delivered alerts; the first fail calls fail.
type alerts struct {
	mu        sync.Mutex
	fail      int
	calls     int
	delivered []string // "GAP-1 supervisor"
}

func (a *alerts) Alert(_ context.Context, al core.Alert) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	if a.fail > 0 {
		a.fail--
		return errors.New("webhook answered 503")
	}
	a.delivered = append(a.delivered, al.Gap.ID+" "+al.Channel())
	return nil
}

func (h *harness) monitor(c *clock, rules core.GapRules) *core.Monitor {
	return &core.Monitor{Store: h.s, Rules: rules, Now: c.now, Sleep: noSleep}
}

func (h *harness) evaluate(m *core.Monitor) core.EvalResult {
	h.t.Helper()
	r, err := m.Evaluate(h.ctx)
	if err != nil {
		h.t.Fatalf("evaluate: %v", err)
	}
	return r
}

// gapList renders stored gaps as "kind:subject:status", by id.
func (h *harness) gapList(m *core.Monitor, f core.ExceptionFilter) []string {
	h.t.Helper()
	es, err := h.s.Exceptions(h.ctx, f)
	if err != nil {
		h.t.Fatal(err)
	}
	out := []string{}
	for _, e := range es {
		subject := e.Order
		if e.Item != "" && e.Kind != core.GapOutputWithoutInput && e.Kind != core.GapInputWithoutOutput {
			subject = e.Item + "/" + e.Lot
		}
		out = append(out, e.Kind+":"+subject+":"+string(e.Status))
	}
	return out
}

func (h *harness) history(m *core.Monitor, id int64) []string {
	h.t.Helper()
	d, err := m.Show(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	out := []string{}
	for _, e := range d.History {
		out = append(out, e.Action+" by "+e.By)
	}
	return out
}

func step(id, item, lot, name, at string) string {
	return fmt.Sprintf(`{"id":%q,"type":"step","time":%q,"lot":{"item":%q,"lot":%q},"step":%q,"operator":"ana"}`, id, at, item, lot, name)
}

func at(e, t string) string {
	return strings.Replace(e, `"time":"2026-03-02T12:00:00Z"`, `"time":"`+t+`"`, 1)
}

func init() {
	cases = append(cases, []testCase{
		{"GapWindowsAndAutoResolve", func(h *harness) {
			// produce() is at 2026-03-02T12:00; the window is 4 h.
			c := newClock("2026-03-02T13:00:00Z")
			m := h.monitor(c, core.DefaultGapRules())
			h.ingest(recv("r1", "FLOUR", "F-A", 100, "V", "X"), produce("p1", "WO-1", "DOUGH", "D-1", 50))
			h.evaluate(m)
			h.equal("before the window closes", h.gapList(m, core.ExceptionFilter{}), []string{})
			c.set("2026-03-02T16:00:00Z")
			r := h.evaluate(m)
			h.equal("when it closes", h.gapList(m, core.ExceptionFilter{}), []string{"output_without_input:WO-1:open"})
			h.equal("opened", r.Opened, 1)
			r = h.evaluate(m)
			h.equal("evaluated again: nothing new", fmt.Sprint(r.Opened, r.Open), "0 1")
			// The late consumption arrives: the gap resolves by itself.
			h.ingest(consume("c1", "WO-1", "FLOUR", "F-A", 50))
			c.add(time.Hour)
			r = h.evaluate(m)
			h.equal("resolved", r.Resolved, 1)
			h.equal("after the late consumption", h.gapList(m, core.ExceptionFilter{}), []string{"output_without_input:WO-1:resolved"})
			h.equal("history", h.history(m, 1), []string{"opened by hub", "resolved by hub"})
			// The consumption is reversed: the same gap reopens.
			h.ingest(reverse("x1", "c1"))
			h.evaluate(m)
			h.equal("reopened", h.gapList(m, core.ExceptionFilter{Open: true}), []string{"output_without_input:WO-1:open"})
		}},
		{"GapLateButCompleteOrder", func(h *harness) {
			c := newClock("2026-03-02T13:00:00Z")
			m := h.monitor(c, core.DefaultGapRules())
			h.ingest(recv("r1", "FLOUR", "F-A", 100, "V", "X"), produce("p1", "WO-1", "DOUGH", "D-1", 50))
			h.evaluate(m)
			c.set("2026-03-02T15:59:59Z")
			h.ingest(consume("c1", "WO-1", "FLOUR", "F-A", 50))
			h.evaluate(m)
			c.set("2026-03-09T00:00:00Z")
			h.evaluate(m)
			h.equal("no gap for a complete order", h.gapList(m, core.ExceptionFilter{}), []string{})
		}},
		{"GapRules", func(h *harness) {
			rules := core.DefaultGapRules()
			rules.Yield = core.Rule{Tolerance: 0.05}
			rules.Steps = []core.ExpectedStep{{Step: "METAL-DETECT", Items: []string{"BREAD"}, Window: 2 * time.Hour}}
			c := newClock("2026-03-10T00:00:00Z")
			m := h.monitor(c, rules)
			h.ingest(
				recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				// WO-1: complete, yield fine, step recorded.
				consume("c1", "WO-1", "FLOUR", "F-A", 40), produce("p1", "WO-1", "BREAD", "B-1", 40),
				step("s1", "BREAD", "B-1", "METAL-DETECT", "2026-03-02T12:30:00Z"),
				// WO-2: consumed, never produced; overdraws F-A (40+70 > 100).
				consume("c2", "WO-2", "FLOUR", "F-A", 70),
				// WO-3: 10 KG in, 20 KG out: yield; no metal detection.
				consume("c3", "WO-3", "FLOUR", "F-A", 0), recv("r2", "SALT", "S-1", 10, "V", "Y"), consume("c4", "WO-3", "SALT", "S-1", 10),
				produce("p3", "WO-3", "BREAD", "B-3", 20),
				// SUGAR/U-1 shipped, never received; FLOUR/F-L used before its receipt.
				ship("x1", "SUGAR", "U-1", 5, "C-1", "SO-1"),
				consume("c5", "WO-1", "FLOUR", "F-L", 1),
				strings.Replace(recv("r3", "FLOUR", "F-L", 5, "V", "Z"), "2026-03-01T08:00:00Z", "2026-03-05T08:00:00Z", 1),
			)
			h.evaluate(m)
			h.equal("gaps", h.gapList(m, core.ExceptionFilter{}), []string{
				"input_without_output:WO-2:open",
				"missed_scan:BREAD/B-3:open",
				"overdrawn:FLOUR/F-A:open",
				"time_order:FLOUR/F-L:open",
				"unknown_lot:SUGAR/U-1:open",
				"yield:WO-3:open",
			})
			// The metal detection of B-3 arrives late: only that gap resolves.
			h.ingest(step("s3", "BREAD", "B-3", "METAL-DETECT", "2026-03-02T15:00:00Z"))
			h.evaluate(m)
			h.equal("resolved", h.gapList(m, core.ExceptionFilter{Statuses: []core.GapStatus{core.GapResolved}}), []string{"missed_scan:BREAD/B-3:resolved"})
		}},
		{"GapLifecycle", func(h *harness) {
			c := newClock("2026-03-10T00:00:00Z")
			m := h.monitor(c, core.DefaultGapRules())
			h.ingest(produce("p1", "WO-1", "DOUGH", "D-1", 50), produce("p2", "WO-2", "DOUGH", "D-2", 50))
			h.evaluate(m)
			if _, err := m.Ack(h.ctx, 1, "", ""); core.ErrorCode(err) != core.EINVALID {
				h.t.Errorf("ack without a user: err = %v, want EINVALID", err)
			}
			d, err := m.Ack(h.ctx, 1, "sam", "looking")
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("acknowledged", d.Status, core.GapAcknowledged)
			if _, err := m.Waive(h.ctx, 1, "sam", "  "); core.ErrorCode(err) != core.EINVALID {
				h.t.Errorf("waive without a reason: err = %v, want EINVALID", err)
			}
			if _, err := m.Waive(h.ctx, 1, "sam", "trial batch, scrapped"); err != nil {
				h.t.Fatal(err)
			}
			if _, err := m.Waive(h.ctx, 1, "sam", "again"); core.ErrorCode(err) != core.ECONFLICT {
				h.t.Errorf("waive a waived gap: err = %v, want ECONFLICT", err)
			}
			if _, err := m.Ack(h.ctx, 99, "sam", ""); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("ack an unknown gap: err = %v, want ENOTFOUND", err)
			}
			h.evaluate(m)
			h.equal("a waived gap stays waived", h.gapList(m, core.ExceptionFilter{}), []string{
				"output_without_input:WO-1:waived", "output_without_input:WO-2:open"})
			h.equal("history", h.history(m, 1), []string{"opened by hub", "acknowledged by sam", "waived by sam"})
			h.equal("filter by status", h.gapList(m, core.ExceptionFilter{Statuses: []core.GapStatus{core.GapWaived}}), []string{"output_without_input:WO-1:waived"})
		}},
		{"GapConfirmation", func(h *harness) {
			c := newClock("2026-03-10T00:00:00Z")
			m := h.monitor(c, core.DefaultGapRules())
			h.ingest(recv("r1", "FLOUR", "F-A", 100, "V", "X"), produce("p1", "WO-1", "DOUGH", "D-1", 50))
			h.evaluate(m)
			if _, err := m.Confirm(h.ctx, core.ConfirmParams{ID: 1, By: "ana"}); core.ErrorCode(err) != core.EINVALID {
				h.t.Errorf("confirm with no lots: err = %v, want EINVALID", err)
			}
			q, err := core.ParseLotQty("FLOUR/F-A:40:KG")
			if err != nil {
				h.t.Fatal(err)
			}
			d, err := m.Confirm(h.ctx, core.ConfirmParams{ID: 1, Consumed: []core.LotQty{q}, By: "ana", Note: "scanner was down"})
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("status", d.Status, core.GapConfirmed)
			b := h.trace(core.Backward, "DOUGH", "D-1")
			h.equal("link added", links(b), []string{"FLOUR/F-A>DOUGH/D-1(WO-1)"})
			h.equal("confirmed by hand", b.Links[0].Confirmed, true)
			h.equal("on hand", onHand(h.recall("FLOUR", "F-A").Root.OnHand), "60 KG")
			h.evaluate(m)
			h.equal("stays confirmed", h.gapList(m, core.ExceptionFilter{}), []string{"output_without_input:WO-1:confirmed"})
			lot, err := h.q().Lot(h.ctx, core.LotRef{Item: "FLOUR", Lot: "F-A"})
			if err != nil {
				h.t.Fatal(err)
			}
			last := lot.Events[len(lot.Events)-1].Event
			h.equal("event", fmt.Sprint(last.ID, " ", last.Operator, " ", last.Params["confirmation"], " ", last.Params["note"], " ", last.Source.Connector),
				"confirm:GAP-1:1 ana manual scanner was down manual")
			if _, err := m.Confirm(h.ctx, core.ConfirmParams{ID: 1, Consumed: []core.LotQty{q}, By: "ana"}); core.ErrorCode(err) != core.ECONFLICT {
				h.t.Errorf("confirm twice: err = %v, want ECONFLICT", err)
			}
		}},
		{"GapConfirmationByKind", func(h *harness) {
			rules := core.DefaultGapRules()
			rules.Steps = []core.ExpectedStep{{Step: "METAL-DETECT", Items: []string{"BREAD"}, Window: 2 * time.Hour}}
			c := newClock("2026-03-10T00:00:00Z")
			m := h.monitor(c, rules)
			h.ingest(
				recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				consume("c1", "WO-1", "FLOUR", "F-A", 40), produce("p1", "WO-1", "BREAD", "B-1", 40),
				// SUGAR/U-1 shipped, never received; it came from an ERP record.
				strings.Replace(ship("x1", "SUGAR", "U-1", 5, "C-1", "SO-1"), `"sales_order"`, `"source":{"connector":"erp","record":"DLV-80001/10"},"sales_order"`, 1),
				consume("c2", "WO-2", "FLOUR", "F-A", 70), // overdraws F-A
			)
			h.evaluate(m)
			ids := map[string]int64{}
			gaps, err := m.GapList(h.ctx, core.ExceptionFilter{})
			if err != nil {
				h.t.Fatal(err)
			}
			for _, g := range gaps {
				id, _ := core.ParseGapID(g.ID)
				ids[g.Kind] = id
			}
			h.equal("kinds", len(ids), 4) // missed scan, unknown lot, overdrawn, input without output
			d, err := m.Show(h.ctx, ids[core.GapUnknownLot])
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("sources of the unknown lot", d.Sources, []core.GapSource{{Event: "x1", Type: "ship", Time: "2026-03-03T10:00:00Z", Status: "active", Connector: "erp", Record: "DLV-80001/10"}})
			d, err = m.Show(h.ctx, ids[core.GapInputWithoutOutput])
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("sources of the order gap", len(d.Sources), 1)
			h.equal("the order's consumption", d.Sources[0].Event, "c2")

			bad := []struct {
				what string
				p    core.ConfirmParams
			}{
				{"a missed scan without a result", core.ConfirmParams{ID: ids[core.GapMissedScan], By: "ana"}},
				{"a missed scan with lots", core.ConfirmParams{ID: ids[core.GapMissedScan], By: "ana", Result: "pass", Consumed: []core.LotQty{{Item: "FLOUR", Lot: "F-A"}}}},
				{"an unknown lot without its origin", core.ConfirmParams{ID: ids[core.GapUnknownLot], By: "ana"}},
				{"an unknown lot from two origins", core.ConfirmParams{ID: ids[core.GapUnknownLot], By: "ana", Supplier: &core.Party{ID: "V"}, Order: "WO-9"}},
				{"an overdrawn lot", core.ConfirmParams{ID: ids[core.GapOverdrawn], By: "ana", Consumed: []core.LotQty{{Item: "FLOUR", Lot: "F-A"}}}},
				{"an order gap with a result", core.ConfirmParams{ID: ids[core.GapInputWithoutOutput], By: "ana", Result: "pass"}},
			}
			for _, b := range bad {
				if _, err := m.Confirm(h.ctx, b.p); core.ErrorCode(err) != core.EINVALID {
					h.t.Errorf("confirm %s: err = %v, want EINVALID", b.what, err)
				}
			}

			// The metal detection was done but not scanned.
			if _, err := m.Confirm(h.ctx, core.ConfirmParams{ID: ids[core.GapMissedScan], By: "ana", Result: "pass", Equipment: "MD-2", Note: "paper log"}); err != nil {
				h.t.Fatal(err)
			}
			lot, err := h.q().Lot(h.ctx, core.LotRef{Item: "BREAD", Lot: "B-1"})
			if err != nil {
				h.t.Fatal(err)
			}
			var last *core.Event
			for _, e := range lot.Events {
				if e.Event.Type == core.Step {
					last = e.Event
				}
			}
			if last == nil {
				h.t.Fatalf("no step event on BREAD/B-1: %+v", lot.Events)
			}
			h.equal("step event", fmt.Sprint(last.Type, " ", last.Step, " ", last.Equipment, " ", last.Order, " ", last.Params["result"], " ", last.Params["confirmation"]),
				"step METAL-DETECT MD-2 WO-1 pass manual")

			// SUGAR/U-1 came from a supplier, on a paper delivery note.
			qty := core.LotQty{Qty: new(5.0), UOM: "KG"}
			if _, err := m.Confirm(h.ctx, core.ConfirmParams{ID: ids[core.GapUnknownLot], By: "ana", Supplier: core.ParseParty("V-SUGAR:Sugar Co"), SupplierLot: "SL-1", Qty: &qty, Note: "GRN 1182"}); err != nil {
				h.t.Fatal(err)
			}
			b := h.trace(core.Backward, "SUGAR", "U-1")
			h.equal("supplier", len(b.Suppliers), 1)
			h.equal("supplier", fmt.Sprint(b.Suppliers[0].ID, " ", b.Suppliers[0].Name, " ", b.Suppliers[0].SupplierLot), "V-SUGAR Sugar Co SL-1")
			h.equal("on hand", onHand(h.recall("SUGAR", "U-1").Root.OnHand), "0 KG")

			c.add(time.Hour)
			h.evaluate(m)
			h.equal("after confirmation", h.gapList(m, core.ExceptionFilter{}), []string{
				"input_without_output:WO-2:open",
				"missed_scan:BREAD/B-1:confirmed",
				"overdrawn:FLOUR/F-A:open",
				"unknown_lot:SUGAR/U-1:confirmed",
			})
		}},
		{"GapEscalation", func(h *harness) {
			c := newClock("2026-03-10T00:00:00Z")
			m := h.monitor(c, core.DefaultGapRules()) // escalation after 24 h
			a := &alerts{}
			m.Alerts = a
			h.ingest(produce("p1", "WO-1", "DOUGH", "D-1", 50))
			h.evaluate(m)
			h.evaluate(m)
			h.equal("supervisor once", a.delivered, []string{"GAP-1 supervisor"})
			h.equal("alerted", h.gapList(m, core.ExceptionFilter{}), []string{"output_without_input:WO-1:alerted"})
			if _, err := m.Ack(h.ctx, 1, "sam", ""); err != nil {
				h.t.Fatal(err)
			}
			c.add(23 * time.Hour)
			h.evaluate(m)
			h.equal("not yet quality", len(a.delivered), 1)
			c.add(time.Hour)
			h.evaluate(m)
			h.evaluate(m)
			h.equal("quality once", a.delivered, []string{"GAP-1 supervisor", "GAP-1 quality"})
		}},
		{"GapAlertRetried", func(h *harness) {
			c := newClock("2026-03-10T00:00:00Z")
			m := h.monitor(c, core.DefaultGapRules())
			m.Attempts = 2
			a := &alerts{fail: 3}
			m.Alerts = a
			h.ingest(produce("p1", "WO-1", "DOUGH", "D-1", 50))
			r := h.evaluate(m) // fails twice: recorded, not alerted
			h.equal("failed", fmt.Sprint(r.Alerted, r.Failed), "0 1")
			h.equal("still open", h.gapList(m, core.ExceptionFilter{}), []string{"output_without_input:WO-1:open"})
			r = h.evaluate(m) // fails once, then recovers
			h.equal("delivered", fmt.Sprint(r.Alerted, r.Failed), "1 0")
			h.evaluate(m)
			h.equal("delivered once", a.delivered, []string{"GAP-1 supervisor"})
			h.equal("attempts", a.calls, 4)
			h.equal("history", h.history(m, 1), []string{"opened by hub", "alerted by hub", "alert_failed by hub", "alerted by hub"})
		}},
	}...)
}
