package core

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// GroupCommit gathers the batches of concurrent callers (the requests of
// POST /v1/events and /v1/scans) into shared store transactions: one
// commit, and one wait for the disk, for many requests. Each caller is
// answered only after the transaction holding its inputs committed, with
// its own stats and quarantined inputs, exactly as if it had committed
// alone:
//
//   - the inputs are decoded and validated in the caller's goroutine, in
//     parallel; only planning and writing are serial;
//   - the batches of one caller identity (actor and source) in a group are
//     planned together, in arrival order, as one batch of hub ingest is;
//     each identity gets its own audit entry, with its actor, so the trail
//     names who sent what;
//   - when the shared transaction fails, each batch of it is committed
//     again alone, so a batch that cannot be stored fails only its own
//     caller, and the others are stored once (nothing lost, nothing
//     doubled).
//
// All the batches of a group were waiting at once, so the group's order is
// one order in which they could have arrived one by one: the store after a
// group equals the store after the same requests sent one at a time in
// that order, and each answer is the one it would then have had.
//
// A group about to begin waits a moment (MaxWait) for the batches on
// their way: those announced (Announce: the caller is reading and
// decoding its request) and, under a steady load, as many as the last
// group held (its callers, answered, send their next requests). Without
// it, 32 clients split into a large group and a train of groups of one,
// each a whole transaction: its statements, its audit entry, its wait for
// the disk, whatever it holds. Waiting at most half the last commit's
// time, no request waits longer than it would behind a commit started
// without it.
//
// The zero value is not usable: set Ingester. Safe for concurrent use.
type GroupCommit struct {
	Ingester *Ingester
	// MaxEvents bounds the inputs gathered into one transaction (a
	// caller's batch is never split: one over it commits alone);
	// DefaultGroupEvents when 0.
	MaxEvents int
	// MaxWait bounds how long a group about to begin waits for more
	// batches (announced ones, or as many as the last group held), and
	// so the latency it adds; DefaultGroupWait when 0, no wait when
	// negative. A group waits at most half as long as the last one took
	// to commit, never once it holds MaxEvents, and not at all for a lone
	// caller after a lone caller.
	MaxWait time.Duration
	// Committed, when set, is called after each transaction of the group
	// committed, with how many requests and inputs it held (metrics).
	Committed func(requests, inputs int)

	mu      sync.Mutex
	pending []*groupCall
	size    int  // inputs pending
	coming  int  // batches announced, not yet handed in nor withdrawn
	running bool // a goroutine is committing the pending calls
	// arrived wakes a committer waiting for batches when one is handed
	// in or withdrawn.
	arrived chan struct{}
	// The last group's requests and how long it took to commit: a group
	// waits for as many requests as the last one held, at most half as
	// long as that one took (and MaxWait).
	lastCalls int
	lastTook  time.Duration
}

// DefaultGroupEvents is the most inputs one group transaction gathers by
// default: a transaction as large as hub ingest's batches.
const DefaultGroupEvents = 5000

// DefaultGroupWait is how long a group waits at most for more batches by
// default: a tenth of a request's latency goal (50 ms, issue 21).
const DefaultGroupWait = 5 * time.Millisecond

// Announcement is a batch announced to a GroupCommit and not handed in
// yet. Hand it in with IngestInputs, or Withdraw it; a caller defers
// Withdraw, which does nothing once the batch was handed in.
type Announcement struct {
	g    *GroupCommit
	done bool
}

// Announce tells the group that the caller will hand in a batch soon (it
// is reading or decoding it), so that a group about to begin waits for
// it (at most MaxWait).
func (g *GroupCommit) Announce() *Announcement {
	g.mu.Lock()
	g.coming++
	g.mu.Unlock()
	return &Announcement{g: g}
}

// Withdraw tells the group that the announced batch will not come (the
// request failed before it); it does nothing after IngestInputs.
func (a *Announcement) Withdraw() {
	g := a.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if a.done {
		return
	}
	a.done = true
	g.coming--
	g.wake()
}

// IngestInputs hands the announced batch in: GroupCommit.IngestInputs.
func (a *Announcement) IngestInputs(ctx context.Context, inputs []Input, maxErrors int) (IngestStats, []InputError, error) {
	return a.g.ingestInputs(ctx, inputs, maxErrors, a)
}

// groupCall is one caller's batch waiting to be committed.
type groupCall struct {
	b         preparedBatch
	actor     Actor
	maxErrors int
	done      chan struct{}
	// Set before done is closed.
	st   IngestStats
	errs []InputError
	err  error
}

// IngestInputs is Ingester.IngestInputs through the group: it returns
// once the inputs are committed (or failed), with their own stats and
// quarantined inputs; its audit entry names ctx's actor. The commit runs
// under a context no caller can cancel: a caller that gives up does not
// abort the transaction other callers' inputs share; its inputs may still
// be stored, as with a client that disconnects after sending.
func (g *GroupCommit) IngestInputs(ctx context.Context, inputs []Input, maxErrors int) (IngestStats, []InputError, error) {
	return g.ingestInputs(ctx, inputs, maxErrors, nil)
}

// ingestInputs is IngestInputs, handing in announced batch a when it is
// not nil.
func (g *GroupCommit) ingestInputs(ctx context.Context, inputs []Input, maxErrors int, a *Announcement) (IngestStats, []InputError, error) {
	if len(inputs) == 0 {
		if a != nil {
			a.Withdraw()
		}
		return IngestStats{}, nil, nil
	}
	if err := ctx.Err(); err != nil {
		if a != nil {
			a.Withdraw()
		}
		return IngestStats{}, nil, fmt.Errorf("ingest %d inputs: %w", len(inputs), err)
	}
	c := &groupCall{b: g.Ingester.prepare(inputs), actor: ActorFrom(ctx), maxErrors: maxErrors, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	g.size += c.b.read
	if a != nil && !a.done {
		a.done = true
		g.coming--
	}
	g.wake()
	if !g.running {
		g.running = true
		go g.run(context.WithoutCancel(ctx))
	}
	g.mu.Unlock()
	<-c.done
	return c.st, c.errs, c.err
}

// wake wakes a committer waiting for announced batches; g.mu is held.
func (g *GroupCommit) wake() {
	if g.arrived == nil {
		return
	}
	select {
	case g.arrived <- struct{}{}:
	default: // it is woken already
	}
}

// Waiting returns how many callers wait to be taken into a transaction
// (not counting those whose transaction is being committed).
func (g *GroupCommit) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// run commits the pending calls, a group at a time, until none is left.
// ctx carries no caller's cancellation.
func (g *GroupCommit) run(ctx context.Context) {
	limit := g.MaxEvents
	if limit <= 0 {
		limit = DefaultGroupEvents
	}
	wait := g.MaxWait
	if wait == 0 {
		wait = DefaultGroupWait
	}
	var timer *time.Timer
	for {
		g.mu.Lock()
		if d := min(wait, g.lastTook/2); d > 0 && len(g.pending) > 0 && g.short(limit) {
			// More batches are on their way: wait for them, a little.
			if g.arrived == nil {
				g.arrived = make(chan struct{}, 1)
			}
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			for expired := false; !expired && g.short(limit); {
				g.mu.Unlock()
				select {
				case <-g.arrived:
				case <-timer.C:
					expired = true
				}
				g.mu.Lock()
			}
			timer.Stop()
		}
		n, size := 0, 0
		for n < len(g.pending) && (n == 0 || size+g.pending[n].b.read <= limit) {
			size += g.pending[n].b.read
			n++
		}
		if n == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		group := g.pending[:n:n]
		g.pending = append([]*groupCall(nil), g.pending[n:]...)
		g.size -= size
		g.lastCalls = n
		g.mu.Unlock()
		start := time.Now()
		g.commit(ctx, group)
		took := time.Since(start)
		g.mu.Lock()
		g.lastTook = took
		g.mu.Unlock()
	}
}

// short reports whether the pending batches are fewer than expected: some
// are announced and not handed in yet, or fewer are pending than the last
// group held (under a steady load its callers, answered, send their next
// request). g.mu is held.
func (g *GroupCommit) short(limit int) bool {
	return g.size < limit && (g.coming > 0 || len(g.pending) < g.lastCalls)
}

// commit commits a group in one transaction; if that fails, each call
// alone.
func (g *GroupCommit) commit(ctx context.Context, group []*groupCall) {
	committed := func(calls []*groupCall) {
		if g.Committed == nil {
			return
		}
		n := 0
		for _, c := range calls {
			n += c.b.read
		}
		g.Committed(len(calls), n)
	}
	err := g.Ingester.applyCalls(ctx, group)
	if err != nil && len(group) > 1 {
		for _, c := range group {
			c.err = g.Ingester.applyCalls(ctx, []*groupCall{c})
			if c.err == nil {
				committed([]*groupCall{c})
			}
			close(c.done)
		}
		return
	}
	if err == nil {
		committed(group)
	}
	for _, c := range group {
		c.err = err
		close(c.done)
	}
}

// applyCalls commits the calls' batches in one transaction: the batches
// of one actor and source are planned together, in order, and get one
// audit entry. On success each call's st and errs are set.
func (in *Ingester) applyCalls(ctx context.Context, calls []*groupCall) error {
	type part struct {
		actor  Actor
		source string
		calls  []*groupCall
	}
	var parts []*part
	for _, c := range calls {
		src := c.b.last.Source
		i := 0
		for i < len(parts) && (parts[i].actor != c.actor || parts[i].source != src) {
			i++
		}
		if i == len(parts) {
			parts = append(parts, &part{actor: c.actor, source: src})
		}
		parts[i].calls = append(parts[i].calls, c)
	}
	now := in.now()
	outcomes := make([][]string, len(calls))
	err := in.Store.Ingest(ctx, func(tx IngestTx) error {
		k := 0
		for _, p := range parts {
			var events []PreparedEvent
			read := 0
			for _, c := range p.calls {
				events = append(events, c.b.events...)
				read += c.b.read
			}
			ch, s, err := Plan(ctx, tx, events, now, &in.lots)
			if err != nil {
				return err
			}
			var quarantine []QuarantineRow
			for _, c := range p.calls {
				quarantine = append(quarantine, c.b.quarantine...)
			}
			details := map[string]any{}
			if len(p.calls) == 1 {
				details["lines"] = lineRange(p.calls[0].b)
			} else {
				// Several requests of one caller, committed together: the
				// entry counts them (their lines overlap).
				details["requests"] = len(p.calls)
			}
			if err := in.writePart(ctx, tx, ch, s, p.actor, p.source, read, events, quarantine, details, now); err != nil {
				return err
			}
			// Each call's outcomes are its events' slice of the part's.
			off := 0
			for _, c := range p.calls {
				n := len(c.b.events)
				outcomes[k] = s.Outcomes[off : off+n : off+n]
				off += n
				k++
			}
		}
		return nil
	})
	if err != nil {
		in.lots.Reset() // lots created by the failed transaction are gone
		last := calls[len(calls)-1].b.last
		if len(calls) > 1 {
			return fmt.Errorf("ingest %d batches together, the last ending at %s line %d: %w", len(calls), last.Source, last.Line, err)
		}
		return fmt.Errorf("ingest batch ending at %s line %d: %w", last.Source, last.Line, err)
	}
	// outcomes is in part order; give each call its own.
	k := 0
	for _, p := range parts {
		for _, c := range p.calls {
			c.st = c.b.stats(outcomes[k])
			c.errs = c.b.inputErrors(c.maxErrors)
			k++
		}
	}
	return nil
}

// writePart writes the planned changes of events of one caller (actor
// and source) with quarantined inputs, the outbox actions the new events
// set off, and one audit entry: details and the counts.
func (in *Ingester) writePart(ctx context.Context, tx IngestTx, ch *Changes, s IngestStats, actor Actor, source string, read int,
	events []PreparedEvent, quarantine []QuarantineRow, details map[string]any, now time.Time) error {
	ch.Quarantine = append(ch.Quarantine, quarantine...)
	ch.Outbox = in.trigger(events, s.Outcomes, now)
	details["source"], details["read"], details["new"], details["unchanged"] = source, read, s.New, s.Unchanged
	return WriteAudited(ctx, tx, ch, AuditEntry{Action: AuditIngest, Object: "source:" + source, Actor: actor}, details)
}

// stats are a batch's counts given the outcomes of its events.
func (b *preparedBatch) stats(outcomes []string) IngestStats {
	st := IngestStats{Read: b.read, Quarantined: len(b.quarantine)}
	st.count(outcomes)
	return st
}

// count sets the stats' outcomes and counts them.
func (s *IngestStats) count(outcomes []string) {
	s.Outcomes = outcomes
	for _, o := range outcomes {
		switch o {
		case OutcomeNew:
			s.New++
		case OutcomeSuperseded:
			s.Superseded++
		case OutcomeUnchanged:
			s.Unchanged++
		}
	}
}

// inputErrors lists the first max quarantined inputs of a batch.
func (b *preparedBatch) inputErrors(max int) []InputError {
	var errs []InputError
	for i, q := range b.quarantine[:min(len(b.quarantine), max)] {
		errs = append(errs, InputError{Index: b.quarantinedAt[i], Line: q.Line, ID: q.EventID, Reason: q.Reason})
	}
	return errs
}
