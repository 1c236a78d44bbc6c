package storetest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/lothub/lothub/core"
)

// Cases for trace and recall summaries (hub recall --summary): their
// counts must be those the full answer gives on the same store.

// wantSummary computes from a full trace or recall what its summary must
// say, independently of core's counting.
func wantSummary(r *core.TraceResult, recall bool, customers []core.Customer) *core.TraceSummary {
	s := &core.TraceSummary{Root: r.Root, Roots: r.Roots, Direction: r.Direction,
		Lots: len(r.Lots), Links: len(r.Links), Suppliers: len(r.Suppliers), Shipments: len(r.Shipments),
		Levels: []core.LevelCount{}, Customers: []core.Customer{}}
	for _, l := range r.Lots { // sorted by depth, item, lot
		if n := len(s.Levels); n == 0 || s.Levels[n-1].Depth != l.Depth {
			s.Levels = append(s.Levels, core.LevelCount{Depth: l.Depth})
		}
		lv := &s.Levels[len(s.Levels)-1]
		lv.Lots++
		if n := len(lv.Items); n == 0 || lv.Items[n-1].Item != l.Item {
			lv.Items = append(lv.Items, core.ItemCount{Item: l.Item})
		}
		lv.Items[len(lv.Items)-1].Lots++
	}
	if r.Direction == core.Forward && customers != nil {
		s.Customers = customers
	}
	if recall {
		tot := map[[2]string]float64{}
		held := 0
		for _, l := range r.Lots {
			for _, q := range *l.OnHand {
				tot[[2]string{l.Item, q.UOM}] += q.Qty
			}
			if l.OnHold {
				held++
			}
		}
		oh := []core.ItemQty{}
		for k, v := range tot {
			oh = append(oh, core.ItemQty{Item: k[0], UOM: k[1], Qty: math.Round(v*1e6) / 1e6})
		}
		slices.SortFunc(oh, func(a, b core.ItemQty) int {
			return cmp.Or(strings.Compare(a.Item, b.Item), strings.Compare(a.UOM, b.UOM))
		})
		s.OnHand, s.OnHold = &oh, &held
	}
	return s
}

// checkSummaries compares the summaries of a lot (recall, forward and
// backward trace, from the store and from the genealogy in memory) with
// what its full answers give.
func (h *harness) checkSummaries(item, lot string) *core.TraceSummary {
	h.t.Helper()
	sel := core.Selector{Lot: &core.LotRef{Item: item, Lot: lot}}
	rec := h.recall(item, lot)
	fwd := h.trace(core.Forward, item, lot)
	back := h.trace(core.Backward, item, lot)
	c := core.NewGraphCache(h.s)
	defer c.Close()
	if err := c.Load(h.ctx); err != nil {
		h.t.Fatalf("load the genealogy: %v", err)
	}
	var recSum *core.TraceSummary
	for _, q := range []*core.Queries{h.q(), {Store: h.s, Graph: c}} {
		rs, err := q.RecallSummary(h.ctx, sel)
		if err != nil {
			h.t.Fatalf("recall summary %s/%s: %v", item, lot, err)
		}
		h.sameJSON("recall summary of "+item+"/"+lot, rs, wantSummary(rec, true, *rec.Customers))
		fs, err := q.TraceSummary(h.ctx, core.Forward, sel)
		if err != nil {
			h.t.Fatalf("forward summary %s/%s: %v", item, lot, err)
		}
		fwd.Root.OnHand, fwd.Root.OnHold = nil, false
		h.sameJSON("forward summary of "+item+"/"+lot, fs, wantSummary(fwd, false, *rec.Customers))
		bs, err := q.TraceSummary(h.ctx, core.Backward, sel)
		if err != nil {
			h.t.Fatalf("backward summary %s/%s: %v", item, lot, err)
		}
		h.sameJSON("backward summary of "+item+"/"+lot, bs, wantSummary(back, false, nil))
		recSum = rs
	}
	if c.Walks() == 0 {
		h.t.Fatalf("the summaries did not walk the genealogy in memory")
	}
	return recSum
}

func (h *harness) sameJSON(what string, got, want any) {
	h.t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		h.t.Errorf("%s:\n got  %s\n want %s", what, g, w)
	}
}

func init() {
	cases = append(cases, []testCase{
		{"SummaryCountsTheRecall", func(h *harness) {
			// Shared inputs (WATER into two orders), a cycle (rework of
			// SAUCE through WO-3 back into WO-2's input), customers in two
			// units, a lot on hold.
			eaShip := func(id, item, lot string, qty float64, cust, so string) string {
				return strings.Replace(ship(id, item, lot, qty, cust, so), `"uom":"KG"`, `"uom":"EA"`, 1)
			}
			h.ingest(
				recv("r1", "WATER", "W-1", 1000, "V-W", "WS-1"),
				recv("r2", "SALT", "S-1", 100, "V-S", "SS-1"),
				consume("c1", "WO-1", "WATER", "W-1", 100), consume("c2", "WO-1", "SALT", "S-1", 5),
				produce("p1", "WO-1", "BRINE", "B-1", 105),
				consume("c3", "WO-2", "WATER", "W-1", 200), consume("c4", "WO-2", "BRINE", "B-1", 50),
				produce("p2", "WO-2", "SAUCE", "SC-1", 150), produce("p3", "WO-2", "SAUCE", "SC-2", 100),
				consume("c5", "WO-3", "SAUCE", "SC-1", 20), produce("p4", "WO-3", "BRINE", "B-1", 20),
				consume("c6", "WO-4", "SAUCE", "SC-2", 60), produce("p5", "WO-4", "JAR", "J-1", 60),
				ship("s1", "SAUCE", "SC-1", 30, "C-1", "SO-1"), ship("s2", "SAUCE", "SC-2", 10, "C-2", "SO-2"),
				eaShip("s3", "JAR", "J-1", 12, "C-1", "SO-3"), eaShip("s4", "JAR", "J-1", 8, "C-1", "SO-4"),
				ship("s5", "WATER", "W-1", 1, "C-3", "SO-5"),
			)
			m := h.monitor(newClock("2026-03-05T00:00:00Z"), core.DefaultGapRules())
			if _, err := m.Hold(h.ctx, core.HoldParams{Lot: core.LotRef{Item: "SAUCE", Lot: "SC-1"}, Reason: "check", By: "qa"}); err != nil {
				h.t.Fatal(err)
			}
			s := h.checkSummaries("WATER", "W-1")
			// And the counts a reader checks by hand.
			h.equal("lots (BRINE, two SAUCE, JAR)", s.Lots, 4)
			h.equal("on hold", *s.OnHold, 1)
			h.sameJSON("customers", s.Customers, []core.Customer{
				{ID: "C-1", Name: "C-1 Foods", Shipped: []core.Qty{{Qty: 30, UOM: "KG"}, {Qty: 20, UOM: "EA"}}},
				{ID: "C-2", Name: "C-2 Foods", Shipped: []core.Qty{{Qty: 10, UOM: "KG"}}},
				{ID: "C-3", Name: "C-3 Foods", Shipped: []core.Qty{{Qty: 1, UOM: "KG"}}},
			})
			for _, l := range [][2]string{{"SALT", "S-1"}, {"BRINE", "B-1"}, {"SAUCE", "SC-1"}, {"JAR", "J-1"}} {
				h.checkSummaries(l[0], l[1])
			}
		}},
		{"SummaryCountsAGeneratedPlant", func(h *harness) {
			lines, raw, sample, _, _, _ := chunkPlant(h.t, 21, 1500)
			h.ingest(lines...)
			for i, l := range append(raw[:min(len(raw), 4)], sample[:min(len(sample), 4)]...) {
				if s := h.checkSummaries(l.Item, l.Lot); i == 0 && s.Lots == 0 {
					h.t.Errorf("raw lot %s reaches nothing: the case checks too little", l)
				}
			}
		}},
	}...)
}

func init() {
	cases = append(cases, testCase{"SummaryCustomersFromStoreTotals", func(h *harness) {
		// The store totals shipments per customer, name and unit
		// (Store.ShipmentTotals); the summary must still name each
		// customer and order its units as the full recall does: the
		// first non-empty name by event time then id, units in the order
		// of their first shipment, whatever the totals' grouping.
		shipAt := func(id, at, lot string, qty float64, uom, cust, name string) string {
			return fmt.Sprintf(`{"id":%q,"type":"ship","time":%q,"lot":{"item":"JAR","lot":%q},"qty":%g,"uom":%q,"customer":{"id":%q,"name":%q},"sales_order":"SO-%s"}`,
				id, at, lot, qty, uom, cust, name, id)
		}
		h.ingest(
			recv("r1", "WATER", "W-1", 1000, "V-W", "WS-1"),
			consume("c1", "WO-1", "WATER", "W-1", 100),
			produce("p1", "WO-1", "JAR", "J-1", 100), produce("p2", "WO-1", "JAR", "J-2", 100),
			// C-1: unnamed first, then two names at the same instant (the
			// smaller event id wins), EA before KG by first shipment.
			shipAt("s9", "2026-03-03T08:00:00Z", "J-1", 1, "EA", "C-1", ""),
			shipAt("s5", "2026-03-03T09:00:00Z", "J-2", 2.5, "KG", "C-1", "Zed Foods"),
			shipAt("s4", "2026-03-03T09:00:00Z", "J-1", 0.1, "KG", "C-1", "Alpha Foods"),
			shipAt("s3", "2026-03-03T10:00:00Z", "J-2", 0.2, "KG", "C-1", "Zed Foods"),
			shipAt("s2", "2026-03-03T11:00:00Z", "J-2", 4, "EA", "C-1", "Zed Foods"),
			// C-2: never named; one shipment's quantity as shipped.
			shipAt("s1", "2026-03-02T11:00:00Z", "J-1", 1.23456789, "KG", "C-2", ""),
		)
		s := h.checkSummaries("WATER", "W-1")
		h.sameJSON("customers", s.Customers, []core.Customer{
			{ID: "C-1", Name: "Alpha Foods", Shipped: []core.Qty{{Qty: 5, UOM: "EA"}, {Qty: 2.8, UOM: "KG"}}},
			{ID: "C-2", Name: "", Shipped: []core.Qty{{Qty: 1.23456789, UOM: "KG"}}},
		})
	}})
}
