package core

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
)

// Genealogy is the whole genealogy of a lot as canonical events: what an
// export (EPCIS, docs/epcis.md) writes. Every interface that exports calls
// Queries.Genealogy.
type Genealogy struct {
	Root LotRef
	// Directions are the traces it covers: forward, backward, or both.
	Directions []Direction
	// Lots are the root and every lot the traces reached, root first,
	// then by item and lot.
	Lots []LotRef
	// Events are the in-effect receive, consume, produce, transform, ship,
	// hold and release events of those lots, plus every consumption and
	// production of the orders among them (an order is exported whole:
	// its other lots are in Events but not in Lots). Ordered by time, then
	// id.
	Events []*Event
}

// exportTypes are the canonical event types an export carries
// (docs/epcis.md): all but reversals (a reversed event is left out).
var exportTypes = map[EventType]bool{
	Receive: true, Consume: true, Produce: true, Transform: true, Ship: true, Hold: true, Release: true,
	Step: true, Move: true, Adjust: true,
}

// Genealogy collects the genealogy of lot ref in the given directions
// (Forward, Backward, or both). An unknown lot is ENOTFOUND.
func (q *Queries) Genealogy(ctx context.Context, ref LotRef, dirs ...Direction) (*Genealogy, error) {
	if len(dirs) == 0 {
		dirs = []Direction{Backward, Forward}
	}
	g := &Genealogy{Root: ref, Directions: dirs, Lots: []LotRef{ref}}
	seenLot := map[LotRef]bool{ref: true}
	var others []LotRef
	for _, d := range dirs {
		res, err := q.Trace(ctx, d, Selector{Lot: &ref})
		if err != nil {
			return nil, err
		}
		for _, l := range res.Lots {
			r := LotRef{Item: l.Item, Lot: l.Lot}
			if !seenLot[r] {
				seenLot[r] = true
				others = append(others, r)
			}
		}
	}
	sort.Slice(others, func(i, j int) bool { return cmpRef(others[i], others[j]) < 0 })
	g.Lots = append(g.Lots, others...)

	// The events are read in sets, not lot by lot: the lots' own events
	// and transforms in one read (InEffectEvents), then every
	// consumption and production of the orders among them in one more
	// (OrdersEvents). A genealogy of thousands of lots is three reads,
	// not two per lot.
	seen := map[string]bool{}
	at := map[*Event]int64{}
	orders := map[string]bool{}
	add := func(r EventRow) error {
		if r.Status != Active || !exportTypes[r.Type] || seen[r.ID] {
			return nil
		}
		var e Event
		if err := json.Unmarshal(r.Body, &e); err != nil {
			return fmt.Errorf("stored event %s version %d is unreadable: %w", r.ID, r.Version, err)
		}
		seen[r.ID] = true
		at[&e] = r.Time.UnixNano()
		g.Events = append(g.Events, &e)
		if e.Order != "" && (e.Type == Consume || e.Type == Produce) {
			orders[e.Order] = true
		}
		return nil
	}
	rows, err := q.Store.FindLots(ctx, g.Lots)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	if len(rows) < len(g.Lots) {
		found := map[LotRef]bool{}
		for _, r := range rows {
			found[r.Ref] = true
		}
		for _, l := range g.Lots {
			if !found[l] {
				return nil, Errorf(ENOTFOUND, "lot %s is not known to the hub", l)
			}
		}
	}
	types := make([]EventType, 0, len(exportTypes))
	for t := range exportTypes {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
	if err := q.Store.InEffectEvents(ctx, InEffectParams{LotIDs: ids, Types: types}, func(_ int64, r EventRow) error { return add(r) }); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(orders))
	for o := range orders {
		names = append(names, o)
	}
	sort.Strings(names)
	if err := q.Store.OrdersEvents(ctx, names, add); err != nil {
		return nil, err
	}
	sort.SliceStable(g.Events, func(i, j int) bool {
		if ti, tj := at[g.Events[i]], at[g.Events[j]]; ti != tj {
			return ti < tj
		}
		return g.Events[i].ID < g.Events[j].ID
	})
	return g, nil
}
