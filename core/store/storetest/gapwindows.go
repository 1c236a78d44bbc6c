package storetest

import (
	"fmt"
	"time"

	"github.com/lothub/lothub/core"
)

// Cases for the windows of the gap rules that wait (missed scan, unknown
// lot, input without output): no gap one second before the window closes,
// the gap at the instant it does, by the injected clock. And mass balances
// out of tolerance, for a lot and for an order.

func init() {
	cases = append(cases, []testCase{
		{"GapWindowMissedScan", func(h *harness) {
			rules := core.DefaultGapRules()
			rules.Steps = []core.ExpectedStep{{Step: "METAL-DETECT", Items: []string{"BREAD"}, Window: 6 * time.Hour}}
			// WO-1 starts with its consumption at 08:00: its window closes at
			// 14:00. B-1 is never metal-detected; B-2 (WO-2) is, at 13:00.
			c := newClock("2026-03-02T12:30:00Z")
			m := h.monitor(c, rules)
			h.ingest(
				recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				consume("c1", "WO-1", "FLOUR", "F-A", 40), produce("p1", "WO-1", "BREAD", "B-1", 40),
				consume("c2", "WO-2", "FLOUR", "F-A", 40), produce("p2", "WO-2", "BREAD", "B-2", 40),
			)
			h.evaluate(m)
			h.equal("while the window is open", h.gapList(m, core.ExceptionFilter{}), []string{})
			c.set("2026-03-02T13:30:00Z")
			h.ingest(step("s2", "BREAD", "B-2", "METAL-DETECT", "2026-03-02T13:00:00Z"))
			c.set("2026-03-02T13:59:59Z")
			h.evaluate(m)
			h.equal("a second before it closes", h.gapList(m, core.ExceptionFilter{}), []string{})
			c.set("2026-03-02T14:00:00Z")
			r := h.evaluate(m)
			h.equal("when it closes", h.gapList(m, core.ExceptionFilter{}), []string{"missed_scan:BREAD/B-1:open"})
			h.equal("opened", r.Opened, 1)
			c.add(48 * time.Hour)
			h.evaluate(m)
			h.equal("later: the same gap, once", h.gapList(m, core.ExceptionFilter{}), []string{"missed_scan:BREAD/B-1:open"})
		}},
		{"GapWindowUnknownLot", func(h *harness) {
			// U-1 and U-2 are shipped at 10:00 (4 h window: it closes at
			// 14:00); U-2's receipt is posted late, at 13:00, and raises
			// nothing.
			c := newClock("2026-03-03T11:00:00Z")
			m := h.monitor(c, core.DefaultGapRules())
			h.ingest(ship("x1", "SUGAR", "U-1", 5, "C-1", "SO-1"), ship("x2", "SUGAR", "U-2", 5, "C-1", "SO-1"))
			h.evaluate(m)
			h.equal("while the window is open", h.gapList(m, core.ExceptionFilter{}), []string{})
			c.set("2026-03-03T13:00:00Z")
			h.ingest(recv("r2", "SUGAR", "U-2", 5, "V", "SL-2"))
			c.set("2026-03-03T13:59:59Z")
			h.evaluate(m)
			h.equal("a second before it closes", h.gapList(m, core.ExceptionFilter{}), []string{})
			c.set("2026-03-03T14:00:00Z")
			h.evaluate(m)
			h.equal("when it closes", h.gapList(m, core.ExceptionFilter{}), []string{"unknown_lot:SUGAR/U-1:open"})
		}},
		{"GapWindowInputWithoutOutput", func(h *harness) {
			// WO-1 and WO-2 consume at 08:00 (24 h window: it closes the
			// next day at 08:00); WO-2's output is posted late, at 20:00.
			c := newClock("2026-03-02T09:00:00Z")
			m := h.monitor(c, core.DefaultGapRules())
			h.ingest(recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				consume("c1", "WO-1", "FLOUR", "F-A", 40), consume("c2", "WO-2", "FLOUR", "F-A", 40))
			h.evaluate(m)
			h.equal("while the window is open", h.gapList(m, core.ExceptionFilter{}), []string{})
			c.set("2026-03-02T20:00:00Z")
			h.ingest(produce("p2", "WO-2", "DOUGH", "D-2", 40))
			h.evaluate(m)
			c.set("2026-03-03T07:59:59Z")
			h.evaluate(m)
			h.equal("a second before it closes", h.gapList(m, core.ExceptionFilter{}), []string{})
			c.set("2026-03-03T08:00:00Z")
			h.evaluate(m)
			h.equal("when it closes", h.gapList(m, core.ExceptionFilter{}), []string{"input_without_output:WO-1:open"})
		}},
		{"MassBalanceOutOfTolerance", func(h *harness) {
			h.ingest(
				recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				recv("r2", "FLOUR", "F-B", 10, "V", "Y"),
				// F-A: 80 consumed + 22 shipped = 102 out of 100 in (2 % over).
				consume("c1", "WO-1", "FLOUR", "F-A", 80),
				ship("s1", "FLOUR", "F-A", 22, "C-1", "SO-1"),
				// WO-1: 80 KG in (F-B's 10 were reversed), 90 KG out (12.5 % over).
				consume("c2", "WO-1", "FLOUR", "F-B", 10), reverse("x2", "c2"),
				produce("p1", "WO-1", "DOUGH", "D-1", 90),
			)
			ref := core.LotRef{Item: "FLOUR", Lot: "F-A"}
			for _, c := range []struct {
				tolerance float64
				within    bool
			}{{0.01, false}, {0.05, true}} {
				b, err := h.q().Balance(h.ctx, ref, c.tolerance)
				if err != nil {
					h.t.Fatal(err)
				}
				u := b.Units[0]
				h.equal(fmt.Sprintf("lot at %g tolerance", c.tolerance), fmt.Sprint(u.UOM, " in ", u.Received, " out ", u.Consumed+u.Shipped, " diff ", u.Difference, " within ", u.WithinTolerance),
					fmt.Sprint("KG in 100 out 102 diff -2 within ", c.within))
			}
			for _, c := range []struct {
				tolerance float64
				within    bool
			}{{0.05, false}, {0.125, true}} {
				b, err := h.q().OrderMassBalance(h.ctx, "WO-1", c.tolerance)
				if err != nil {
					h.t.Fatal(err)
				}
				h.equal("units", len(b.Units), 1)
				u := b.Units[0]
				h.equal(fmt.Sprintf("order at %g tolerance", c.tolerance), fmt.Sprint(u.UOM, " in ", u.In, " out ", u.Out, " diff ", u.Difference, " within ", u.WithinTolerance, " ", b.WithinTolerance),
					fmt.Sprint("KG in 80 out 90 diff -10 within ", c.within, " ", c.within))
				h.equal("inputs in effect", fmt.Sprint(b.Inputs[0].Lot, " ", b.Inputs[0].Qty, " ", len(b.Inputs)), "F-A 80 1")
				h.equal("outputs", fmt.Sprint(b.Outputs[0].Lot, " ", b.Outputs[0].Qty, " ", len(b.Outputs)), "D-1 90 1")
			}
			if _, err := h.q().OrderMassBalance(h.ctx, "WO-404", 0.05); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("unknown order: err = %v, want ENOTFOUND", err)
			}
		}},
	}...)
}
