package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
)

// Group commit (core.GroupCommit, POST /v1/events under load): requests
// posted concurrently share transactions, and yet the store and every
// answer are those of the same requests posted one by one. The cases post
// a plant cut into requests of random sizes, from three callers, with
// invalid lines among them and events repeated across requests, through
// 16 concurrent posters; and one by one into another store.

func init() {
	cases = append(cases,
		testCase{"GroupCommitEqualsOneByOne", func(h *harness) { groupCommit(h, "") }},
		testCase{"GroupCommitIsolatesAFailingRequest", func(h *harness) { groupCommit(h, "poison:") }},
	)
}

// postRequest is one request's body, cut into inputs.
type postRequest struct {
	actor  core.Actor
	inputs []core.Input
	ids    []string // the event ids it names
}

// postAnswer is what a request was answered.
type postAnswer struct {
	st   core.IngestStats
	errs []core.InputError
	err  error
}

// gatedStore is a real store that holds its first write transaction until
// the test releases it (so that the requests behind it queue up and are
// committed together), and whose transactions fail when they would write
// an event whose id starts with poison (a request whose events cannot be
// stored). It counts the failed transactions that held other events too.
type gatedStore struct {
	core.Store
	gate     chan struct{}
	entered  chan struct{}
	once     sync.Once
	poison   string
	combined atomic.Int32 // failed transactions that also held other events
}

func (s *gatedStore) Ingest(ctx context.Context, fn func(tx core.IngestTx) error) error {
	s.once.Do(func() {
		close(s.entered)
		<-s.gate
	})
	return s.Store.Ingest(ctx, func(tx core.IngestTx) error {
		return fn(&poisonTx{IngestTx: tx, s: s})
	})
}

type poisonTx struct {
	core.IngestTx
	s *gatedStore
}

var errPoison = errors.New("this event cannot be stored (the test's poison)")

func (t *poisonTx) Write(ctx context.Context, c *core.Changes) error {
	if t.s.poison != "" {
		bad, other := false, false
		for _, v := range c.NewVersions {
			if strings.HasPrefix(v.ID, t.s.poison) {
				bad = true
			} else {
				other = true
			}
		}
		if bad {
			if other {
				t.s.combined.Add(1)
			}
			return errPoison
		}
	}
	return t.IngestTx.Write(ctx, c)
}

// groupRequests cuts a plant into requests from three callers.
func groupRequests(t testing.TB, poison string) (reqs []postRequest, raw, sample []core.LotRef) {
	lines, raw, sample, _, _, _ := chunkPlant(t, 7, 1200)
	rng := rand.New(rand.NewPCG(7, 21))
	actors := []core.Actor{{Kind: "user", Name: "line1"}, {Kind: "user", Name: "line2"}, {Kind: "token", Name: "mes"}}
	for rest, i := lines, 0; len(rest) > 0; i++ {
		n := min(1+rng.IntN(40), len(rest))
		if rng.IntN(4) == 0 {
			n = 1 // a scanner's single event
		}
		body := slices.Clone(rest[:n])
		rest = rest[n:]
		switch rng.IntN(6) {
		case 0: // a line that is not JSON
			body = slices.Insert(body, rng.IntN(len(body)+1), fmt.Sprintf("not json %d", i))
		case 1: // an invalid event
			body = slices.Insert(body, rng.IntN(len(body)+1), fmt.Sprintf(`{"id":"bad:%d","type":"ship","time":"2026-01-05T00:00:00Z"}`, i))
		case 2: // an event of an earlier request, again (a client's retry)
			if len(reqs) > 0 {
				prev := reqs[rng.IntN(len(reqs))]
				body = append(body, string(prev.inputs[rng.IntN(len(prev.inputs))].Raw))
			}
		}
		r := postRequest{actor: actors[i%len(actors)]}
		for j, l := range body {
			r.inputs = append(r.inputs, core.NewInput("http:"+r.actor.Name, j+1, []byte(l)))
		}
		reqs = append(reqs, r)
	}
	if poison != "" {
		// A request whose events cannot be stored, among the others; its
		// valid receipt must not be stored, nor fail the others.
		at := len(reqs) / 3
		bad := postRequest{actor: actors[0]}
		for j, l := range []string{
			fmt.Sprintf(`{"id":"%s1","type":"receive","time":"2026-01-05T00:00:00Z","lot":{"item":"POISON","lot":"P-1"},"qty":1,"uom":"KG","supplier":{"id":"V"}}`, poison),
			fmt.Sprintf(`{"id":"%s2","type":"receive","time":"2026-01-05T00:00:00Z","lot":{"item":"SUGAR","lot":"P-2"},"qty":1,"uom":"KG","supplier":{"id":"V"}}`, poison),
		} {
			bad.inputs = append(bad.inputs, core.NewInput("http:"+bad.actor.Name, j+1, []byte(l)))
		}
		reqs = slices.Insert(reqs, at, bad)
	}
	for i := range reqs {
		for _, in := range reqs[i].inputs {
			var v struct{ ID string }
			if json.Unmarshal(in.Raw, &v) == nil && v.ID != "" {
				reqs[i].ids = append(reqs[i].ids, v.ID)
			}
		}
	}
	return reqs, raw, sample
}

func groupCommit(h *harness, poison string) {
	reqs, raw, sample := groupRequests(h.t, poison)
	now := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)

	// One by one, in order.
	oneStore := &gatedStore{Store: h.open(h.t), gate: make(chan struct{}), entered: make(chan struct{}), poison: poison}
	close(oneStore.gate)
	one := make([]postAnswer, len(reqs))
	ing := core.Ingester{Store: oneStore, Now: func() time.Time { return now }}
	for i, r := range reqs {
		st, errs, err := ing.IngestInputs(core.WithActor(h.ctx, r.actor), r.inputs, core.MaxErrorsListed)
		one[i] = postAnswer{st, errs, err}
	}

	// 16 concurrent posters through one GroupCommit, the first write held
	// until 15 requests wait behind it.
	gs := &gatedStore{Store: h.s, gate: make(chan struct{}), entered: make(chan struct{}), poison: poison}
	ging := core.Ingester{Store: gs, Now: func() time.Time { return now }}
	g := &core.GroupCommit{Ingester: &ging, MaxEvents: 150}
	grouped := make([]postAnswer, len(reqs))
	next := make(chan int)
	var wg sync.WaitGroup
	// A request announced and never handed in (a client that stalls
	// while sending its body) delays groups by at most MaxWait; one
	// withdrawn (its body was refused) by nothing.
	stalled := g.Announce()
	defer stalled.Withdraw()
	for p := range 16 {
		wg.Go(func() {
			for i := range next {
				r := reqs[i]
				ctx := core.WithActor(h.ctx, r.actor)
				var st core.IngestStats
				var errs []core.InputError
				var err error
				switch {
				case p%2 == 0: // as the HTTP handlers: announced while decoding
					a := g.Announce()
					if i%5 == 0 {
						g.Announce().Withdraw()
					}
					st, errs, err = a.IngestInputs(ctx, r.inputs, core.MaxErrorsListed)
					a.Withdraw() // does nothing now
				default:
					st, errs, err = g.IngestInputs(ctx, r.inputs, core.MaxErrorsListed)
				}
				grouped[i] = postAnswer{st, errs, err}
			}
		})
	}
	go func() {
		defer close(next)
		for i := range reqs {
			if i == 1 {
				<-gs.entered // the first request's transaction has begun
			}
			next <- i
		}
	}()
	for deadline := time.Now().Add(time.Minute); g.Waiting() < 15; {
		if time.Now().After(deadline) {
			h.t.Fatalf("only %d requests queued behind the first in a minute", g.Waiting())
		}
		time.Sleep(time.Millisecond)
	}
	close(gs.gate)
	wg.Wait()

	// Every answer is the one-by-one answer. A request that repeats an
	// event of another may find it stored by that one first: its counts
	// of stored and duplicates may swap with the other's, their sum not.
	seen := map[string]int{}
	for _, r := range reqs {
		for _, id := range slices.Compact(slices.Sorted(slices.Values(r.ids))) {
			seen[id]++
		}
	}
	failed := 0
	for i, r := range reqs {
		o, gr := one[i], grouped[i]
		if (o.err != nil) != (gr.err != nil) {
			h.t.Errorf("request %d: one by one err %v, grouped err %v", i, o.err, gr.err)
			continue
		}
		if gr.err != nil {
			failed++
			if !errors.Is(gr.err, errPoison) {
				h.t.Errorf("request %d failed with %v, want the poison's error", i, gr.err)
			}
			continue
		}
		h.equal(fmt.Sprintf("request %d read", i), gr.st.Read, o.st.Read)
		h.equal(fmt.Sprintf("request %d quarantined", i), gr.st.Quarantined, o.st.Quarantined)
		h.equal(fmt.Sprintf("request %d errors", i), gr.errs, o.errs)
		h.equal(fmt.Sprintf("request %d stored+superseded+duplicates", i), gr.st.New+gr.st.Superseded+gr.st.Unchanged, o.st.New+o.st.Superseded+o.st.Unchanged)
		if !slices.ContainsFunc(r.ids, func(id string) bool { return seen[id] > 1 }) {
			h.equal(fmt.Sprintf("request %d counts", i), [3]int{gr.st.New, gr.st.Superseded, gr.st.Unchanged}, [3]int{o.st.New, o.st.Superseded, o.st.Unchanged})
		}
	}
	if poison != "" {
		h.equal("requests failed", failed, 1)
		if gs.combined.Load() == 0 {
			h.t.Error("the poisoned request never shared a transaction: the case tests nothing about isolating it")
		}
	} else {
		h.equal("requests failed", failed, 0)
	}

	// The stores are the same: every event version, the quarantine, and
	// what users see (holds, gaps, recalls, lot status).
	h.equal("stored event versions", groupVersions(h, gs.Store), groupVersions(h, oneStore.Store))
	h.equal("quarantine", groupQuarantine(h, gs.Store), groupQuarantine(h, oneStore.Store))
	rules := core.DefaultGapRules()
	answers := func(s core.Store) chunkAnswers {
		m := &core.Monitor{Store: s, Rules: rules, Now: func() time.Time { return now }, Sleep: noSleep}
		if _, err := m.Evaluate(h.ctx); err != nil {
			h.t.Fatal(err)
		}
		return h.chunkAnswers(s, m, raw, sample)
	}
	h.sameAnswers("grouped", answers(oneStore.Store), answers(gs.Store))

	// Both audit trails verify; the grouped one has fewer ingest entries
	// (requests of one caller committed together share one, which counts
	// them), each naming its caller.
	for name, s := range map[string]core.Store{"one by one": oneStore.Store, "grouped": gs.Store} {
		v, err := core.VerifyAudit(h.ctx, s, nil)
		if err != nil {
			h.t.Fatalf("verify the %s audit trail: %v", name, err)
		}
		if !v.OK {
			h.t.Errorf("%s audit trail: %+v", name, v.Problems)
		}
	}
	entries := func(s core.Store) []core.AuditEntry {
		es, err := s.AuditLog(h.ctx, core.AuditFilter{Action: core.AuditIngest})
		if err != nil {
			h.t.Fatal(err)
		}
		return es
	}
	oneEntries, groupEntries := entries(oneStore.Store), entries(gs.Store)
	shared := 0
	for _, e := range groupEntries {
		var d struct {
			Source   string
			Requests int
		}
		if err := json.Unmarshal(e.Details, &d); err != nil {
			h.t.Fatal(err)
		}
		if d.Requests > 1 {
			shared++
		}
		if d.Source != "http:"+e.Actor.Name {
			h.t.Errorf("audit entry %d: source %q, actor %v: the entry names another caller than the one that sent its events", e.Seq, d.Source, e.Actor)
		}
	}
	if shared == 0 || len(groupEntries) >= len(oneEntries) {
		h.t.Errorf("%d grouped audit entries (%d shared by several requests) against %d one by one: no requests were committed together", len(groupEntries), shared, len(oneEntries))
	}
}

// groupVersions lists every stored event version as "id version hash
// status".
func groupVersions(h *harness, s core.Store) []string {
	h.t.Helper()
	rows, err := s.EventVersions(h.ctx, core.EventVersionsParams{})
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %d %s %s", r.ID, r.Version, r.Hash, r.Status))
	}
	slices.Sort(out)
	return out
}

// groupQuarantine lists the quarantine: source, line, event id, reason,
// raw input and whether it is resolved.
func groupQuarantine(h *harness, s core.Store) []string {
	h.t.Helper()
	rows, err := s.Quarantined(h.ctx, core.QuarantineFilter{IncludeResolved: true})
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]string, 0, len(rows))
	for _, q := range rows {
		out = append(out, fmt.Sprintf("%s:%d %s %q %q resolved=%v", q.Source, q.Line, q.EventID, q.Reason, q.Raw, q.Resolved))
	}
	slices.Sort(out)
	return out
}
