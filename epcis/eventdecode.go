package epcis

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/lothub/lothub/internal/jsonobject"
)

// decodeEvent decodes an event's text into ev, which must be zero, exactly
// as json.Unmarshal(raw, ev) does — without reflection, several times
// faster. It reads only what a valid event holds in the usual way: every
// value of the type its field wants (or null), each member once, names
// exactly as the fields' tags (encoding/json also takes a name in another
// case). Anything else — and text that is not JSON — makes it answer false,
// with ev in any state: the caller zeroes ev and uses json.Unmarshal, for
// its result and its error (TestEpcisDecodeEventAsUnmarshal,
// FuzzEpcisDecodeEvent).
func decodeEvent(raw []byte, ev *epcisEvent) bool {
	d := eventDecoder{b: raw}
	var seen uint64 // the fields read (a member twice: encoding/json merges objects)
	ok := d.object(func(key string) bool {
		switch key {
		case "type":
			return once(&seen, 0) && d.str(&ev.Type)
		case "eventID":
			return once(&seen, 1) && d.str(&ev.EventID)
		case "eventTime":
			return once(&seen, 2) && d.str(&ev.EventTime)
		case "action":
			return once(&seen, 3) && d.str(&ev.Action)
		case "bizStep":
			return once(&seen, 4) && d.str(&ev.BizStep)
		case "disposition":
			return once(&seen, 5) && d.str(&ev.Disposition)
		case "parentID":
			return once(&seen, 6) && d.str(&ev.ParentID)
		case "epcList":
			return once(&seen, 7) && d.strs(&ev.EPCList)
		case "childEPCs":
			return once(&seen, 8) && d.strs(&ev.ChildEPCs)
		case "inputEPCList":
			return once(&seen, 9) && d.strs(&ev.InputEPCList)
		case "outputEPCList":
			return once(&seen, 10) && d.strs(&ev.OutputEPCList)
		case "quantityList":
			return once(&seen, 11) && d.quantities(&ev.QuantityList)
		case "childQuantityList":
			return once(&seen, 12) && d.quantities(&ev.ChildQuantityList)
		case "inputQuantityList":
			return once(&seen, 13) && d.quantities(&ev.InputQuantityList)
		case "outputQuantityList":
			return once(&seen, 14) && d.quantities(&ev.OutputQuantityList)
		case "transformationID":
			return once(&seen, 15) && d.str(&ev.TransformationID)
		case "readPoint":
			return once(&seen, 16) && d.place(&ev.ReadPoint)
		case "bizLocation":
			return once(&seen, 17) && d.place(&ev.BizLocation)
		case "bizTransactionList":
			return once(&seen, 18) && d.bizTxs(&ev.BizTransactionList)
		case "sourceList":
			return once(&seen, 19) && d.sourceDests(&ev.SourceList)
		case "destinationList":
			return once(&seen, 20) && d.sourceDests(&ev.DestinationList)
		case "ilmd":
			return once(&seen, 21) && d.anyMap(&ev.ILMD)
		case "errorDeclaration":
			return once(&seen, 22) && d.declaration(&ev.ErrorDeclaration)
		case "lothub:supplierLot":
			return once(&seen, 23) && d.str(&ev.SupplierLot)
		case "lothub:reason":
			return once(&seen, 24) && d.str(&ev.Reason)
		case "lothub:operator":
			return once(&seen, 25) && d.str(&ev.Operator)
		case "lothub:params":
			return once(&seen, 26) && d.anyMap(&ev.Params)
		case "lothub:hold":
			return once(&seen, 27) && d.str(&ev.Hold)
		}
		return d.other(key, eventFields)
	})
	return ok && d.end()
}

// once marks field i read; false when it was already.
func once(seen *uint64, i uint) bool {
	if *seen&(1<<i) != 0 {
		return false
	}
	*seen |= 1 << i
	return true
}

// The members of each struct decodeEvent fills, by their tags: a member of
// another name that encoding/json would take for one of them (the same
// letters in another case) is not decoded here.
var (
	eventFields = tagsOf(epcisEvent{})
	qtyFields   = tagsOf(quantity{})
	placeFields = tagsOf(place{})
	txFields    = tagsOf(bizTx{})
	sdFields    = tagsOf(sourceDest{})
	declFields  = tagsOf(errDeclaration{})
)

// tagsOf lists a struct's JSON names, upper-cased.
func tagsOf(v any) []string {
	var out []string
	raw, _ := json.Marshal(v) // every field is written: no omitempty
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	for k := range m {
		out = append(out, strings.ToUpper(k))
	}
	return out
}

// eventDecoder reads JSON text at i.
type eventDecoder struct {
	b []byte
	i int
}

func (d *eventDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\r', '\n':
			d.i++
			continue
		}
		return
	}
}

// peek is the next byte after white space (0 at the end).
func (d *eventDecoder) peek() byte {
	d.space()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *eventDecoder) end() bool { return d.peek() == 0 && d.i == len(d.b) }

// null reads a null.
func (d *eventDecoder) null() bool {
	if d.peek() == 'n' && len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

// span returns the text of the next value and moves past it.
func (d *eventDecoder) span() ([]byte, bool) {
	d.space()
	n, whole := scanValue(d.b[d.i:], true)
	if !whole || n <= 0 {
		return nil, false
	}
	v := d.b[d.i : d.i+n]
	d.i += n
	return v, true
}

// object reads an object, calling member with each name, positioned at its
// value (which member reads).
func (d *eventDecoder) object(member func(key string) bool) bool {
	if d.peek() != '{' {
		return false
	}
	d.i++
	if d.peek() == '}' {
		d.i++
		return true
	}
	for {
		if d.peek() != '"' {
			return false
		}
		q, ok := d.span()
		if !ok {
			return false
		}
		key, ok := unquote(q)
		if !ok || d.peek() != ':' {
			return false
		}
		d.i++
		if !member(key) {
			return false
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return true
		default:
			return false
		}
	}
}

// array reads an array, calling elem at each element.
func (d *eventDecoder) array(elem func() bool) bool {
	if d.peek() != '[' {
		return false
	}
	d.i++
	if d.peek() == ']' {
		d.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return true
		default:
			return false
		}
	}
}

// other skips the value of a member that is no field — unless
// encoding/json would take its name for one of fields.
func (d *eventDecoder) other(key string, fields []string) bool {
	k := strings.ToUpper(key)
	for _, f := range fields {
		if k == f {
			return false
		}
	}
	for _, c := range key {
		if c >= 0x80 {
			return false // encoding/json folds some letters beyond ASCII (ſ, K)
		}
	}
	v, ok := d.span()
	if !ok {
		return false
	}
	// The value must be JSON (encoding/json checks what it skips).
	return json.Valid(v)
}

// str reads a string (null leaves it as it is).
func (d *eventDecoder) str(s *string) bool {
	if d.null() {
		return true
	}
	if d.peek() != '"' {
		return false
	}
	q, ok := d.span()
	if !ok {
		return false
	}
	*s, ok = unquote(q)
	return ok
}

// strs reads an array of strings (null: none).
func (d *eventDecoder) strs(out *[]string) bool {
	if d.null() {
		*out = nil
		return true
	}
	l := []string{}
	ok := d.array(func() bool {
		if d.peek() != '"' {
			return false // null elements and the like: encoding/json's
		}
		var s string
		if !d.str(&s) {
			return false
		}
		l = append(l, s)
		return true
	})
	*out = l
	return ok
}

func (d *eventDecoder) quantities(out *[]quantity) bool {
	if d.null() {
		*out = nil
		return true
	}
	l := []quantity{}
	ok := d.array(func() bool {
		var q quantity
		var seen uint64
		ok := d.object(func(key string) bool {
			switch key {
			case "epcClass":
				return once(&seen, 0) && d.str(&q.EPCClass)
			case "quantity":
				return once(&seen, 1) && d.number(&q.Quantity)
			case "uom":
				return once(&seen, 2) && d.str(&q.UOM)
			}
			return d.other(key, qtyFields)
		})
		l = append(l, q)
		return ok
	})
	*out = l
	return ok
}

// number reads a number as a float64 (null: none).
func (d *eventDecoder) number(out **float64) bool {
	if d.null() {
		*out = nil
		return true
	}
	c := d.peek()
	if c != '-' && (c < '0' || c > '9') {
		return false
	}
	v, ok := d.span()
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || !json.Valid(v) {
		return false
	}
	*out = &f
	return true
}

func (d *eventDecoder) place(out **place) bool {
	if d.null() {
		*out = nil
		return true
	}
	p := &place{}
	seen := false
	ok := d.object(func(key string) bool {
		if key != "id" {
			return d.other(key, placeFields)
		}
		if seen {
			return false
		}
		seen = true
		return d.str(&p.ID)
	})
	*out = p
	return ok
}

func (d *eventDecoder) bizTxs(out *[]bizTx) bool {
	if d.null() {
		*out = nil
		return true
	}
	l := []bizTx{}
	ok := d.array(func() bool {
		var t bizTx
		var seen uint64
		ok := d.object(func(key string) bool {
			switch key {
			case "type":
				return once(&seen, 0) && d.str(&t.Type)
			case "bizTransaction":
				return once(&seen, 1) && d.str(&t.BizTransaction)
			}
			return d.other(key, txFields)
		})
		l = append(l, t)
		return ok
	})
	*out = l
	return ok
}

func (d *eventDecoder) sourceDests(out *[]sourceDest) bool {
	if d.null() {
		*out = nil
		return true
	}
	l := []sourceDest{}
	ok := d.array(func() bool {
		var sd sourceDest
		var seen uint64
		ok := d.object(func(key string) bool {
			switch key {
			case "type":
				return once(&seen, 0) && d.str(&sd.Type)
			case "source":
				return once(&seen, 1) && d.str(&sd.Source)
			case "destination":
				return once(&seen, 2) && d.str(&sd.Destination)
			}
			return d.other(key, sdFields)
		})
		l = append(l, sd)
		return ok
	})
	*out = l
	return ok
}

func (d *eventDecoder) declaration(out **errDeclaration) bool {
	if d.null() {
		*out = nil
		return true
	}
	e := &errDeclaration{}
	var seen uint64
	ok := d.object(func(key string) bool {
		switch key {
		case "declarationTime":
			return once(&seen, 0) && d.str(&e.DeclarationTime)
		case "reason":
			return once(&seen, 1) && d.str(&e.Reason)
		case "correctiveEventIDs":
			return once(&seen, 2) && d.strs(&e.CorrectiveEventIDs)
		}
		return d.other(key, declFields)
	})
	*out = e
	return ok
}

// anyMap reads an object into a map (numbers as float64), as jsonobject
// decodes it exactly (null: none).
func (d *eventDecoder) anyMap(out *map[string]any) bool {
	if d.null() {
		*out = nil
		return true
	}
	if d.peek() != '{' {
		return false
	}
	v, ok := d.span()
	if !ok {
		return false
	}
	m, ok := jsonobject.Decode(v, false)
	*out = m
	return ok
}
