package core

import (
	"context"
	"math"
	"slices"
)

// Returns of material from an order (issue 15 §4). An adjust event that
// names an order ("order") of a lot the order consumed is material coming
// back from it (SAP movement type 262 posted without a reference: a
// negative consumption of that batch on that order). It lowers what the
// order consumed of the lot; when the returns net every consumption of the
// lot on the order to nothing, the lot is no longer an input of the order:
// its link to the order's outputs is not in effect (a trace and a recall no
// longer reach them from it), and comes back when a later issue consumes
// it again. Everything here is a function of the in-effect events, so the
// answer does not depend on the order they arrived in nor on how they were
// cut into batches: Plan keeps per-(lot, order, unit) sums of in-effect
// consumptions, productions and adjustments (Changes.OrderLots) and says
// which inputs became returned or were restored.

// orderLotKey is a lot on an order in a unit.
type orderLotKey struct {
	lot int64
	grp string
	uom string
}

func (f *effects) orderLot(lot int64, grp, uom string) *OrderLotSums {
	k := orderLotKey{lot, grp, uom}
	d := f.orderLots[k]
	if d == nil {
		d = &OrderLotSums{LotID: lot, Group: grp, UOM: uom}
		f.orderLots[k] = d
	}
	return d
}

func (q *OrderLotSums) zero() bool {
	return q.Consumed == 0 && q.Consumes == 0 && q.Produced == 0 && q.Produces == 0 && q.Adjusted == 0 && q.Adjusts == 0
}

func (q *OrderLotSums) plus(d *OrderLotSums) {
	q.Consumed += d.Consumed
	q.Consumes += d.Consumes
	q.Produced += d.Produced
	q.Produces += d.Produces
	q.Adjusted += d.Adjusted
	q.Adjusts += d.Adjusts
}

// netEpsilon is how close to nothing a net consumption counts as nothing,
// relative to what was consumed: sums of the same quantities added in
// another order differ in their last bits.
const netEpsilon = 1e-9

// InputReturned reports whether returns net a lot's consumption on an
// order to nothing, given the lot's quantities on the order in each unit
// (OrderLotSums rows of one lot and one order). It is when the lot was
// consumed, and in every unit it was consumed in, adjust events naming
// the order brought back at least what was consumed. A unit with no
// adjustment keeps the link whatever its quantity (a consumption of 0 KG
// still says the lot went in), and adjustments in a unit the lot was not
// consumed in are not compared with it (a mixed_units gap says so).
func InputReturned(rows []OrderLotSums) bool {
	consumed := false
	for _, r := range rows {
		if r.Consumes <= 0 {
			continue
		}
		consumed = true
		if r.Adjusts <= 0 || r.Consumed-r.Adjusted > netEpsilon*math.Max(1, math.Abs(r.Consumed)) {
			return false
		}
	}
	return consumed
}

// netReturns reads the stored quantities of the lots whose consumption or
// returns on an order this batch changes, and records which of them
// became returned or were restored. The order's count of inputs (which the
// output_without_input gap reads) counts a returned lot's consumptions as
// none.
func (f *effects) netReturns(ctx context.Context, tx PlanReader) error {
	deltas := map[LotGroup][]*OrderLotSums{}
	for _, d := range f.orderLots {
		if d.Consumes != 0 || d.Consumed != 0 || d.Adjusts != 0 || d.Adjusted != 0 {
			k := LotGroup{LotID: d.LotID, Group: d.Group}
			deltas[k] = append(deltas[k], d)
		}
	}
	if len(deltas) == 0 {
		return nil
	}
	keys := make([]LotGroup, 0, len(deltas))
	for k := range deltas {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareLotGroup)
	f.asked = keys
	rows, err := tx.OrderLots(ctx, keys)
	if err != nil {
		return err
	}
	stored := map[LotGroup][]OrderLotSums{}
	for _, r := range rows {
		k := LotGroup{LotID: r.LotID, Group: r.Group}
		stored[k] = append(stored[k], r)
	}
	for _, k := range keys {
		before := stored[k]
		byUnit := map[string]*OrderLotSums{}
		var after []OrderLotSums
		for _, r := range before {
			byUnit[r.UOM] = &r
		}
		for _, d := range deltas[k] {
			u := byUnit[d.UOM]
			if u == nil {
				u = &OrderLotSums{LotID: d.LotID, Group: d.Group, UOM: d.UOM}
				byUnit[d.UOM] = u
			}
			u.plus(d)
		}
		for _, u := range byUnit {
			after = append(after, *u)
		}
		wasReturned, isReturned := InputReturned(before), InputReturned(after)
		consumes := func(rows []OrderLotSums, returned bool) (all, counted int) {
			for _, r := range rows {
				all += r.Consumes
			}
			if returned {
				return all, 0
			}
			return all, all
		}
		allBefore, countedBefore := consumes(before, wasReturned)
		allAfter, countedAfter := consumes(after, isReturned)
		// effects.add counted every consumption (allAfter − allBefore);
		// the order's inputs change by what is counted.
		if fix := (countedAfter - countedBefore) - (allAfter - allBefore); fix != 0 {
			f.order(k.Group).Ins += fix
		}
		switch {
		case isReturned && !wasReturned:
			f.returned = append(f.returned, k)
		case wasReturned && !isReturned:
			f.restored = append(f.restored, k)
		}
	}
	return nil
}
