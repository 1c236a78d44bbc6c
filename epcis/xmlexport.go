package epcis

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// writeXML writes an export in the EPCIS 2.0 XML binding (ISO/IEC
// 19987:2024 §12, EPCglobal-epcis-2_0.xsd): <epcis:EPCISDocument> with
// schemaVersion and creationDate, EPCISBody/EventList, each event's
// standard fields as unqualified elements in the order the schema's
// sequence gives them, then lothub's extensions in its namespace
// (prefix lothub). CBV values are written as CBV URNs
// (urn:epcglobal:cbv:bizstep:receiving, …:disp:, …:btt:, …:sdt:), the
// form EPCIS XML has always used; values of other vocabularies
// (urn:lothub:step:…) as they are. lothub's XML capture reads it back to
// the same events (TestEpcisExportRoundTrip, XML).
func writeXML(doc xDoc) ([]byte, error) {
	w := &xmlWriter{}
	w.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w.raw(`<epcis:EPCISDocument xmlns:epcis="` + xmlNS + `" xmlns:lothub="` + LothubNS + `" schemaVersion="2.0" creationDate="`)
	w.text(doc.CreationDate)
	w.raw("\">\n  <EPCISBody>\n    <EventList>\n")
	for _, e := range doc.Body.EventList {
		if err := w.event(e); err != nil {
			return nil, err
		}
	}
	w.raw("    </EventList>\n  </EPCISBody>\n</epcis:EPCISDocument>\n")
	return w.b.Bytes(), nil
}

type xmlWriter struct {
	b     bytes.Buffer
	depth int
}

func (w *xmlWriter) raw(s string) { w.b.WriteString(s) }

func (w *xmlWriter) text(s string) { xml.EscapeText(&w.b, []byte(s)) }

func (w *xmlWriter) indent() { w.raw(strings.Repeat("  ", w.depth)) }

// leaf writes <name>value</name>, nothing when value is "".
func (w *xmlWriter) leaf(name, value string) {
	if value == "" {
		return
	}
	w.indent()
	w.raw("<" + name + ">")
	w.text(value)
	w.raw("</" + name + ">\n")
}

func (w *xmlWriter) open(name string) { w.indent(); w.raw("<" + name + ">\n"); w.depth++ }

func (w *xmlWriter) close(name string) { w.depth--; w.indent(); w.raw("</" + name + ">\n") }

// attrLeaf writes <name type="t">value</name>.
func (w *xmlWriter) attrLeaf(name, typ, value string) {
	w.indent()
	w.raw("<" + name + ` type="`)
	xml.EscapeText(&w.b, []byte(typ))
	w.raw(`">`)
	w.text(value)
	w.raw("</" + name + ">\n")
}

// cbvURN is a CBV value in its URN form (vocabulary one of bizstep, disp,
// btt, sdt): a bare word becomes urn:epcglobal:cbv:{vocabulary}:{word};
// a URI stays.
func cbvURN(vocabulary, v string) string {
	if v == "" || strings.Contains(v, ":") {
		return v
	}
	return "urn:epcglobal:cbv:" + vocabulary + ":" + v
}

func (w *xmlWriter) quantities(name string, l []xQty) {
	if len(l) == 0 {
		return
	}
	w.open(name)
	for _, q := range l {
		w.open("quantityElement")
		w.leaf("epcClass", q.EPCClass)
		if q.Quantity != nil {
			w.leaf("quantity", strconv.FormatFloat(*q.Quantity, 'f', -1, 64))
		}
		w.leaf("uom", q.UOM)
		w.close("quantityElement")
	}
	w.close(name)
}

func (w *xmlWriter) place(name string, p *place) {
	if p == nil {
		return
	}
	w.open(name)
	w.leaf("id", p.ID)
	w.close(name)
}

// event writes one event (xEvent holds ObjectEvents and
// TransformationEvents, the two types an export writes).
func (w *xmlWriter) event(e *xEvent) error {
	w.depth = 3
	w.open(e.Type)
	w.leaf("eventTime", e.EventTime)
	w.leaf("eventTimeZoneOffset", e.EventTimeZone)
	w.leaf("eventID", e.EventID)
	switch e.Type {
	case "ObjectEvent":
		// No epcList (optional in EPCIS 2.0's XML schema): an export
		// names lots, which are classes, in quantityList.
		w.leaf("action", e.Action)
	case "TransformationEvent":
		w.quantities("inputQuantityList", e.InputQuantityList)
		w.quantities("outputQuantityList", e.OutputQuantityList)
		w.leaf("transformationID", e.TransformationID)
	default:
		return fmt.Errorf("event %s: type %s has no XML writer (a lothub bug: please report it)", e.EventID, e.Type)
	}
	w.leaf("bizStep", cbvURN("bizstep", e.BizStep))
	w.leaf("disposition", cbvURN("disp", e.Disposition))
	w.place("readPoint", e.ReadPoint)
	w.place("bizLocation", e.BizLocation)
	if len(e.BizTransactionList) > 0 {
		w.open("bizTransactionList")
		for _, b := range e.BizTransactionList {
			w.attrLeaf("bizTransaction", cbvURN("btt", b.Type), b.BizTransaction)
		}
		w.close("bizTransactionList")
	}
	if e.Type == "ObjectEvent" {
		w.quantities("quantityList", e.QuantityList)
	}
	if len(e.SourceList) > 0 {
		w.open("sourceList")
		for _, s := range e.SourceList {
			w.attrLeaf("source", cbvURN("sdt", s.Type), s.Source)
		}
		w.close("sourceList")
	}
	if len(e.DestinationList) > 0 {
		w.open("destinationList")
		for _, d := range e.DestinationList {
			w.attrLeaf("destination", cbvURN("sdt", d.Type), d.Destination)
		}
		w.close("destinationList")
	}
	// lothub's extensions, after the standard fields.
	w.leaf("lothub:supplierLot", e.SupplierLot)
	w.leaf("lothub:reason", e.Reason)
	w.leaf("lothub:operator", e.Operator)
	if len(e.Params) > 0 {
		if err := w.value("lothub:params", e.Params); err != nil {
			return fmt.Errorf("event %s: parameters: %w", e.EventID, err)
		}
	}
	w.leaf("lothub:hold", e.Hold)
	w.close(e.Type)
	return nil
}

// value writes a step's parameter value: an object as child elements
// named by its keys (unqualified, so that capture reads them back under
// the same names), an array as the element repeated, anything else as
// text (numbers and booleans come back as text).
func (w *xmlWriter) value(name string, v any) error {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			if !xmlName(k) {
				return fmt.Errorf("%q is not an XML element name: export this lot as JSON (--format json)", k)
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.open(name)
		for _, k := range keys {
			if err := w.value(k, x[k]); err != nil {
				return err
			}
		}
		w.close(name)
	case []any:
		for _, it := range x {
			if err := w.value(name, it); err != nil {
				return err
			}
		}
	case nil:
		w.indent()
		w.raw("<" + name + "/>\n")
	case string:
		w.indent()
		w.raw("<" + name + ">")
		w.text(x)
		w.raw("</" + name + ">\n")
	default:
		w.leaf(name, fmt.Sprint(x))
	}
	return nil
}

// xmlName says whether s is an XML name without a colon (an NCName, ASCII
// letters, digits, '_', '-', '.').
func xmlName(s string) bool {
	if s == "" || strings.HasPrefix(strings.ToLower(s), "xml") {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}
