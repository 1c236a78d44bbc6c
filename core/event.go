package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// EventType is the kind of a canonical event.
type EventType string

// The canonical event types of version 1 (see shared/design.md).
const (
	Receive   EventType = "receive"
	Consume   EventType = "consume"
	Produce   EventType = "produce"
	Transform EventType = "transform"
	Step      EventType = "step"
	Ship      EventType = "ship"
	Move      EventType = "move"
	Hold      EventType = "hold"
	Release   EventType = "release"
	Reverse   EventType = "reverse"
	// Adjust is an inventory adjustment of a lot: a count correction, scrap
	// or a write-off. Its qty is signed (negative takes stock away); it
	// changes what is on hand, never the genealogy.
	Adjust EventType = "adjust"
)

var eventTypes = map[EventType]bool{
	Receive: true, Consume: true, Produce: true, Transform: true, Step: true,
	Ship: true, Move: true, Hold: true, Release: true, Reverse: true, Adjust: true,
}

// Valid reports whether t is one of the event types.
func (t EventType) Valid() bool { return eventTypes[t] }

// LotRef identifies a lot. Lot identity is the pair (item, lot): lot L100 of
// SUGAR and lot L100 of SALT are different lots. Both parts are compared
// exactly as stored; normalising them is a mapping's job.
type LotRef struct {
	Item string `json:"item"`
	Lot  string `json:"lot"`
}

func (r LotRef) String() string { return r.Item + "/" + r.Lot }

// Party is a supplier or a customer.
type Party struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// LotQty is one input or output of a transform.
type LotQty struct {
	Item string   `json:"item"`
	Lot  string   `json:"lot"`
	Qty  *float64 `json:"qty,omitempty"`
	UOM  string   `json:"uom,omitempty"`
}

// Ref returns the lot the entry is about.
func (q LotQty) Ref() LotRef { return LotRef{Item: q.Item, Lot: q.Lot} }

// Source says which raw record an event came from. The hub sets it.
type Source struct {
	Connector string `json:"connector,omitempty"`
	Record    string `json:"record,omitempty"`
}

// Event is a canonical traceability event, version 1. Field names are a
// stable interface: see "Canonical event, version 1" in shared/design.md.
type Event struct {
	ID          string         `json:"id"`
	Type        EventType      `json:"type"`
	Time        string         `json:"time"`
	Lot         *LotRef        `json:"lot,omitempty"`
	Qty         *float64       `json:"qty,omitempty"`
	UOM         string         `json:"uom,omitempty"`
	Order       string         `json:"order,omitempty"`
	Supplier    *Party         `json:"supplier,omitempty"`
	SupplierLot string         `json:"supplier_lot,omitempty"`
	PO          string         `json:"po,omitempty"`
	Site        string         `json:"site,omitempty"`
	Location    string         `json:"location,omitempty"`
	Customer    *Party         `json:"customer,omitempty"`
	SalesOrder  string         `json:"sales_order,omitempty"`
	Delivery    string         `json:"delivery,omitempty"`
	Carrier     string         `json:"carrier,omitempty"`
	ShipTo      string         `json:"ship_to,omitempty"`
	Step        string         `json:"step,omitempty"`
	Operator    string         `json:"operator,omitempty"`
	Equipment   string         `json:"equipment,omitempty"`
	Params      map[string]any `json:"params,omitempty"`
	Inputs      []LotQty       `json:"inputs,omitempty"`
	Outputs     []LotQty       `json:"outputs,omitempty"`
	From        string         `json:"from,omitempty"`
	To          string         `json:"to,omitempty"`
	Reason      string         `json:"reason,omitempty"`
	Reverses    string         `json:"reverses,omitempty"`
	// Rework declares a transform whose input and output are the same
	// lot (a lot reworked into itself): without it such a self-loop is
	// refused as a likely mistake.
	Rework bool    `json:"rework,omitempty"`
	Source *Source `json:"source,omitempty"`
}

// DecodeEvent parses one canonical event from JSON, strictly: unknown
// fields and wrong types are errors, so a typo in a mapping ("quantity" for
// "qty") is caught instead of silently losing the quantity. It does not
// validate; call Validate.
func DecodeEvent(data []byte) (*Event, error) {
	if e, ok := decodeEventFast(data); ok {
		return e, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var e Event
	if err := dec.Decode(&e); err != nil {
		return nil, Errorf(EINVALID, "not a canonical event: %s", describeJSONError(err))
	}
	if dec.More() {
		return nil, Errorf(EINVALID, "not a canonical event: more than one JSON value on the line")
	}
	return &e, nil
}

func describeJSONError(err error) string {
	switch e := err.(type) {
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %q must be %s, not a JSON %s (at byte %d)", e.Field, jsonKind(e.Type.Kind().String()), e.Value, e.Offset)
	case *json.SyntaxError:
		return fmt.Sprintf("invalid JSON at byte %d: %v", e.Offset, e)
	}
	return err.Error()
}

func jsonKind(goKind string) string {
	switch goKind {
	case "float64":
		return "a number"
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "slice":
		return "an array"
	}
	return goKind
}

// Timestamp parses the event's time (RFC 3339).
func (e *Event) Timestamp() (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, e.Time)
	if err != nil {
		return time.Time{}, Errorf(EINVALID, "event %s: time %q is not RFC 3339 (e.g. 2026-03-01T08:15:00Z)", e.ID, e.Time)
	}
	return t, nil
}

// Validate checks the event against the rules of canonical event version 1
// and returns an EINVALID *Error naming the first field at fault.
func (e *Event) Validate() error {
	bad := func(format string, args ...any) error {
		id := e.ID
		if id == "" {
			id = "(no id)"
		}
		return Errorf(EINVALID, "event %s: %s", id, fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(e.ID) == "" {
		return bad("field \"id\" is required")
	}
	if e.Type == "" {
		return bad("field \"type\" is required")
	}
	if !eventTypes[e.Type] {
		return bad("unknown type %q (want one of receive, consume, produce, transform, step, ship, move, hold, release, reverse, adjust)", e.Type)
	}
	if e.Time == "" {
		return bad("field \"time\" is required")
	}
	if _, err := e.Timestamp(); err != nil {
		return err
	}
	if e.Qty != nil && (math.IsNaN(*e.Qty) || math.IsInf(*e.Qty, 0) || *e.Qty < 0 && e.Type != Adjust) {
		return bad("qty must be a finite number ≥ 0, got %v", *e.Qty)
	}
	if e.Qty != nil && e.UOM == "" {
		return bad("field \"uom\" is required with qty")
	}
	if e.Rework && e.Type != Transform {
		return bad("\"rework\" declares a transform whose input and output are the same lot; a %s has no rework (remove it)", e.Type)
	}
	switch e.Type {
	case Transform:
		if e.Lot != nil {
			return bad("a transform names its lots in inputs and outputs, not in \"lot\"")
		}
		if len(e.Inputs) == 0 || len(e.Outputs) == 0 {
			return bad("a transform needs at least one input and one output")
		}
		for i, q := range append(append([]LotQty{}, e.Inputs...), e.Outputs...) {
			where := "inputs"
			n := i
			if i >= len(e.Inputs) {
				where, n = "outputs", i-len(e.Inputs)
			}
			if strings.TrimSpace(q.Item) == "" || strings.TrimSpace(q.Lot) == "" {
				return bad("%s[%d] needs both item and lot", where, n)
			}
			if q.Qty != nil && (math.IsNaN(*q.Qty) || math.IsInf(*q.Qty, 0) || *q.Qty < 0) {
				return bad("%s[%d].qty must be a finite number ≥ 0", where, n)
			}
			if q.Qty != nil && q.UOM == "" {
				return bad("%s[%d] has qty but no uom", where, n)
			}
		}
		if !e.Rework {
			for _, in := range e.Inputs {
				for _, out := range e.Outputs {
					if in.Ref() == out.Ref() {
						return bad("input and output are the same lot %s (a self-loop): if the lot was reworked into itself, declare it with \"rework\": true; otherwise correct the lot numbers", in.Ref())
					}
				}
			}
		}
		return nil
	case Reverse:
		if e.Reverses == "" {
			return bad("a reverse needs \"reverses\": the id of the event it cancels")
		}
		if e.Reverses == e.ID {
			return bad("an event cannot reverse itself")
		}
		return nil
	}
	if e.Lot == nil {
		return bad("field \"lot\" is required on %s", e.Type)
	}
	if strings.TrimSpace(e.Lot.Item) == "" || strings.TrimSpace(e.Lot.Lot) == "" {
		return bad("field \"lot\" needs both item and lot (blank text is no lot number)")
	}
	switch e.Type {
	case Receive, Consume, Produce, Ship, Adjust:
		if e.Qty == nil {
			return bad("field \"qty\" is required on %s", e.Type)
		}
	}
	switch e.Type {
	case Consume, Produce:
		if e.Order == "" {
			return bad("field \"order\" is required on %s", e.Type)
		}
	case Ship:
		if e.Customer == nil || e.Customer.ID == "" {
			return bad("field \"customer\" with an \"id\" is required on ship")
		}
	case Step:
		if e.Step == "" {
			return bad("field \"step\" is required on step")
		}
	case Move:
		if e.To == "" {
			return bad("field \"to\" is required on move")
		}
	}
	return nil
}

// ContentHash is the hash of the event's content without its source: two
// reads of the same document give the same hash, whichever raw record
// carried it. It decides "same id, same content: no-op".
func (e *Event) ContentHash() string {
	c := *e
	c.Source = nil
	sum := sha256.Sum256(marshalEvent(&c))
	return hex.EncodeToString(sum[:16])
}

// Lots returns every lot the event is about: its lot, or a transform's
// inputs and outputs.
func (e *Event) Lots() []LotRef {
	if e.Lot != nil {
		return []LotRef{*e.Lot}
	}
	refs := make([]LotRef, 0, len(e.Inputs)+len(e.Outputs))
	for _, q := range e.Inputs {
		refs = append(refs, q.Ref())
	}
	for _, q := range e.Outputs {
		refs = append(refs, q.Ref())
	}
	return refs
}
