package storetest

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/lothub/lothub/core"
)

// Cases for Store.LotStates, the one read a recall makes of the names, on
// hand and hold status of the lots it reaches: it must say what Lots,
// OnHand and HeldAmong say, read one by one.

func init() {
	cases = append(cases, testCase{"LotStatesAgreeWithSeparateReads", func(h *harness) {
		h.ingest(
			recv("r1", "FLOUR", "F-A", 100, "V", "X"),
			// F-A also in a second unit: two on-hand rows, ordered by unit.
			`{"id":"r1b","type":"receive","time":"2026-03-01T09:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":3,"uom":"BAG","supplier":{"id":"V"}}`,
			consume("c1", "WO-1", "FLOUR", "F-A", 40),
			produce("p1", "WO-1", "DOUGH", "D-1", 40),
			produce("p2", "WO-1", "DOUGH", "D-2", 10),
			ship("s2", "DOUGH", "D-2", 10, "C-1", "SO-1"), // nothing left: 0 KG
			// D-1 held; D-2 held, then released (later): not held.
			`{"id":"h1","type":"hold","time":"2026-03-04T10:00:00Z","lot":{"item":"DOUGH","lot":"D-1"},"reason":"retest"}`,
			`{"id":"h2","type":"hold","time":"2026-03-04T10:00:00Z","lot":{"item":"DOUGH","lot":"D-2"},"reason":"retest"}`,
			`{"id":"h3","type":"release","time":"2026-03-04T11:00:00Z","lot":{"item":"DOUGH","lot":"D-2"},"reason":"passed"}`,
			// A lot known only from a hold: no quantities at all.
			`{"id":"h4","type":"hold","time":"2026-03-04T12:00:00Z","lot":{"item":"SALT","lot":"S-9"},"reason":"unknown lot"}`,
		)
		byName := h.lotIDs("FLOUR/F-A", "DOUGH/D-1", "DOUGH/D-2", "SALT/S-9")
		ids := []int64{999_999} // no such lot: left out
		for _, id := range byName {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		got, err := h.s.LotStates(h.ctx, ids)
		if err != nil {
			h.t.Fatal(err)
		}
		slices.SortFunc(got, func(a, b core.LotState) int { return cmp.Compare(a.ID, b.ID) })

		// The same from the three reads it replaces.
		lots, err := h.s.Lots(h.ctx, ids)
		if err != nil {
			h.t.Fatal(err)
		}
		stock, err := h.s.OnHand(h.ctx, ids)
		if err != nil {
			h.t.Fatal(err)
		}
		held, err := h.s.HeldAmong(h.ctx, ids)
		if err != nil {
			h.t.Fatal(err)
		}
		var want []core.LotState
		for _, l := range lots {
			st := core.LotState{LotRow: l, Held: slices.Contains(held, l.ID)}
			for _, q := range stock { // ordered by lot and unit
				if q.LotID == l.ID {
					st.OnHand = append(st.OnHand, core.Qty{Qty: q.Qty, UOM: q.UOM})
				}
			}
			want = append(want, st)
		}
		slices.SortFunc(want, func(a, b core.LotState) int { return cmp.Compare(a.ID, b.ID) })
		h.equal("lot states", render(got), render(want))
		h.equal("as a user sees them", render(got), []string{
			"FLOUR/F-A: 3 BAG, 60 KG",
			"DOUGH/D-1: 40 KG, on hold",
			"DOUGH/D-2: 0 KG",
			"SALT/S-9: none, on hold",
		})

		// Asked about among thousands of ids (of no lots), which the
		// stores answer by reading every lot on hold once instead of
		// looking each lot up: the same states, the same lots held.
		wide := slices.Clone(ids)
		for i := range 5000 {
			wide = append(wide, 2_000_000+int64(i))
		}
		gotWide, err := h.s.LotStates(h.ctx, wide)
		if err != nil {
			h.t.Fatal(err)
		}
		slices.SortFunc(gotWide, func(a, b core.LotState) int { return cmp.Compare(a.ID, b.ID) })
		h.equal("lot states among 5,000 ids", render(gotWide), render(got))
		heldWide, err := h.s.HeldAmong(h.ctx, wide)
		if err != nil {
			h.t.Fatal(err)
		}
		slices.Sort(held)
		slices.Sort(heldWide)
		h.equal("lots held among 5,000 ids", heldWide, held)
	}})
}

// render writes lot states as "ITEM/LOT: qty unit, …[, on hold]".
func render(sts []core.LotState) []string {
	out := []string{}
	for _, st := range sts {
		s := st.Ref.String() + ": "
		for i, q := range st.OnHand {
			if i > 0 {
				s += ", "
			}
			s += fmt.Sprintf("%g %s", q.Qty, q.UOM)
		}
		if len(st.OnHand) == 0 {
			s += "none"
		}
		if st.Held {
			s += ", on hold"
		}
		out = append(out, s)
	}
	return out
}
