package report

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
)

// FSMA 204: the electronic sortable spreadsheet FDA may request within 24
// hours under 21 CFR 1.1455(c)(3)(ii), "containing the information ... in
// the records you are required to keep under this subpart, for the foods
// and date ranges or traceability lot codes specified in FDA's request".
// One row per Critical Tracking Event (CTE) the hub records for the food:
//
//   - Receiving, 21 CFR 1.1345(a): traceability lot code (1), quantity and
//     unit of measure (2), product description (3), location description
//     of the immediate previous source other than a transporter (4),
//     location description where the food was received (5), date received
//     (6), location description of the traceability lot code source or the
//     TLC source reference (7), reference document type and number (8).
//   - Shipping, 21 CFR 1.1340(a): traceability lot code (1), quantity and
//     unit of measure (2), product description (3), location description
//     of the immediate subsequent recipient other than a transporter (4),
//     location description of the location you shipped from (5), date
//     shipped (6), TLC source location description or reference (7),
//     reference document type and number (8).
//   - Transformation, 21 CFR 1.1350(a): for the foods used (a)(1): their
//     traceability lot codes, product descriptions, quantities and units;
//     for the new food (a)(2): its new traceability lot code, the location
//     description where it was transformed (the TLC source, 1.1320), the
//     date transformation was completed, product description, quantity
//     and unit, reference document type and number.
//
// Column names follow the rule's wording of each KDE. They have not been
// compared with FDA's sortable spreadsheet template itself: no copy of its
// headers was found (docs/reports.md says what was checked). A KDE the data does not carry is left
// empty, never guessed, and Missing counts the rows that lack it.

// CTE names.
const (
	CTEReceiving      = "Receiving"
	CTEShipping       = "Shipping"
	CTETransformation = "Transformation"
)

// FSMAReport is the FSMA 204 sortable spreadsheet. Its JSON form is a
// stable interface.
type FSMAReport struct {
	Report string   `json:"report"` // "fsma204"
	Meta   Meta     `json:"meta"`
	FSMA   FSMAData `json:"fsma204"` // what the hash covers
}

// FSMAData is the content of the spreadsheet.
type FSMAData struct {
	Item string `json:"item"`
	Lot  string `json:"lot,omitempty"`
	From string `json:"from"` // inclusive
	To   string `json:"to"`   // exclusive
	Rows []CTE  `json:"rows"`
	// Inputs: the foods used by each transformation, one row each
	// (21 CFR 1.1350(a)(1)).
	Inputs []FoodUsed `json:"inputs"`
	// Missing: per KDE column, how many rows it applies to lack it.
	Missing []KDECount `json:"missing"`
}

// CTE is one critical tracking event with its key data elements.
type CTE struct {
	Event        string    `json:"cte"` // Receiving, Shipping, Transformation
	Date         time.Time `json:"date"`
	TLC          string    `json:"traceability_lot_code"`
	Description  string    `json:"product_description"`
	Qty          float64   `json:"quantity"`
	UOM          string    `json:"unit_of_measure"`
	PrevSource   string    `json:"immediate_previous_source"`
	ReceivedAt   string    `json:"receiving_location"`
	Recipient    string    `json:"immediate_subsequent_recipient"`
	ShippedFrom  string    `json:"shipping_location"`
	TransformAt  string    `json:"transformation_location"`
	TLCSource    string    `json:"tlc_source"`
	RefDocType   string    `json:"reference_document_type"`
	RefDocNumber string    `json:"reference_document_number"`
	FoodsUsed    string    `json:"foods_used"` // the input TLCs, "; "-separated
	Item         string    `json:"item"`
	Lot          string    `json:"lot"`
	EventID      string    `json:"event_id"`
	Connector    string    `json:"connector"`
	Record       string    `json:"record"`
}

// FoodUsed is one input of a transformation.
type FoodUsed struct {
	NewTLC      string    `json:"new_traceability_lot_code"`
	Date        time.Time `json:"date"`
	TLC         string    `json:"traceability_lot_code"`
	Description string    `json:"product_description"`
	Qty         float64   `json:"quantity"`
	UOM         string    `json:"unit_of_measure"`
	Item        string    `json:"item"`
	Lot         string    `json:"lot"`
}

// KDECount is how many rows lack one KDE.
type KDECount struct {
	Column  string `json:"column"`
	Rule    string `json:"rule"`
	Rows    int    `json:"rows"`    // rows the KDE applies to
	Missing int    `json:"missing"` // of those, rows without it
}

// FSMAColumn is one column of the spreadsheet: its header (the KDE as the
// rule words it), the rule sections it answers, the CTEs it applies to
// and how a row gives it.
type FSMAColumn struct {
	Header  string
	Rule    string
	Applies []string // CTEs; nil: every row
	KDE     bool     // a key data element (counted in Missing)
	text    func(*CTE) string
}

// FSMAColumns are the spreadsheet's columns, in order. Quantity and Date
// are written as typed cells by the XLSX writer.
var FSMAColumns = []FSMAColumn{
	{"Critical Tracking Event", "21 CFR 1.1310 (definition)", nil, false, func(c *CTE) string { return c.Event }},
	{"Event Date", "§1.1345(a)(6) date received; §1.1340(a)(6) date shipped; §1.1350(a)(2)(iii) date transformation completed", nil, true, func(c *CTE) string { return c.Date.Format(time.DateOnly) }},
	{"Traceability Lot Code", "§1.1345(a)(1); §1.1340(a)(1); §1.1350(a)(2)(i) new traceability lot code", nil, true, func(c *CTE) string { return c.TLC }},
	{"Product Description", "§1.1345(a)(3); §1.1340(a)(3); §1.1350(a)(2)(iv)", nil, true, func(c *CTE) string { return c.Description }},
	{"Quantity", "§1.1345(a)(2); §1.1340(a)(2); §1.1350(a)(2)(v)", nil, true, func(c *CTE) string { return num(c.Qty) }},
	{"Unit of Measure", "§1.1345(a)(2); §1.1340(a)(2); §1.1350(a)(2)(v)", nil, true, func(c *CTE) string { return c.UOM }},
	{"Location Description for the Immediate Previous Source", "§1.1345(a)(4)", []string{CTEReceiving}, true, func(c *CTE) string { return c.PrevSource }},
	{"Location Description for Where the Food Was Received", "§1.1345(a)(5)", []string{CTEReceiving}, true, func(c *CTE) string { return c.ReceivedAt }},
	{"Location Description for the Immediate Subsequent Recipient", "§1.1340(a)(4)", []string{CTEShipping}, true, func(c *CTE) string { return c.Recipient }},
	{"Location Description for the Location From Which You Shipped the Food", "§1.1340(a)(5)", []string{CTEShipping}, true, func(c *CTE) string { return c.ShippedFrom }},
	{"Location Description for Where the Food Was Transformed", "§1.1350(a)(2)(ii)", []string{CTETransformation}, true, func(c *CTE) string { return c.TransformAt }},
	{"Location Description for the Traceability Lot Code Source or Traceability Lot Code Source Reference", "§1.1345(a)(7); §1.1340(a)(7)", []string{CTEReceiving, CTEShipping}, true, func(c *CTE) string { return c.TLCSource }},
	{"Reference Document Type", "§1.1345(a)(8); §1.1340(a)(8); §1.1350(a)(2)(vi)", nil, true, func(c *CTE) string { return c.RefDocType }},
	{"Reference Document Number", "§1.1345(a)(8); §1.1340(a)(8); §1.1350(a)(2)(vi)", nil, true, func(c *CTE) string { return c.RefDocNumber }},
	{"Traceability Lot Codes of Foods Used in Transformation", "§1.1350(a)(1)(i) (one row each on the Foods Used sheet)", []string{CTETransformation}, true, func(c *CTE) string { return c.FoodsUsed }},
	{"Item", "lothub: the item code", nil, false, func(c *CTE) string { return c.Item }},
	{"Internal Lot", "lothub: the lot as the hub stores it", nil, false, func(c *CTE) string { return c.Lot }},
	{"Source Event", "lothub: the canonical event id", nil, false, func(c *CTE) string { return c.EventID }},
	{"Source Connector", "lothub: the connector the record came through", nil, false, func(c *CTE) string { return c.Connector }},
	{"Source Record", "lothub: the source record (file:line, ERP document)", nil, false, func(c *CTE) string { return c.Record }},
}

// Text returns the column's value in a row.
func (c FSMAColumn) Text(r *CTE) string { return c.text(r) }

// AppliesTo reports whether the column concerns a CTE.
func (c FSMAColumn) AppliesTo(cte string) bool {
	if c.Applies == nil {
		return true
	}
	for _, a := range c.Applies {
		if a == cte {
			return true
		}
	}
	return false
}

// FSMAParams say what the spreadsheet covers: the events of Item (and of
// Lot, when set) in [From, To).
type FSMAParams struct {
	Item     string
	Lot      string
	From, To time.Time
}

// FSMA204 builds the sortable spreadsheet for one food (item) over a date
// range. It returns EINVALID without an item or with an empty range, and
// ENOTFOUND when Lot is set and unknown.
func FSMA204(ctx context.Context, q *core.Queries, p FSMAParams, o Options) (*FSMAReport, error) {
	if p.Item == "" {
		return nil, core.Errorf(core.EINVALID, "the FSMA 204 spreadsheet is for one food: give its item (--item, item=)")
	}
	if p.From.IsZero() || p.To.IsZero() || !p.From.Before(p.To) {
		return nil, core.Errorf(core.EINVALID, "the FSMA 204 spreadsheet needs a date range: give --from and --to (from=, to=) with from before to")
	}
	var lots []core.LotRef
	ids := map[core.LotRef]int64{}
	if p.Lot != "" {
		lr := core.LotRef{Item: p.Item, Lot: p.Lot}
		rows, err := q.Store.FindLots(ctx, []core.LotRef{lr})
		if err != nil {
			return nil, err
		}
		if len(rows) == 0 {
			// core.Queries.Lot's words, as every report says it.
			return nil, core.Errorf(core.ENOTFOUND, "lot %s not found: item and lot are matched exactly as stored (case, spaces, zero padding); check both, or ingest the lot's events first", lr)
		}
		lots, ids[lr] = []core.LotRef{lr}, rows[0].ID
	} else {
		// Every lot of the item received or produced before the end of the
		// range: its shipments in the range may come from older lots.
		found, err := q.Store.Originated(ctx, core.OriginFilter{Item: p.Item, From: time.Unix(0, 0), To: p.To})
		if err != nil {
			return nil, err
		}
		rows, err := q.Store.Lots(ctx, found)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			lots = append(lots, r.Ref)
			ids[r.Ref] = r.ID
		}
		sort.Slice(lots, func(i, j int) bool { return lots[i].Lot < lots[j].Lot })
	}
	d := FSMAData{Item: p.Item, Lot: p.Lot, From: fmtTime(p.From), To: fmtTime(p.To), Rows: []CTE{}, Inputs: []FoodUsed{}}
	var asOf time.Time

	// The lots' in-effect events: those in the range make the rows; the
	// first with a product description, whenever it happened, gives the
	// lot's (21 CFR 1.1345(a)(3) asks for it on every CTE).
	descs := map[core.LotRef]string{} // product descriptions met
	first := map[core.LotRef]*lotEvent{}
	inRange := map[core.LotRef][]*lotEvent{}
	// An event's date is its time to the second, as hub lot shows it.
	within := func(t time.Time) bool {
		t = parseTime(fmtTime(t))
		return !t.Before(p.From) && t.Before(p.To)
	}
	err := readEvents(ctx, q, ids, lots, core.InEffectParams{}, func(r *core.EventRow) bool {
		return within(r.Time) || mayDescribe(r)
	}, func(lr core.LotRef, r *core.EventRow, ev *core.Event) error {
		e := &lotEvent{row: *r, ev: ev}
		if param(e.ev, paramDescription...) != "" && (first[lr] == nil || cmpEvents(e, first[lr]) < 0) {
			first[lr] = e
		}
		if within(e.row.Time) {
			inRange[lr] = append(inRange[lr], e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	orders := map[string]*core.OrderMassBalance{}
	for _, lr := range lots {
		desc := ""
		if e := first[lr]; e != nil {
			desc = param(e.ev, paramDescription...)
		}
		descs[lr] = desc
		es := inRange[lr]
		sortEvents(es)
		for _, x := range es {
			t := x.row.Time
			ev := x.ev
			asOf = latest(asOf, x.row.SeenAt)
			row := CTE{Date: parseTime(fmtTime(t)), Item: lr.Item, Lot: lr.Lot, EventID: x.row.ID, TLC: lr.Lot, Description: desc}
			if x := param(ev, paramDescription...); x != "" {
				row.Description = x
			}
			if x := param(ev, paramTLC...); x != "" {
				row.TLC = x
			}
			if ev.Source != nil {
				row.Connector, row.Record = ev.Source.Connector, ev.Source.Record
			}
			here := joinNonEmpty(", ", param(ev, paramLocDesc...), ev.Site, ev.Location, gln(param(ev, paramGLN...)))
			if ev.Qty != nil {
				row.Qty = *ev.Qty
			}
			row.UOM = ev.UOM
			switch x.row.Type {
			case core.Receive:
				row.Event = CTEReceiving
				// The receiver keeps the TLC its supplier assigned
				// (1.1345(a)(1)): the supplier lot when recorded.
				if ev.SupplierLot != "" && param(ev, paramTLC...) == "" {
					row.TLC = ev.SupplierLot
				}
				row.PrevSource = joinNonEmpty(", ", partyText(ev.Supplier), param(ev, paramSourceLoc...))
				row.ReceivedAt = here
				row.TLCSource = param(ev, paramTLCSource...)
				if ev.PO != "" {
					row.RefDocType, row.RefDocNumber = "Purchase Order", ev.PO
				}
			case core.Ship:
				row.Event = CTEShipping
				row.Recipient = joinNonEmpty(", ", partyText(ev.Customer), ev.ShipTo, gln(param(ev, paramShipToGLN...)))
				row.ShippedFrom = here
				row.TLCSource = param(ev, paramTLCSource...)
				switch {
				case ev.Delivery != "":
					row.RefDocType, row.RefDocNumber = "Delivery", ev.Delivery
				case ev.SalesOrder != "":
					row.RefDocType, row.RefDocNumber = "Sales Order", ev.SalesOrder
				}
			case core.Produce:
				row.Event = CTETransformation
				row.TransformAt = here
				row.RefDocType, row.RefDocNumber = "Work Order", ev.Order
				ob, ok := orders[ev.Order]
				if !ok {
					ob, err = q.OrderMassBalance(ctx, ev.Order, 0.05)
					if core.ErrorCode(err) == core.ENOTFOUND {
						ob, err = nil, nil
					}
					if err != nil {
						return nil, err
					}
					orders[ev.Order] = ob
				}
				if ob != nil {
					var used []string
					for _, in := range ob.Inputs {
						used = append(used, in.Lot)
						d.Inputs = append(d.Inputs, FoodUsed{NewTLC: row.TLC, Date: row.Date, TLC: in.Lot, Qty: in.Qty, UOM: in.UOM, Item: in.Item, Lot: in.Lot})
					}
					row.FoodsUsed = strings.Join(used, "; ")
				}
			case core.Transform:
				// The lot is one of the transform's outputs.
				row.Event = CTETransformation
				row.TransformAt = here
				row.RefDocType, row.RefDocNumber = "Transformation Record", ev.ID
				row.Qty, row.UOM = 0, ""
				for _, out := range ev.Outputs {
					if out.Item == lr.Item && out.Lot == lr.Lot && out.Qty != nil {
						row.Qty, row.UOM = *out.Qty, out.UOM
					}
				}
				isOutput := false
				for _, out := range ev.Outputs {
					isOutput = isOutput || out.Item == lr.Item && out.Lot == lr.Lot
				}
				if !isOutput {
					continue // an input: the CTE belongs to the output's food
				}
				var used []string
				for _, in := range ev.Inputs {
					used = append(used, in.Lot)
					fu := FoodUsed{NewTLC: row.TLC, Date: row.Date, TLC: in.Lot, UOM: in.UOM, Item: in.Item, Lot: in.Lot}
					if in.Qty != nil {
						fu.Qty = *in.Qty
					}
					d.Inputs = append(d.Inputs, fu)
				}
				row.FoodsUsed = strings.Join(used, "; ")
			default:
				continue
			}
			d.Rows = append(d.Rows, row)
		}
	}
	// Descriptions of the foods used, where the data has them: the first
	// in-effect event of each input lot that has one, all lots in one
	// read of the events with the params (a raw lot's thousands of
	// consumptions carry none).
	var unknown []core.LotRef
	for _, in := range d.Inputs {
		lr := core.LotRef{Item: in.Item, Lot: in.Lot}
		if _, ok := descs[lr]; !ok {
			descs[lr] = ""
			unknown = append(unknown, lr)
		}
	}
	if len(unknown) > 0 {
		inIDs, err := lotIDs(ctx, q, unknown)
		if err != nil {
			return nil, err
		}
		clear(first)
		err = readEvents(ctx, q, inIDs, unknown, core.InEffectParams{WithParams: paramDescription}, nil, func(lr core.LotRef, r *core.EventRow, ev *core.Event) error {
			e := &lotEvent{row: *r, ev: ev}
			if param(e.ev, paramDescription...) != "" && (first[lr] == nil || cmpEvents(e, first[lr]) < 0) {
				first[lr] = e
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for lr, e := range first {
			descs[lr] = param(e.ev, paramDescription...)
		}
	}
	for i := range d.Inputs {
		in := &d.Inputs[i]
		in.Description = descs[core.LotRef{Item: in.Item, Lot: in.Lot}]
	}
	sort.SliceStable(d.Rows, func(i, j int) bool {
		a, b := d.Rows[i], d.Rows[j]
		if !a.Date.Equal(b.Date) {
			return a.Date.Before(b.Date)
		}
		return a.EventID < b.EventID
	})
	for _, c := range FSMAColumns {
		if !c.KDE {
			continue
		}
		k := KDECount{Column: c.Header, Rule: c.Rule}
		for i := range d.Rows {
			r := &d.Rows[i]
			if !c.AppliesTo(r.Event) {
				continue
			}
			k.Rows++
			if strings.TrimSpace(c.text(r)) == "" {
				k.Missing++
			}
		}
		d.Missing = append(d.Missing, k)
	}
	rep := &FSMAReport{Report: "fsma204", FSMA: d}
	rep.Meta, err = newMeta(ctx, q, o, "FSMA 204 sortable spreadsheet: "+p.Item, asOf, d)
	if err != nil {
		return nil, err
	}
	rep.Meta.Params = &Params{Item: p.Item, Lot: p.Lot, From: p.From.UTC().Format(time.RFC3339Nano), To: p.To.UTC().Format(time.RFC3339Nano)}
	return rep, nil
}

func gln(s string) string {
	if s == "" {
		return ""
	}
	return "GLN " + s
}

// mayDescribe reports whether a stored event may carry a product
// description (a param named "product_description" or "description"):
// the others need not be decoded to look for one.
func mayDescribe(r *core.EventRow) bool { return bytes.Contains(r.Body, []byte("description")) }
