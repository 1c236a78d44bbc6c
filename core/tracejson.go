package core

import (
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/lothub/lothub/internal/jsonquote"
)

// WriteJSON writes the result as `hub trace --json` and `hub recall --json`
// print it: byte for byte what encoding/json writes with HTML escaping off
// and an indent of two spaces, newline-terminated. It streams: a recall of
// 70,000 lots is 80 MB of JSON, and building it in memory first, then
// indenting it, took half of such a recall's time (docs/benchmarks.md).
//
// A test compares it with encoding/json on randomly filled results, so a
// field added to TraceResult or its parts without being added here fails.
func (r *TraceResult) WriteJSON(w io.Writer) error {
	return r.writeJSON(&jsonWriter{w: w, buf: make([]byte, 0, 1<<17), indent: true})
}

// WriteCompactJSON writes the result as the HTTP API serves it: what
// encoding/json's Encoder writes with HTML escaping off, newline-terminated.
func (r *TraceResult) WriteCompactJSON(w io.Writer) error {
	return r.writeJSON(&jsonWriter{w: w, buf: make([]byte, 0, 1<<17)})
}

// AppendCompactJSON appends to b what WriteCompactJSON writes: a server
// answering from a buffer it reuses copies the answer once, not twice.
func (r *TraceResult) AppendCompactJSON(b []byte) ([]byte, error) {
	j := &jsonWriter{buf: b}
	err := r.writeJSON(j)
	return j.buf, err
}

func (r *TraceResult) writeJSON(j *jsonWriter) error {
	j.object()
	if r.Root != nil {
		j.key("root")
		j.rootLot(r.Root)
	}
	if len(r.Roots) > 0 {
		list(j, "roots", r.Roots, j.rootLot)
	}
	j.str("direction", string(r.Direction))
	head := func() { r.writeLotsLinks(j) }
	tail := func(j *jsonWriter) {
		writeShipments(j, r.Shipments)
		if r.Customers != nil {
			list(j, "customers", *r.Customers, func(c *Customer) {
				j.object()
				j.str("id", c.ID)
				j.str("name", c.Name)
				j.key("shipped")
				j.qtys(c.Shipped)
				j.end('}')
			})
		}
	}
	if j.w != nil && len(r.Shipments) >= jsonApart {
		// The shipments (half of a wide recall's JSON) are written into
		// a buffer of their own on another core while the lots and links
		// go out; then the buffer follows them. The writer is, at this
		// point, inside the top object after its first member. A
		// shipment is about 300 bytes indented: the buffer is sized
		// once, not grown by copies.
		t := &jsonWriter{buf: make([]byte, 0, 320*len(r.Shipments)), indent: j.indent, depth: j.depth}
		done := make(chan struct{})
		go func() { defer close(done); tail(t) }()
		head()
		<-done
		j.flush()
		if j.err == nil && t.err != nil {
			j.err = t.err
		}
		if j.err == nil {
			_, j.err = j.w.Write(t.buf)
		}
	} else {
		head()
		tail(j)
	}
	j.end('}')
	j.buf = append(j.buf, '\n')
	if j.w != nil {
		j.flush()
	}
	if j.err != nil {
		return fmt.Errorf("write JSON: %w", j.err)
	}
	return nil
}

// jsonApart is how many shipments an answer lists before WriteJSON
// writes them on a goroutine of their own.
const jsonApart = 4096

// writeShipments writes the shipments member of a trace.
func writeShipments(j *jsonWriter, shipments []Shipment) {
	list(j, "shipments", shipments, func(s *Shipment) {
		j.object()
		j.str("item", s.Item)
		j.str("lot", s.Lot)
		j.key("qty")
		j.float(s.Qty)
		j.str("uom", s.UOM)
		j.key("customer")
		j.object()
		j.str("id", s.Customer.ID)
		j.strOmitEmpty("name", s.Customer.Name)
		j.end('}')
		j.str("sales_order", s.SalesOrder)
		j.strOmitEmpty("delivery", s.Delivery)
		j.str("time", s.Time)
		j.end('}')
	})
}

// list writes a member whose value is an array (null when xs is nil),
// each element by one call of each.
func list[T any](j *jsonWriter, key string, xs []T, each func(*T)) {
	j.key(key)
	if xs == nil {
		j.null()
		return
	}
	j.array()
	for i := range xs {
		j.elem()
		each(&xs[i])
	}
	j.end(']')
}

func (j *jsonWriter) str(key, v string) {
	j.key(key)
	j.string(v)
}

// strOmitEmpty writes a member tagged omitempty.
func (j *jsonWriter) strOmitEmpty(key, v string) {
	if v != "" {
		j.str(key, v)
	}
}

func (j *jsonWriter) rootLot(r *RootLot) {
	j.object()
	j.str("item", r.Item)
	j.str("lot", r.Lot)
	j.onHand(r.OnHand, r.OnHold)
	j.end('}')
}

// onHand writes the optional on_hand and on_hold members of a lot.
func (j *jsonWriter) onHand(q *[]Qty, held bool) {
	if q != nil {
		j.key("on_hand")
		j.qtys(*q)
	}
	if held {
		j.key("on_hold")
		j.bool(true)
	}
}

func (j *jsonWriter) qtys(qs []Qty) {
	if qs == nil {
		j.null()
		return
	}
	j.array()
	for _, q := range qs {
		j.elem()
		j.object()
		j.key("qty")
		j.float(q.Qty)
		j.str("uom", q.UOM)
		j.end('}')
	}
	j.end(']')
}

func (j *jsonWriter) lotRef(r LotRef) {
	j.object()
	j.str("item", r.Item)
	j.str("lot", r.Lot)
	j.end('}')
}

// jsonWriter appends indented JSON to buf and hands it to w in pieces of
// about 64 KB (w nil: it keeps it all in buf). The first error sticks;
// later writes are no-ops.
type jsonWriter struct {
	w      io.Writer
	buf    []byte
	indent bool // by two spaces, one member or element a line
	depth  int
	empty  bool // the innermost open object or array has no member yet
	err    error
}

func (j *jsonWriter) newline() {
	if !j.indent {
		return
	}
	j.buf = append(j.buf, '\n')
	for range j.depth {
		j.buf = append(j.buf, ' ', ' ')
	}
}

func (j *jsonWriter) object() { j.open('{') }
func (j *jsonWriter) array()  { j.open('[') }

func (j *jsonWriter) open(c byte) {
	j.buf = append(j.buf, c)
	j.depth++
	j.empty = true
}

// elem starts a member of an array.
func (j *jsonWriter) elem() {
	if !j.empty {
		j.buf = append(j.buf, ',')
	}
	j.empty = false
	j.newline()
}

// key starts a member of an object (keys here need no escaping).
func (j *jsonWriter) key(k string) {
	j.elem()
	j.buf = append(j.buf, '"')
	j.buf = append(j.buf, k...)
	j.buf = append(j.buf, '"', ':')
	if j.indent {
		j.buf = append(j.buf, ' ')
	}
}

// end closes the innermost object or array; an empty one stays "{}" or "[]".
func (j *jsonWriter) end(c byte) {
	j.depth--
	if !j.empty {
		j.newline()
	}
	j.buf = append(j.buf, c)
	j.empty = false
	if j.w != nil && len(j.buf) >= 1<<16 {
		j.flush()
	}
}

func (j *jsonWriter) flush() {
	if j.err == nil && len(j.buf) > 0 {
		_, j.err = j.w.Write(j.buf)
	}
	j.buf = j.buf[:0]
}

func (j *jsonWriter) null() { j.buf = append(j.buf, "null"...) }

func (j *jsonWriter) bool(v bool) { j.buf = strconv.AppendBool(j.buf, v) }

func (j *jsonWriter) int(v int) { j.buf = strconv.AppendInt(j.buf, int64(v), 10) }

// float formats as encoding/json does: shortest representation, exponent
// only below 1e-6 or from 1e21, and "e-7" rather than "e-07".
func (j *jsonWriter) float(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		if j.err == nil {
			j.err = fmt.Errorf("unsupported quantity %v", f)
		}
		return
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	j.buf = strconv.AppendFloat(j.buf, f, format, -1, 64)
	if format == 'e' {
		b := j.buf
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			j.buf = b[:n-1]
		}
	}
}

// string writes s quoted as encoding/json does without HTML escaping.
func (j *jsonWriter) string(s string) { j.buf = jsonquote.Append(j.buf, s) }

// writeLotsLinks writes the lots, links and suppliers members of a trace.
func (r *TraceResult) writeLotsLinks(j *jsonWriter) {
	list(j, "lots", r.Lots, func(l *TracedLot) {
		j.object()
		j.str("item", l.Item)
		j.str("lot", l.Lot)
		j.key("depth")
		j.int(l.Depth)
		j.onHand(l.OnHand, l.OnHold)
		j.end('}')
	})
	list(j, "links", r.Links, func(l *Link) {
		j.object()
		j.key("parent")
		j.lotRef(l.Parent)
		j.key("child")
		j.lotRef(l.Child)
		j.strOmitEmpty("order", l.Order)
		j.strOmitEmpty("transform", l.Transform)
		if l.Confirmed {
			j.key("confirmed")
			j.bool(true)
		}
		j.end('}')
	})
	list(j, "suppliers", r.Suppliers, func(s *SupplierLot) {
		j.object()
		j.str("id", s.ID)
		j.str("name", s.Name)
		j.str("item", s.Item)
		j.str("lot", s.Lot)
		j.str("supplier_lot", s.SupplierLot)
		j.str("po", s.PO)
		j.key("qty")
		j.float(s.Qty)
		j.str("uom", s.UOM)
		j.str("time", s.Time)
		j.end('}')
	})
}
