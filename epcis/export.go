package epcis

import (
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/epcis/schema"
)

// ContextURL is the JSON-LD @context of EPCIS 2.0 documents.
const ContextURL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

// LothubNS is the namespace of lothub's EPCIS extension fields (prefix
// lothub: in an export's @context): a receipt's supplier lot, an
// adjustment's reason, a step's operator and parameters.
const LothubNS = "urn:lothub:ns:"

// cbvBizSteps are the CBV 2.0 business steps: a step of that name is
// exported as the bare word, any other as urn:lothub:step:{name}.
var cbvBizSteps = map[string]bool{}

func init() {
	for _, s := range strings.Fields(`accepting arriving assembling collecting commissioning consigning
	creating_class_instance cycle_counting decommissioning departing destroying disassembling dispensing
	encoding entering_exiting holding inspecting installing killing loading other packing picking receiving
	removing repackaging repairing replacing reserving retail_selling sampling sensor_reporting shipping
	staging_outbound stock_taking stocking storing transporting unloading unpacking void_shipping`) {
		cbvBizSteps[s] = true
	}
}

// ExportOptions are what an export needs beyond the genealogy.
type ExportOptions struct {
	// GTINItems is hub.yaml epcis.gtin_items (GTIN-14 → item); the export
	// uses it inversely, item → GTIN.
	GTINItems map[string]string
	// Now stamps creationDate; time.Now when nil.
	Now func() time.Time
	// Format is FormatJSON (JSON-LD, the default when "") or FormatXML
	// (the EPCIS 2.0 XML binding).
	Format string
}

// Export formats.
const (
	FormatJSON = "json"
	FormatXML  = "xml"
)

// ExportResult is an exported EPCISDocument and what a user must know of it.
type ExportResult struct {
	Document []byte // indented JSON-LD valid against GS1's schema, or XML (ExportOptions.Format)
	Events   int    // EPCIS events in it
	// NoGTIN lists the items with no GTIN (not a GTIN themselves, not in
	// gtin_items): their lots are written as urn:lothub:lot:… classes,
	// which lothub reads back but other EPCIS systems do not know.
	NoGTIN []string
}

// The export's JSON shapes, fields in the order the standard lists them.
type (
	xDoc struct {
		Context       []any  `json:"@context"`
		Type          string `json:"type"`
		SchemaVersion string `json:"schemaVersion"`
		CreationDate  string `json:"creationDate"`
		Body          struct {
			EventList []*xEvent `json:"eventList"`
		} `json:"epcisBody"`
	}
	xEvent struct {
		Type               string    `json:"type"`
		EventTime          string    `json:"eventTime"`
		EventTimeZone      string    `json:"eventTimeZoneOffset"`
		EventID            string    `json:"eventID"`
		Action             string    `json:"action,omitempty"`
		QuantityList       []xQty    `json:"quantityList,omitempty"`
		InputQuantityList  []xQty    `json:"inputQuantityList,omitempty"`
		OutputQuantityList []xQty    `json:"outputQuantityList,omitempty"`
		TransformationID   string    `json:"transformationID,omitempty"`
		BizStep            string    `json:"bizStep,omitempty"`
		Disposition        string    `json:"disposition,omitempty"`
		ReadPoint          *place    `json:"readPoint,omitempty"`
		BizLocation        *place    `json:"bizLocation,omitempty"`
		BizTransactionList []bizTx   `json:"bizTransactionList,omitempty"`
		SourceList         []xSource `json:"sourceList,omitempty"`
		DestinationList    []xDest   `json:"destinationList,omitempty"`
		// lothub's extensions (namespace LothubNS, prefix lothub:):
		// what EPCIS has no field for, read back by capture.
		SupplierLot string         `json:"lothub:supplierLot,omitempty"`
		Reason      string         `json:"lothub:reason,omitempty"`
		Operator    string         `json:"lothub:operator,omitempty"`
		Params      map[string]any `json:"lothub:params,omitempty"`
		Hold        string         `json:"lothub:hold,omitempty"` // "hold" or "release"
		at          time.Time      // for ordering
		key         string         // canonical identity, for ordering
	}
	xQty struct {
		EPCClass string   `json:"epcClass"`
		Quantity *float64 `json:"quantity,omitempty"`
		UOM      string   `json:"uom,omitempty"`
	}
	xSource struct {
		Type   string `json:"type"`
		Source string `json:"source"`
	}
	xDest struct {
		Type        string `json:"type"`
		Destination string `json:"destination"`
	}
)

// Export writes the genealogy g as one EPCIS 2.0 JSON-LD EPCISDocument
// (docs/epcis.md, "Export"): receipts as ObjectEvent ADD receiving,
// each order's consumptions and productions as one TransformationEvent
// (transformationID and prodorder the order), transforms as
// TransformationEvents, shipments as ObjectEvent OBSERVE shipping, holds
// and releases as ObjectEvent OBSERVE with a disposition. CBV values are
// bare words (errata to issue 19). The document is validated against
// GS1's schema before it is returned: an error means a bug, or a unit
// with no UN/CEFACT code (the error names it).
func Export(g *core.Genealogy, opt ExportOptions) (*ExportResult, error) {
	x := &exporter{gtin: inverseGTIN(opt.GTINItems), noGTIN: map[string]bool{}}
	var events []*xEvent
	orders := map[string]*xEvent{}
	for _, e := range g.Events {
		when, err := time.Parse(time.RFC3339Nano, e.Time)
		if err != nil {
			return nil, fmt.Errorf("event %s: time %q is not RFC 3339", e.ID, e.Time)
		}
		when = when.UTC()
		newEvent := func(typ, key string) *xEvent {
			xe := &xEvent{Type: typ, EventTime: when.Format("2006-01-02T15:04:05.000Z"), EventTimeZone: "+00:00",
				EventID: EventUUID(key), at: when, key: key}
			if e.Location != "" {
				xe.BizLocation = &place{ID: URIOf("location", e.Location)}
			}
			events = append(events, xe)
			return xe
		}
		switch e.Type {
		case core.Receive:
			q, err := x.qty(e.ID, *e.Lot, e.Qty, e.UOM)
			if err != nil {
				return nil, err
			}
			xe := newEvent("ObjectEvent", "event:"+e.ID)
			xe.Action, xe.BizStep, xe.QuantityList = "ADD", "receiving", []xQty{q}
			if e.Supplier != nil && e.Supplier.ID != "" {
				xe.SourceList = []xSource{{Type: "owning_party", Source: URIOf("party", e.Supplier.ID)}}
			}
			if e.PO != "" {
				xe.BizTransactionList = []bizTx{{Type: "po", BizTransaction: URIOf("po", e.PO)}}
			}
			if e.SupplierLot != "" && e.SupplierLot != e.Lot.Lot {
				xe.SupplierLot = e.SupplierLot
			}
		case core.Step:
			// The lot's state, not stock moved: a quantity element
			// without a quantity.
			q, err := x.qty(e.ID, *e.Lot, nil, "")
			if err != nil {
				return nil, err
			}
			xe := newEvent("ObjectEvent", "event:"+e.ID)
			xe.Action, xe.QuantityList = "OBSERVE", []xQty{q}
			xe.BizStep = e.Step
			if !cbvBizSteps[e.Step] {
				xe.BizStep = URIOf("step", e.Step)
			}
			if e.Equipment != "" {
				xe.ReadPoint = &place{ID: URIOf("equipment", e.Equipment)}
			}
			xe.Operator = e.Operator
			if len(e.Params) > 0 {
				xe.Params = e.Params
			}
		case core.Move:
			q, err := x.qty(e.ID, *e.Lot, e.Qty, e.UOM)
			if err != nil {
				return nil, err
			}
			xe := newEvent("ObjectEvent", "event:"+e.ID)
			xe.Action, xe.BizStep, xe.QuantityList = "OBSERVE", "storing", []xQty{q}
			if e.From != "" {
				xe.SourceList = []xSource{{Type: "location", Source: URIOf("location", e.From)}}
			}
			xe.DestinationList = []xDest{{Type: "location", Destination: URIOf("location", e.To)}}
		case core.Adjust:
			// Stock written off (negative) is DELETE, stock found (positive)
			// ADD, of the quantity, in a cycle count.
			if e.Qty == nil {
				continue
			}
			abs := *e.Qty
			action := "ADD"
			if abs < 0 {
				abs, action = -abs, "DELETE"
			}
			q, err := x.qty(e.ID, *e.Lot, &abs, e.UOM)
			if err != nil {
				return nil, err
			}
			xe := newEvent("ObjectEvent", "event:"+e.ID)
			xe.Action, xe.BizStep, xe.QuantityList, xe.Reason = action, "cycle_counting", []xQty{q}, e.Reason
		case core.Ship:
			q, err := x.qty(e.ID, *e.Lot, e.Qty, e.UOM)
			if err != nil {
				return nil, err
			}
			xe := newEvent("ObjectEvent", "event:"+e.ID)
			xe.Action, xe.BizStep, xe.QuantityList = "OBSERVE", "shipping", []xQty{q}
			if e.Customer != nil && e.Customer.ID != "" {
				xe.DestinationList = []xDest{{Type: "owning_party", Destination: URIOf("party", e.Customer.ID)}}
			}
			if e.SalesOrder != "" {
				xe.BizTransactionList = append(xe.BizTransactionList, bizTx{Type: "po", BizTransaction: URIOf("po", e.SalesOrder)})
			}
			if e.Delivery != "" {
				xe.BizTransactionList = append(xe.BizTransactionList, bizTx{Type: "desadv", BizTransaction: URIOf("desadv", e.Delivery)})
			}
		case core.Hold, core.Release:
			// A quantity element without a quantity: the lot's state, not
			// stock moved.
			q, err := x.qty(e.ID, *e.Lot, nil, "")
			if err != nil {
				return nil, err
			}
			xe := newEvent("ObjectEvent", "event:"+e.ID)
			xe.Action, xe.QuantityList = "OBSERVE", []xQty{q}
			xe.Hold, xe.Reason = string(e.Type), e.Reason
			if e.Type == core.Hold {
				xe.BizStep, xe.Disposition = "holding", "non_sellable_other"
			} else {
				xe.Disposition = "available"
			}
		case core.Consume, core.Produce:
			// One TransformationEvent per order: its time is the latest
			// of the order's events.
			xe := orders[e.Order]
			if xe == nil {
				xe = newEvent("TransformationEvent", "order:"+e.Order)
				xe.TransformationID = URIOf("order", e.Order)
				xe.BizTransactionList = []bizTx{{Type: "prodorder", BizTransaction: URIOf("order", e.Order)}}
				orders[e.Order] = xe
			} else if when.After(xe.at) {
				xe.at = when
				xe.EventTime = when.Format("2006-01-02T15:04:05.000Z")
				xe.BizLocation = nil
				if e.Location != "" {
					xe.BizLocation = &place{ID: URIOf("location", e.Location)}
				}
			}
			q, err := x.qty(e.ID, *e.Lot, e.Qty, e.UOM)
			if err != nil {
				return nil, err
			}
			if e.Type == core.Consume {
				xe.InputQuantityList = addQty(xe.InputQuantityList, q)
			} else {
				xe.OutputQuantityList = addQty(xe.OutputQuantityList, q)
			}
		case core.Transform:
			xe := newEvent("TransformationEvent", "event:"+e.ID)
			for _, l := range e.Inputs {
				q, err := x.qty(e.ID, l.Ref(), l.Qty, l.UOM)
				if err != nil {
					return nil, err
				}
				xe.InputQuantityList = addQty(xe.InputQuantityList, q)
			}
			for _, l := range e.Outputs {
				q, err := x.qty(e.ID, l.Ref(), l.Qty, l.UOM)
				if err != nil {
					return nil, err
				}
				xe.OutputQuantityList = addQty(xe.OutputQuantityList, q)
			}
		}
	}
	sort.SliceStable(events, func(i, j int) bool {
		if !events[i].at.Equal(events[j].at) {
			return events[i].at.Before(events[j].at)
		}
		return events[i].key < events[j].key
	})
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	doc := xDoc{Context: []any{ContextURL, map[string]string{"lothub": LothubNS}}, Type: "EPCISDocument", SchemaVersion: "2.0",
		CreationDate: now().UTC().Format("2006-01-02T15:04:05.000Z")}
	doc.Body.EventList = events
	if doc.Body.EventList == nil {
		doc.Body.EventList = []*xEvent{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	probs, err := schema.ValidateJSON(buf.Bytes())
	if err != nil {
		return nil, err
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("exported EPCIS document of %s breaks GS1's schema (a lothub bug: please report it): %s", g.Root, probs[0])
	}
	res := &ExportResult{Document: buf.Bytes(), Events: len(events)}
	switch opt.Format {
	case "", FormatJSON:
	case FormatXML:
		// The events passed GS1's JSON schema above; the XML is the same
		// events in the XML binding.
		b, err := writeXML(doc)
		if err != nil {
			return nil, fmt.Errorf("EPCIS XML export of %s: %w", g.Root, err)
		}
		res.Document = b
	default:
		return nil, core.Errorf(core.EINVALID, "export format %q: want json or xml", opt.Format)
	}
	for it := range x.noGTIN {
		res.NoGTIN = append(res.NoGTIN, it)
	}
	sort.Strings(res.NoGTIN)
	return res, nil
}

// Directions reads an export's direction: backward (ancestors), forward
// (descendants) or both. what names the flag or parameter in the error.
func Directions(what, v string) ([]core.Direction, error) {
	switch v {
	case "backward":
		return []core.Direction{core.Backward}, nil
	case "forward":
		return []core.Direction{core.Forward}, nil
	case "both":
		return []core.Direction{core.Backward, core.Forward}, nil
	}
	return nil, core.Errorf(core.EINVALID, "%s %q: want backward, forward or both", what, v)
}

// addQty adds q to a quantity list, summing entries of one class and unit
// (as capture does).
func addQty(list []xQty, q xQty) []xQty {
	for i := range list {
		if list[i].EPCClass == q.EPCClass && list[i].UOM == q.UOM {
			if list[i].Quantity != nil && q.Quantity != nil {
				s := *list[i].Quantity + *q.Quantity
				list[i].Quantity = &s
			}
			return list
		}
	}
	return append(list, q)
}

type exporter struct {
	gtin   map[string]string // item → GTIN-14
	noGTIN map[string]bool
}

// inverseGTIN turns gtin_items around. Several GTINs of one item: the
// smallest is written (each of them captures back to the item).
func inverseGTIN(m map[string]string) map[string]string {
	out := map[string]string{}
	for g, it := range m {
		if cur, ok := out[it]; !ok || g < cur {
			out[it] = g
		}
	}
	return out
}

// qty is the quantity element of a lot.
func (x *exporter) qty(eventID string, ref core.LotRef, qty *float64, uom string) (xQty, error) {
	q := xQty{EPCClass: x.class(ref), Quantity: qty}
	if qty != nil {
		u, err := UNECE(uom)
		if err != nil {
			return q, fmt.Errorf("event %s, lot %s: %v", eventID, ref, err)
		}
		q.UOM = u
	}
	return q, nil
}

// class is the EPC class URI of a lot: the GS1 Digital Link of its GTIN
// and lot (https://id.gs1.org/01/{GTIN}/10/{lot}) when the item has a
// GTIN — its own (a 14-digit item with a valid check digit, as captured
// without gtin_items) or the inverse of gtin_items. A Digital Link, not an
// LGTIN URN: the URN needs the GS1 company prefix's length, which a GTIN
// does not tell. SSCC lots are https://id.gs1.org/00/{SSCC}; any other
// item is urn:lothub:lot:{item}:{lot} (each part %-escaped), a private
// class only lothub reads back.
func (x *exporter) class(ref core.LotRef) string {
	if ref.Item == "SSCC" && len(ref.Lot) == 18 && digits(ref.Lot) {
		return "https://id.gs1.org/00/" + ref.Lot
	}
	gtin := x.gtin[ref.Item]
	if gtin == "" && len(ref.Item) == 14 && digits(ref.Item) && checkDigit(ref.Item[:13]) == ref.Item[13:] {
		gtin = ref.Item
	}
	if gtin != "" {
		return "https://id.gs1.org/01/" + gtin + "/10/" + escape(ref.Lot)
	}
	x.noGTIN[ref.Item] = true
	return "urn:lothub:lot:" + escape(ref.Item) + ":" + escape(ref.Lot)
}

// escape %-escapes everything but RFC 3986 unreserved characters, so a
// value keeps its exact bytes in a URI path or URN.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// URIOf makes an identifier a URI, as EPCIS requires of business
// transactions, parties, locations and transformation IDs: one that is
// already a URI (urn:, http(s)://, ni:, tag:) is kept; any other becomes
// urn:lothub:{kind}:{%-escaped value}, which capture (URIValue) turns
// back into the value.
func URIOf(kind, v string) string {
	for _, p := range []string{"urn:", "http://", "https://", "ni:", "tag:"} {
		if strings.HasPrefix(v, p) {
			return v
		}
	}
	return "urn:lothub:" + kind + ":" + escape(v)
}

// URIValue undoes URIOf: urn:lothub:{kind}:{value} gives the value; any
// other URI is its own value.
func URIValue(s string) string {
	rest, ok := strings.CutPrefix(s, "urn:lothub:")
	if !ok {
		return s
	}
	i := strings.IndexByte(rest, ':')
	if i < 0 || rest[:i] == "lot" {
		return s
	}
	return unescapeURN(rest[i+1:])
}

// EventUUID is the eventID of an exported event: a name-based (SHA-1,
// version 5) UUID of the canonical identity — "event:{canonical id}", or
// "order:{order}" for an order's TransformationEvent — in lothub's
// namespace. The same event gets the same eventID in every export, so a
// receiver that captures a later export supersedes the earlier version
// instead of doubling it.
func EventUUID(key string) string {
	h := sha1.New()
	h.Write(uuidNamespace[:])
	h.Write([]byte(key))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// uuidNamespace is lothub's UUID namespace for exported events
// (6f1d3c2a-8e4b-5a7c-9d10-4c7b2e9f0a51, fixed forever).
var uuidNamespace = [16]byte{0x6f, 0x1d, 0x3c, 0x2a, 0x8e, 0x4b, 0x5a, 0x7c, 0x9d, 0x10, 0x4c, 0x7b, 0x2e, 0x9f, 0x0a, 0x51}

var uneceCode = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Z0-9]{2,3}$`) })

// UNECE is the UN/CEFACT Recommendation 20 code of a unit, as EPCIS's uom
// requires: a code (KGM, EA) is kept, common names are translated (kg →
// KGM, l → LTR), anything else is an error saying what to do.
func UNECE(uom string) (string, error) {
	names := map[string]string{
		"kg": "KGM", "g": "GRM", "mg": "MGM", "t": "TNE", "lb": "LBR", "oz": "ONZ",
		"l": "LTR", "ml": "MLT", "m": "MTR", "m2": "MTK", "m3": "MTQ",
		"ea": "EA", "pc": "H87", "pcs": "H87", "each": "EA",
	}
	if c, ok := names[strings.ToLower(uom)]; ok {
		return c, nil
	}
	if uneceCode().MatchString(uom) {
		return uom, nil
	}
	if uom == "" {
		return "", fmt.Errorf("quantity without a unit: EPCIS needs a UN/CEFACT unit code; give the event a uom")
	}
	return "", fmt.Errorf("unit %q has no UN/CEFACT Rec. 20 code EPCIS accepts (2–3 capital letters or digits, e.g. KGM, LTR, EA): fix the unit in the mapping", uom)
}
