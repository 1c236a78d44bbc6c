package core

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
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

// UnitBalance is a lot's balance in one unit. Difference is in − out
// (received + produced + adjusted − consumed − shipped: a scrapped
// quantity is an adjustment, not a loss);
// it is within tolerance unless out exceeds in by more than the
// overdrawn rule's tolerance.
type UnitBalance struct {
	UOM             string  `json:"uom"`
	Received        float64 `json:"received"`
	Produced        float64 `json:"produced"`
	Consumed        float64 `json:"consumed"`
	Shipped         float64 `json:"shipped"`
	Adjusted        float64 `json:"adjusted"` // inventory adjustments, signed (scrap, count corrections)
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
	// Confirmed: supplied by hand after the fact (hub confirm), not
	// recorded by a scan or the ERP.
	Confirmed bool `json:"confirmed,omitempty"`
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
	return q.balance(ctx, ref, tolerance, true)
}

// LotBalance is Balance without Orders: the lot's own quantities and
// uses. A raw lot consumed by thousands of orders has its balance at
// once, where Balance reads every order (the web application's lot
// page lists such a lot's orders without theirs).
func (q *Queries) LotBalance(ctx context.Context, ref LotRef, tolerance float64) (*MassBalance, error) {
	return q.balance(ctx, ref, tolerance, false)
}

func (q *Queries) balance(ctx context.Context, ref LotRef, tolerance float64, withOrders bool) (*MassBalance, error) {
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
				u.Reversed += math.Abs(p.qty)
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
			case Adjust:
				u.Adjusted += p.qty
			}
			if p.typ == Consume || p.typ == Ship {
				b.Uses = append(b.Uses, LotUseEntry{Type: p.typ, Order: e.Order, Customer: e.Customer, Qty: p.qty, UOM: p.uom, Time: fmtTime(r.Time), Event: e.ID, Confirmed: confirmedByHand(e.ID)})
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
		u.Difference = round(in + u.Adjusted - u.Consumed - u.Shipped)
		u.WithinTolerance = u.Difference >= -in*tolerance-1e-9 && (in > 0 || u.Difference >= 0)
		b.Units = append(b.Units, *u)
	}
	sort.Slice(b.Units, func(i, j int) bool { return b.Units[i].UOM < b.Units[j].UOM })
	var names []string
	for o := range orders {
		if withOrders {
			names = append(names, o)
		}
	}
	sort.Strings(names)
	for _, o := range names {
		ob, err := q.OrderMassBalance(ctx, o, 0)
		switch {
		case ErrorCode(err) == ENOTFOUND:
			continue // nothing of the order is in effect any more
		case err != nil:
			return nil, err
		}
		for _, u := range ob.Units {
			b.Orders = append(b.Orders, OrderBalance{Order: o, UOM: u.UOM, In: u.In, Out: u.Out})
		}
	}
	return b, nil
}

// confirmedByHand reports whether an event was written by hub confirm.
func confirmedByHand(eventID string) bool { return strings.HasPrefix(eventID, "confirm:") }

// OrderMassBalance is an order's inputs against its outputs: `hub balance
// --order`.
type OrderMassBalance struct {
	Order string `json:"order"`
	// Tolerance is the yield rule's: the fraction of what went in by which
	// what came out may exceed it.
	Tolerance float64            `json:"tolerance"`
	Units     []OrderUnitBalance `json:"units"`
	// WithinTolerance: every unit is.
	WithinTolerance bool          `json:"within_tolerance"`
	Inputs          []OrderLotQty `json:"inputs"`  // the consumptions
	Outputs         []OrderLotQty `json:"outputs"` // the productions
	// Adjustments: the in-effect adjust events naming the order of a lot
	// it consumed or produced (in the unit it did), e.g. components
	// returned from the order (SAP 262 without a reference). Qty is the
	// adjustment's, signed. They are netted into In and Out: see
	// OrderMassBalance.
	Adjustments []OrderLotQty `json:"adjustments"`
}

// OrderUnitBalance is an order's inputs and outputs in one unit.
// Difference is in − out. Compared says the unit had inputs to compare the
// outputs with; a unit with outputs only (KG of dough made into EA of
// bread) is not compared and counts as within tolerance, unless nothing
// went into the order at all.
type OrderUnitBalance struct {
	UOM             string  `json:"uom"`
	In              float64 `json:"in"`
	Out             float64 `json:"out"`
	Difference      float64 `json:"difference"`
	Compared        bool    `json:"compared"`
	WithinTolerance bool    `json:"within_tolerance"`
	// InAdjusted and OutAdjusted: how much the order's adjustments
	// changed In and Out (already in them): −50 is 50 returned.
	InAdjusted  float64 `json:"in_adjusted,omitempty"`
	OutAdjusted float64 `json:"out_adjusted,omitempty"`
}

// OrderLotQty is one consumption or production of an order.
type OrderLotQty struct {
	Item  string  `json:"item"`
	Lot   string  `json:"lot"`
	Qty   float64 `json:"qty"`
	UOM   string  `json:"uom"`
	Time  string  `json:"time"`
	Event string  `json:"event"`
	// Confirmed: supplied by hand after the fact (hub confirm).
	Confirmed bool `json:"confirmed,omitempty"`
	// Side, on an adjustment: "in" when it changed the order's input of
	// the lot, "out" when its output.
	Side string `json:"side,omitempty"`
}

// OrderMassBalance returns an order's in-effect inputs against its outputs
// per unit, or ENOTFOUND when nothing in effect was consumed or produced
// by it. tolerance is the yield rule's: out may exceed in by this fraction
// of in.
//
// In and Out are net of the order's adjustments: an in-effect adjust event
// that names the order (its "order") and a lot the order consumed, in the
// unit it consumed it in, is material coming back from the order (+qty:
// In decreases) or going to it beyond the recorded issues (−qty: In
// increases). One of a lot the order produced (and did not consume)
// changes Out by its signed quantity (−qty: part of the output taken
// back). An adjustment naming the order of a lot it neither consumed nor
// produced is not the order's and is left out. The genealogy follows the
// same returns (returns.go): a lot all of which came back is no input of
// the order any more, though its issues and returns are still listed
// here.
func (q *Queries) OrderMassBalance(ctx context.Context, order string, tolerance float64) (*OrderMassBalance, error) {
	rows, err := q.Store.OrderEvents(ctx, order)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, Errorf(ENOTFOUND, "order %s not found: nothing in effect was consumed or produced by it (orders are matched exactly as stored)", order)
	}
	b := &OrderMassBalance{Order: order, Tolerance: tolerance, Units: []OrderUnitBalance{}, Inputs: []OrderLotQty{}, Outputs: []OrderLotQty{}, Adjustments: []OrderLotQty{}}
	units := map[string]*OrderUnitBalance{}
	var uoms []string
	anyIn := false
	for _, r := range rows {
		var e Event
		if err := json.Unmarshal(r.Body, &e); err != nil {
			return nil, fmt.Errorf("stored event %s version %d is unreadable: %w", r.ID, r.Version, err)
		}
		if e.Lot == nil {
			continue
		}
		x := OrderLotQty{Item: e.Lot.Item, Lot: e.Lot.Lot, UOM: e.UOM, Time: fmtTime(r.Time), Event: e.ID, Confirmed: confirmedByHand(e.ID)}
		if e.Qty != nil {
			x.Qty = *e.Qty
			u := units[e.UOM]
			if u == nil {
				u = &OrderUnitBalance{UOM: e.UOM}
				units[e.UOM] = u
				uoms = append(uoms, e.UOM)
			}
			if e.Type == Consume {
				u.In += x.Qty
			} else {
				u.Out += x.Qty
			}
		}
		if e.Type == Consume {
			anyIn = true
			b.Inputs = append(b.Inputs, x)
		} else {
			b.Outputs = append(b.Outputs, x)
		}
	}
	adj, err := q.Store.OrderAdjusts(ctx, order)
	if err != nil {
		return nil, err
	}
	type lotUnit struct {
		ref LotRef
		uom string
	}
	in, out := map[lotUnit]bool{}, map[lotUnit]bool{}
	for _, x := range b.Inputs {
		in[lotUnit{LotRef{Item: x.Item, Lot: x.Lot}, x.UOM}] = true
	}
	for _, x := range b.Outputs {
		out[lotUnit{LotRef{Item: x.Item, Lot: x.Lot}, x.UOM}] = true
	}
	for _, r := range adj {
		var e Event
		if err := json.Unmarshal(r.Body, &e); err != nil {
			return nil, fmt.Errorf("stored event %s version %d is unreadable: %w", r.ID, r.Version, err)
		}
		if e.Lot == nil || e.Qty == nil || e.Order != order {
			continue
		}
		k := lotUnit{*e.Lot, e.UOM}
		x := OrderLotQty{Item: e.Lot.Item, Lot: e.Lot.Lot, Qty: *e.Qty, UOM: e.UOM, Time: fmtTime(r.Time), Event: e.ID, Confirmed: confirmedByHand(e.ID)}
		switch u := units[e.UOM]; {
		case u == nil:
			continue
		case in[k]:
			x.Side = "in"
			u.In -= *e.Qty
			u.InAdjusted -= *e.Qty
		case out[k]:
			x.Side = "out"
			u.Out += *e.Qty
			u.OutAdjusted += *e.Qty
		default:
			continue
		}
		b.Adjustments = append(b.Adjustments, x)
	}
	if len(b.Adjustments) > 0 {
		// Net of returns, something went in only if some unit still has
		// an input: an order whose every input came back has none.
		anyIn = false
		for _, u := range units {
			anyIn = anyIn || round(u.In) > 0
		}
	}
	sort.Strings(uoms)
	b.WithinTolerance = true
	for _, name := range uoms {
		u := units[name]
		u.In, u.Out = round(u.In), round(u.Out)
		u.InAdjusted, u.OutAdjusted = round(u.InAdjusted), round(u.OutAdjusted)
		u.Difference = round(u.In - u.Out)
		u.Compared = u.In > 0
		switch {
		case u.Compared:
			u.WithinTolerance = u.Out-u.In <= u.In*tolerance+1e-9
		default:
			// Outputs only in this unit: a conversion when something went
			// in (in another unit); an order with no input at all is not
			// balanced.
			u.WithinTolerance = anyIn || u.Out == 0
		}
		b.WithinTolerance = b.WithinTolerance && u.WithinTolerance
		b.Units = append(b.Units, *u)
	}
	return b, nil
}
