package core

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The hot path of ingest decodes and encodes millions of canonical events.
// encoding/json does it by reflection, which took about a fifth of a bulk
// load's CPU; the two functions below do the common case by hand and say
// "not mine" (ok false) for everything else, which then goes through
// encoding/json exactly as before. They never decide differently from it:
// what the fast decoder accepts, encoding/json decodes to the same Event,
// and what the fast encoder writes is byte for byte what json.Marshal
// writes (the event's content hash depends on it). FuzzEventJSONFastPath
// checks both against encoding/json on arbitrary input.
//
// The fast decoder takes a single JSON object whose keys are the canonical
// field names spelled exactly, each at most once, whose strings have no
// escapes and are valid UTF-8, and which has no params (a free-form map)
// and no nulls. Anything else, including every malformed line, is left to
// encoding/json, whose error messages the quarantine shows.

// fieldBit numbers the fields of Event for the duplicate check.
const (
	fID = 1 << iota
	fType
	fTime
	fLot
	fQty
	fUOM
	fOrder
	fSupplier
	fSupplierLot
	fPO
	fSite
	fLocation
	fCustomer
	fSalesOrder
	fDelivery
	fCarrier
	fShipTo
	fStep
	fOperator
	fEquipment
	fInputs
	fOutputs
	fFrom
	fTo
	fReason
	fReverses
	fRework
	fSource
	fParams
)

// eventScanner reads one JSON value at a time from data; any failure
// sets bad and the caller gives up on the fast path.
type eventScanner struct {
	data []byte
	// text is data as one string, when set: the strings read are
	// slices of it, one allocation for the event's dozen strings.
	text string
	pos  int
	bad  bool
}

func (s *eventScanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// next skips space and consumes c, or fails.
func (s *eventScanner) next(c byte) bool {
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	s.bad = true
	return false
}

// peek skips space and reports the next byte (0 at the end).
func (s *eventScanner) peek() byte {
	s.space()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// str reads a string literal without escapes or control characters whose
// bytes are valid UTF-8.
func (s *eventScanner) str() string {
	if !s.next('"') {
		return ""
	}
	start := s.pos
	ascii := true
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			v := s.data[start:s.pos]
			s.pos++
			if !ascii && !utf8.Valid(v) {
				s.bad = true // encoding/json replaces invalid bytes
				return ""
			}
			if s.text != "" {
				return s.text[start : s.pos-1]
			}
			return string(v)
		case c == '\\' || c < 0x20:
			s.bad = true
			return ""
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.pos++
	}
	s.bad = true
	return ""
}

// num reads a number literal of JSON's grammar as a float64.
func (s *eventScanner) num() float64 {
	s.space()
	d, start := s.data, s.pos
	i := start
	if i < len(d) && d[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case digits() == 0:
		s.bad = true
		return 0
	}
	if i < len(d) && d[i] == '.' {
		i++
		if digits() == 0 {
			s.bad = true
			return 0
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if digits() == 0 {
			s.bad = true
			return 0
		}
	}
	f, err := strconv.ParseFloat(string(d[start:i]), 64)
	if err != nil {
		s.bad = true
		return 0
	}
	s.pos = i
	return f
}

// object reads {"k": v, ...}, calling field for each key; field reads the
// value and returns false for a key it does not know.
func (s *eventScanner) object(field func(key string) bool) {
	if !s.next('{') {
		return
	}
	if s.peek() == '}' {
		s.pos++
		return
	}
	for !s.bad {
		k := s.str()
		if s.bad || !s.next(':') {
			s.bad = true
			return
		}
		if !field(k) {
			s.bad = true
			return
		}
		if s.bad {
			return
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return
		default:
			s.bad = true
			return
		}
	}
}

// once marks bit in seen, failing on a repeated key (encoding/json would
// merge or overwrite: left to it).
func (s *eventScanner) once(seen *int, bit int) bool {
	if *seen&bit != 0 {
		s.bad = true
		return false
	}
	*seen |= bit
	return true
}

func (s *eventScanner) party(p *Party) *Party {
	seen := 0
	s.object(func(k string) bool {
		switch k {
		case "id":
			if s.once(&seen, 1) {
				p.ID = s.str()
			}
		case "name":
			if s.once(&seen, 2) {
				p.Name = s.str()
			}
		default:
			return false
		}
		return true
	})
	return p
}

func (s *eventScanner) lotRef(r *LotRef) *LotRef {
	seen := 0
	s.object(func(k string) bool {
		switch k {
		case "item":
			if s.once(&seen, 1) {
				r.Item = s.str()
			}
		case "lot":
			if s.once(&seen, 2) {
				r.Lot = s.str()
			}
		default:
			return false
		}
		return true
	})
	return r
}

func (s *eventScanner) lotQtys() []LotQty {
	if !s.next('[') {
		return nil
	}
	out := []LotQty{}
	if s.peek() == ']' {
		s.pos++
		return out
	}
	for !s.bad {
		var q LotQty
		seen := 0
		s.object(func(k string) bool {
			switch k {
			case "item":
				if s.once(&seen, 1) {
					q.Item = s.str()
				}
			case "lot":
				if s.once(&seen, 2) {
					q.Lot = s.str()
				}
			case "qty":
				if s.once(&seen, 4) {
					v := s.num()
					q.Qty = &v
				}
			case "uom":
				if s.once(&seen, 8) {
					q.UOM = s.str()
				}
			default:
				return false
			}
			return true
		})
		out = append(out, q)
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return out
		default:
			s.bad = true
		}
	}
	return nil
}

func (s *eventScanner) source() *Source {
	src := &Source{}
	seen := 0
	s.object(func(k string) bool {
		switch k {
		case "connector":
			if s.once(&seen, 1) {
				src.Connector = s.str()
			}
		case "record":
			if s.once(&seen, 2) {
				src.Record = s.str()
			}
		default:
			return false
		}
		return true
	})
	return src
}

// params reads a flat object of strings, numbers and booleans as
// encoding/json decodes it into a map[string]any.
func (s *eventScanner) params() map[string]any {
	m := map[string]any{}
	s.object(func(k string) bool {
		if _, dup := m[k]; dup {
			return false
		}
		switch c := s.peek(); {
		case c == '"':
			m[k] = s.str()
		case c == 't' || c == 'f':
			m[k] = s.boolean()
		case c == '-' || c >= '0' && c <= '9':
			m[k] = s.num()
		default: // null, an object or an array: left to encoding/json
			return false
		}
		return true
	})
	return m
}

func (s *eventScanner) boolean() bool {
	s.space()
	switch {
	case len(s.data)-s.pos >= 4 && string(s.data[s.pos:s.pos+4]) == "true":
		s.pos += 4
		return true
	case len(s.data)-s.pos >= 5 && string(s.data[s.pos:s.pos+5]) == "false":
		s.pos += 5
		return false
	}
	s.bad = true
	return false
}

// decodeEventFast decodes the common shape of a canonical event; ok is
// false when the input is anything else (see above).
func decodeEventFast(data []byte) (e *Event, ok bool) {
	s := &eventScanner{data: data, text: string(data)}
	// The event and what its pointers usually point to, in one
	// allocation (a quantity, a lot, a supplier or a customer).
	blk := &struct {
		e        Event
		qty      float64
		lot      LotRef
		sup, cus Party
	}{}
	e = &blk.e
	seen := 0
	text := func(bit int, dst *string) {
		if s.once(&seen, bit) {
			*dst = s.str()
		}
	}
	s.object(func(k string) bool {
		switch k {
		case "id":
			text(fID, &e.ID)
		case "type":
			var t string
			text(fType, &t)
			e.Type = EventType(t)
		case "time":
			text(fTime, &e.Time)
		case "lot":
			if s.once(&seen, fLot) {
				e.Lot = s.lotRef(&blk.lot)
			}
		case "qty":
			if s.once(&seen, fQty) {
				blk.qty = s.num()
				e.Qty = &blk.qty
			}
		case "uom":
			text(fUOM, &e.UOM)
		case "order":
			text(fOrder, &e.Order)
		case "supplier":
			if s.once(&seen, fSupplier) {
				e.Supplier = s.party(&blk.sup)
			}
		case "supplier_lot":
			text(fSupplierLot, &e.SupplierLot)
		case "po":
			text(fPO, &e.PO)
		case "site":
			text(fSite, &e.Site)
		case "location":
			text(fLocation, &e.Location)
		case "customer":
			if s.once(&seen, fCustomer) {
				e.Customer = s.party(&blk.cus)
			}
		case "sales_order":
			text(fSalesOrder, &e.SalesOrder)
		case "delivery":
			text(fDelivery, &e.Delivery)
		case "carrier":
			text(fCarrier, &e.Carrier)
		case "ship_to":
			text(fShipTo, &e.ShipTo)
		case "step":
			text(fStep, &e.Step)
		case "operator":
			text(fOperator, &e.Operator)
		case "equipment":
			text(fEquipment, &e.Equipment)
		case "inputs":
			if s.once(&seen, fInputs) {
				e.Inputs = s.lotQtys()
			}
		case "outputs":
			if s.once(&seen, fOutputs) {
				e.Outputs = s.lotQtys()
			}
		case "from":
			text(fFrom, &e.From)
		case "to":
			text(fTo, &e.To)
		case "reason":
			text(fReason, &e.Reason)
		case "reverses":
			text(fReverses, &e.Reverses)
		case "rework":
			if s.once(&seen, fRework) {
				e.Rework = s.boolean()
			}
		case "source":
			if s.once(&seen, fSource) {
				e.Source = s.source()
			}
		case "params":
			if s.once(&seen, fParams) {
				e.Params = s.params()
			}
		default: // a misspelt or differently cased key
			return false
		}
		return true
	})
	if s.bad {
		return nil, false
	}
	s.space()
	if s.pos != len(data) {
		return nil, false
	}
	return e, true
}

// marshalEvent is json.Marshal(e), byte for byte.
func marshalEvent(e *Event) []byte {
	if b, ok := appendEvent(make([]byte, 0, 320), e); ok {
		return b
	}
	b, _ := json.Marshal(e) // an Event always marshals
	return b
}

// appendEvent appends e as json.Marshal writes it; ok is false when e has
// something it leaves to encoding/json: params other than strings,
// float64 numbers and booleans, or a string that
// json.Marshal would escape (HTML characters, control characters, invalid
// UTF-8, U+2028/U+2029), or a quantity JSON cannot hold.
func appendEvent(b []byte, e *Event) (_ []byte, ok bool) {
	w := eventWriter{b: b, ok: true}
	w.b = append(w.b, '{')
	w.field("id", e.ID, false)
	w.field("type", string(e.Type), false)
	w.field("time", e.Time, false)
	if e.Lot != nil {
		w.key("lot")
		w.b = append(w.b, '{')
		w.field("item", e.Lot.Item, false)
		w.field("lot", e.Lot.Lot, false)
		w.b = append(w.b, '}')
	}
	if e.Qty != nil {
		w.key("qty")
		w.float(*e.Qty)
	}
	w.field("uom", e.UOM, true)
	w.field("order", e.Order, true)
	w.party("supplier", e.Supplier)
	w.field("supplier_lot", e.SupplierLot, true)
	w.field("po", e.PO, true)
	w.field("site", e.Site, true)
	w.field("location", e.Location, true)
	w.party("customer", e.Customer)
	w.field("sales_order", e.SalesOrder, true)
	w.field("delivery", e.Delivery, true)
	w.field("carrier", e.Carrier, true)
	w.field("ship_to", e.ShipTo, true)
	w.field("step", e.Step, true)
	w.field("operator", e.Operator, true)
	w.field("equipment", e.Equipment, true)
	w.params(e.Params)
	w.lotQtys("inputs", e.Inputs)
	w.lotQtys("outputs", e.Outputs)
	w.field("from", e.From, true)
	w.field("to", e.To, true)
	w.field("reason", e.Reason, true)
	w.field("reverses", e.Reverses, true)
	if e.Rework {
		w.key("rework")
		w.b = append(w.b, "true"...)
	}
	w.source(e.Source)
	w.b = append(w.b, '}')
	return w.b, w.ok
}

// source writes the event's source, the last of its fields, if it has one.
func (w *eventWriter) source(s *Source) {
	if s == nil {
		return
	}
	w.key("source")
	w.b = append(w.b, '{')
	w.field("connector", s.Connector, true)
	w.field("record", s.Record, true)
	w.b = append(w.b, '}')
}

// bodyAndHash is e's encoding and its content hash (ContentHash: the
// hash of the encoding without the source) from one encoding: the one
// without the source, hashed, then the source written in place of its
// closing brace (the source is the last field). ok is false when
// appendEvent leaves e to encoding/json.
func bodyAndHash(e *Event) (body []byte, hash string, ok bool) {
	c := *e
	c.Source = nil
	b, ok := appendEvent(make([]byte, 0, 384), &c)
	if !ok {
		return nil, "", false
	}
	sum := sha256.Sum256(b)
	hash = hex.EncodeToString(sum[:16])
	w := eventWriter{b: b[:len(b)-1], ok: true} // without its '}'
	w.source(e.Source)
	w.b = append(w.b, '}')
	if !w.ok {
		return nil, "", false
	}
	return w.b, hash, true
}

type eventWriter struct {
	b  []byte
	ok bool
}

// key writes "k": after a comma unless it is the first of its object.
func (w *eventWriter) key(k string) {
	if c := w.b[len(w.b)-1]; c != '{' {
		w.b = append(w.b, ',')
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *eventWriter) field(k, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	w.key(k)
	w.str(v)
}

// str writes v quoted if no byte of it needs escaping, else gives up.
func (w *eventWriter) str(v string) {
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				w.ok = false
				return
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			w.ok = false
			return
		}
		i += size
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, v...)
	w.b = append(w.b, '"')
}

// float writes f as encoding/json does (its floatEncoder, 64 bits).
func (w *eventWriter) float(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		w.ok = false
		return
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	w.b = strconv.AppendFloat(w.b, f, format, -1, 64)
	if format == 'e' { // clean up e-09 to e-9
		if n := len(w.b); n >= 4 && w.b[n-4] == 'e' && w.b[n-3] == '-' && w.b[n-2] == '0' {
			w.b[n-2] = w.b[n-1]
			w.b = w.b[:n-1]
		}
	}
}

// params writes the map with its keys sorted, as encoding/json does.
func (w *eventWriter) params(m map[string]any) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.key("params")
	w.b = append(w.b, '{')
	for _, k := range keys {
		w.key("")
		w.b = w.b[:len(w.b)-3] // the empty key's quotes and colon
		w.str(k)
		w.b = append(w.b, ':')
		switch v := m[k].(type) {
		case string:
			w.str(v)
		case float64:
			w.float(v)
		case bool:
			w.b = strconv.AppendBool(w.b, v)
		default:
			w.ok = false
		}
	}
	w.b = append(w.b, '}')
}

func (w *eventWriter) party(k string, p *Party) {
	if p == nil {
		return
	}
	w.key(k)
	w.b = append(w.b, '{')
	w.field("id", p.ID, false)
	w.field("name", p.Name, true)
	w.b = append(w.b, '}')
}

func (w *eventWriter) lotQtys(k string, qs []LotQty) {
	if len(qs) == 0 {
		return
	}
	w.key(k)
	w.b = append(w.b, '[')
	for i, q := range qs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, '{')
		w.field("item", q.Item, false)
		w.field("lot", q.Lot, false)
		if q.Qty != nil {
			w.key("qty")
			w.float(*q.Qty)
		}
		w.field("uom", q.UOM, true)
		w.b = append(w.b, '}')
	}
	w.b = append(w.b, ']')
}
