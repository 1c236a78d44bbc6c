package core

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
)

// LotStatus is everything known about one lot now: `hub lot`.
type LotStatus struct {
	Item     string        `json:"item"`
	Lot      string        `json:"lot"`
	OnHand   []Qty         `json:"on_hand"`
	OnHold   bool          `json:"on_hold"`
	Location string        `json:"location,omitempty"`
	Site     string        `json:"site,omitempty"`
	Holds    []HoldEntry   `json:"holds"`
	Steps    []StepEntry   `json:"steps"`
	Receipts []SupplierLot `json:"receipts"`
	// Attributes are the params of the lot's receipts and productions
	// in effect, and of the transforms that output it (expiration_date,
	// manufacturing_date, …: docs/events.md), a later event's value
	// replacing an earlier one's. A lot made by a transform from a single
	// other lot (a batch given a new number) inherits the attributes of
	// that lot it does not carry itself.
	Attributes map[string]any `json:"attributes,omitempty"`
	Events     []EventEntry   `json:"events"`
	// ERPDocuments are the outbox actions the lot's events set off (the
	// ERP's side of the genealogy: a goods receipt's material document),
	// oldest first.
	ERPDocuments []ERPDocument `json:"erp_documents,omitempty"`
}

// ERPDocument is an outbox action of one of a lot's events, and the
// document it made in the ERP once delivered.
type ERPDocument struct {
	Event    string      `json:"event"`
	Action   string      `json:"action"`
	Outbox   int64       `json:"outbox_id"`
	State    OutboxState `json:"state"`
	Document string      `json:"document,omitempty"`
	Error    string      `json:"error,omitempty"`
}

// HoldEntry is one hold or release of the lot.
type HoldEntry struct {
	Type   EventType `json:"type"` // hold or release
	Time   string    `json:"time"`
	Reason string    `json:"reason,omitempty"`
	Event  string    `json:"event"`
}

// StepEntry is one process or quality step the lot went through.
type StepEntry struct {
	Step      string         `json:"step"`
	Time      string         `json:"time"`
	Operator  string         `json:"operator,omitempty"`
	Equipment string         `json:"equipment,omitempty"`
	Params    map[string]any `json:"params,omitempty"`
	Event     string         `json:"event"`
}

// EventEntry is one stored version of an event about the lot.
type EventEntry struct {
	ID      string    `json:"id"`
	Type    EventType `json:"type"`
	Time    string    `json:"time"`
	Status  Status    `json:"status"`
	Version int       `json:"version"`
	SeenAt  string    `json:"seen_at"`
	Summary string    `json:"summary"`
	Event   *Event    `json:"event"`
}

// Lot returns the status and history of one lot, or ENOTFOUND.
func (q *Queries) Lot(ctx context.Context, ref LotRef) (*LotStatus, error) {
	id, err := q.findLot(ctx, ref)
	if err != nil {
		return nil, err
	}
	st := &LotStatus{Item: ref.Item, Lot: ref.Lot, OnHand: []Qty{}, Holds: []HoldEntry{}, Steps: []StepEntry{}, Receipts: []SupplierLot{}, Events: []EventEntry{}}
	oh, err := q.Store.OnHand(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	for _, r := range oh {
		st.OnHand = append(st.OnHand, Qty{Qty: round(r.Qty), UOM: r.UOM})
	}
	rows, err := q.Store.LotEvents(ctx, id)
	if err != nil {
		return nil, err
	}
	var madeFrom []LotRef // the single input of each transform that made the lot
	for _, r := range rows {
		var e Event
		if err := json.Unmarshal(r.Body, &e); err != nil {
			return nil, fmt.Errorf("stored event %s version %d is unreadable: %w", r.ID, r.Version, err)
		}
		st.Events = append(st.Events, EventEntry{
			ID: r.ID, Type: r.Type, Time: fmtTime(r.Time), Status: r.Status, Version: r.Version,
			SeenAt: fmtTime(r.SeenAt), Summary: Summary(&e), Event: &e,
		})
		if r.Status != Active {
			continue
		}
		t := fmtTime(r.Time)
		switch e.Type {
		case Hold, Release:
			st.Holds = append(st.Holds, HoldEntry{Type: e.Type, Time: t, Reason: e.Reason, Event: e.ID})
			st.OnHold = e.Type == Hold
		case Step:
			st.Steps = append(st.Steps, StepEntry{Step: e.Step, Time: t, Operator: e.Operator, Equipment: e.Equipment, Params: e.Params, Event: e.ID})
		case Move:
			st.Location = e.To
		case Receive, Produce:
			st.setAttributes(e.Params)
		case Transform:
			if outputOf(&e, ref) {
				// The lot was made here: the transform's params are its
				// attributes, its location and site where it is.
				st.setAttributes(e.Params)
				if e.Location != "" {
					st.Location = e.Location
				}
				if single, ok := singleInput(&e); ok && single != ref {
					madeFrom = append(madeFrom, single)
				}
			}
		}
		switch e.Type {
		case Receive:
			st.Receipts = append(st.Receipts, SupplierLot{
				Item: ref.Item, Lot: ref.Lot, SupplierLot: e.SupplierLot, PO: e.PO,
				Qty: qtyOf(e.Qty), UOM: e.UOM, Time: t,
			})
			if e.Supplier != nil {
				st.Receipts[len(st.Receipts)-1].ID = e.Supplier.ID
				st.Receipts[len(st.Receipts)-1].Name = e.Supplier.Name
			}
		}
		if e.Type != Move && e.Location != "" && e.Lot != nil {
			st.Location = e.Location
		}
		if e.Site != "" {
			st.Site = e.Site
		}
	}
	sort.SliceStable(st.Events, func(i, j int) bool { return st.Events[i].Time < st.Events[j].Time })
	if err := q.inheritAttributes(ctx, st, ref, madeFrom, map[LotRef]bool{ref: true}); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(st.Events))
	for _, e := range st.Events {
		ids = append(ids, e.ID)
	}
	acts, err := q.Store.Outbox(ctx, OutboxFilter{EventIDs: ids})
	if err != nil {
		return nil, err
	}
	for i := len(acts) - 1; i >= 0; i-- {
		a := acts[i]
		d := ERPDocument{Event: a.EventID, Action: a.Action, Outbox: a.ID, State: a.State, Document: a.Document}
		if a.State != OutboxDelivered {
			d.Error = a.LastError
		}
		st.ERPDocuments = append(st.ERPDocuments, d)
	}
	return st, nil
}

func (st *LotStatus) setAttributes(params map[string]any) {
	for k, v := range params {
		if st.Attributes == nil {
			st.Attributes = map[string]any{}
		}
		st.Attributes[k] = v
	}
}

// outputOf reports whether ref is an output of the transform e.
func outputOf(e *Event, ref LotRef) bool {
	for _, o := range e.Outputs {
		if o.Ref() == ref {
			return true
		}
	}
	return false
}

// singleInput returns the one lot a transform has as input, if it has
// exactly one (however many times it is listed).
func singleInput(e *Event) (LotRef, bool) {
	if len(e.Inputs) == 0 {
		return LotRef{}, false
	}
	in := e.Inputs[0].Ref()
	for _, x := range e.Inputs[1:] {
		if x.Ref() != in {
			return LotRef{}, false
		}
	}
	return in, true
}

// maxInheritDepth bounds how far back attributes are inherited: a batch
// re-batched a few times still finds its first batch's dates.
const maxInheritDepth = 8

// inheritAttributes gives a lot made from one other lot by a transform (a
// batch re-batched or relabelled: SAP 309/311 with a batch change) the
// attributes of that lot it does not carry itself: an expiration or
// manufacturing date does not change because the batch got a new number
// (issue 15 §4). A lot blended from several lots inherits nothing: which
// input's date would be a guess. Inherited attributes come from the
// input's own or, in turn, inherited ones; seen stops at cycles.
func (q *Queries) inheritAttributes(ctx context.Context, st *LotStatus, ref LotRef, from []LotRef, seen map[LotRef]bool) error {
	if len(seen) > maxInheritDepth {
		return nil
	}
	sort.Slice(from, func(i, j int) bool { return cmpRef(from[i], from[j]) < 0 })
	for _, in := range from {
		if seen[in] {
			continue
		}
		id, err := q.Store.FindLot(ctx, in)
		if ErrorCode(err) == ENOTFOUND {
			continue
		}
		if err != nil {
			return err
		}
		rows, err := q.Store.LotEvents(ctx, id)
		if err != nil {
			return err
		}
		parent := &LotStatus{}
		var grand []LotRef
		for _, r := range rows {
			if r.Status != Active || r.Type != Receive && r.Type != Produce && r.Type != Transform {
				continue
			}
			var e Event
			if err := json.Unmarshal(r.Body, &e); err != nil {
				return fmt.Errorf("stored event %s version %d is unreadable: %w", r.ID, r.Version, err)
			}
			switch {
			case e.Type != Transform:
				parent.setAttributes(e.Params)
			case outputOf(&e, in):
				parent.setAttributes(e.Params)
				if single, ok := singleInput(&e); ok && single != in {
					grand = append(grand, single)
				}
			}
		}
		seen[in] = true
		if err := q.inheritAttributes(ctx, parent, in, grand, seen); err != nil {
			return err
		}
		for k, v := range parent.Attributes {
			if _, ok := st.Attributes[k]; !ok {
				st.setAttributes(map[string]any{k: v})
			}
		}
	}
	return nil
}

// Summary describes an event in one line for people.
func Summary(e *Event) string {
	q := ""
	if e.Qty != nil {
		q = fmt.Sprintf("%g %s", *e.Qty, e.UOM)
	}
	switch e.Type {
	case Receive:
		s := "received " + q
		if e.Supplier != nil {
			s += " from " + partyName(*e.Supplier)
		}
		if e.SupplierLot != "" {
			s += ", supplier lot " + e.SupplierLot
		}
		if e.PO != "" {
			s += ", PO " + e.PO
		}
		return s
	case Consume:
		return "consumed " + q + " by order " + e.Order
	case Produce:
		return "produced " + q + " by order " + e.Order
	case Ship:
		s := "shipped " + q + " to " + partyName(*e.Customer)
		if e.SalesOrder != "" {
			s += ", sales order " + e.SalesOrder
		}
		return s
	case Transform:
		return fmt.Sprintf("transform of %d input(s) into %d output(s)", len(e.Inputs), len(e.Outputs))
	case Step:
		s := "step " + e.Step
		if e.Operator != "" {
			s += " by " + e.Operator
		}
		if e.Equipment != "" {
			s += " on " + e.Equipment
		}
		return s
	case Move:
		return "moved from " + e.From + " to " + e.To
	case Hold, Release:
		s := string(e.Type)
		if e.Reason != "" {
			s += ": " + e.Reason
		}
		return s
	case Reverse:
		return "reverses " + e.Reverses
	case Adjust:
		s := "adjusted by " + q
		if e.Qty != nil && *e.Qty > 0 {
			s = "adjusted by +" + q
		}
		if e.Reason != "" {
			s += ": " + e.Reason
		}
		return s
	}
	return string(e.Type)
}

func partyName(p Party) string {
	if p.Name != "" {
		return p.Name + " (" + p.ID + ")"
	}
	return p.ID
}
