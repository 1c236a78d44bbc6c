package report

import (
	"context"
	"sort"
	"time"

	"github.com/lothub/lothub/core"
)

// RecallReport is the recall list: who got an affected lot, what is still
// on hand to block, which orders in process consume an affected lot, and
// which lots are on hold. Its JSON form is a stable interface.
type RecallReport struct {
	Report string     `json:"report"` // "recall"
	Meta   Meta       `json:"meta"`
	Recall RecallData `json:"recall"` // what the hash covers
}

// RecallData is the content of a recall list.
type RecallData struct {
	Scope string        `json:"scope"` // "lot FLOUR/F-A", "lots of FLOUR from … to …"
	Roots []core.LotRef `json:"roots"`
	Lots  int           `json:"lots"` // affected lots, roots included
	// Deliveries: one row per customer delivery of an affected lot.
	Deliveries []Delivery `json:"deliveries"`
	// OnHand: what affected lots still have, per lot and location.
	OnHand []StockRow `json:"on_hand"`
	// InProcess: orders that consumed an affected lot and have produced
	// nothing yet (work in process that would carry it on).
	InProcess []OrderUse `json:"in_process"`
	// Held: affected lots on hold now.
	Held      []core.ActiveHold `json:"held"`
	Customers []core.Customer   `json:"customers"`
}

// Delivery is one shipment of an affected lot to a customer.
type Delivery struct {
	CustomerID   string    `json:"customer_id"`
	CustomerName string    `json:"customer_name"`
	ShipTo       string    `json:"ship_to,omitempty"`
	SalesOrder   string    `json:"sales_order"`
	Delivery     string    `json:"delivery,omitempty"`
	Time         time.Time `json:"time"`
	Item         string    `json:"item"`
	Lot          string    `json:"lot"`
	Qty          float64   `json:"qty"`
	UOM          string    `json:"uom"`
	Carrier      string    `json:"carrier,omitempty"`
	Event        string    `json:"event"`
}

// OrderUse is an order that consumed an affected lot.
type OrderUse struct {
	Order string    `json:"order"`
	Item  string    `json:"item"`
	Lot   string    `json:"lot"`
	Qty   float64   `json:"qty"`
	UOM   string    `json:"uom"`
	Time  time.Time `json:"time"`
	Event string    `json:"event"`
}

// Recall builds the recall list of the lots sel selects (ENOTFOUND when
// none exists).
func Recall(ctx context.Context, q *core.Queries, sel core.Selector, o Options) (*RecallReport, error) {
	res, err := q.Recall(ctx, sel)
	if err != nil {
		return nil, err
	}
	d := RecallData{Scope: sel.String(), Roots: []core.LotRef{}, Deliveries: []Delivery{}, OnHand: []StockRow{},
		InProcess: []OrderUse{}, Held: []core.ActiveHold{}, Customers: []core.Customer{}}
	type lotInfo struct {
		onHand []core.Qty
		onHold bool
	}
	affected := map[core.LotRef]lotInfo{}
	var order []core.LotRef
	roots := res.Roots
	if res.Root != nil {
		roots = []core.RootLot{*res.Root}
	}
	for _, r := range roots {
		d.Roots = append(d.Roots, r.Ref())
		lr := r.Ref()
		affected[lr] = lotInfo{onHold: r.OnHold}
		if r.OnHand != nil {
			affected[lr] = lotInfo{onHand: *r.OnHand, onHold: r.OnHold}
		}
		order = append(order, lr)
	}
	for _, l := range res.Lots {
		lr := core.LotRef{Item: l.Item, Lot: l.Lot}
		li := lotInfo{onHold: l.OnHold}
		if l.OnHand != nil {
			li.onHand = *l.OnHand
		}
		affected[lr] = li
		order = append(order, lr)
	}
	d.Lots = len(order)
	if res.Customers != nil {
		d.Customers = *res.Customers
	}
	var asOf time.Time

	// Ship-to and carrier are on the ship events, where the stock is on
	// the lots' other events: read the in-effect events of every lot
	// listed at once (a read per lot took minutes for a wide recall).
	var shipped, stocked []core.LotRef
	seen := map[core.LotRef]bool{}
	for _, s := range res.Shipments {
		lr := core.LotRef{Item: s.Item, Lot: s.Lot}
		if !seen[lr] {
			seen[lr] = true
			shipped = append(shipped, lr)
		}
	}
	for _, lr := range order {
		for _, q := range affected[lr].onHand {
			if q.Qty != 0 {
				stocked = append(stocked, lr)
				break
			}
		}
	}
	ids, err := lotIDs(ctx, q, append(shipped[:len(shipped):len(shipped)], stocked...))
	if err != nil {
		return nil, err
	}
	// Ship events by lot, in event time order, to match each shipment to
	// its event.
	shipEvents := map[core.LotRef][]*lotEvent{}
	err = readEvents(ctx, q, ids, shipped, core.InEffectParams{Types: []core.EventType{core.Ship}}, nil, func(lr core.LotRef, e *lotEvent) error {
		asOf = latest(asOf, e.row.SeenAt)
		shipEvents[lr] = append(shipEvents[lr], e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, es := range shipEvents {
		sortEvents(es)
	}
	for _, s := range res.Shipments {
		dl := Delivery{CustomerID: s.Customer.ID, CustomerName: s.Customer.Name, SalesOrder: s.SalesOrder, Delivery: s.Delivery,
			Time: parseTime(s.Time), Item: s.Item, Lot: s.Lot, Qty: s.Qty, UOM: s.UOM}
		// The shipment carries no event id: match it to its ship event.
		lr := core.LotRef{Item: s.Item, Lot: s.Lot}
		for i, x := range shipEvents[lr] {
			if x == nil {
				continue
			}
			e := x.ev
			if e.Customer != nil && e.Customer.ID == s.Customer.ID && e.SalesOrder == s.SalesOrder && e.Delivery == s.Delivery &&
				parseTime(e.Time).Equal(dl.Time) && e.Qty != nil && *e.Qty == s.Qty {
				dl.ShipTo, dl.Carrier, dl.Event = e.ShipTo, e.Carrier, x.row.ID
				shipEvents[lr][i] = nil
				break
			}
		}
		d.Deliveries = append(d.Deliveries, dl)
	}
	sort.SliceStable(d.Deliveries, func(i, j int) bool {
		a, b := d.Deliveries[i], d.Deliveries[j]
		if a.CustomerID != b.CustomerID {
			return a.CustomerID < b.CustomerID
		}
		return a.Time.Before(b.Time)
	})

	// Stock to block, where it is (as hub lot says), and the orders in
	// process that consume it.
	events := map[core.LotRef][]*lotEvent{}
	err = readEvents(ctx, q, ids, stocked, core.InEffectParams{}, nil, func(lr core.LotRef, e *lotEvent) error {
		asOf = latest(asOf, e.row.SeenAt)
		events[lr] = append(events[lr], e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	outputs := map[string]bool{} // orders with outputs: those in the links
	for _, l := range res.Links {
		if l.Order != "" {
			outputs[l.Order] = true
		}
	}
	for _, lr := range stocked {
		li := affected[lr]
		es := events[lr]
		sortEvents(es)
		location, site := whereIs(es)
		for _, q := range li.onHand {
			if q.Qty != 0 {
				d.OnHand = append(d.OnHand, StockRow{Item: lr.Item, Lot: lr.Lot, Location: location, Site: site, Qty: q.Qty, UOM: q.UOM, OnHold: li.onHold})
			}
		}
		for _, x := range es {
			e := x.ev
			if x.row.Type != core.Consume || e.Order == "" || outputs[e.Order] {
				continue
			}
			// The time as hub lot shows it: to the second.
			u := OrderUse{Order: e.Order, Item: lr.Item, Lot: lr.Lot, UOM: e.UOM, Time: parseTime(fmtTime(x.row.Time)), Event: x.row.ID}
			if e.Qty != nil {
				u.Qty = *e.Qty
			}
			d.InProcess = append(d.InProcess, u)
		}
	}
	holds, err := q.Holds(ctx)
	if err != nil {
		return nil, err
	}
	for _, h := range holds {
		if _, ok := affected[core.LotRef{Item: h.Item, Lot: h.Lot}]; ok {
			d.Held = append(d.Held, h)
		}
	}
	rep := &RecallReport{Report: "recall", Recall: d}
	rep.Meta, err = newMeta(ctx, q, o, "Recall list: "+d.Scope, asOf, d)
	if err != nil {
		return nil, err
	}
	return rep, nil
}
