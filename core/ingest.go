package core

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
	// Outcomes says, for each event given to Plan in order, what became of
	// it: OutcomeNew, OutcomeSuperseded or OutcomeUnchanged.
	Outcomes []string `json:"-"`
}

// What became of one event.
const (
	OutcomeNew        = "stored"
	OutcomeSuperseded = "superseded"
	OutcomeUnchanged  = "duplicate"
)

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
	// Placeholders are the lot numbers refused as placeholders; nil is
	// DefaultLotPlaceholders (hub.yaml lots: placeholders:).
	Placeholders *LotPlaceholders
	// Actions, when set, decides which outbox actions the events stored
	// for the first time set off; they are written in the events'
	// transaction (hub.yaml actions:, package outbox).
	Actions Actions
	// Serial turns planning ahead off (pipeline.go): every batch is
	// planned in the writer's transaction. The store is the same either
	// way; the conformance suite compares the two.
	Serial bool

	lots LotCache
	// batches committed by IngestJSONL planning ahead, how many with
	// the plan made ahead, and how many split (AheadStats).
	batches, aheadUsed, split atomic.Int64
}

// LotCache remembers lot ids across the batches of an ingest so that known
// lots need no lookup. Lots are never deleted, so a committed id stays
// valid; the cache must be Reset when a transaction that may have created
// lots rolls back. The zero value is ready to use.
type LotCache struct {
	mu  sync.Mutex
	ids map[lotKey]int64
}

// lotKey is a lot's item and number hashed to 128 bits: the cache holds
// no pointers, so the garbage collector never scans it (a million lots of
// strings cost a bulk load a tenth of its time in GC), and it takes a
// third of the memory. Two lots sharing a key would need a SHA-256
// collision in 128 bits: about 10⁻²⁶ for a million lots.
type lotKey [16]byte

func keyOf(r LotRef) lotKey {
	// SHA-256 of item, a zero byte and lot, in one call on a buffer on the
	// stack (sha256.New and its Write calls allocated).
	var buf [128]byte
	b := append(append(append(buf[:0], r.Item...), 0), r.Lot...)
	sum := sha256.Sum256(b)
	return lotKey(sum[:16])
}

// maxCachedLots bounds the cache's memory (about 40 bytes a lot).
const maxCachedLots = 1 << 21

// Reset forgets every id.
func (c *LotCache) Reset() {
	c.mu.Lock()
	c.ids = nil
	c.mu.Unlock()
}

// ids returns the ids of refs, asking tx for the ones it does not know.
func (c *LotCache) lookup(ctx context.Context, tx PlanReader, refs []LotRef) (map[LotRef]int64, error) {
	if c == nil {
		return tx.LotIDs(ctx, refs)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[LotRef]int64, len(refs))
	var missing []LotRef
	for _, r := range refs {
		if id, ok := c.ids[keyOf(r)]; ok {
			out[r] = id
		} else {
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	got, err := tx.LotIDs(ctx, missing)
	if err != nil {
		return nil, err
	}
	if c.ids == nil || len(c.ids)+len(got) > maxCachedLots {
		c.ids = make(map[lotKey]int64, len(got))
	}
	for r, id := range got {
		out[r] = id
		if id > 0 { // not a placeholder of a plan made ahead (pipeline.go)
			c.ids[keyOf(r)] = id
		}
	}
	return out, nil
}

// check validates an event and refuses placeholder lot numbers.
func (in *Ingester) check(e *Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	p := in.Placeholders
	if p == nil {
		p = defaultPlaceholders
	}
	return p.Check(e)
}

var defaultPlaceholders = NewLotPlaceholders(nil)

func (in *Ingester) now() time.Time {
	if in.Now != nil {
		return in.Now().UTC()
	}
	return time.Now().UTC()
}

// IngestJSONL reads canonical events, one JSON object a line, and applies
// them in batches, one transaction each. Invalid lines are quarantined with
// their line number and never stop the rest of the input.
//
// Reading and validating the next batch overlaps with writing the current
// one, so ingest uses two cores.
func (in *Ingester) IngestJSONL(ctx context.Context, r io.Reader, source string) (IngestStats, error) {
	size := in.BatchSize
	if size <= 0 {
		size = 5000
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan preparedBatch, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- in.readBatches(ctx, r, source, size, batches)
	}()
	if a := in.Ahead(); a != nil {
		total, err := in.ingestAhead(ctx, a, batches)
		if err != nil {
			cancel()
			for range batches { // let the reader finish
			}
			return total, err
		}
		if err := <-readErr; err != nil {
			return total, err
		}
		return total, ctx.Err()
	}
	var total IngestStats
	for b := range batches {
		st, err := in.apply(ctx, b)
		if err != nil {
			cancel()
			for range batches { // let the reader finish
			}
			return total, err
		}
		total.add(st)
	}
	if err := <-readErr; err != nil {
		return total, err
	}
	return total, ctx.Err()
}

// readBatches reads lines, prepares them in batches of size and sends the
// batches to out.
func (in *Ingester) readBatches(ctx context.Context, r io.Reader, source string, size int, out chan<- preparedBatch) error {
	br := bufio.NewReaderSize(r, 1<<20)
	batch := make([]Input, 0, size)
	line := 0
	send := func() error {
		if len(batch) == 0 {
			return nil
		}
		p := in.prepare(batch)
		batch = make([]Input, 0, size)
		select {
		case out <- p:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		raw, tooLong, err := readLine(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s after line %d: %w", source, line, err)
		}
		line++
		raw = bytes.TrimSpace(raw)
		switch {
		case tooLong:
			batch = append(batch, tooLongInput(source, line, raw))
		case len(raw) == 0:
			continue
		default:
			batch = append(batch, Input{Source: source, Line: line, Raw: append([]byte(nil), raw...)})
		}
		if len(batch) == size {
			if err := send(); err != nil {
				return err
			}
		}
	}
	return send()
}

// readLine reads one line; a line longer than MaxEventSize is consumed to
// its end and reported as tooLong with its first bytes.
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
		switch {
		case tooLong: // the rest of a line already too long
		case len(buf)+len(chunk) > MaxEventSize:
			tooLong = true
		default:
			buf = append(buf, chunk...)
		}
		if buf == nil {
			buf = []byte{}
		}
		if !isPrefix {
			return buf, tooLong, nil
		}
	}
}

// PreparedEvent is a valid event with what ingest derives from it once:
// its content hash, its canonical JSON and its time.
type PreparedEvent struct {
	Event *Event
	Hash  string
	Body  []byte
	Time  time.Time
	// Source is the input's source (Input.Source), for Actions; events
	// of source records name their connector in Event.Source.
	Source string
}

// Prepare derives the hash, body and time of a valid event.
func Prepare(e *Event) PreparedEvent {
	p := PreparedEvent{Event: e}
	p.Time, _ = e.Timestamp()
	if e.Source != nil {
		// One encoding for the body and the hash, not two (a mapped
		// record's events all have a source).
		var ok bool
		if p.Body, p.Hash, ok = bodyAndHash(e); ok {
			return p
		}
	}
	p.Body = marshalEvent(e)
	if e.Source == nil {
		sum := sha256.Sum256(p.Body)
		p.Hash = hex.EncodeToString(sum[:16])
	} else {
		p.Hash = e.ContentHash()
	}
	return p
}

// preparedBatch is a batch of input, decoded and validated.
type preparedBatch struct {
	now        time.Time // when it was read
	read       int
	first      int   // the first input's line
	last       Input // for error messages
	events     []PreparedEvent
	quarantine []QuarantineRow
	// quarantinedAt is the position among the inputs of each quarantine
	// row.
	quarantinedAt []int
}

// IngestBatch validates the inputs and applies the valid ones in one
// transaction, quarantining the rest in the same transaction.
func (in *Ingester) IngestBatch(ctx context.Context, inputs []Input) (IngestStats, error) {
	if len(inputs) == 0 {
		return IngestStats{}, nil
	}
	return in.apply(ctx, in.prepare(inputs))
}

// InputError is an input that was quarantined, and why.
type InputError struct {
	Index  int    `json:"index"`        // 0-based position among the inputs
	Line   int    `json:"line"`         // the input's line (Input.Line)
	ID     string `json:"id,omitempty"` // the event id, if one could be read
	Reason string `json:"reason"`
}

// IngestInputs is IngestBatch that also says which inputs were quarantined
// and why: the first maxErrors of them, in input order (the stats count
// them all). For scanners and MES posting events, which need to know what
// to fix; the answer stays small however many inputs failed.
func (in *Ingester) IngestInputs(ctx context.Context, inputs []Input, maxErrors int) (IngestStats, []InputError, error) {
	if len(inputs) == 0 {
		return IngestStats{}, nil, nil
	}
	c := &groupCall{b: in.prepare(inputs), actor: ActorFrom(ctx), maxErrors: maxErrors}
	if err := in.applyCalls(ctx, []*groupCall{c}); err != nil {
		return IngestStats{}, nil, err
	}
	return c.st, c.errs, nil
}

func (in *Ingester) prepare(inputs []Input) preparedBatch {
	now := in.now()
	b := preparedBatch{now: now, read: len(inputs), first: inputs[0].Line, last: inputs[len(inputs)-1]}
	b.events = make([]PreparedEvent, 0, len(inputs))
	for i, inp := range inputs {
		var ev *Event
		var err error
		if inp.TooLong {
			err = Errorf(EINVALID, "%s", EventTooLong())
		} else if ev, err = DecodeEvent(inp.Raw); err == nil {
			err = in.check(ev)
		}
		if err != nil {
			q := QuarantineRow{
				Key:    quarantineKey(inp.Source, inp.Raw),
				Source: inp.Source, Line: inp.Line, Reason: err.Error(), Raw: string(inp.Raw), At: now,
			}
			if ev != nil {
				q.EventID = ev.ID
			} else {
				q.EventID = peekID(inp.Raw)
			}
			b.quarantine = append(b.quarantine, q)
			b.quarantinedAt = append(b.quarantinedAt, i)
			continue
		}
		p := Prepare(ev)
		p.Source = inp.Source
		b.events = append(b.events, p)
	}
	return b
}

func (in *Ingester) apply(ctx context.Context, b preparedBatch) (IngestStats, error) {
	c := &groupCall{b: b, actor: ActorFrom(ctx)}
	if err := in.applyCalls(ctx, []*groupCall{c}); err != nil {
		return IngestStats{}, err
	}
	return c.st, nil
}

// trigger asks Actions which actions the events stored for the first time
// (outcomes[i] is OutcomeNew) set off.
func (in *Ingester) trigger(events []PreparedEvent, outcomes []string, now time.Time) []OutboxAction {
	if in.Actions == nil {
		return nil
	}
	var out []OutboxAction
	for i, p := range events {
		if i >= len(outcomes) || outcomes[i] != OutcomeNew {
			continue
		}
		src := p.Source // an input's source, whatever the event says
		if src == "" && p.Event.Source != nil {
			src = "connector:" + p.Event.Source.Connector
		}
		out = append(out, in.Actions.Trigger(Trigger{Event: p.Event, Body: p.Body, Source: src, Now: now})...)
	}
	return out
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
	bodies   [][]byte
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
// makes to the store seen through tx. It reads, and creates lots, but
// writes nothing else. lots may be nil.
func Plan(ctx context.Context, tx PlanReader, events []PreparedEvent, now time.Time, lots *LotCache) (*Changes, IngestStats, error) {
	c, st, _, err := plan(ctx, tx, events, now, lots, false)
	return c, st, err
}

// planDeps is what a plan read of the store, for telling whether a plan
// made ahead on a snapshot still holds after the batch before it was
// written (pipeline.go).
type planDeps struct {
	// ids are the event ids the plan read: the batch's, the targets of
	// reverse events and their reversers. They include every id whose
	// rows the plan's changes write, and the target of every reverse
	// event they write.
	ids map[string]bool
	// orderRead are the lots' sums on orders the plan read (OrderLots);
	// orderWrite those its changes add to.
	orderRead, orderWrite map[refGroup]bool
}

// refGroup is a lot on an order group, by the lot's item and number: a
// lot planned ahead may not have its id yet.
type refGroup struct {
	ref LotRef
	grp string
}

// conflicts reports whether d read something that the changes of the
// plan with deps w write.
func (d *planDeps) conflicts(w *planDeps) bool {
	small, large := d.ids, w.ids
	if len(small) > len(large) {
		small, large = large, small
	}
	for id := range small {
		if large[id] {
			return true
		}
	}
	for k := range d.orderRead {
		if w.orderWrite[k] {
			return true
		}
	}
	return false
}

// plan is Plan that also says, when withDeps, what it read (for a plan
// made ahead, or the one checked against it).
func plan(ctx context.Context, tx PlanReader, events []PreparedEvent, now time.Time, lots *LotCache, withDeps bool) (*Changes, IngestStats, *planDeps, error) {
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
	loaded := make(map[string]bool, len(events))
	need := make([]string, 0, len(events))
	for _, p := range events {
		e := p.Event
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
			return nil, st, nil, err
		}
		for id, row := range rows {
			s := get(id)
			r := row
			s.init = &r
			var ev Event
			if err := json.Unmarshal(row.Body, &ev); err != nil {
				return nil, st, nil, fmt.Errorf("stored event %s version %d is unreadable: %w", id, row.Version, err)
			}
			s.initEv = &ev
			if ev.Type == Reverse {
				need = append(need, ev.Reverses)
			}
		}
		revs, err := tx.Reversers(ctx, ids)
		if err != nil {
			return nil, st, nil, err
		}
		for _, rs := range revs {
			need = append(need, rs...)
		}
	}
	// Apply the batch's versions in arrival order.
	for _, p := range events {
		s := states[p.Event.ID]
		h := p.Hash
		if h == s.currentHash() {
			st.Unchanged++
			st.Outcomes = append(st.Outcomes, OutcomeUnchanged)
			continue
		}
		if s.init == nil && len(s.versions) == 0 {
			st.New++
			st.Outcomes = append(st.Outcomes, OutcomeNew)
		} else {
			st.Superseded++
			st.Outcomes = append(st.Outcomes, OutcomeSuperseded)
		}
		s.versions = append(s.versions, p.Event)
		s.bodies = append(s.bodies, p.Body)
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
	// (The final version is the stored one or the last of the batch's.)
	refSet := make(map[LotRef]bool, len(states))
	addLots := func(e *Event) {
		if e.Lot != nil {
			refSet[*e.Lot] = true
			return
		}
		for _, q := range e.Inputs {
			refSet[q.Ref()] = true
		}
		for _, q := range e.Outputs {
			refSet[q.Ref()] = true
		}
	}
	for _, s := range states {
		if s.initEv != nil {
			addLots(s.initEv)
		}
		for _, e := range s.versions {
			addLots(e)
		}
	}
	refs := make([]LotRef, 0, len(refSet))
	for r := range refSet {
		refs = append(refs, r)
	}
	slices.SortFunc(refs, func(a, b LotRef) int { // a stable order keeps lot ids deterministic
		if c := strings.Compare(a.Item, b.Item); c != 0 {
			return c
		}
		return strings.Compare(a.Lot, b.Lot)
	})
	lotIDs, err := lots.lookup(ctx, tx, refs)
	if err != nil {
		return nil, st, nil, err
	}

	c := &Changes{NewVersions: make([]EventRow, 0, len(events))}
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
				c.StatusUpdates = append(c.StatusUpdates, StatusUpdate{Seq: s.init.Seq, ID: id, Status: fstat})
			}
			continue
		}
		if s.init != nil {
			c.StatusUpdates = append(c.StatusUpdates, StatusUpdate{Seq: s.init.Seq, ID: id, Status: Superseded})
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
			row.Body = s.bodies[i]
			c.NewVersions = append(c.NewVersions, row)
		}
		c.Resolved = append(c.Resolved, id)
	}
	if err := eff.netReturns(ctx, tx); err != nil {
		return nil, st, nil, err
	}
	eff.into(c)
	if !withDeps {
		return c, st, nil, nil
	}
	deps := &planDeps{ids: loaded, orderRead: map[refGroup]bool{}, orderWrite: map[refGroup]bool{}}
	refOf := make(map[int64]LotRef, len(lotIDs))
	for r, id := range lotIDs {
		refOf[id] = r
	}
	for _, k := range eff.asked {
		deps.orderRead[refGroup{refOf[k.LotID], k.Group}] = true
	}
	for _, o := range c.OrderLots {
		deps.orderWrite[refGroup{refOf[o.LotID], o.Group}] = true
	}
	return c, st, deps, nil
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
	// orderLots: the changes to lots' quantities on orders (returns.go).
	orderLots map[orderLotKey]*OrderLotSums
	returned  []LotGroup
	restored  []LotGroup
	// asked are the keys netReturns read the stored sums of.
	asked []LotGroup
}

type lotUOM struct {
	lot int64
	uom string
}

func newEffects(lotIDs map[LotRef]int64) *effects {
	n := len(lotIDs) // about one entry a lot: sized once, not grown
	return &effects{lotIDs: lotIDs, qty: make(map[lotUOM]*LotDelta, n), use: make(map[int64]*LotUse, n),
		orders: map[string]*OrderDelta{}, orderLots: make(map[orderLotKey]*OrderLotSums, n/2)}
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
		f.c.GenealogyChanged = true
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
		f.c.GenealogyChanged = true
		out := e.Type == Produce
		grp := "o:" + e.Order
		d := f.delta(id, e.UOM)
		ol := f.orderLot(id, grp, e.UOM)
		if out {
			d.Produced += sg * qtyOf(e.Qty)
			ol.Produced += sg * qtyOf(e.Qty)
			ol.Produces += sign
			f.uses(id).Sourced += sign
			f.order(grp).Outs += sign
		} else {
			d.Consumed += sg * qtyOf(e.Qty)
			ol.Consumed += sg * qtyOf(e.Qty)
			ol.Consumes += sign
			f.uses(id).Used += sign
			f.order(grp).Ins += sign
		}
		if sign > 0 {
			f.c.Links = append(f.c.Links, LinkRow{EventID: e.ID, LotID: id, Group: grp, Out: out, Time: t})
		}
	case Adjust:
		f.delta(id, e.UOM).Adjusted += sg * qtyOf(e.Qty)
		if e.Order != "" {
			// Material returned from (or issued beyond the records to)
			// the order: it nets the lot's consumption on the order.
			ol := f.orderLot(id, "o:"+e.Order, e.UOM)
			ol.Adjusted += sg * qtyOf(e.Qty)
			ol.Adjusts += sign
		}
		// Stock found (an opening balance, a count) is where the lot came
		// from as far as the hub knows; stock written off is a use of it.
		switch q := qtyOf(e.Qty); {
		case q > 0:
			f.uses(id).Sourced += sign
		case q < 0:
			f.uses(id).Used += sign
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
	c.GenealogyChanged = f.c.GenealogyChanged
	for _, d := range f.qty {
		if d.Received != 0 || d.Produced != 0 || d.Consumed != 0 || d.Shipped != 0 || d.Adjusted != 0 {
			c.LotDeltas = append(c.LotDeltas, *d)
		}
	}
	for _, u := range f.use {
		if u.Sourced != 0 || u.Used != 0 {
			c.LotUses = append(c.LotUses, *u)
		}
	}
	for _, o := range f.orders {
		if o.Ins != 0 || o.Outs != 0 {
			c.OrderDeltas = append(c.OrderDeltas, *o)
		}
	}
	slices.SortFunc(c.OrderDeltas, func(a, b OrderDelta) int { return strings.Compare(a.Order, b.Order) })
	for _, o := range f.orderLots {
		if !o.zero() {
			c.OrderLots = append(c.OrderLots, *o)
		}
	}
	c.Returned, c.Restored = f.returned, f.restored
	c.sortByLot()
	if len(c.Returned)+len(c.Restored) > 0 {
		c.GenealogyChanged = true
	}
}

// sortByLot puts the rows keyed by lot in a deterministic order: by lot
// id, then the rest of the key. Returned and Restored are in that order
// already when Plan makes them (netReturns goes through its keys sorted);
// a plan made ahead sorts them again once its lots have their ids.
func (c *Changes) sortByLot() {
	// slices.SortFunc, not sort.Slice (which swaps by reflection): every
	// key here is unique, so the order is the same.
	slices.SortFunc(c.LotDeltas, func(a, b LotDelta) int {
		if a.LotID != b.LotID {
			return cmp.Compare(a.LotID, b.LotID)
		}
		return strings.Compare(a.UOM, b.UOM)
	})
	slices.SortFunc(c.LotUses, func(a, b LotUse) int { return cmp.Compare(a.LotID, b.LotID) })
	slices.SortFunc(c.OrderLots, func(a, b OrderLotSums) int {
		if a.LotID != b.LotID {
			return cmp.Compare(a.LotID, b.LotID)
		}
		if a.Group != b.Group {
			return strings.Compare(a.Group, b.Group)
		}
		return strings.Compare(a.UOM, b.UOM)
	})
	slices.SortFunc(c.Returned, compareLotGroup)
	slices.SortFunc(c.Restored, compareLotGroup)
}

// compareLotGroup orders by lot id, then group.
func compareLotGroup(a, b LotGroup) int {
	if a.LotID != b.LotID {
		return cmp.Compare(a.LotID, b.LotID)
	}
	return strings.Compare(a.Group, b.Group)
}

// lineRange is the batch's first and last input line, for its audit entry.
func lineRange(b preparedBatch) [2]int {
	return [2]int{b.first, b.last.Line}
}
