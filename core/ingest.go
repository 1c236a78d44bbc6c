package core

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
)

// Input is one line of canonical-event input, with where it came from.
type Input struct {
	Source string // file name or connector; "-" for standard input
	Line   int    // 1-based
	Raw    []byte
	// TooLong marks a line longer than the reader accepts; Raw holds its
	// start and the line is quarantined.
	TooLong bool
}

// IngestStats counts what an ingest did.
type IngestStats struct {
	Read        int `json:"read"`        // lines read, blank ones excluded
	New         int `json:"new"`         // events seen for the first time
	Superseded  int `json:"superseded"`  // new versions of known events
	Unchanged   int `json:"unchanged"`   // same id, same content: no-op
	Quarantined int `json:"quarantined"` // invalid input set aside
}

func (s *IngestStats) add(o IngestStats) {
	s.Read += o.Read
	s.New += o.New
	s.Superseded += o.Superseded
	s.Unchanged += o.Unchanged
	s.Quarantined += o.Quarantined
}

// Ingester applies canonical events to a Store following the genealogy
// rules of shared/design.md.
type Ingester struct {
	Store     Store
	Now       func() time.Time // the clock; time.Now when nil
	BatchSize int              // events per transaction; 5000 when 0
}

func (in *Ingester) now() time.Time {
	if in.Now != nil {
		return in.Now().UTC()
	}
	return time.Now().UTC()
}

// maxLine bounds one JSONL line; a longer line is quarantined, not read
// into memory whole.
const maxLine = 4 << 20

// IngestJSONL reads canonical events, one JSON object a line, and applies
// them in batches, one transaction each. Invalid lines are quarantined with
// their line number and never stop the rest of the input.
func (in *Ingester) IngestJSONL(ctx context.Context, r io.Reader, source string) (IngestStats, error) {
	size := in.BatchSize
	if size <= 0 {
		size = 5000
	}
	var total IngestStats
	br := bufio.NewReaderSize(r, 1<<20)
	batch := make([]Input, 0, size)
	line := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		st, err := in.IngestBatch(ctx, batch)
		if err != nil {
			return err
		}
		total.add(st)
		batch = batch[:0]
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		raw, tooLong, err := readLine(br)
		if err == io.EOF && raw == nil {
			break
		}
		if err != nil && err != io.EOF {
			return total, fmt.Errorf("read %s after line %d: %w", source, line, err)
		}
		line++
		raw = bytes.TrimSpace(raw)
		if tooLong {
			raw = append(raw[:256:256], []byte("…")...)
		}
		if len(raw) == 0 && !tooLong {
			continue
		}
		batch = append(batch, Input{Source: source, Line: line, Raw: append([]byte(nil), raw...), TooLong: tooLong})
		if len(batch) == size {
			if err := flush(); err != nil {
				return total, err
			}
		}
		if err == io.EOF {
			break
		}
	}
	return total, flush()
}

// readLine reads one line; a line longer than maxLine is consumed to its
// end and reported as tooLong with its first bytes.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			if err == io.EOF && buf != nil {
				return buf, tooLong, nil
			}
			return nil, false, err
		}
		if len(buf) < maxLine {
			buf = append(buf, chunk...)
		} else {
			tooLong = true
		}
		if buf == nil {
			buf = []byte{}
		}
		if !isPrefix {
			return buf, tooLong, nil
		}
	}
}

// IngestBatch validates the inputs and applies the valid ones in one
// transaction, quarantining the rest in the same transaction.
func (in *Ingester) IngestBatch(ctx context.Context, inputs []Input) (IngestStats, error) {
	now := in.now()
	st := IngestStats{Read: len(inputs)}
	var events []*Event
	var quarantine []QuarantineRow
	for _, inp := range inputs {
		source := inp.Source
		var ev *Event
		var err error
		if inp.TooLong {
			err = Errorf(EINVALID, "line longer than %d bytes: split the record", maxLine)
		} else if ev, err = DecodeEvent(inp.Raw); err == nil {
			err = ev.Validate()
		}
		if err != nil {
			q := QuarantineRow{
				Key:    quarantineKey(source, inp.Raw),
				Source: source, Line: inp.Line, Reason: err.Error(), Raw: string(inp.Raw), At: now,
			}
			if ev != nil {
				q.EventID = ev.ID
			} else {
				q.EventID = peekID(inp.Raw)
			}
			quarantine = append(quarantine, q)
			continue
		}
		events = append(events, ev)
	}
	st.Quarantined = len(quarantine)
	err := in.Store.Ingest(ctx, func(tx IngestTx) error {
		c, s, err := Plan(ctx, tx, events, now)
		if err != nil {
			return err
		}
		st.New, st.Superseded, st.Unchanged = s.New, s.Superseded, s.Unchanged
		c.Quarantine = quarantine
		return tx.Write(ctx, c)
	})
	if err != nil {
		return IngestStats{}, fmt.Errorf("ingest batch ending at %s line %d: %w", inputs[len(inputs)-1].Source, inputs[len(inputs)-1].Line, err)
	}
	return st, nil
}

func quarantineKey(source string, raw []byte) string {
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write(raw)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// peekID reads the "id" of an event that failed to decode, if it has one,
// so that a later valid version marks the quarantine entry resolved.
func peekID(raw []byte) string {
	var v struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	s, _ := v.ID.(string)
	return s
}

// eventState is what Plan knows of one event id during a batch.
type eventState struct {
	init     *EventRow // current version in the store, nil if none
	initEv   *Event
	versions []*Event // new versions from this batch, in order
	hashes   []string
	status   Status // computed final status of the current version
	done     bool   // status computed
	visiting bool
}

func (s *eventState) final() *Event {
	if n := len(s.versions); n > 0 {
		return s.versions[n-1]
	}
	return s.initEv
}

func (s *eventState) currentHash() string {
	if n := len(s.hashes); n > 0 {
		return s.hashes[n-1]
	}
	if s.init != nil {
		return s.init.Hash
	}
	return ""
}

// Plan computes the changes that applying events (valid, in arrival order)
// makes to the store seen through tx. It reads but does not write.
func Plan(ctx context.Context, tx IngestTx, events []*Event, now time.Time) (*Changes, IngestStats, error) {
	var st IngestStats
	states := make(map[string]*eventState, len(events))
	get := func(id string) *eventState {
		s := states[id]
		if s == nil {
			s = &eventState{}
			states[id] = s
		}
		return s
	}
	// Load the current stored version of every id in the batch, and
	// everything its status can depend on: reverse events naming it, the
	// targets of reverse events, transitively.
	loaded := map[string]bool{}
	need := make([]string, 0, len(events))
	for _, e := range events {
		get(e.ID)
		need = append(need, e.ID)
		if e.Type == Reverse {
			need = append(need, e.Reverses)
		}
	}
	for len(need) > 0 {
		var ids []string
		for _, id := range need {
			if !loaded[id] {
				loaded[id] = true
				ids = append(ids, id)
			}
		}
		need = need[:0]
		if len(ids) == 0 {
			break
		}
		rows, err := tx.CurrentEvents(ctx, ids)
		if err != nil {
			return nil, st, err
		}
		for id, row := range rows {
			s := get(id)
			r := row
			s.init = &r
			var ev Event
			if err := json.Unmarshal(row.Body, &ev); err != nil {
				return nil, st, fmt.Errorf("stored event %s version %d is unreadable: %w", id, row.Version, err)
			}
			s.initEv = &ev
			if ev.Type == Reverse {
				need = append(need, ev.Reverses)
			}
		}
		revs, err := tx.Reversers(ctx, ids)
		if err != nil {
			return nil, st, err
		}
		for _, rs := range revs {
			need = append(need, rs...)
		}
	}
	// Apply the batch's versions in arrival order.
	for _, e := range events {
		s := states[e.ID]
		h := e.ContentHash()
		if h == s.currentHash() {
			st.Unchanged++
			continue
		}
		if s.init == nil && len(s.versions) == 0 {
			st.New++
		} else {
			st.Superseded++
		}
		s.versions = append(s.versions, e)
		s.hashes = append(s.hashes, h)
	}
	// Final statuses: an event is reversed while an active reverse event
	// names it. A reverse that arrived before its target is simply waiting
	// in revBy.
	revBy := map[string][]string{}
	for id, s := range states {
		if f := s.final(); f != nil && f.Type == Reverse {
			revBy[f.Reverses] = append(revBy[f.Reverses], id)
		}
	}
	var status func(id string) Status
	status = func(id string) Status {
		s := states[id]
		if s.done {
			return s.status
		}
		if s.visiting { // a cycle of reversals: treat as not reversing
			return Active
		}
		s.visiting = true
		s.status = Active
		for _, r := range revBy[id] {
			if status(r) == Active {
				s.status = Reversed
				break
			}
		}
		s.visiting, s.done = false, true
		return s.status
	}
	// Lot ids for every lot an affected event names.
	refSet := map[LotRef]bool{}
	for _, s := range states {
		for _, e := range []*Event{s.initEv, s.final()} {
			if e != nil {
				for _, r := range e.Lots() {
					refSet[r] = true
				}
			}
		}
		for _, e := range s.versions {
			for _, r := range e.Lots() {
				refSet[r] = true
			}
		}
	}
	refs := make([]LotRef, 0, len(refSet))
	for r := range refSet {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { // a stable order keeps lot ids deterministic
		if refs[i].Item != refs[j].Item {
			return refs[i].Item < refs[j].Item
		}
		return refs[i].Lot < refs[j].Lot
	})
	lotIDs, err := tx.LotIDs(ctx, refs)
	if err != nil {
		return nil, st, err
	}

	c := &Changes{}
	eff := newEffects(lotIDs)
	ids := make([]string, 0, len(states))
	for id := range states {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s := states[id]
		final := s.final()
		if final == nil { // a reverse target not seen yet
			continue
		}
		fstat := status(id)
		initEff := s.init != nil && s.init.Status == Active && s.initEv.Type != Reverse
		finalEff := fstat == Active && final.Type != Reverse
		changed := len(s.versions) > 0
		if initEff && (!finalEff || changed) {
			c.RemoveEffects = append(c.RemoveEffects, id)
			eff.add(s.initEv, -1)
		}
		if finalEff && (!initEff || changed) {
			eff.add(final, +1)
		}
		if !changed {
			if s.init.Status != fstat {
				c.StatusUpdates = append(c.StatusUpdates, StatusUpdate{Seq: s.init.Seq, Status: fstat})
			}
			continue
		}
		if s.init != nil {
			c.StatusUpdates = append(c.StatusUpdates, StatusUpdate{Seq: s.init.Seq, Status: Superseded})
		}
		version := 0
		if s.init != nil {
			version = s.init.Version
		}
		for i, e := range s.versions {
			version++
			row := EventRow{
				ID: id, Version: version, Hash: s.hashes[i], Type: e.Type,
				Reverses: e.Reverses, Status: Superseded, SeenAt: now,
			}
			row.Time, _ = e.Timestamp() // validated
			if e.Lot != nil {
				row.LotID = lotIDs[*e.Lot]
			}
			if i == len(s.versions)-1 {
				row.Status = fstat
			}
			row.Body, _ = json.Marshal(e) // an Event always marshals
			c.NewVersions = append(c.NewVersions, row)
		}
		c.Resolved = append(c.Resolved, id)
	}
	eff.into(c)
	return c, st, nil
}

// effects accumulates the derived rows and deltas of events added (+1) or
// removed (−1). Removed events' rows are deleted by event id; their
// quantities and counters are subtracted here.
type effects struct {
	lotIDs map[LotRef]int64
	c      Changes
	qty    map[lotUOM]*LotDelta
	use    map[int64]*LotUse
	orders map[string]*OrderDelta
}

type lotUOM struct {
	lot int64
	uom string
}

func newEffects(lotIDs map[LotRef]int64) *effects {
	return &effects{lotIDs: lotIDs, qty: map[lotUOM]*LotDelta{}, use: map[int64]*LotUse{}, orders: map[string]*OrderDelta{}}
}

func (f *effects) delta(lot int64, uom string) *LotDelta {
	k := lotUOM{lot, uom}
	d := f.qty[k]
	if d == nil {
		d = &LotDelta{LotID: lot, UOM: uom}
		f.qty[k] = d
	}
	return d
}

func (f *effects) uses(lot int64) *LotUse {
	u := f.use[lot]
	if u == nil {
		u = &LotUse{LotID: lot}
		f.use[lot] = u
	}
	return u
}

func (f *effects) order(o string) *OrderDelta {
	d := f.orders[o]
	if d == nil {
		d = &OrderDelta{Order: o}
		f.orders[o] = d
	}
	return d
}

func qtyOf(q *float64) float64 {
	if q == nil {
		return 0
	}
	return *q
}

// add records the effects of e with sign +1 (applied) or −1 (removed).
func (f *effects) add(e *Event, sign int) {
	t, _ := e.Timestamp()
	sg := float64(sign)
	if e.Type == Transform {
		group := "t:" + e.ID
		for _, q := range e.Inputs {
			id := f.lotIDs[q.Ref()]
			if sign > 0 {
				f.c.Links = append(f.c.Links, LinkRow{EventID: e.ID, LotID: id, Group: group, Time: t})
			}
			if q.Qty != nil {
				f.delta(id, q.UOM).Consumed += sg * *q.Qty
			}
			f.uses(id).Used += sign
		}
		for _, q := range e.Outputs {
			id := f.lotIDs[q.Ref()]
			if sign > 0 {
				f.c.Links = append(f.c.Links, LinkRow{EventID: e.ID, LotID: id, Group: group, Out: true, Time: t})
			}
			if q.Qty != nil {
				f.delta(id, q.UOM).Produced += sg * *q.Qty
			}
			f.uses(id).Sourced += sign
		}
		return
	}
	if e.Lot == nil {
		return
	}
	id := f.lotIDs[*e.Lot]
	switch e.Type {
	case Receive:
		f.delta(id, e.UOM).Received += sg * qtyOf(e.Qty)
		f.uses(id).Sourced += sign
		if sign > 0 {
			r := ReceiptRow{EventID: e.ID, LotID: id, SupplierLot: e.SupplierLot, PO: e.PO, Qty: qtyOf(e.Qty), UOM: e.UOM, Time: t}
			if e.Supplier != nil {
				r.Supplier = *e.Supplier
			}
			f.c.Receipts = append(f.c.Receipts, r)
		}
	case Produce, Consume:
		out := e.Type == Produce
		d := f.delta(id, e.UOM)
		if out {
			d.Produced += sg * qtyOf(e.Qty)
			f.uses(id).Sourced += sign
			f.order("o:" + e.Order).Outs += sign
		} else {
			d.Consumed += sg * qtyOf(e.Qty)
			f.uses(id).Used += sign
			f.order("o:" + e.Order).Ins += sign
		}
		if sign > 0 {
			f.c.Links = append(f.c.Links, LinkRow{EventID: e.ID, LotID: id, Group: "o:" + e.Order, Out: out, Time: t})
		}
	case Ship:
		f.delta(id, e.UOM).Shipped += sg * qtyOf(e.Qty)
		f.uses(id).Used += sign
		if sign > 0 {
			f.c.Shipments = append(f.c.Shipments, ShipmentRow{
				EventID: e.ID, LotID: id, Customer: *e.Customer, SalesOrder: e.SalesOrder,
				Delivery: e.Delivery, Qty: qtyOf(e.Qty), UOM: e.UOM, Time: t,
			})
		}
	}
}

// into moves the accumulated rows and the non-zero deltas into c, in a
// deterministic order.
func (f *effects) into(c *Changes) {
	c.Links, c.Receipts, c.Shipments = f.c.Links, f.c.Receipts, f.c.Shipments
	for _, d := range f.qty {
		if d.Received != 0 || d.Produced != 0 || d.Consumed != 0 || d.Shipped != 0 {
			c.LotDeltas = append(c.LotDeltas, *d)
		}
	}
	sort.Slice(c.LotDeltas, func(i, j int) bool {
		a, b := c.LotDeltas[i], c.LotDeltas[j]
		return a.LotID < b.LotID || a.LotID == b.LotID && a.UOM < b.UOM
	})
	for _, u := range f.use {
		if u.Sourced != 0 || u.Used != 0 {
			c.LotUses = append(c.LotUses, *u)
		}
	}
	sort.Slice(c.LotUses, func(i, j int) bool { return c.LotUses[i].LotID < c.LotUses[j].LotID })
	for _, o := range f.orders {
		if o.Ins != 0 || o.Outs != 0 {
			c.OrderDeltas = append(c.OrderDeltas, *o)
		}
	}
	sort.Slice(c.OrderDeltas, func(i, j int) bool { return c.OrderDeltas[i].Order < c.OrderDeltas[j].Order })
}
