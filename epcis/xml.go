package epcis

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/lothub/lothub/epcis/schema"
)

// EPCIS 2.0 XML binding (ISO/IEC 19987:2024 §12 and its schema
// EPCglobal-epcis-2_0.xsd): an <epcis:EPCISDocument> (namespace
// urn:epcglobal:epcis:xsd:2) with schemaVersion and creationDate
// attributes, an optional <EPCISHeader> and <EPCISBody><EventList>, whose
// children are the events: ObjectEvent, AggregationEvent,
// TransformationEvent, TransactionEvent, AssociationEvent. Standard fields
// are unqualified elements with the JSON binding's names (eventTime,
// epcList/epc, quantityList/quantityElement/{epcClass,quantity,uom},
// bizTransactionList/bizTransaction@type, sourceList/source@type, …);
// user extensions are elements in other namespaces. An
// <epcisq:EPCISQueryDocument> carries them in
// EPCISBody/epcisq:QueryResults/resultsBody/EventList.
//
// Each event element is converted to its JSON binding (the names are the
// same; lists of <epc> become arrays, attributes become members, numbers
// numbers) and from there is checked and mapped as a JSON event is. EPCIS
// 1.x wrappers (<extension>, <baseExtension>, a TransformationEvent inside
// <extension> in the EventList) are read through.

// XML namespaces of the EPCIS documents read.
const (
	xmlNS      = "urn:epcglobal:epcis:xsd:2"
	xmlNS1     = "urn:epcglobal:epcis:xsd:1"
	xmlQueryNS = "urn:epcglobal:epcis-query:xsd:2"
)

// standardNS says whether elements of a namespace are the standard's own
// (unqualified in EPCIS XML, or qualified with the EPCIS namespaces).
func standardNS(space string) bool {
	switch space {
	case "", xmlNS, xmlNS1, xmlQueryNS, "urn:epcglobal:epcis-query:xsd:1":
		return true
	}
	return false
}

// wellKnownPrefix are namespaces the standard JSON-LD context names: their
// members keep these prefixes (cbvmda:lotNumber) as the JSON binding writes
// them, without an @context of their own.
var wellKnownPrefix = map[string]string{
	"urn:epcglobal:cbv:mda":  "cbvmda",
	"urn:epcglobal:cbv:mda:": "cbvmda",
	"https://gs1.org/voc/":   "gs1",
	"http://gs1.org/voc/":    "gs1",
}

// xnode is an element read whole (one event and what it holds).
type xnode struct {
	name      xml.Name
	attrs     []xml.Attr
	kids      []*xnode
	text      string
	line, col int
}

// maxXMLDepth bounds the nesting of an event's elements.
const maxXMLDepth = 64

type xmlReader struct {
	d     *xml.Decoder
	where string
	// prefix is the prefix of each namespace URI, as declared in the
	// document (xmlns:p="…"), for extension members' names.
	prefix map[string]string
	gen    int
}

func (x *xmlReader) pos() (int, int) { return x.d.InputPos() }

// syntax turns an XML error into a refusal with its place.
func (x *xmlReader) syntax(err error) error {
	line, col := x.pos()
	var se *xml.SyntaxError
	reason := err.Error()
	if errors.As(err, &se) {
		reason = se.Msg
		line = se.Line
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		reason = "the document ends too early"
	}
	if strings.Contains(reason, "CharsetReader is nil") {
		// encoding/xml reads UTF-8 only.
		enc := strings.TrimSuffix(strings.TrimPrefix(reason, "xml: encoding "), " declared but Decoder.CharsetReader is nil")
		return &InvalidError{Where: x.where, Problems: []schema.Problem{{Line: line, Column: col, Reason: "encoding " + enc + " is not read: send the document in UTF-8"}}}
	}
	return &InvalidError{Where: x.where, Problems: []schema.Problem{{Line: line, Column: col, Reason: "not well-formed XML: " + reason}}}
}

func (x *xmlReader) refuse(line, col int, format string, a ...any) error {
	return &InvalidError{Where: x.where, Problems: []schema.Problem{{Line: line, Column: col, Reason: fmt.Sprintf(format, a...)}}}
}

// declare learns the prefixes an element declares.
func (x *xmlReader) declare(attrs []xml.Attr) {
	for _, a := range attrs {
		if a.Name.Space == "xmlns" && a.Value != "" {
			if _, ok := x.prefix[a.Value]; !ok {
				x.prefix[a.Value] = a.Name.Local
			}
		}
	}
}

// next returns the next start or end element, skipping text, comments and
// processing instructions.
func (x *xmlReader) next() (xml.Token, error) {
	for {
		t, err := x.d.Token()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.StartElement:
			x.declare(t.Attr)
			return t, nil
		case xml.EndElement:
			return t, nil
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				line, col := x.pos()
				return nil, x.refuse(line, col, "text %q where an element was expected", truncate(strings.TrimSpace(string(t)), 40))
			}
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// node reads the element whose start tag was just read, whole.
func (x *xmlReader) node(start xml.StartElement, depth int) (*xnode, error) {
	line, col := x.pos()
	n := &xnode{name: start.Name, attrs: start.Attr, line: line, col: col}
	if depth > maxXMLDepth {
		return nil, x.refuse(line, col, "elements nested more than %d deep", maxXMLDepth)
	}
	var text strings.Builder
	for {
		t, err := x.d.Token()
		if err != nil {
			return nil, x.syntax(err)
		}
		switch t := t.(type) {
		case xml.StartElement:
			x.declare(t.Attr)
			k, err := x.node(t, depth+1)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, k)
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			n.text = strings.TrimSpace(text.String())
			return n, nil
		}
	}
}

// skip skips the element whose start tag was just read.
func (x *xmlReader) skip() error {
	if err := x.d.Skip(); err != nil {
		return x.syntax(err)
	}
	return nil
}

// readXML walks an EPCIS XML document: the root, EPCISHeader (skipped),
// EPCISBody, EventList (or QueryResults/resultsBody/EventList), each event
// element read whole, converted to JSON and given to fn.
func readXML(r io.Reader, where string, fn func(rawEvent) error) (*docInfo, error) {
	x := &xmlReader{d: xml.NewDecoder(r), where: where, prefix: map[string]string{}}
	x.d.Strict = true
	info := &docInfo{Format: "xml"}
	t, err := x.next()
	if err != nil {
		var inv *InvalidError
		if errors.As(err, &inv) {
			return nil, err
		}
		return nil, x.syntax(err)
	}
	root, ok := t.(xml.StartElement)
	rl, rc := x.pos()
	if !ok || (root.Name.Local != "EPCISDocument" && root.Name.Local != "EPCISQueryDocument") || !standardNS(root.Name.Space) {
		name := "?"
		if ok {
			name = root.Name.Local
		}
		return nil, x.refuse(rl, rc, "root element <%s> is not an EPCIS document: want <epcis:EPCISDocument xmlns:epcis=%q> (or <epcisq:EPCISQueryDocument>)", name, xmlNS)
	}
	wrapper := map[string]any{"@context": ContextURL}
	for _, a := range root.Attr {
		if a.Name.Space == "" && (a.Name.Local == "schemaVersion" || a.Name.Local == "creationDate") {
			wrapper[a.Name.Local] = a.Value
		}
	}
	body := map[string]any{}
	if root.Name.Local == "EPCISQueryDocument" {
		info.Kind = "query"
		wrapper["type"] = "EPCISQueryDocument"
	} else {
		info.Kind = "document"
		wrapper["type"] = "EPCISDocument"
		body["eventList"] = []any{}
	}
	wrapper["epcisBody"] = body
	info.Wrapper = wrapper

	// eventList reads the events of an <EventList> whose start was read.
	eventList := func(base string) error {
		ext := 0 // open EPCIS 1.x <extension> wrappers
		for {
			t, err := x.next()
			if err != nil {
				return x.wrap(err)
			}
			el, ok := t.(xml.StartElement)
			if !ok {
				if ext > 0 {
					ext--
					continue
				}
				return nil // </EventList>
			}
			if el.Name.Local == "extension" && standardNS(el.Name.Space) {
				// EPCIS 1.x: <extension><TransformationEvent>… in
				// the EventList: read the events inside.
				ext++
				continue
			}
			n, err := x.node(el, 0)
			if err != nil {
				return err
			}
			if !eventTypes[n.name.Local] || !standardNS(n.name.Space) {
				return x.refuse(n.line, n.col, "<%s> in the EventList is not an EPCIS event: want ObjectEvent, AggregationEvent, TransformationEvent, TransactionEvent or AssociationEvent", n.name.Local)
			}
			ev := rawEvent{Ptr: fmt.Sprintf("%s%d", base, info.Events), Line: n.line, Col: n.col, locs: map[string][2]int{}}
			obj := x.event(n, ev.locs)
			raw, err := marshalEvent(obj)
			if err != nil {
				return fmt.Errorf("%s:%d:%d: %w", where, n.line, n.col, err)
			}
			ev.JSON = raw
			if err := fn(ev); err != nil {
				return err
			}
			info.Events++
		}
	}
	// children walks the children of an element whose start was read,
	// calling child for each; the others are skipped.
	var children func(child func(xml.StartElement) error) error
	children = func(child func(xml.StartElement) error) error {
		for {
			t, err := x.next()
			if err != nil {
				return x.wrap(err)
			}
			el, ok := t.(xml.StartElement)
			if !ok {
				return nil
			}
			if err := child(el); err != nil {
				return err
			}
		}
	}
	sawList := false
	err = children(func(el xml.StartElement) error {
		if el.Name.Local != "EPCISBody" {
			return x.skip() // EPCISHeader (the SBDH), extensions
		}
		return children(func(el xml.StartElement) error {
			switch el.Name.Local {
			case "EventList":
				sawList = true
				return eventList("/epcisBody/eventList/")
			case "QueryResults":
				qr := map[string]any{}
				body["queryResults"] = qr
				return children(func(el xml.StartElement) error {
					switch el.Name.Local {
					case "resultsBody":
						rb := map[string]any{"eventList": []any{}}
						qr["resultsBody"] = rb
						return children(func(el xml.StartElement) error {
							if el.Name.Local != "EventList" {
								return x.skip()
							}
							sawList = true
							return eventList("/epcisBody/queryResults/resultsBody/eventList/")
						})
					case "queryName", "subscriptionID":
						n, err := x.node(el, 0)
						if err != nil {
							return err
						}
						qr[el.Name.Local] = n.text
						return nil
					}
					return x.skip()
				})
			}
			return x.skip()
		})
	})
	if err != nil {
		return nil, err
	}
	if !sawList {
		return nil, x.refuse(rl, rc, "no EPCISBody/EventList in the document")
	}
	for {
		t, err := x.d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, x.syntax(err)
		}
		switch t := t.(type) {
		case xml.StartElement:
			line, col := x.pos()
			return nil, x.refuse(line, col, "<%s> after the document's end", t.Name.Local)
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				line, col := x.pos()
				return nil, x.refuse(line, col, "text after the document's end")
			}
		}
	}
	return info, nil
}

// wrap makes a reader error a refusal unless it is one already.
func (x *xmlReader) wrap(err error) error {
	var inv *InvalidError
	if errors.As(err, &inv) {
		return err
	}
	return x.syntax(err)
}

// marshalEvent writes an event's JSON without HTML escaping.
func marshalEvent(v any) (json.RawMessage, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return json.RawMessage(strings.TrimSuffix(b.String(), "\n")), nil
}

// xconv converts one event; locs (when not nil) records where each value
// came from.
type xconv struct {
	x    *xmlReader
	locs map[string][2]int
	used map[string]string // prefix → namespace of the extensions used
}

func ptrKey(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func (c *xconv) at(ptr string, n *xnode) {
	if c.locs != nil {
		c.locs[ptr] = [2]int{n.line, n.col}
	}
}

// qname is the JSON name of an element or attribute in another namespace:
// prefix:local, with the document's prefix for the namespace.
func (c *xconv) qname(n xml.Name) string {
	if standardNS(n.Space) {
		return n.Local
	}
	if p, ok := wellKnownPrefix[n.Space]; ok {
		return p + ":" + n.Local
	}
	p, ok := c.x.prefix[n.Space]
	if !ok || p == "" {
		c.x.gen++
		p = fmt.Sprintf("ns%d", c.x.gen)
		c.x.prefix[n.Space] = p
	}
	c.used[p] = n.Space
	return p + ":" + n.Local
}

// event converts an event element to its JSON binding.
func (x *xmlReader) event(n *xnode, locs map[string][2]int) map[string]any {
	c := &xconv{x: x, locs: locs, used: map[string]string{}}
	ev := map[string]any{"type": n.name.Local}
	c.at("", n)
	c.fields(ev, n, "")
	if len(c.used) > 0 {
		// The namespaces of its extensions travel with the event (an
		// event is archived and answered on its own).
		ctx := map[string]any{}
		for p, ns := range c.used {
			ctx[p] = ns
		}
		ev["@context"] = []any{ctx}
	}
	return ev
}

// quantity lists and EPC lists of the XML binding, with their items.
var xmlLists = map[string]string{
	"epcList": "epc", "childEPCs": "epc", "inputEPCList": "epc", "outputEPCList": "epc",
	"quantityList": "quantityElement", "childQuantityList": "quantityElement",
	"inputQuantityList": "quantityElement", "outputQuantityList": "quantityElement",
	"bizTransactionList": "bizTransaction", "sourceList": "source", "destinationList": "destination",
	"sensorElementList": "sensorElement", "correctiveEventIDs": "correctiveEventID",
}

// xmlNumbers are the members whose values are numbers in JSON.
var xmlNumbers = map[string]bool{
	"quantity": true, "value": true, "minValue": true, "maxValue": true, "meanValue": true,
	"sDev": true, "percRank": true, "percValue": true,
}

// scalar is the JSON value of a text: a number for numeric members when it
// is one (else the text, which the schema then refuses), a boolean for
// booleanValue.
func scalar(name, s string) any {
	if xmlNumbers[name] {
		if _, err := strconv.ParseFloat(s, 64); err == nil && json.Valid([]byte(s)) {
			return json.Number(s)
		}
	}
	if name == "booleanValue" {
		switch s {
		case "true", "1":
			return true
		case "false", "0":
			return false
		}
	}
	return s
}

// fields converts the children of n into members of into.
func (c *xconv) fields(into map[string]any, n *xnode, ptr string) {
	for _, k := range n.kids {
		name := c.qname(k.name)
		kptr := ptr + "/" + ptrKey(name)
		if !standardNS(k.name.Space) {
			c.at(kptr, k)
			addMember(into, name, c.generic(k, kptr))
			continue
		}
		switch name {
		case "extension", "baseExtension":
			// EPCIS 1.x wrappers: their fields are the event's.
			c.fields(into, k, ptr)
			continue
		}
		c.at(kptr, k)
		if item, ok := xmlLists[name]; ok {
			list, _ := into[name].([]any)
			for _, it := range k.kids {
				iptr := fmt.Sprintf("%s/%d", kptr, len(list))
				c.at(iptr, it)
				if it.name.Local != item || !standardNS(it.name.Space) {
					// Not the list's item: kept under its name, for
					// the schema to name.
					list = append(list, c.generic(it, iptr))
					continue
				}
				list = append(list, c.item(name, it, iptr))
			}
			if list == nil {
				list = []any{}
			}
			into[name] = list
			continue
		}
		switch name {
		case "readPoint", "bizLocation", "errorDeclaration", "ilmd", "sensorMetadata", "persistentDisposition":
			obj := map[string]any{}
			for _, a := range k.attrs {
				c.attr(obj, a)
			}
			if name == "persistentDisposition" {
				for _, it := range k.kids {
					if standardNS(it.name.Space) && (it.name.Local == "set" || it.name.Local == "unset") {
						l, _ := obj[it.name.Local].([]any)
						c.at(fmt.Sprintf("%s/%s/%d", kptr, it.name.Local, len(l)), it)
						obj[it.name.Local] = append(l, it.text)
						continue
					}
					addMember(obj, c.qname(it.name), c.generic(it, kptr+"/"+ptrKey(c.qname(it.name))))
				}
			} else {
				c.fields(obj, k, kptr)
			}
			into[name] = obj
		case "certificationInfo":
			// One URI, or several elements: an array.
			addMember(into, name, k.text)
		default:
			if len(k.kids) > 0 {
				into[name] = c.generic(k, kptr)
			} else {
				into[name] = scalar(name, k.text)
			}
		}
	}
}

// item converts an item of a list.
func (c *xconv) item(list string, it *xnode, ptr string) any {
	switch it.name.Local {
	case "epc", "correctiveEventID":
		return it.text
	case "quantityElement":
		obj := map[string]any{}
		c.fields(obj, it, ptr)
		return obj
	case "bizTransaction", "source", "destination":
		obj := map[string]any{it.name.Local: it.text}
		for _, a := range it.attrs {
			c.attr(obj, a)
		}
		return obj
	case "sensorElement":
		obj := map[string]any{}
		var reports []any
		for _, k := range it.kids {
			if standardNS(k.name.Space) && k.name.Local == "sensorReport" {
				rptr := fmt.Sprintf("%s/sensorReport/%d", ptr, len(reports))
				c.at(rptr, k)
				rep := map[string]any{}
				for _, a := range k.attrs {
					c.attr(rep, a)
				}
				c.fields(rep, k, rptr)
				reports = append(reports, rep)
				continue
			}
			if standardNS(k.name.Space) && k.name.Local == "sensorMetadata" {
				md := map[string]any{}
				for _, a := range k.attrs {
					c.attr(md, a)
				}
				c.fields(md, k, ptr+"/sensorMetadata")
				c.at(ptr+"/sensorMetadata", k)
				obj["sensorMetadata"] = md
				continue
			}
			name := c.qname(k.name)
			addMember(obj, name, c.generic(k, ptr+"/"+ptrKey(name)))
		}
		if reports != nil {
			obj["sensorReport"] = reports
		}
		return obj
	}
	return c.generic(it, ptr)
}

// attr adds an attribute as a member (namespace declarations and
// xsi:… are not data).
func (c *xconv) attr(into map[string]any, a xml.Attr) {
	if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") || a.Name.Space == "http://www.w3.org/2001/XMLSchema-instance" {
		return
	}
	name := c.qname(a.Name)
	into[name] = scalar(name, a.Value)
}

// generic converts an element the binding says nothing special about (an
// extension): its text, or an object of its attributes and children
// (repeated children an array).
func (c *xconv) generic(n *xnode, ptr string) any {
	var attrs []xml.Attr
	for _, a := range n.attrs {
		if !(a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") || a.Name.Space == "http://www.w3.org/2001/XMLSchema-instance") {
			attrs = append(attrs, a)
		}
	}
	if len(n.kids) == 0 && len(attrs) == 0 {
		return n.text
	}
	obj := map[string]any{}
	for _, a := range attrs {
		c.attr(obj, a)
	}
	for _, k := range n.kids {
		name := c.qname(k.name)
		kptr := ptr + "/" + ptrKey(name)
		c.at(kptr, k)
		addMember(obj, name, c.generic(k, kptr))
	}
	if n.text != "" {
		obj["@value"] = n.text
	}
	return obj
}

// addMember sets a member, making an array of a repeated one.
func addMember(obj map[string]any, name string, v any) {
	old, ok := obj[name]
	if !ok {
		obj[name] = v
		return
	}
	if l, ok := old.([]any); ok {
		obj[name] = append(l, v)
		return
	}
	obj[name] = []any{old, v}
}

// locate places a problem found in a converted XML event: at the element
// its pointer (relative to the event) came from, or the nearest enclosing
// one.
func locate(locs map[string][2]int, rel string) (int, int, bool) {
	for {
		if l, ok := locs[rel]; ok {
			return l[0], l[1], true
		}
		i := strings.LastIndexByte(rel, '/')
		if i < 0 {
			return 0, 0, false
		}
		rel = rel[:i]
	}
}
