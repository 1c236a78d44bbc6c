package storetest

import (
	"fmt"
	"slices"

	"github.com/lothub/lothub/core"
)

// Store.ReachHops is the walk of a trace in one read: it must find what
// Hops finds level by level (cycles ended, returned inputs left out), and
// stop after Limit+1 edges when asked.

// reachPlant: FLOUR F-A and SALT S-1 into WO-1 (DOUGH D-1, D-2), D-1 into
// WO-2 (BREAD B-1), B-1 reworked into WO-3 whose output D-1 closes a
// cycle, SALT S-1 returned in full to WO-1 (no input of it any more), and
// an unrelated WO-9.
func reachPlant() []string {
	return []string{
		recv("r1", "FLOUR", "F-A", 100, "V", "M-1"),
		recv("r2", "SALT", "S-1", 10, "V", "S-7"),
		consume("c1", "WO-1", "FLOUR", "F-A", 60),
		consume("c2", "WO-1", "SALT", "S-1", 2),
		returnAt("a1", "WO-1", "SALT", "S-1", 2, "2026-03-02T09:00:00Z"),
		produce("p1", "WO-1", "DOUGH", "D-1", 30),
		produce("p2", "WO-1", "DOUGH", "D-2", 30),
		consume("c3", "WO-2", "DOUGH", "D-1", 30),
		produce("p3", "WO-2", "BREAD", "B-1", 30),
		consume("c4", "WO-3", "BREAD", "B-1", 5),
		produce("p4", "WO-3", "DOUGH", "D-1", 5),
		recv("r9", "SUGAR", "G-1", 10, "V", "G-7"),
		consume("c9", "WO-9", "SUGAR", "G-1", 10),
		produce("p9", "WO-9", "CANDY", "K-1", 10),
	}
}

// levelWalk is the closure of Hops from roots, level by level: the
// distinct edges leaving every lot reached.
func (h *harness) levelWalk(dir core.Direction, roots []int64) []string {
	h.t.Helper()
	seen := map[int64]bool{}
	for _, id := range roots {
		seen[id] = true
	}
	var edges []core.Hop
	for frontier := roots; len(frontier) > 0; {
		hops, err := h.s.Hops(h.ctx, core.HopsParams{Direction: dir, LotIDs: frontier})
		if err != nil {
			h.t.Fatal(err)
		}
		frontier = nil
		for _, hp := range hops {
			edges = append(edges, hp)
			if !seen[hp.To] {
				seen[hp.To] = true
				frontier = append(frontier, hp.To)
			}
		}
	}
	return hopSet(edges)
}

func hopSet(hops []core.Hop) []string {
	var out []string
	for _, hp := range hops {
		out = append(out, fmt.Sprintf("%d>%d(%s)", hp.From, hp.To, hp.Group))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func init() {
	cases = append(cases, testCase{"ReachHopsEqualsTheLevelWalk", func(h *harness) {
		h.ingest(reachPlant()...)
		id := func(item, lot string) int64 {
			h.t.Helper()
			v, err := h.s.FindLot(h.ctx, core.LotRef{Item: item, Lot: lot})
			if err != nil {
				h.t.Fatal(err)
			}
			return v
		}
		fa, s1, d1, b1, k1 := id("FLOUR", "F-A"), id("SALT", "S-1"), id("DOUGH", "D-1"), id("BREAD", "B-1"), id("CANDY", "K-1")
		for _, c := range []struct {
			name  string
			dir   core.Direction
			roots []int64
			want  int // distinct edges
		}{
			{"forward through a cycle", core.Forward, []int64{fa}, 4},
			{"a returned input reaches nothing", core.Forward, []int64{s1}, 0},
			{"backward through a cycle", core.Backward, []int64{b1}, 3},
			{"two roots", core.Backward, []int64{b1, k1}, 4},
			{"from inside the cycle", core.Forward, []int64{d1}, 2},
		} {
			got, err := h.s.ReachHops(h.ctx, core.HopsParams{Direction: c.dir, LotIDs: c.roots})
			if err != nil {
				h.t.Fatalf("%s: %v", c.name, err)
			}
			want := h.levelWalk(c.dir, c.roots)
			h.equal(c.name, hopSet(got), want)
			h.equal(c.name+": edges", len(want), c.want)
		}
		// Limit: more than Limit edges reachable → Limit+1 returned.
		got, err := h.s.ReachHops(h.ctx, core.HopsParams{Direction: core.Forward, LotIDs: []int64{fa}, Limit: 2})
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("cut at Limit+1", len(got), 3)
		got, err = h.s.ReachHops(h.ctx, core.HopsParams{Direction: core.Forward, LotIDs: []int64{fa}, Limit: 100})
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("under the limit: all", hopSet(got), h.levelWalk(core.Forward, []int64{fa}))
	}})
}
