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
