package core

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
)

// LevelCount is how many lots of each item a trace reached at one depth.
type LevelCount struct {
	Depth int         `json:"depth"`
	Lots  int         `json:"lots"`
	Items []ItemCount `json:"items"`
}

// ItemCount is how many lots of one item.
type ItemCount struct {
	Item string `json:"item"`
	Lots int    `json:"lots"`
}

// ItemQty is a quantity of one item in one unit.
type ItemQty struct {
	Item string  `json:"item"`
	Qty  float64 `json:"qty"`
	UOM  string  `json:"uom"`
}

// TraceSummary is the answer to a trace or recall in counts: lots per
// depth level and item, customers with what they received, on-hand
// totals per item and unit, holds — without a row per lot reached. Its
// JSON form is the stable interface of `hub trace --summary --json` and
// `hub recall --summary --json`.
type TraceSummary struct {
	Root      *RootLot     `json:"root,omitempty"`
	Roots     []RootLot    `json:"roots,omitempty"`
	Direction Direction    `json:"direction"`
	Lots      int          `json:"lots"`   // lots reached, roots not counted
	Links     int          `json:"links"`  // links walked
	Levels    []LevelCount `json:"levels"` // by depth, items by name
	Suppliers int          `json:"suppliers"`
	Shipments int          `json:"shipments"`
	// Customers with what each received, by unit (forward traces and
	// recalls; empty backward, where shipments of the lots reached are
	// counted but not who got them).
	Customers []Customer `json:"customers"`
	// Recalls only: on hand of the lots reached (roots not included) per
	// item and unit, and how many of them are on hold.
	OnHand *[]ItemQty `json:"on_hand,omitempty"`
	OnHold *int       `json:"on_hold,omitempty"`
}

// LevelCounter counts lots per depth and item; the web application's
// graph summary and TraceSummary share it.
type LevelCounter map[LevelKey]int

// LevelKey is a depth level and an item.
type LevelKey struct {
	Depth int
	Item  string
}

// Add counts one lot.
func (c LevelCounter) Add(depth int, item string) { c[LevelKey{depth, item}]++ }

// Levels returns the counts by depth, then item.
func (c LevelCounter) Levels() []LevelCount {
	keys := make([]LevelKey, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b LevelKey) int {
		return cmp.Or(cmp.Compare(a.Depth, b.Depth), strings.Compare(a.Item, b.Item))
	})
	out := []LevelCount{}
	for _, k := range keys {
		if len(out) == 0 || out[len(out)-1].Depth != k.Depth {
			out = append(out, LevelCount{Depth: k.Depth})
		}
		l := &out[len(out)-1]
		l.Lots += c[k]
		l.Items = append(l.Items, ItemCount{Item: k.Item, Lots: c[k]})
	}
	return out
}

// TraceSummary is Trace answered in counts.
func (q *Queries) TraceSummary(ctx context.Context, dir Direction, sel Selector) (*TraceSummary, error) {
	if dir != Forward && dir != Backward {
		return nil, Errorf(EINVALID, "direction must be forward or backward, not %q", dir)
	}
	rootIDs, err := q.roots(ctx, sel)
	if err != nil {
		return nil, err
	}
	return q.summary(ctx, dir, rootIDs, false)
}

// RecallSummary is Recall answered in counts.
func (q *Queries) RecallSummary(ctx context.Context, sel Selector) (*TraceSummary, error) {
	rootIDs, err := q.roots(ctx, sel)
	if err != nil {
		return nil, err
	}
	return q.summary(ctx, Forward, rootIDs, true)
}

// summary walks from the roots, then reads each attribute of the whole
// set of lots reached in one store call (items, shipments, receipts, and
// for recalls on hand and holds), concurrently, and counts them.
func (q *Queries) summary(ctx context.Context, dir Direction, rootIDs []int64, recall bool) (*TraceSummary, error) {
	g, err := q.walk(ctx, dir, rootIDs, nil)
	if err != nil {
		return nil, err
	}
	ids := g.order // roots first
	reached := ids[len(g.roots):]
	var (
		lots      []LotRow
		shipments []ShipmentRow
		receipts  []ReceiptRow
		onHand    []LotQtyRow
		held      []int64
		wg        sync.WaitGroup
		errs      = make([]error, 5)
	)
	serial := q.Serial && len(ids) < prefetchAt
	run := func(i int, fn func() error) {
		if serial {
			errs[i] = fn()
			return
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = fn() }()
	}
	run(0, func() (err error) { lots, err = q.Store.Lots(ctx, ids); return })
	run(1, func() (err error) { shipments, err = q.Store.Shipments(ctx, ShipmentFilter{LotIDs: ids}); return })
	run(2, func() (err error) { receipts, err = q.Store.Receipts(ctx, ReceiptFilter{LotIDs: ids}); return })
	if recall {
		run(3, func() (err error) { onHand, err = q.Store.OnHand(ctx, ids); return })
		run(4, func() (err error) { held, err = q.Store.HeldAmong(ctx, ids); return })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	item := make(map[int64]string, len(lots))
	refs := make(map[int64]LotRef, len(g.roots))
	isRoot := make(map[int64]bool, len(g.roots))
	for _, id := range g.roots {
		isRoot[id] = true
	}
	for _, r := range lots {
		item[r.ID] = r.Ref.Item
		if isRoot[r.ID] {
			refs[r.ID] = r.Ref
		}
	}
	s := &TraceSummary{Direction: dir, Lots: len(reached), Links: len(g.hops),
		Suppliers: len(receipts), Shipments: len(shipments), Customers: []Customer{}}
	lc := LevelCounter{}
	for _, id := range reached {
		lc.Add(g.depth[id], item[id])
	}
	s.Levels = lc.Levels()
	if dir == Forward {
		// Customer totals as a recall computes them: from every shipment
		// of the roots and the lots reached, in the order a trace lists them.
		slices.SortFunc(shipments, func(a, b ShipmentRow) int {
			return cmpEvent(&a.Time, &b.Time, a.EventID, b.EventID, a.LotID, b.LotID)
		})
		ss := make([]Shipment, len(shipments))
		for i, r := range shipments {
			ss[i] = Shipment{Qty: r.Qty, UOM: r.UOM, Customer: r.Customer}
		}
		s.Customers = customers(ss)
	}
	heldSet := make(map[int64]bool, len(held))
	for _, id := range held {
		heldSet[id] = true
	}
	stock := map[int64][]Qty{}
	if recall {
		type iu struct{ item, uom string }
		tot := map[iu]float64{}
		for _, r := range onHand {
			if isRoot[r.LotID] {
				stock[r.LotID] = append(stock[r.LotID], Qty{Qty: round(r.Qty), UOM: r.UOM})
				continue
			}
			tot[iu{item[r.LotID], r.UOM}] += round(r.Qty)
		}
		keys := make([]iu, 0, len(tot))
		for k := range tot {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b iu) int { return cmp.Or(strings.Compare(a.item, b.item), strings.Compare(a.uom, b.uom)) })
		oh := make([]ItemQty, 0, len(keys))
		for _, k := range keys {
			oh = append(oh, ItemQty{Item: k.item, UOM: k.uom, Qty: round(tot[k])})
		}
		n := 0
		for _, id := range reached {
			if heldSet[id] {
				n++
			}
		}
		s.OnHand, s.OnHold = &oh, &n
	}
	for _, id := range g.roots {
		r := refs[id]
		rt := RootLot{Item: r.Item, Lot: r.Lot}
		if recall {
			v := stock[id]
			if v == nil {
				v = []Qty{}
			}
			rt.OnHand, rt.OnHold = &v, heldSet[id]
		}
		s.Roots = append(s.Roots, rt)
	}
	slices.SortFunc(s.Roots, func(a, b RootLot) int { return cmpRef(a.Ref(), b.Ref()) })
	if len(s.Roots) == 1 {
		s.Root, s.Roots = &s.Roots[0], nil
	}
	return s, nil
}
