package storetest

import (
	"fmt"

	"github.com/lothub/lothub/core"
)

// Inventory adjustments (count corrections, scrap, write-offs): they change
// what is on hand and the mass balance, never the genealogy, and a
// reversal takes them back.

func adjust(id, item, lot string, qty float64) string {
	return fmt.Sprintf(`{"id":%q,"type":"adjust","time":"2026-03-05T08:00:00Z","lot":{"item":%q,"lot":%q},"qty":%g,"uom":"KG","reason":"cycle count"}`, id, item, lot, qty)
}

func init() {
	cases = append(cases, []testCase{
		{"AdjustmentsChangeOnHand", func(h *harness) {
			st := h.ingest(
				recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				consume("c1", "WO-1", "FLOUR", "F-A", 30),
				produce("p1", "WO-1", "DOUGH", "D-1", 30),
				adjust("a1", "FLOUR", "F-A", -20), // 20 KG scrapped
				adjust("a2", "FLOUR", "F-A", 5),   // 5 KG found at the count
				`{"id":"bad1","type":"adjust","time":"2026-03-05T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"uom":"KG"}`,
				`{"id":"bad2","type":"receive","time":"2026-03-05T08:00:00Z","lot":{"item":"FLOUR","lot":"F-B"},"qty":-3,"uom":"KG"}`,
			)
			h.equal("quarantined: an adjustment without qty, a negative receipt", st.Quarantined, 2)
			h.equal("on hand", onHand(h.recall("FLOUR", "F-A").Root.OnHand), "55 KG")
			b, err := h.q().Balance(h.ctx, core.LotRef{Item: "FLOUR", Lot: "F-A"}, 0.01)
			if err != nil {
				h.t.Fatal(err)
			}
			u := b.Units[0]
			h.equal("balance", fmt.Sprint(u.UOM, " in ", u.Received, " out ", u.Consumed, " adjusted ", u.Adjusted, " on hand ", u.OnHand, " difference ", u.Difference, " ", u.WithinTolerance),
				"KG in 100 out 30 adjusted -15 on hand 55 difference 55 true")
			h.equal("the genealogy is unchanged", links(h.trace(core.Forward, "FLOUR", "F-A")), []string{"FLOUR/F-A>DOUGH/D-1(WO-1)"})
			lot, err := h.q().Lot(h.ctx, core.LotRef{Item: "FLOUR", Lot: "F-A"})
			if err != nil {
				h.t.Fatal(err)
			}
			var said []string
			for _, e := range lot.Events {
				if e.Event.Type == core.Adjust {
					said = append(said, e.Summary)
				}
			}
			h.equal("hub lot", said, []string{"adjusted by -20 KG: cycle count", "adjusted by +5 KG: cycle count"})

			// The scrap was booked against the wrong lot: reversed.
			h.ingest(reverse("x1", "a1"))
			h.equal("on hand after the reversal", onHand(h.recall("FLOUR", "F-A").Root.OnHand), "75 KG")
		}},
		{"AdjustmentOverdraws", func(h *harness) {
			h.ingest(
				recv("r1", "SALT", "S-1", 10, "V", "X"),
				adjust("a1", "SALT", "S-1", -8),
				consume("c1", "WO-1", "SALT", "S-1", 5),
				produce("p1", "WO-1", "BRINE", "B-1", 5),
			)
			m := h.monitor(newClock("2026-03-10T00:00:00Z"), core.DefaultGapRules())
			h.evaluate(m)
			h.equal("overdrawn after the scrap", h.gapList(m, core.ExceptionFilter{}), []string{"overdrawn:SALT/S-1:open"})
		}},
	}...)
}

func orderAdjust(id, order, item, lot string, qty float64) string {
	return fmt.Sprintf(`{"id":%q,"type":"adjust","time":"2026-03-05T09:00:00Z","lot":{"item":%q,"lot":%q},"qty":%g,"uom":"KG","order":%q,"reason":"returned from the order"}`, id, item, lot, qty, order)
}

// Issue 15 §4: an adjustment naming an order nets the order's mass
// balance (a return of components lowers its input); the link stays while
// some quantity remains.
func init() {
	cases = append(cases, testCase{"AdjustsNetOrderBalance", func(h *harness) {
		h.ingest(
			recv("r1", "FLOUR", "F-A", 100, "V", "X"),
			recv("r2", "SALT", "S-9", 10, "V", "X"),
			consume("c1", "WO-1", "FLOUR", "F-A", 60),
			produce("p1", "WO-1", "DOUGH", "D-1", 40),
			orderAdjust("a1", "WO-1", "FLOUR", "F-A", 20),  // 20 KG back from the order
			orderAdjust("a2", "WO-1", "FLOUR", "F-A", -5),  // 5 KG more to it
			orderAdjust("a3", "WO-2", "FLOUR", "F-A", 7),   // another order's
			orderAdjust("a4", "WO-1", "SALT", "S-9", 3),    // a lot the order never had
			orderAdjust("a5", "WO-1", "DOUGH", "D-1", -10), // output taken back
			adjust("a6", "FLOUR", "F-A", 1000),             // no order
		)
		bal := func(order string) string {
			b, err := h.q().OrderMassBalance(h.ctx, order, 0.05)
			if err != nil {
				return core.ErrorCode(err)
			}
			s := ""
			for _, u := range b.Units {
				s += fmt.Sprint(u.UOM, " in ", u.In, " out ", u.Out, " adjusted ", u.InAdjusted, "/", u.OutAdjusted, " ", u.WithinTolerance, ";")
			}
			for _, a := range b.Adjustments {
				s += fmt.Sprint(" ", a.Event, ":", a.Side)
			}
			return s
		}
		h.equal("order balance, net", bal("WO-1"), "KG in 45 out 30 adjusted -15/-10 true; a1:in a2:in a5:out")
		h.equal("an order with adjustments only", bal("WO-2"), core.ENOTFOUND)
		h.equal("on hand of F-A", onHand(h.recall("FLOUR", "F-A").Root.OnHand), "1062 KG")
		h.ingest(reverse("x1", "a1"))
		h.equal("after reversing the return", bal("WO-1"), "KG in 65 out 30 adjusted 5/-10 true; a2:in a5:out")
		h.equal("the link stays while some quantity remains", links(h.trace(core.Forward, "FLOUR", "F-A")), []string{"FLOUR/F-A>DOUGH/D-1(WO-1)"})
		// Everything comes back: F-A is no input of WO-1 any more
		// (returns.go has the cases of the link going and coming back).
		h.ingest(orderAdjust("a7", "WO-1", "FLOUR", "F-A", 65))
		h.equal("after a full return", bal("WO-1"), "KG in 0 out 30 adjusted -60/-10 false; a2:in a5:out a7:in")
		h.equal("the link goes", links(h.trace(core.Forward, "FLOUR", "F-A")), []string{})
	}})
}
