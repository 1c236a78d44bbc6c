package report

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/lothub/lothub/core"
)

// LotReport is the lot audit report: everything known about one lot, in
// the order an auditor reads it. Its JSON form is a stable interface (hub
// report lot --format json, GET /v1/reports/lot?format=json).
type LotReport struct {
	Report string  `json:"report"` // "lot"
	Meta   Meta    `json:"meta"`
	Lot    LotData `json:"lot"` // what the hash covers
}

// LotData is the content of a lot audit report.
type LotData struct {
	Identity Identity `json:"identity"`
	// Genealogy is the backward tree down to the raw materials, in tree
	// order (each lot once, under the first lot that reaches it), up to
	// DepthLimit levels; Beyond counts the lots of the deeper levels.
	Genealogy  []TreeRow          `json:"genealogy"`
	DepthLimit int                `json:"depth_limit"`
	Ancestors  int                `json:"ancestors"` // every lot it came from, at any depth
	Beyond     []LevelCount       `json:"beyond_depth_limit"`
	Suppliers  []core.SupplierLot `json:"suppliers"`
	Process    []ProcessOrder     `json:"process"`
	Steps      []StepRow          `json:"steps"`
	Forward    Forward            `json:"forward"`
	Balance    *core.MassBalance  `json:"mass_balance"`
	Exceptions []ExceptionRow     `json:"exceptions"`
	Holds      []HoldRow          `json:"holds"`
	Provenance []Provenance       `json:"provenance"`
}

// Identity says which lot the report is about and where it stands now.
type Identity struct {
	Item        string     `json:"item"`
	Lot         string     `json:"lot"`
	Description string     `json:"description,omitempty"` // params.product_description
	Site        string     `json:"site,omitempty"`
	Received    []core.Qty `json:"received"`
	Produced    []core.Qty `json:"produced"`
	// Manufactured is params.manufacture_date, else the time of its first
	// production; Expiry is params.expiry_date (or expiry, best_before).
	Manufactured string           `json:"manufactured,omitempty"`
	Expiry       string           `json:"expiry,omitempty"`
	OnHand       []StockRow       `json:"on_hand"`
	OnHold       bool             `json:"on_hold"`
	Holds        []core.HoldEntry `json:"holds"`
}

// StockRow is what a lot has on hand at one location, in one unit.
type StockRow struct {
	Item     string  `json:"item"`
	Lot      string  `json:"lot"`
	Location string  `json:"location"`
	Site     string  `json:"site,omitempty"`
	Qty      float64 `json:"qty"`
	UOM      string  `json:"uom"`
	OnHold   bool    `json:"on_hold"`
}

// TreeRow is one lot of the backward genealogy: it went into Into through
// Via (an order, or a transform event).
type TreeRow struct {
	Depth     int     `json:"depth"`
	Item      string  `json:"item"`
	Lot       string  `json:"lot"`
	Into      string  `json:"into,omitempty"` // ITEM/LOT of the lot it went into
	Via       string  `json:"via,omitempty"`
	Transform bool    `json:"transform,omitempty"`
	Qty       float64 `json:"qty_consumed"`
	UOM       string  `json:"uom,omitempty"`
	Confirmed bool    `json:"confirmed,omitempty"` // a link supplied by hand (hub confirm)
	// Raw: no parent is recorded; its receipt (the first, if several):
	Raw         bool   `json:"raw"`
	Supplier    string `json:"supplier,omitempty"`
	SupplierLot string `json:"supplier_lot,omitempty"`
	PO          string `json:"po,omitempty"`
	Received    string `json:"received,omitempty"`
	Receipts    int    `json:"receipts"`
}

// LevelCount is how many lots a genealogy level holds.
type LevelCount struct {
	Depth int `json:"depth"`
	Lots  int `json:"lots"`
}

// ProcessOrder is an order that made the lot or one of its ancestors.
type ProcessOrder struct {
	Order   string             `json:"order"`
	Start   string             `json:"start"`
	End     string             `json:"end"`
	Inputs  []core.OrderLotQty `json:"inputs"`
	Outputs []core.OrderLotQty `json:"outputs"`
}

// StepRow is a process or quality step of the lot or of an ancestor.
type StepRow struct {
	Item string `json:"item"`
	Lot  string `json:"lot"`
	core.StepEntry
}

// Forward is where the lot went.
type Forward struct {
	Descendants int                `json:"descendants"`
	Lots        []core.TracedLot   `json:"lots"` // up to the depth limit
	Beyond      []LevelCount       `json:"beyond_depth_limit"`
	Shipments   []core.Shipment    `json:"shipments"`
	Customers   []core.Customer    `json:"customers"`
	Uses        []core.LotUseEntry `json:"uses"` // the lot's own consumptions and shipments
}

// ExceptionRow is a gap (open or closed) that touches the lot: its own,
// an ancestor's, a descendant's, or an order's it went through.
type ExceptionRow struct {
	Touches string `json:"touches"` // this lot, ancestor, descendant, order
	core.Gap
}

// HoldRow is a hold or release of the lot, or a hold on a lot of its
// genealogy that is still in force.
type HoldRow struct {
	Item    string `json:"item"`
	Lot     string `json:"lot"`
	Touches string `json:"touches"` // this lot, ancestor, descendant
	Type    string `json:"type"`    // hold, release
	Time    string `json:"time"`
	Reason  string `json:"reason,omitempty"`
	Event   string `json:"event"`
	InForce bool   `json:"in_force"`
}

// Provenance is where one fact of the genealogy came from: the event and
// the connector and source record it was mapped from.
type Provenance struct {
	Link      string `json:"link"` // "FLOUR/F-A → DOUGH/D-1 via WO-1", or "receipt of FLOUR/F-A"
	Event     string `json:"event"`
	Type      string `json:"type"`
	Connector string `json:"connector"`
	Record    string `json:"record"`
}

// Lot builds the audit report of one lot, or returns ENOTFOUND ("lot X/Y
// not found") when the hub does not know it.
func Lot(ctx context.Context, q *core.Queries, ref core.LotRef, o Options) (*LotReport, error) {
	root, err := q.Lot(ctx, ref)
	if err != nil {
		return nil, err
	}
	limit := o.depthLimit()
	d := LotData{DepthLimit: limit, Genealogy: []TreeRow{}, Beyond: []LevelCount{}, Process: []ProcessOrder{},
		Steps: []StepRow{}, Exceptions: []ExceptionRow{}, Holds: []HoldRow{}, Provenance: []Provenance{}}
	var asOf time.Time

	// What is known of each lot read: its events (for provenance, steps,
	// description) come from q.Lot, as hub lot shows them.
	statuses := map[core.LotRef]*core.LotStatus{ref: root}
	sources := map[string]*core.Event{}
	addEvents := func(st *core.LotStatus) {
		for _, e := range st.Events {
			asOf = latest(asOf, parseTime(e.SeenAt))
			if e.Status == core.Active {
				sources[e.ID] = e.Event
			}
		}
	}
	addEvents(root)

	// Identity.
	bal, err := q.Balance(ctx, ref, o.tolerance())
	if err != nil {
		return nil, err
	}
	d.Balance = bal
	id := Identity{Item: ref.Item, Lot: ref.Lot, Site: root.Site, Received: []core.Qty{}, Produced: []core.Qty{},
		OnHand: []StockRow{}, OnHold: root.OnHold, Holds: root.Holds}
	for _, u := range bal.Units {
		if u.Received != 0 {
			id.Received = append(id.Received, core.Qty{Qty: u.Received, UOM: u.UOM})
		}
		if u.Produced != 0 {
			id.Produced = append(id.Produced, core.Qty{Qty: u.Produced, UOM: u.UOM})
		}
	}
	// The lot's attributes first (hub lot's: its receipts', productions'
	// and the transforms' that made it, and those it inherits from the
	// batch it was re-numbered from), then any other event's params.
	attrs := &core.Event{Params: root.Attributes}
	id.Expiry, id.Manufactured = param(attrs, paramExpiry...), param(attrs, paramMade...)
	for _, e := range root.Events {
		if e.Status != core.Active {
			continue
		}
		if e.Type == core.Transform && !slices.ContainsFunc(e.Event.Outputs, func(o core.LotQty) bool { return o.Ref() == ref }) {
			continue // a transform the lot went into: its params are its outputs'
		}
		if id.Description == "" {
			id.Description = param(e.Event, paramDescription...)
		}
		if id.Expiry == "" {
			id.Expiry = param(e.Event, paramExpiry...)
		}
		if m := param(e.Event, paramMade...); m != "" && id.Manufactured == "" {
			id.Manufactured = m
		}
		if (e.Type == core.Produce || e.Type == core.Transform) && id.Manufactured == "" {
			id.Manufactured = e.Time
		}
	}
	for _, oh := range root.OnHand {
		id.OnHand = append(id.OnHand, StockRow{Item: ref.Item, Lot: ref.Lot, Location: root.Location, Site: root.Site, Qty: oh.Qty, UOM: oh.UOM, OnHold: root.OnHold})
	}
	d.Identity = id

	// Backward genealogy.
	back, err := q.Trace(ctx, core.Backward, core.Selector{Lot: &ref})
	if err != nil {
		return nil, err
	}
	d.Ancestors = len(back.Lots)
	d.Suppliers = back.Suppliers
	if d.Suppliers == nil {
		d.Suppliers = []core.SupplierLot{}
	}
	depth := map[core.LotRef]int{ref: 0}
	for _, l := range back.Lots {
		depth[core.LotRef{Item: l.Item, Lot: l.Lot}] = l.Depth
	}
	d.Beyond = countBeyond(back.Lots, limit)
	orders := map[string]*core.OrderMassBalance{}
	orderOf := func(name string) (*core.OrderMassBalance, error) {
		if b, ok := orders[name]; ok {
			return b, nil
		}
		b, err := q.OrderMassBalance(ctx, name, 0.05)
		if core.ErrorCode(err) == core.ENOTFOUND {
			b, err = nil, nil
		}
		orders[name] = b
		return b, err
	}
	receipts := map[core.LotRef][]core.SupplierLot{}
	for _, s := range back.Suppliers {
		r := core.LotRef{Item: s.Item, Lot: s.Lot}
		receipts[r] = append(receipts[r], s)
	}
	// parents[child] = links into child.
	parents := map[core.LotRef][]core.Link{}
	for _, l := range back.Links {
		parents[l.Child] = append(parents[l.Child], l)
	}
	for _, ls := range parents {
		sort.Slice(ls, func(i, j int) bool {
			if ls[i].Parent.Item != ls[j].Parent.Item {
				return ls[i].Parent.Item < ls[j].Parent.Item
			}
			return ls[i].Parent.Lot < ls[j].Parent.Lot
		})
	}
	placed := map[core.LotRef]bool{ref: true}
	var walk func(child core.LotRef, lvl int) error
	walk = func(child core.LotRef, lvl int) error {
		if lvl > limit {
			return nil
		}
		for _, l := range parents[child] {
			p := l.Parent
			if placed[p] || depth[p] != lvl {
				continue
			}
			placed[p] = true
			row := TreeRow{Depth: lvl, Item: p.Item, Lot: p.Lot, Into: child.String(), Via: l.Order, Confirmed: l.Confirmed}
			if l.Transform != "" {
				row.Via, row.Transform = l.Transform, true
			}
			if l.Order != "" {
				ob, err := orderOf(l.Order)
				if err != nil {
					return err
				}
				if ob != nil {
					for _, in := range ob.Inputs {
						if in.Item == p.Item && in.Lot == p.Lot {
							row.Qty += in.Qty
							row.UOM = in.UOM
						}
					}
				}
			}
			row.Raw = len(parents[p]) == 0
			if rs := receipts[p]; len(rs) > 0 {
				row.Receipts = len(rs)
				row.Supplier = partyText(&core.Party{ID: rs[0].ID, Name: rs[0].Name})
				row.SupplierLot, row.PO, row.Received = rs[0].SupplierLot, rs[0].PO, rs[0].Time
			}
			d.Genealogy = append(d.Genealogy, row)
			if err := walk(p, lvl+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(ref, 1); err != nil {
		return nil, err
	}

	// The lots listed are read like hub lot reads them: steps, sources.
	listed := []core.LotRef{ref}
	for _, r := range d.Genealogy {
		lr := core.LotRef{Item: r.Item, Lot: r.Lot}
		st, err := q.Lot(ctx, lr)
		if err != nil {
			return nil, err
		}
		statuses[lr] = st
		addEvents(st)
		listed = append(listed, lr)
	}
	for _, lr := range listed {
		for _, s := range statuses[lr].Steps {
			d.Steps = append(d.Steps, StepRow{Item: lr.Item, Lot: lr.Lot, StepEntry: s})
		}
	}

	// Process: the orders that made the lot and its listed ancestors.
	seenOrder := map[string]bool{}
	for _, lr := range listed {
		for _, l := range parents[lr] {
			if l.Order == "" || seenOrder[l.Order] {
				continue
			}
			seenOrder[l.Order] = true
			ob, err := orderOf(l.Order)
			if err != nil {
				return nil, err
			}
			if ob == nil {
				continue
			}
			po := ProcessOrder{Order: ob.Order, Inputs: ob.Inputs, Outputs: ob.Outputs}
			for _, x := range append(append([]core.OrderLotQty{}, ob.Inputs...), ob.Outputs...) {
				if po.Start == "" || x.Time < po.Start {
					po.Start = x.Time
				}
				if x.Time > po.End {
					po.End = x.Time
				}
			}
			d.Process = append(d.Process, po)
			// Provenance of the link: the consumption and the output.
			for _, in := range ob.Inputs {
				if l2 := (core.LotRef{Item: in.Item, Lot: in.Lot}); placed[l2] && l2 != ref {
					d.Provenance = append(d.Provenance, provenance(sources, in.Event, l2.String()+" → "+lr.String()+" via "+ob.Order))
				}
			}
			for _, out := range ob.Outputs {
				if out.Item == lr.Item && out.Lot == lr.Lot {
					d.Provenance = append(d.Provenance, provenance(sources, out.Event, "output "+lr.String()+" of "+ob.Order))
				}
			}
		}
		for _, l := range parents[lr] {
			if l.Transform != "" && placed[l.Parent] {
				d.Provenance = append(d.Provenance, provenance(sources, l.Transform, l.Parent.String()+" → "+lr.String()+" (transform)"))
			}
		}
	}
	sort.SliceStable(d.Process, func(i, j int) bool { return d.Process[i].Start < d.Process[j].Start })
	for _, lr := range listed {
		for _, e := range statuses[lr].Events {
			if e.Status == core.Active && e.Type == core.Receive {
				d.Provenance = append(d.Provenance, provenance(sources, e.ID, "receipt of "+lr.String()))
			}
		}
	}

	// Forward: every lot it went into and every shipment.
	fwd, err := q.Recall(ctx, core.Selector{Lot: &ref})
	if err != nil {
		return nil, err
	}
	d.Forward = Forward{Descendants: len(fwd.Lots), Lots: []core.TracedLot{}, Beyond: countBeyond(fwd.Lots, limit),
		Shipments: fwd.Shipments, Customers: []core.Customer{}, Uses: bal.Uses}
	if d.Forward.Shipments == nil {
		d.Forward.Shipments = []core.Shipment{}
	}
	if fwd.Customers != nil {
		d.Forward.Customers = *fwd.Customers
	}
	for _, l := range fwd.Lots {
		if l.Depth <= limit {
			d.Forward.Lots = append(d.Forward.Lots, l)
		}
	}

	// Exceptions and holds that touch the lot: never omitted.
	touches := map[core.LotRef]string{ref: "this lot"}
	for _, l := range back.Lots {
		touches[core.LotRef{Item: l.Item, Lot: l.Lot}] = "ancestor"
	}
	for _, l := range fwd.Lots {
		if _, ok := touches[core.LotRef{Item: l.Item, Lot: l.Lot}]; !ok {
			touches[core.LotRef{Item: l.Item, Lot: l.Lot}] = "descendant"
		}
	}
	orderSet := map[string]bool{}
	for _, l := range append(append([]core.Link{}, back.Links...), fwd.Links...) {
		if l.Order != "" {
			orderSet[l.Order] = true
		}
	}
	for _, u := range bal.Uses {
		if u.Order != "" {
			orderSet[u.Order] = true
		}
	}
	m := core.Monitor{Store: q.Store}
	gaps, err := m.GapList(ctx, core.ExceptionFilter{})
	if err != nil {
		return nil, err
	}
	for _, g := range gaps {
		if t, ok := touches[core.LotRef{Item: g.Item, Lot: g.Lot}]; ok && g.Lot != "" {
			d.Exceptions = append(d.Exceptions, ExceptionRow{Touches: t, Gap: g})
		} else if g.Order != "" && orderSet[g.Order] {
			d.Exceptions = append(d.Exceptions, ExceptionRow{Touches: "order " + g.Order, Gap: g})
		}
	}
	sort.SliceStable(d.Exceptions, func(i, j int) bool {
		return d.Exceptions[i].Touches == "this lot" && d.Exceptions[j].Touches != "this lot"
	})
	for _, h := range root.Holds {
		d.Holds = append(d.Holds, HoldRow{Item: ref.Item, Lot: ref.Lot, Touches: "this lot", Type: string(h.Type), Time: h.Time, Reason: h.Reason, Event: h.Event})
	}
	if n := len(d.Holds); n > 0 && root.OnHold {
		d.Holds[n-1].InForce = true
	}
	active, err := q.Holds(ctx)
	if err != nil {
		return nil, err
	}
	for _, h := range active {
		r := core.LotRef{Item: h.Item, Lot: h.Lot}
		if t, ok := touches[r]; ok && r != ref {
			d.Holds = append(d.Holds, HoldRow{Item: h.Item, Lot: h.Lot, Touches: t, Type: "hold", Time: h.Since, Reason: h.Reason, Event: h.Event, InForce: true})
		}
	}

	rep := &LotReport{Report: "lot", Lot: d}
	rep.Meta, err = newMeta(ctx, q, o, "Lot audit report: "+ref.String(), asOf, d)
	if err != nil {
		return nil, err
	}
	rep.Meta.Params = &Params{Item: ref.Item, Lot: ref.Lot, Depth: o.depthLimit()}
	return rep, nil
}

func provenance(sources map[string]*core.Event, id, link string) Provenance {
	p := Provenance{Link: link, Event: id}
	if e := sources[id]; e != nil {
		p.Type = string(e.Type)
		if e.Source != nil {
			p.Connector, p.Record = e.Source.Connector, e.Source.Record
		}
	}
	if p.Connector == "" {
		p.Connector = "(not recorded)"
	}
	return p
}

// countBeyond counts the lots per level deeper than limit.
func countBeyond(lots []core.TracedLot, limit int) []LevelCount {
	by := map[int]int{}
	for _, l := range lots {
		if l.Depth > limit {
			by[l.Depth]++
		}
	}
	out := []LevelCount{}
	for dep, n := range by {
		out = append(out, LevelCount{Depth: dep, Lots: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Depth < out[j].Depth })
	return out
}
