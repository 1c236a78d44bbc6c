package report

import (
	"context"
	"slices"
	"sort"
	"strings"
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
	// One pass over the events, keeping of each lot only what the list
	// shows: all events of the lots in stock (where it is, what consumes
	// it), the ship events of the others.
	lots := make(map[core.LotRef]*recallLot, len(ids))
	for _, lr := range shipped {
		lots[lr] = &recallLot{shipped: true}
	}
	var shippedOnly []core.LotRef
	for _, lr := range stocked {
		if l := lots[lr]; l != nil {
			l.stocked = true
		} else {
			lots[lr] = &recallLot{stocked: true}
		}
	}
	for _, lr := range shipped {
		if !lots[lr].stocked {
			shippedOnly = append(shippedOnly, lr)
		}
	}
	add := func(lr core.LotRef, r *core.EventRow, e *recallFacts) error {
		asOf = latest(asOf, r.SeenAt)
		lots[lr].add(r, e)
		return nil
	}
	if err := readEvents(ctx, q, ids, stocked, core.InEffectParams{}, nil, add); err != nil {
		return nil, err
	}
	if err := readEvents(ctx, q, ids, shippedOnly, core.InEffectParams{Types: []core.EventType{core.Ship}}, nil, add); err != nil {
		return nil, err
	}
	for _, l := range lots {
		slices.SortFunc(l.ships, func(a, b *shipEvent) int { return a.key.cmp(b.key) })
		slices.SortFunc(l.consumes, func(a, b orderUse) int { return a.key.cmp(b.key) })
	}
	for _, s := range res.Shipments {
		dl := Delivery{CustomerID: s.Customer.ID, CustomerName: s.Customer.Name, SalesOrder: s.SalesOrder, Delivery: s.Delivery,
			Time: parseTime(s.Time), Item: s.Item, Lot: s.Lot, Qty: s.Qty, UOM: s.UOM}
		// The shipment carries no event id: match it to its ship event,
		// the first in time order not matched yet.
		ships := lots[core.LotRef{Item: s.Item, Lot: s.Lot}].ships
		for i, e := range ships {
			if e != nil && e.customer == s.Customer.ID && e.salesOrder == s.SalesOrder && e.delivery == s.Delivery &&
				e.time.Equal(dl.Time) && e.qty == s.Qty {
				dl.ShipTo, dl.Carrier, dl.Event = e.shipTo, e.carrier, e.key.id
				ships[i] = nil
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
	outputs := map[string]bool{} // orders with outputs: those in the links
	for _, l := range res.Links {
		if l.Order != "" {
			outputs[l.Order] = true
		}
	}
	for _, lr := range stocked {
		li, l := affected[lr], lots[lr]
		for _, q := range li.onHand {
			if q.Qty != 0 {
				d.OnHand = append(d.OnHand, StockRow{Item: lr.Item, Lot: lr.Lot, Location: l.location, Site: l.site, Qty: q.Qty, UOM: q.UOM, OnHold: li.onHold})
			}
		}
		for _, u := range l.consumes {
			if !outputs[u.Order] {
				u.Item, u.Lot = lr.Item, lr.Lot
				d.InProcess = append(d.InProcess, u.OrderUse)
			}
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
	rep.Meta.Params = selectorParams(sel)
	return rep, nil
}

// recallFacts is what the recall list reads of an event: the fields of
// core.Event with the same names (decoding these alone, and not params,
// inputs or outputs, halves the time of a wide recall's reads).
type recallFacts struct {
	Type       core.EventType `json:"type"`
	Time       string         `json:"time"`
	Lot        *core.LotRef   `json:"lot"`
	Qty        *float64       `json:"qty"`
	UOM        string         `json:"uom"`
	Order      string         `json:"order"`
	Customer   *core.Party    `json:"customer"`
	SalesOrder string         `json:"sales_order"`
	Delivery   string         `json:"delivery"`
	Carrier    string         `json:"carrier"`
	ShipTo     string         `json:"ship_to"`
	Site       string         `json:"site"`
	Location   string         `json:"location"`
	To         string         `json:"to"`
}

// eventKey orders a lot's events as hub lot lists them: event time, then
// id (in bytes).
type eventKey struct {
	time time.Time
	id   string
}

func (k eventKey) cmp(o eventKey) int {
	if c := k.time.Compare(o.time); c != 0 {
		return c
	}
	return strings.Compare(k.id, o.id)
}

// recallLot is what the recall list keeps of the events of one lot.
type recallLot struct {
	shipped, stocked bool
	ships            []*shipEvent // shipped: its ship events
	// stocked: where it is (as core.Queries.Lot finds it: the
	// destination of its last move or the location of a later event of
	// the lot; the site of its latest event with one), and what
	// consumed it.
	location, site       string
	locationAt, siteAt   eventKey
	hasLocation, hasSite bool
	consumes             []orderUse
}

// shipEvent is what a delivery row needs of a ship event.
type shipEvent struct {
	key                            eventKey
	customer, salesOrder, delivery string
	time                           time.Time
	qty                            float64
	shipTo, carrier                string
}

// orderUse is a consumption with its place in the lot's events.
type orderUse struct {
	OrderUse
	key eventKey
}

func (l *recallLot) add(r *core.EventRow, e *recallFacts) {
	k := eventKey{r.Time, r.ID}
	if l.shipped && r.Type == core.Ship && e.Customer != nil && e.Qty != nil {
		l.ships = append(l.ships, &shipEvent{key: k, customer: e.Customer.ID, salesOrder: e.SalesOrder, delivery: e.Delivery,
			time: parseTime(e.Time), qty: *e.Qty, shipTo: e.ShipTo, carrier: e.Carrier})
	}
	if !l.stocked {
		return
	}
	later := func(has bool, at eventKey) bool { return !has || at.cmp(k) < 0 }
	switch {
	case e.Type == core.Move && later(l.hasLocation, l.locationAt):
		l.location, l.locationAt, l.hasLocation = e.To, k, true
	case e.Type != core.Move && e.Location != "" && e.Lot != nil && later(l.hasLocation, l.locationAt):
		l.location, l.locationAt, l.hasLocation = e.Location, k, true
	}
	if e.Site != "" && later(l.hasSite, l.siteAt) {
		l.site, l.siteAt, l.hasSite = e.Site, k, true
	}
	if r.Type == core.Consume && e.Order != "" {
		// The time as hub lot shows it: to the second.
		u := orderUse{OrderUse: OrderUse{Order: e.Order, UOM: e.UOM, Time: parseTime(fmtTime(r.Time)), Event: r.ID}, key: k}
		if e.Qty != nil {
			u.Qty = *e.Qty
		}
		l.consumes = append(l.consumes, u)
	}
}
