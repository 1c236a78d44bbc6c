package core

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
)

// MassBalance is a lot's quantities in and out, per unit, and the orders
// it went through: `hub balance`.
type MassBalance struct {
	Item   string         `json:"item"`
	Lot    string         `json:"lot"`
	Units  []UnitBalance  `json:"units"`
	Uses   []LotUseEntry  `json:"uses"`   // where it went: orders, customers
	Orders []OrderBalance `json:"orders"` // the orders that produced or consumed it
}

// UnitBalance is a lot's balance in one unit. Difference is in − out;
// it is within tolerance unless out exceeds in by more than the
// overdrawn rule's tolerance.
type UnitBalance struct {
	UOM             string  `json:"uom"`
	Received        float64 `json:"received"`
	Produced        float64 `json:"produced"`
	Consumed        float64 `json:"consumed"`
	Shipped         float64 `json:"shipped"`
	Reversed        float64 `json:"reversed"` // quantity of reversed events, not counted above
	OnHand          float64 `json:"on_hand"`
	Difference      float64 `json:"difference"`
	WithinTolerance bool    `json:"within_tolerance"`
}

// LotUseEntry is one consumption or shipment of the lot.
type LotUseEntry struct {
	Type     EventType `json:"type"`
	Order    string    `json:"order,omitempty"`
	Customer *Party    `json:"customer,omitempty"`
	Qty      float64   `json:"qty"`
	UOM      string    `json:"uom"`
	Time     string    `json:"time"`
	Event    string    `json:"event"`
}

// OrderBalance is an order's inputs and outputs in one unit.
type OrderBalance struct {
	Order string  `json:"order"`
	UOM   string  `json:"uom"`
	In    float64 `json:"in"`
	Out   float64 `json:"out"`
}

// Balance returns the mass balance of a lot, or ENOTFOUND. tolerance is
// the fraction of what came in by which out may exceed it.
func (q *Queries) Balance(ctx context.Context, ref LotRef, tolerance float64) (*MassBalance, error) {
	id, err := q.findLot(ctx, ref)
	if err != nil {
		return nil, err
	}
	rows, err := q.Store.LotEvents(ctx, id)
	if err != nil {
		return nil, err
	}
	b := &MassBalance{Item: ref.Item, Lot: ref.Lot, Units: []UnitBalance{}, Uses: []LotUseEntry{}, Orders: []OrderBalance{}}
	units := map[string]*UnitBalance{}
	unit := func(u string) *UnitBalance {
		if units[u] == nil {
			units[u] = &UnitBalance{UOM: u}
		}
		return units[u]
	}
	orders := map[string]bool{}
	for _, r := range rows {
		if r.Status == Superseded {
			continue
		}
		var e Event
		if err := json.Unmarshal(r.Body, &e); err != nil {
			return nil, fmt.Errorf("stored event %s version %d is unreadable: %w", r.ID, r.Version, err)
		}
		type part struct {
			typ EventType
			qty float64
			uom string
		}
		var parts []part
		switch {
		case e.Type == Transform:
			for _, x := range e.Inputs {
				if x.Ref() == ref && x.Qty != nil {
					parts = append(parts, part{Consume, *x.Qty, x.UOM})
				}
			}
			for _, x := range e.Outputs {
				if x.Ref() == ref && x.Qty != nil {
					parts = append(parts, part{Produce, *x.Qty, x.UOM})
				}
			}
		case e.Lot != nil && *e.Lot == ref && e.Qty != nil:
			parts = append(parts, part{e.Type, *e.Qty, e.UOM})
		}
		for _, p := range parts {
			u := unit(p.uom)
			if r.Status == Reversed {
				u.Reversed += p.qty
				continue
			}
			switch p.typ {
			case Receive:
				u.Received += p.qty
			case Produce:
				u.Produced += p.qty
			case Consume:
				u.Consumed += p.qty
			case Ship:
				u.Shipped += p.qty
			}
			if p.typ == Consume || p.typ == Ship {
				b.Uses = append(b.Uses, LotUseEntry{Type: p.typ, Order: e.Order, Customer: e.Customer, Qty: p.qty, UOM: p.uom, Time: fmtTime(r.Time), Event: e.ID})
			}
			if e.Order != "" && (p.typ == Consume || p.typ == Produce) {
				orders[e.Order] = true
			}
		}
	}
	oh, err := q.Store.OnHand(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	for _, r := range oh {
		unit(r.UOM).OnHand = round(r.Qty)
	}
	for _, u := range units {
		in := u.Received + u.Produced
		u.Difference = round(in - u.Consumed - u.Shipped)
		u.WithinTolerance = u.Difference >= -in*tolerance-1e-9 && (in > 0 || u.Difference >= 0)
		b.Units = append(b.Units, *u)
	}
	sort.Slice(b.Units, func(i, j int) bool { return b.Units[i].UOM < b.Units[j].UOM })
	var names []string
	for o := range orders {
		names = append(names, o)
	}
	sort.Strings(names)
	for _, o := range names {
		evs, err := q.Store.OrderEvents(ctx, o)
		if err != nil {
			return nil, err
		}
		per := map[string]*OrderBalance{}
		var uoms []string
		for _, r := range evs {
			var e Event
			if json.Unmarshal(r.Body, &e) != nil || e.Qty == nil {
				continue
			}
			ob := per[e.UOM]
			if ob == nil {
				ob = &OrderBalance{Order: o, UOM: e.UOM}
				per[e.UOM] = ob
				uoms = append(uoms, e.UOM)
			}
			if e.Type == Consume {
				ob.In += *e.Qty
			} else {
				ob.Out += *e.Qty
			}
		}
		sort.Strings(uoms)
		for _, u := range uoms {
			b.Orders = append(b.Orders, *per[u])
		}
	}
	return b, nil
}
