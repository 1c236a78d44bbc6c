package core

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"
)

// Planning ahead (issue 21 §3). hub ingest plans a batch — reads the
// stored versions of its events, their reversals, its lots and their sums
// on orders, and computes the changes — while the batch before it is
// being written, instead of after: the writer then only writes. The plan
// is made on a read-only snapshot of the store (Snapshotter), beside the
// writer, so it does not see the batch being written. It is used only
// when that cannot matter, which the writer checks inside its own
// transaction before it writes:
//
//   - no other writer changed the data since the snapshot: the store's
//     data version (which every change to what a plan reads raises, in
//     the same transaction) is what the snapshot saw, give or take the
//     one batch of this ingest written meanwhile;
//   - that batch, if the snapshot may not have seen it, read no event id
//     the plan read, and changed no lot's sums on an order the plan read
//     (planDeps.conflicts);
//   - lots the snapshot does not have get placeholder ids in the plan
//     (negative), which the writer replaces by the lots' ids, creating
//     the new ones in the same order as a plan made in the transaction
//     would.
//
// Otherwise the writer plans the batch again in its transaction, as
// without planning ahead. Either way the changes written are the ones a
// plan in the transaction would have made: the store does not depend on
// which way a batch went, nor on how the input was cut into batches.

// aheadPlan is a plan made on a snapshot, before the writer took its
// batch.
type aheadPlan struct {
	changes *Changes
	stats   IngestStats
	deps    *planDeps
	version int64 // the snapshot's data version
	// placeholders are the lots the snapshot did not have, by their
	// placeholder ids.
	placeholders map[int64]LotRef
}

// written is what the writer remembers of the batch it wrote last: the
// data version before and after it, and what its plan read.
type written struct {
	before, after int64
	deps          *planDeps
}

// usable reports whether a plan made ahead still holds in a transaction
// whose data version is now, after prev (nil for the first batch).
func (p *aheadPlan) usable(now int64, prev *written) bool {
	if p == nil {
		return false
	}
	if prev == nil {
		return now == p.version
	}
	if now != prev.after {
		return false // another writer changed the data
	}
	switch p.version {
	case prev.after: // the snapshot saw the batch before
		return true
	case prev.before: // it did not
		return !p.deps.conflicts(prev.deps)
	}
	return false
}

// planAhead plans b on a snapshot of the store. A plan it cannot make (a
// read failed) is nil: the writer then plans in its transaction.
func (in *Ingester) planAhead(ctx context.Context, snap Snapshotter, events []PreparedEvent, now time.Time) *aheadPlan {
	if len(events) == 0 {
		return nil
	}
	var p *aheadPlan
	err := snap.ReadSnapshot(ctx, func(tx SnapshotTx) error {
		v, err := tx.DataVersion(ctx)
		if err != nil {
			return err
		}
		r := &snapshotReader{SnapshotTx: tx, placeholders: map[int64]LotRef{}}
		c, st, deps, err := plan(ctx, r, events, now, &in.lots, true)
		if err != nil {
			return err
		}
		p = &aheadPlan{changes: c, stats: st, deps: deps, version: v, placeholders: r.placeholders}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			slog.Debug("plan ahead failed; the writer plans the batch", "err", err)
		}
		return nil
	}
	return p
}

// snapshotReader is the PlanReader of a plan made ahead: lots the
// snapshot does not have get placeholder ids −1, −2, … in the order
// asked (Plan asks in sorted order).
type snapshotReader struct {
	SnapshotTx
	placeholders map[int64]LotRef
}

func (r *snapshotReader) LotIDs(ctx context.Context, refs []LotRef) (map[LotRef]int64, error) {
	got, err := r.ExistingLotIDs(ctx, refs)
	if err != nil {
		return nil, err
	}
	for _, ref := range refs {
		if _, ok := got[ref]; !ok {
			id := -int64(len(r.placeholders) + 1)
			r.placeholders[id] = ref
			got[ref] = id
		}
	}
	return got, nil
}

// OrderLots reads the order sums of the keys' lots that the snapshot
// has: a lot with a placeholder id is not in it, so no stored sums name
// it. A capture's batch consumes mostly lots its own receipts create (an
// EPCIS feed's receipt and transformation are neighbours): looking them
// up found nothing, for a quarter of the plan's reads.
func (r *snapshotReader) OrderLots(ctx context.Context, keys []LotGroup) ([]OrderLotSums, error) {
	stored := keys[:0:0]
	for _, k := range keys {
		if k.LotID > 0 {
			stored = append(stored, k)
		}
	}
	if len(stored) == 0 {
		return nil, nil
	}
	return r.SnapshotTx.OrderLots(ctx, stored)
}

// resolve gives the placeholder lots of p their ids in tx, creating the
// new ones, and puts the ids in p's changes.
func (p *aheadPlan) resolve(ctx context.Context, tx IngestTx, lots *LotCache) error {
	if len(p.placeholders) == 0 {
		return nil
	}
	refs := make([]LotRef, 0, len(p.placeholders))
	for i := range len(p.placeholders) { // the order they were asked in
		refs = append(refs, p.placeholders[-int64(i+1)])
	}
	ids, err := lots.lookup(ctx, tx, refs)
	if err != nil {
		return err
	}
	m := make(map[int64]int64, len(refs))
	for ph, ref := range p.placeholders {
		id, ok := ids[ref]
		if !ok || id <= 0 {
			return fmt.Errorf("lot %s/%s: no id for it", ref.Item, ref.Lot)
		}
		m[ph] = id
	}
	p.changes.relot(m)
	return nil
}

// relot replaces lot ids by m's (placeholders by lots' ids), and sorts
// what Plan sorts by lot id again.
func (c *Changes) relot(m map[int64]int64) {
	id := func(v *int64) {
		if n, ok := m[*v]; ok {
			*v = n
		}
	}
	for i := range c.NewVersions {
		id(&c.NewVersions[i].LotID)
	}
	for i := range c.Links {
		id(&c.Links[i].LotID)
	}
	for i := range c.Receipts {
		id(&c.Receipts[i].LotID)
	}
	for i := range c.Shipments {
		id(&c.Shipments[i].LotID)
	}
	for i := range c.LotDeltas {
		id(&c.LotDeltas[i].LotID)
	}
	for i := range c.LotUses {
		id(&c.LotUses[i].LotID)
	}
	for i := range c.OrderLots {
		id(&c.OrderLots[i].LotID)
	}
	for i := range c.Returned {
		id(&c.Returned[i].LotID)
	}
	for i := range c.Restored {
		id(&c.Restored[i].LotID)
	}
	c.sortByLot()
}

// Ahead plans the batches of one stream of commits (one hub ingest, one
// connector sync, one EPCIS capture) ahead of their commits. Its caller
// keeps one rule: the next batch is planned (Plan, PlanRecords) only
// after the commit of the batch before the one last planned has returned,
// and batches are committed in the order they were planned; so when a
// snapshot is read every batch of the stream but one is committed. Hand
// batches from the planning goroutine to the committing one over an
// unbuffered channel, planning the next after each hand-over.
//
// A nil *Ahead plans nothing: every batch is planned in its transaction.
type Ahead struct {
	in   *Ingester
	snap Snapshotter
	keys batchKeys // the planner's: what the batch planned last names
	prev *written  // the committer's: the batch committed last
}

// Ahead returns a new stream of batches planned ahead, or nil when the
// store cannot read snapshots or in.Serial is set.
func (in *Ingester) Ahead() *Ahead {
	snap, ok := in.Store.(Snapshotter)
	if !ok || in.Serial {
		return nil
	}
	return &Ahead{in: in, snap: snap}
}

// aheadSplit is a batch's events split into the early ones, planned
// ahead, and the late ones, which touch what the batch before names (the
// same ids or their reversals, the same lots' sums on orders): the writer
// plans those in its transaction after writing the others, as if they
// had arrived last. Which events are late depends on the input alone,
// not on timing.
type aheadSplit struct {
	// early and late are positions in the batch's events.
	early, late []int
	pre         *aheadPlan // nil: the writer plans the early events too
}

// plan splits events and plans the early ones on a snapshot.
func (a *Ahead) plan(ctx context.Context, events []PreparedEvent, now time.Time) *aheadSplit {
	if a == nil {
		return nil
	}
	s := &aheadSplit{}
	s.early, s.late = split(events, a.keys)
	s.pre = a.in.planAhead(ctx, a.snap, pick(events, s.early), now)
	a.keys = keysOf(events)
	return s
}

// batchKeys are what a batch's events name: their ids and the targets of
// their reversals, and the lots' order groups they consume, produce or
// adjust on.
type batchKeys struct {
	ids    map[string]bool
	orders map[lotOrder]bool
}

// lotOrder is a lot on an order, by the order's number (its group is
// "o:" and the number: not built for every event).
type lotOrder struct {
	ref   LotRef
	order string
}

func keysOf(events []PreparedEvent) batchKeys {
	k := batchKeys{ids: make(map[string]bool, len(events)), orders: make(map[lotOrder]bool, len(events)/2)}
	for _, p := range events {
		e := p.Event
		k.ids[e.ID] = true
		if e.Reverses != "" {
			k.ids[e.Reverses] = true
		}
		if e.Order != "" && e.Lot != nil {
			k.orders[lotOrder{*e.Lot, e.Order}] = true
		}
	}
	return k
}

// touches reports whether e names something of k.
func (k batchKeys) touches(e *Event) bool {
	if k.ids[e.ID] || e.Reverses != "" && k.ids[e.Reverses] {
		return true
	}
	return e.Order != "" && e.Lot != nil && k.orders[lotOrder{*e.Lot, e.Order}]
}

// split returns the positions of the events that do not touch prev, and
// of those that do. The versions of one id stay together, in their order:
// if one of them touches prev, all are late.
func split(events []PreparedEvent, prev batchKeys) (early, late []int) {
	early = make([]int, 0, len(events))
	if prev.ids == nil {
		for i := range events {
			early = append(early, i)
		}
		return early, nil
	}
	lateIDs := map[string]bool{}
	for _, p := range events {
		if prev.touches(p.Event) {
			lateIDs[p.Event.ID] = true
		}
	}
	for i, p := range events {
		if lateIDs[p.Event.ID] {
			late = append(late, i)
		} else {
			early = append(early, i)
		}
	}
	return early, late
}

func pick(events []PreparedEvent, at []int) []PreparedEvent {
	if len(at) == len(events) {
		return events
	}
	out := make([]PreparedEvent, len(at))
	for i, j := range at {
		out[i] = events[j]
	}
	return out
}

// planWrite plans events in tx and writes the changes, with the plan s
// made ahead when it still holds (s and a may be nil: one plan in tx).
// extra adds to the first changes written what goes with the batch
// (quarantine rows, raw records); outbox actions are added from the
// outcomes. It returns what was written as one Changes (for the batch's
// audit entry), the stats with the outcomes in the events' order, and
// what the next batch's plan must be checked against; a.done records it
// once the transaction committed.
func (in *Ingester) planWrite(ctx context.Context, tx IngestTx, events []PreparedEvent, s *aheadSplit, a *Ahead, now time.Time, extra func(*Changes)) (*Changes, IngestStats, *written, error) {
	if s == nil {
		s = &aheadSplit{early: make([]int, len(events))}
		for i := range events {
			s.early[i] = i
		}
	}
	w := &written{}
	var prev *written
	if a != nil {
		v, err := tx.DataVersion(ctx)
		if err != nil {
			return nil, IngestStats{}, nil, err
		}
		w.before, prev = v, a.prev
	}
	all := &Changes{}
	outcomes := make([]string, len(events))
	part := func(at []int, pre *aheadPlan) error {
		part := pick(events, at)
		var ch *Changes
		var st IngestStats
		var deps *planDeps
		var err error
		if a != nil && pre.usable(w.before, prev) {
			if err := pre.resolve(ctx, tx, &in.lots); err != nil {
				return err
			}
			ch, st, deps = pre.changes, pre.stats, pre.deps
			in.aheadUsed.Add(1)
		} else if ch, st, deps, err = plan(ctx, tx, part, now, &in.lots, a != nil); err != nil {
			return err
		}
		if extra != nil {
			extra(ch)
			extra = nil
		}
		ch.Outbox = in.trigger(part, st.Outcomes, now)
		if err := tx.Write(ctx, ch); err != nil {
			return err
		}
		for i, j := range at {
			outcomes[j] = st.Outcomes[i]
		}
		w.deps = w.deps.union(deps)
		all.add(ch)
		return nil
	}
	if err := part(s.early, s.pre); err != nil {
		return nil, IngestStats{}, nil, err
	}
	if len(s.late) > 0 {
		in.split.Add(1)
		if err := part(s.late, nil); err != nil {
			return nil, IngestStats{}, nil, err
		}
	}
	st := IngestStats{Read: len(events)}
	st.count(outcomes)
	return all, st, w, nil
}

// add adds what the audit entry of a batch tells of c, written after
// what the receiver holds: the new versions (their seqs follow) and the
// status changes.
func (c *Changes) add(d *Changes) {
	if len(d.NewVersions) > 0 {
		if len(c.NewVersions) == 0 {
			c.Written.First = d.Written.First
		}
		c.Written.Last = d.Written.Last
	}
	c.NewVersions = append(c.NewVersions, d.NewVersions...)
	c.StatusUpdates = append(c.StatusUpdates, d.StatusUpdates...)
}

// done records, once the batch's transaction has committed, what the next
// batch's plan is checked against: w, with the data version after.
func (a *Ahead) done(w *written, after int64) {
	if a == nil {
		return
	}
	w.after = after
	a.prev = w
}

// ingestAhead applies the batches, each planned on a snapshot while the
// one before it is written.
func (in *Ingester) ingestAhead(ctx context.Context, a *Ahead, batches <-chan preparedBatch) (IngestStats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type plannedBatch struct {
		b preparedBatch
		s *aheadSplit
	}
	planned := make(chan plannedBatch) // unbuffered: see Ahead
	go func() {
		defer close(planned)
		for b := range batches {
			pb := plannedBatch{b: b, s: a.plan(ctx, b.events, b.now)}
			select {
			case planned <- pb:
			case <-ctx.Done():
				for range batches { // let the reader finish
				}
				return
			}
		}
	}()
	var total IngestStats
	for pb := range planned {
		st, err := in.applyAhead(ctx, pb.b, pb.s, a)
		if err != nil {
			cancel()
			for range planned { // let the planner finish
			}
			return total, err
		}
		total.add(st)
	}
	return total, nil
}

// applyAhead commits one batch of hub ingest.
func (in *Ingester) applyAhead(ctx context.Context, b preparedBatch, s *aheadSplit, a *Ahead) (IngestStats, error) {
	source := b.last.Source
	var st IngestStats
	var w *written
	var after int64
	err := in.Store.Ingest(ctx, func(tx IngestTx) error {
		var ch *Changes
		var err error
		ch, st, w, err = in.planWrite(ctx, tx, b.events, s, a, b.now, func(c *Changes) { c.Quarantine = b.quarantine })
		if err != nil {
			return err
		}
		details := map[string]any{"source": source, "read": b.read, "new": st.New, "unchanged": st.Unchanged, "lines": lineRange(b)}
		if err := AuditChanges(ctx, tx, ch, AuditEntry{Action: AuditIngest, Object: "source:" + source}, details); err != nil {
			return err
		}
		after, err = tx.DataVersion(ctx)
		return err
	})
	if err != nil {
		in.lots.Reset() // lots created by the failed transaction are gone
		return IngestStats{}, fmt.Errorf("ingest batch ending at %s line %d: %w", source, b.last.Line, err)
	}
	in.batches.Add(1)
	a.done(w, after)
	return b.stats(st.Outcomes), nil
}

// union is what d and e read together (either may be nil). It adds the
// smaller to the larger, which it returns: both are the writer's own (a
// batch's early and late parts), so neither is read again. Copying the
// early part's few thousand ids into a new map for every batch with
// late events cost the writer goroutine about 1 µs an event.
func (d *planDeps) union(e *planDeps) *planDeps {
	if d == nil {
		return e
	}
	if e == nil {
		return d
	}
	if len(e.ids) > len(d.ids) {
		d, e = e, d
	}
	maps.Copy(d.ids, e.ids)
	maps.Copy(d.orderRead, e.orderRead)
	maps.Copy(d.orderWrite, e.orderWrite)
	return d
}

// AheadStats counts what planning ahead did in an Ingester's ingests.
type AheadStats struct {
	Batches int64 // batches committed
	Ahead   int64 // of which with the plan made ahead
	Split   int64 // of which with late events, planned in the transaction
}

// AheadStats says how many batches an Ingester committed by planning
// ahead, how many of them with the plan made ahead (the others were
// planned again in the writer's transaction), and how many had late
// events.
func (in *Ingester) AheadStats() AheadStats {
	return AheadStats{Batches: in.batches.Load(), Ahead: in.aheadUsed.Load(), Split: in.split.Load()}
}
