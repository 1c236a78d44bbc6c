package core

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
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

// summary walks from the roots, then has the store count and total what
// the answer lists about the lots reached, in one read each, concurrently:
// lots per depth and item, shipments per customer and unit, receipts, and
// for recalls on hand per item and unit and the lots on hold. No row per
// lot or per shipment reaches the hub (the widest recall of the 1M plant
// read 148,578 shipment rows to total 200 customers).
func (q *Queries) summary(ctx context.Context, dir Direction, rootIDs []int64, recall bool) (*TraceSummary, error) {
	g, err := q.walk(ctx, dir, rootIDs, nil)
	if err != nil {
		return nil, err
	}
	ids := g.order // roots first
	reached := ids[len(g.roots):]
	depths := slices.Clone(g.level[len(g.roots):])
	var (
		roots     []LotRow
		counts    []LevelItemCount
		totals    []ShipmentTotal
		receipts  []ReceiptRow
		onHand    []ItemQty
		rootStock []LotQtyRow
		held      []int64
		wg        sync.WaitGroup
		errs      = make([]error, 7)
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
	run(0, func() (err error) { roots, err = q.Store.Lots(ctx, g.roots); return })
	if len(reached) > 0 {
		run(1, func() (err error) {
			counts, err = q.Store.LotCounts(ctx, LotCountParams{LotIDs: reached, Depths: depths})
			return
		})
	}
	run(2, func() (err error) { totals, err = q.Store.ShipmentTotals(ctx, ids); return })
	run(3, func() (err error) { receipts, err = q.Store.Receipts(ctx, ReceiptFilter{LotIDs: ids}); return })
	if recall {
		if len(reached) > 0 {
			run(4, func() (err error) { onHand, err = q.Store.OnHandTotals(ctx, reached); return })
		}
		run(5, func() (err error) { rootStock, err = q.Store.OnHand(ctx, g.roots); return })
		run(6, func() (err error) { held, err = q.Store.HeldAmong(ctx, ids); return })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	refs := make(map[int64]LotRef, len(roots))
	for _, r := range roots {
		refs[r.ID] = r.Ref
	}
	s := &TraceSummary{Direction: dir, Lots: len(reached), Links: len(g.hops),
		Suppliers: len(receipts), Customers: []Customer{}}
	lc := LevelCounter{}
	for _, c := range counts {
		lc[LevelKey{c.Depth, c.Item}] += c.Lots
	}
	s.Levels = lc.Levels()
	for _, t := range totals {
		s.Shipments += t.Shipments
	}
	if dir == Forward {
		s.Customers = customerTotals(totals)
	}
	isRoot := make(map[int64]bool, len(g.roots))
	for _, id := range g.roots {
		isRoot[id] = true
	}
	heldSet := make(map[int64]bool, len(held))
	for _, id := range held {
		heldSet[id] = true
	}
	stock := map[int64][]Qty{}
	if recall {
		for _, r := range rootStock {
			stock[r.LotID] = append(stock[r.LotID], Qty{Qty: round(r.Qty), UOM: r.UOM})
		}
		oh := make([]ItemQty, 0, len(onHand))
		for _, t := range onHand {
			oh = append(oh, ItemQty{Item: t.Item, UOM: t.UOM, Qty: round(t.Qty)})
		}
		slices.SortFunc(oh, func(a, b ItemQty) int { return cmp.Or(strings.Compare(a.Item, b.Item), strings.Compare(a.UOM, b.UOM)) })
		n := 0
		for _, id := range held {
			if !isRoot[id] {
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

// customerTotals is customers(shipments) from the store's totals: each
// customer's name is the first non-empty name its shipments carry, its
// units in the order of their first shipment, a unit's quantity the sum
// (rounded, as customers rounds a running sum) of its shipments.
func customerTotals(totals []ShipmentTotal) []Customer {
	type first struct {
		t  time.Time
		id string
	}
	before := func(a, b first) bool {
		if c := a.t.Compare(b.t); c != 0 {
			return c < 0
		}
		return a.id < b.id
	}
	type unit struct {
		q     Qty
		n     int
		first first
	}
	type cust struct {
		name      string
		nameFirst first
		named     bool
		units     map[string]*unit
	}
	byID := map[string]*cust{}
	for _, t := range totals {
		c := byID[t.CustomerID]
		if c == nil {
			c = &cust{units: map[string]*unit{}}
			byID[t.CustomerID] = c
		}
		f := first{t.FirstTime, t.FirstEvent}
		if t.CustomerName != "" && (!c.named || before(f, c.nameFirst)) {
			c.name, c.nameFirst, c.named = t.CustomerName, f, true
		}
		u := c.units[t.UOM]
		if u == nil {
			u = &unit{q: Qty{UOM: t.UOM}, first: f}
			c.units[t.UOM] = u
		} else if before(f, u.first) {
			u.first = f
		}
		u.q.Qty += t.Qty
		u.n += t.Shipments
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]Customer, 0, len(ids))
	for _, id := range ids {
		c := byID[id]
		us := make([]*unit, 0, len(c.units))
		for _, u := range c.units {
			us = append(us, u)
		}
		slices.SortFunc(us, func(a, b *unit) int {
			if before(a.first, b.first) {
				return -1
			}
			if before(b.first, a.first) {
				return 1
			}
			return 0
		})
		shipped := make([]Qty, 0, len(us))
		for _, u := range us {
			if u.n > 1 {
				u.q.Qty = round(u.q.Qty) // one shipment's quantity is listed as shipped
			}
			shipped = append(shipped, u.q)
		}
		out = append(out, Customer{ID: id, Name: c.name, Shipped: shipped})
	}
	return out
}
