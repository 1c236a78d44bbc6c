package storetest

import (
	"fmt"
	"time"

	"github.com/lothub/lothub/core"
)

// Cases for quality holds that follow the genealogy.

func (h *harness) holds() []string {
	h.t.Helper()
	hs, err := h.q().Holds(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	out := []string{}
	for _, x := range hs {
		out = append(out, x.Item+"/"+x.Lot)
	}
	return out
}

func init() {
	cases = append(cases, []testCase{
		{"HoldPropagates", func(h *harness) {
			c := newClock("2026-03-05T00:00:00Z")
			m := h.monitor(c, core.DefaultGapRules())
			h.ingest(
				recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				consume("c1", "WO-1", "FLOUR", "F-A", 40),
				produce("p1", "WO-1", "DOUGH", "D-1", 40), // on hand: held with --propagate
				produce("p2", "WO-1", "DOUGH", "D-2", 10),
				ship("s2", "DOUGH", "D-2", 10, "C-1", "SO-1"), // nothing on hand: not held
			)
			if _, err := m.Hold(h.ctx, core.HoldParams{Lot: core.LotRef{Item: "FLOUR", Lot: "F-A"}, By: "qa"}); core.ErrorCode(err) != core.EINVALID {
				h.t.Errorf("hold without a reason: err = %v, want EINVALID", err)
			}
			if _, err := m.Hold(h.ctx, core.HoldParams{Lot: core.LotRef{Item: "FLOUR", Lot: "F-X"}, Reason: "r", By: "qa"}); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("hold an unknown lot: err = %v, want ENOTFOUND", err)
			}
			res, err := m.Hold(h.ctx, core.HoldParams{Lot: core.LotRef{Item: "FLOUR", Lot: "F-A"}, Reason: "supplier recall M-7781", By: "qa", Propagate: true})
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("held", fmt.Sprint(res.Lots), "[FLOUR/F-A DOUGH/D-1]")
			h.equal("holds", h.holds(), []string{"DOUGH/D-1", "FLOUR/F-A"})
			r := h.recall("FLOUR", "F-A")
			h.equal("recall shows holds", fmt.Sprint(r.Root.OnHold, r.Lots[0].OnHold, r.Lots[1].OnHold), "true true false")
			// Later, more flour goes into a new order: its output is born on hold.
			h.ingest(
				at(consume("c3", "WO-3", "FLOUR", "F-A", 10), "2026-03-06T08:00:00Z"),
				at(produce("p3", "WO-3", "DOUGH", "D-3", 10), "2026-03-06T09:00:00Z"),
			)
			c.add(48 * time.Hour)
			r2 := h.evaluate(m)
			h.equal("born on hold", r2.Held, 1)
			h.equal("holds after", h.holds(), []string{"DOUGH/D-1", "DOUGH/D-3", "FLOUR/F-A"})
			lot, err := h.q().Lot(h.ctx, core.LotRef{Item: "DOUGH", Lot: "D-3"})
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("lot on hold", lot.OnHold, true)
			h.equal("evaluated again", h.evaluate(m).Held, 0)
			// Release with --propagate: the lot and what it held.
			if _, err := m.Release(h.ctx, core.HoldParams{Lot: core.LotRef{Item: "FLOUR", Lot: "F-A"}, Reason: "supplier cleared the lot", By: "qa", Propagate: true}); err != nil {
				h.t.Fatal(err)
			}
			h.equal("holds after release", h.holds(), []string{})
			r3 := h.recall("FLOUR", "F-A")
			h.equal("recall after release", fmt.Sprint(r3.Root.OnHold, r3.Lots[0].OnHold, r3.Lots[1].OnHold, r3.Lots[2].OnHold), "false false false false")
			h.equal("a release sticks", h.evaluate(m).Held, 0)
			if _, err := m.Release(h.ctx, core.HoldParams{Lot: core.LotRef{Item: "FLOUR", Lot: "F-A"}, Reason: "again", By: "qa"}); core.ErrorCode(err) != core.ECONFLICT {
				h.t.Errorf("release a released lot: err = %v, want ECONFLICT", err)
			}
		}},
		{"ERPHoldsSideBySide", func(h *harness) {
			h.ingest(recv("r1", "SUGAR", "S-1", 10, "V", "X"),
				`{"id":"sap:blocked:1","type":"hold","time":"2026-03-02T08:00:00Z","lot":{"item":"SUGAR","lot":"S-1"},"reason":"blocked stock"}`)
			h.equal("erp hold", h.holds(), []string{"SUGAR/S-1"})
			h.ingest(`{"id":"sap:unblocked:1","type":"release","time":"2026-03-03T08:00:00Z","lot":{"item":"SUGAR","lot":"S-1"},"reason":"QC ok"}`)
			h.equal("erp release", h.holds(), []string{})
		}},
	}...)
}

func init() {
	cases = append(cases, testCase{"MassBalance", func(h *harness) {
		h.ingest(
			recv("r1", "FLOUR", "F-A", 100, "V", "X"),
			consume("c1", "WO-1", "FLOUR", "F-A", 40),
			produce("p1", "WO-1", "DOUGH", "D-1", 38),
			ship("s1", "FLOUR", "F-A", 30, "C-1", "SO-1"),
			ship("s2", "FLOUR", "F-A", 5, "C-2", "SO-2"),
			reverse("x2", "s2"),
		)
		b, err := h.q().Balance(h.ctx, core.LotRef{Item: "FLOUR", Lot: "F-A"}, 0.01)
		if err != nil {
			h.t.Fatal(err)
		}
		u := b.Units[0]
		h.equal("units", fmt.Sprint(u.UOM, u.Received, u.Produced, u.Consumed, u.Shipped, u.Reversed, u.OnHand, u.Difference, u.WithinTolerance),
			"KG100 0 40 30 5 30 30 true")
		h.equal("uses", len(b.Uses), 2)
		h.equal("orders", fmt.Sprint(b.Orders), "[{WO-1 KG 40 38}]")
		if _, err := h.q().Balance(h.ctx, core.LotRef{Item: "FLOUR", Lot: "NOPE"}, 0); core.ErrorCode(err) != core.ENOTFOUND {
			h.t.Errorf("unknown lot: err = %v", err)
		}
	}})
}

// Born on hold by event time: what a lot's inputs were at its production
// time decides, whatever order the events arrive in (issue 25 §3).

func holdEv(id, typ, item, lot, at string) string {
	return fmt.Sprintf(`{"id":%q,"type":%q,"time":%q,"lot":{"item":%q,"lot":%q},"reason":"%s %s"}`, id, typ, at, item, lot, typ, id)
}

func orderEv(id, typ, order, item, lot, at string) string {
	return fmt.Sprintf(`{"id":%q,"type":%q,"time":%q,"lot":{"item":%q,"lot":%q},"qty":1,"uom":"KG","order":%q}`, id, typ, at, item, lot, order)
}

// lotHolds renders the lot's in-effect holds and releases and whether it
// is on hold.
func (h *harness) lotHolds(item, lot string) string {
	h.t.Helper()
	st, err := h.q().Lot(h.ctx, core.LotRef{Item: item, Lot: lot})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, x := range st.Holds {
		out = append(out, string(x.Type)+" "+x.Event+" "+x.Time)
	}
	return fmt.Sprint(st.OnHold, out)
}

func init() {
	cases = append(cases, []testCase{
		{"BornOnHoldLateRelease", func(h *harness) {
			m := h.monitor(newClock("2026-05-01T00:00:00Z"), core.DefaultGapRules())
			h.ingest(
				recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				holdEv("erp:h1", "hold", "FLOUR", "F-A", "2026-03-01T10:00:00Z"),
				orderEv("c1", "consume", "WO-1", "FLOUR", "F-A", "2026-03-01T09:00:00Z"),
				orderEv("p1", "produce", "WO-1", "DOUGH", "D-1", "2026-03-01T11:00:00Z"), // after the hold
				orderEv("c2", "consume", "WO-2", "FLOUR", "F-A", "2026-03-01T09:30:00Z"),
				orderEv("p2", "produce", "WO-2", "DOUGH", "D-2", "2026-03-01T13:00:00Z"),
			)
			r := h.evaluate(m)
			h.equal("born on hold", fmt.Sprint(r.Held, r.HoldsWithdrawn), "2 0")
			h.equal("D-2 held", h.lotHolds("DOUGH", "D-2"), "true [hold erp:h1>DOUGH/D-2 2026-03-01T13:00:00Z]")
			// The release, at 12:00, arrives late: D-2 was made after it.
			h.ingest(holdEv("erp:r1", "release", "FLOUR", "F-A", "2026-03-01T12:00:00Z"))
			r = h.evaluate(m)
			h.equal("after the late release", fmt.Sprint(r.Held, r.HoldsWithdrawn), "0 1")
			h.equal("D-1 still held", h.lotHolds("DOUGH", "D-1"), "true [hold erp:h1>DOUGH/D-1 2026-03-01T11:00:00Z]")
			h.equal("D-2 released", h.lotHolds("DOUGH", "D-2"), "false []")
			h.equal("holds", h.holds(), []string{"DOUGH/D-1"})
			h.equal("evaluated again", fmt.Sprint(h.evaluate(m).Held), "0")
			// The ERP cancels the release: D-2's hold comes back, and its
			// history keeps both turns.
			h.ingest(reverse("x1", "erp:r1"))
			r = h.evaluate(m)
			h.equal("after the reversal", fmt.Sprint(r.Held, r.HoldsWithdrawn), "1 0")
			h.equal("D-2 held again", h.lotHolds("DOUGH", "D-2"), "true [hold erp:h1>DOUGH/D-2 2026-03-01T13:00:00Z]")
			st, err := h.q().Lot(h.ctx, core.LotRef{Item: "DOUGH", Lot: "D-2"})
			if err != nil {
				h.t.Fatal(err)
			}
			var hist []string
			for _, e := range st.Events {
				if e.Type == core.Hold || e.Type == core.Reverse {
					hist = append(hist, e.ID+":"+string(e.Status))
				}
			}
			h.equal("history", hist, []string{"erp:h1>DOUGH/D-2:active", "erp:h1>DOUGH/D-2~withdrawn.1:reversed"})
		}},
		{"BornOnHoldLateHold", func(h *harness) {
			m := h.monitor(newClock("2026-05-01T00:00:00Z"), core.DefaultGapRules())
			h.ingest(
				recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				orderEv("c1", "consume", "WO-1", "FLOUR", "F-A", "2026-03-01T09:00:00Z"),
				orderEv("p1", "produce", "WO-1", "DOUGH", "D-1", "2026-03-01T09:30:00Z"), // before the hold
				orderEv("c2", "consume", "WO-2", "DOUGH", "D-1", "2026-03-01T11:00:00Z"),
				orderEv("p2", "produce", "WO-2", "BREAD", "B-1", "2026-03-01T12:00:00Z"), // a grandchild made after it
				orderEv("c3", "consume", "WO-3", "FLOUR", "F-A", "2026-03-01T10:30:00Z"),
				orderEv("p3", "produce", "WO-3", "DOUGH", "D-3", "2026-03-01T11:00:00Z"), // after the hold
				orderEv("c4", "consume", "WO-4", "DOUGH", "D-3", "2026-03-01T11:30:00Z"),
				orderEv("p4", "produce", "WO-4", "BREAD", "B-3", "2026-03-01T12:30:00Z"), // from a lot born on hold
			)
			h.equal("nothing held", h.evaluate(m).Held, 0)
			h.ingest(holdEv("erp:h1", "hold", "FLOUR", "F-A", "2026-03-01T10:00:00Z"))
			h.equal("late hold", h.evaluate(m).Held, 2)
			// D-1 was made before the hold and B-1 from D-1: neither is
			// held (only hub hold --propagate holds what was made before).
			h.equal("holds", h.holds(), []string{"BREAD/B-3", "DOUGH/D-3", "FLOUR/F-A"})
			h.equal("B-3", h.lotHolds("BREAD", "B-3"), "true [hold erp:h1>BREAD/B-3 2026-03-01T12:30:00Z]")
			// A release of a lot born on hold sticks.
			if _, err := m.Release(h.ctx, core.HoldParams{Lot: core.LotRef{Item: "DOUGH", Lot: "D-3"}, Reason: "tested: fine", By: "qa"}); err != nil {
				h.t.Fatal(err)
			}
			h.equal("evaluated after the release", fmt.Sprint(h.evaluate(m).Held), "0")
			h.equal("holds after the release", h.holds(), []string{"BREAD/B-3", "FLOUR/F-A"})
			// The ERP moves D-3's production before the hold: D-3 and
			// B-3 were not made from held material after all.
			h.ingest(orderEv("p3", "produce", "WO-3", "DOUGH", "D-3", "2026-03-01T09:45:00Z"))
			r := h.evaluate(m)
			h.equal("after the correction", fmt.Sprint(r.Held, r.HoldsWithdrawn), "0 2")
			h.equal("holds after the correction", h.holds(), []string{"FLOUR/F-A"})
			// And back after it: both are born on hold again, at the new
			// time; the release of D-3 (later) still stands.
			h.ingest(orderEv("p3", "produce", "WO-3", "DOUGH", "D-3", "2026-03-01T10:15:00Z"))
			r = h.evaluate(m)
			h.equal("after the second correction", fmt.Sprint(r.Held, r.HoldsWithdrawn), "2 0")
			h.equal("holds after the second correction", h.holds(), []string{"BREAD/B-3", "FLOUR/F-A"})
			h.equal("D-3", h.lotHolds("DOUGH", "D-3"), "false [hold erp:h1>DOUGH/D-3 2026-03-01T10:15:00Z release manual:release:DOUGH/D-3:20260501T000000.000000000Z 2026-05-01T00:00:00Z]")
		}},
		{"BornOnHoldCycle", func(h *harness) {
			m := h.monitor(newClock("2026-05-01T00:00:00Z"), core.DefaultGapRules())
			h.ingest(
				holdEv("erp:h1", "hold", "X", "A", "2026-03-01T08:00:00Z"),
				orderEv("c1", "consume", "WO-1", "X", "A", "2026-03-01T09:00:00Z"),
				orderEv("p1", "produce", "WO-1", "X", "B", "2026-03-01T09:00:00Z"),
				orderEv("c2", "consume", "WO-2", "X", "B", "2026-03-01T10:00:00Z"),
				orderEv("p2", "produce", "WO-2", "X", "A", "2026-03-01T10:00:00Z"),
				orderEv("c3", "consume", "RW-1", "X", "B", "2026-03-01T11:00:00Z"),
				orderEv("p3", "produce", "RW-1", "X", "B", "2026-03-01T11:00:00Z"),
			)
			h.equal("born on hold", h.evaluate(m).Held, 1)
			h.equal("holds", h.holds(), []string{"X/A", "X/B"})
			h.equal("again", h.evaluate(m).Held, 0)
		}},
	}...)
}
