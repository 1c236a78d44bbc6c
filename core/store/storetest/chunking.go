package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/plantgen"
)

// A store's answers are a function of the events it holds (their times,
// versions and reversals), never of how the input was cut into batches or
// of the order the batches arrived in (issue 25 §3). The case below makes
// a random plant with holds and releases at random times, and ingests it
// three ways into three stores:
//
//   - whole: one input, evaluated once at the end (hub ingest of a file);
//   - in order: random chunks, evaluated after each (a sync, or split -l);
//   - shuffled: the same chunks in a random order, evaluated after each
//     (late holds, late releases, late reversals, late consumptions).
//
// The plant also has quarantined lines and receipts in a unit its items
// are not otherwise kept in. The clock is fixed, inside the plant's time
// span, so gap windows are partly open. Holds, open gaps, the recall of every raw lot and the
// status of a sample of lots must then be identical.

func init() {
	cases = append(cases, testCase{"AnswersIndependentOfChunking", func(h *harness) {
		derived := 0
		for _, seed := range []uint64{3, 11, 27} {
			h.t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
				derived += chunking(&harness{t: t, s: h.open(t), ctx: h.ctx, open: h.open}, seed)
			})
		}
		if derived == 0 {
			h.t.Error("no plant had a lot born on hold: the case tests nothing about derived holds")
		}
	}})
}

// chunkPlant is a plantgen plant of n events with extra holds, releases
// and reversals of holds at random times, inserted at random places.
func chunkPlant(t testing.TB, seed uint64, n int) (lines []string, raw, sample []core.LotRef, finished []string, span [2]time.Time, returned []*core.Event) {
	t.Helper()
	var buf bytes.Buffer
	if err := plantgen.Generate(t.Context(), &buf, plantgen.Config{Events: n, Seed: seed}); err != nil {
		t.Fatalf("generate a plant: %v", err)
	}
	rng := rand.New(rand.NewPCG(seed, 25))
	var lots, holdIDs []string
	var consumed []*core.Event
	seen := map[core.LotRef]bool{}
	var held []core.LotRef
	for l := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		lines = append(lines, l)
		e, err := core.DecodeEvent([]byte(l))
		if err != nil {
			t.Fatalf("plantgen wrote an unreadable event: %v", err)
		}
		ts, _ := e.Timestamp()
		if span[0].IsZero() || ts.Before(span[0]) {
			span[0] = ts
		}
		if ts.After(span[1]) {
			span[1] = ts
		}
		for _, r := range e.Lots() {
			if !seen[r] {
				seen[r] = true
				lots = append(lots, r.Item+"\x00"+r.Lot)
			}
		}
		switch e.Type {
		case core.Receive:
			if !slices.Contains(raw, *e.Lot) {
				raw = append(raw, *e.Lot)
			}
		case core.Produce:
			if strings.HasPrefix(e.Lot.Item, "FG-") && !slices.Contains(finished, e.Lot.Item) {
				finished = append(finished, e.Lot.Item)
			}
		case core.Hold, core.Release:
			holdIDs = append(holdIDs, e.ID)
			held = append(held, *e.Lot)
		case core.Consume:
			consumed = append(consumed, e)
		}
	}
	ref := func(s string) core.LotRef {
		item, lot, _ := strings.Cut(s, "\x00")
		return core.LotRef{Item: item, Lot: lot}
	}
	randTime := func() string {
		d := span[1].Sub(span[0])
		return span[0].Add(time.Duration(rng.Int64N(int64(d) + 1))).Truncate(time.Second).Format(time.RFC3339)
	}
	var extra []string
	for i := range 12 {
		r := ref(lots[rng.IntN(len(lots))])
		held = append(held, r)
		id := fmt.Sprintf("x:HLD:%d", i)
		holdIDs = append(holdIDs, id)
		extra = append(extra, fmt.Sprintf(`{"id":%q,"type":"hold","time":%q,"lot":{"item":%q,"lot":%q},"reason":"extra hold %d"}`, id, randTime(), r.Item, r.Lot, i))
	}
	for i := range 8 {
		r := held[rng.IntN(len(held))]
		id := fmt.Sprintf("x:REL:%d", i)
		holdIDs = append(holdIDs, id)
		extra = append(extra, fmt.Sprintf(`{"id":%q,"type":"release","time":%q,"lot":{"item":%q,"lot":%q},"reason":"extra release %d"}`, id, randTime(), r.Item, r.Lot, i))
	}
	for i := range 3 {
		extra = append(extra, fmt.Sprintf(`{"id":"x:REV:%d","type":"reverse","time":%q,"reverses":%q}`, i, randTime(), holdIDs[rng.IntN(len(holdIDs))]))
	}
	// Input that is quarantined (issue 15 §1) and receipts of existing
	// items in a unit the mapping did not convert (§7): their gaps must
	// not depend on the chunks either.
	for i := range 3 {
		r := ref(lots[rng.IntN(len(lots))])
		extra = append(extra, fmt.Sprintf(`{"id":"x:BAD:%d","type":"receive","time":%q,"lot":{"item":%q,"lot":"BAD-%d"},"qty":-1,"uom":"KG","supplier":{"id":"V"}}`, i, randTime(), r.Item, i))
	}
	extra = append(extra, `{"not an event`)
	for i := range 2 {
		r := ref(lots[rng.IntN(len(lots))])
		extra = append(extra, fmt.Sprintf(`{"id":"x:LBR:%d","type":"receive","time":%q,"lot":{"item":%q,"lot":"LBR-%d"},"qty":10,"uom":"LBR","supplier":{"id":"V"}}`, i, randTime(), r.Item, i))
	}
	// Returns of material from orders (issue 15 §4): some in full, which
	// take the lot's link to the order away until its issue arrives
	// (returns arriving first), some in part, one reversed.
	for i := range 6 {
		c := consumed[rng.IntN(len(consumed))]
		q := *c.Qty
		if i%2 == 1 {
			q /= 2
		}
		extra = append(extra, fmt.Sprintf(`{"id":"x:RET:%d","type":"adjust","time":%q,"lot":{"item":%q,"lot":%q},"qty":%g,"uom":%q,"order":%q,"reason":"262"}`,
			i, randTime(), c.Lot.Item, c.Lot.Lot, q, c.UOM, c.Order))
		if i > 0 && i%2 == 0 {
			returned = append(returned, c)
		}
	}
	extra = append(extra, fmt.Sprintf(`{"id":"x:REV:RET","type":"reverse","time":%q,"reverses":"x:RET:0"}`, randTime()))
	for _, l := range extra {
		i := rng.IntN(len(lines) + 1)
		lines = slices.Insert(lines, i, l)
	}
	// The status of every lot that was ever held, and of 40 others.
	for _, r := range held {
		if !slices.Contains(sample, r) {
			sample = append(sample, r)
		}
	}
	for range 40 {
		if r := ref(lots[rng.IntN(len(lots))]); !slices.Contains(sample, r) {
			sample = append(sample, r)
		}
	}
	return lines, raw, sample, finished, span, returned
}

// chunking runs the case for one seed and returns how many lots were born
// on hold.
func chunking(h *harness, seed uint64) int {
	lines, raw, sample, finished, span, returned := chunkPlant(h.t, seed, 2500)
	rng := rand.New(rand.NewPCG(seed, 3))
	var chunks [][]string
	for rest := lines; len(rest) > 0; {
		n := min(1+rng.IntN(300), len(rest))
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	shuffled := slices.Clone(chunks)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })

	now := span[0].Add(span[1].Sub(span[0]) * 3 / 4).UTC()
	rules := core.DefaultGapRules()
	rules.Yield.Off = false
	// plantgen QC-releases 60 % of its finished lots: the others are
	// missed scans once their window closed.
	rules.Steps = []core.ExpectedStep{{Step: "QC-RELEASE", Items: finished, Window: 2 * time.Hour}}
	run := func(s core.Store, chunks [][]string) chunkAnswers {
		m := &core.Monitor{Store: s, Rules: rules, Now: func() time.Time { return now }, Sleep: noSleep}
		in := core.Ingester{Store: s, Now: func() time.Time { return now }}
		for i, c := range chunks {
			// One source name for every chunk, as a connector syncing in
			// batches: the quarantine gap is per source.
			if _, err := in.IngestJSONL(h.ctx, strings.NewReader(strings.Join(c, "\n")), "plant.jsonl"); err != nil {
				h.t.Fatalf("ingest chunk %d: %v", i, err)
			}
			if _, err := m.Evaluate(h.ctx); err != nil {
				h.t.Fatalf("evaluate after chunk %d: %v", i, err)
			}
		}
		return h.chunkAnswers(s, m, raw, sample)
	}
	whole := run(h.s, [][]string{lines})
	inOrder := run(h.open(h.t), chunks)
	late := run(h.open(h.t), shuffled)
	derived := 0
	for _, x := range whole.holds {
		if strings.Contains(x, `"origin"`) {
			derived++
		}
	}
	h.t.Logf("seed %d: %d events in %d chunks; %d lots on hold (%d born on hold), %d open gaps", seed, len(lines), len(chunks), len(whole.holds), derived, len(whole.gaps))
	for _, kind := range []string{core.GapQuarantined, core.GapMixedUnits} {
		if !slices.ContainsFunc(whole.gaps, func(g string) bool { return strings.Contains(g, `"kind":"`+kind+`"`) }) {
			h.t.Errorf("no %s gap: the case tests nothing about them", kind)
		}
	}
	// A full return of a lot's only issue to an order takes the link
	// away: the case must have one, or it tests nothing about returns.
	unlinked := 0
	for _, c := range returned {
		r, err := (&core.Queries{Store: h.s}).Trace(h.ctx, core.Forward, core.Selector{Lot: c.Lot})
		if err != nil {
			h.t.Fatal(err)
		}
		if !slices.ContainsFunc(r.Links, func(l core.Link) bool { return l.Order == c.Order && l.Parent == *c.Lot }) {
			unlinked++
		}
	}
	if unlinked == 0 {
		h.t.Error("no full return took a link away: the case tests nothing about returns")
	}
	h.sameAnswers("in order", whole, inOrder)
	h.sameAnswers("shuffled", whole, late)
	return derived
}

type chunkAnswers struct {
	holds, gaps, recalls, lots []string
}

// chunkAnswers renders what users see: hub holds, hub gaps, hub recall of
// every raw lot, hub lot of the sample (its history without what was only
// seen on the way: superseded and reversed versions, the reversals with
// which the hub withdrew its own derived holds, and their version numbers).
func (h *harness) chunkAnswers(s core.Store, m *core.Monitor, raw, sample []core.LotRef) chunkAnswers {
	h.t.Helper()
	var a chunkAnswers
	js := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			h.t.Fatal(err)
		}
		return string(b)
	}
	q := &core.Queries{Store: s}
	holds, err := q.Holds(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, x := range holds {
		a.holds = append(a.holds, js(x))
	}
	gaps, err := m.GapList(h.ctx, core.ExceptionFilter{Open: true})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, g := range gaps {
		g.ID = "" // numbered in the order gaps were found
		a.gaps = append(a.gaps, js(g))
	}
	for _, r := range raw {
		rc, err := q.Recall(h.ctx, core.Selector{Lot: &r})
		if err != nil {
			h.t.Fatalf("recall %s: %v", r, err)
		}
		a.recalls = append(a.recalls, js(rc))
	}
	for _, r := range sample {
		st, err := q.Lot(h.ctx, r)
		if err != nil {
			h.t.Fatalf("lot %s: %v", r, err)
		}
		st.Events = slices.DeleteFunc(st.Events, func(e core.EventEntry) bool {
			return e.Status != core.Active || e.Type == core.Reverse && byHub(e)
		})
		for i, e := range st.Events {
			if byHub(e) {
				st.Events[i].Version = 0 // a derived hold's content can change on the way (its reason names an input found later)
			}
		}
		a.lots = append(a.lots, js(st))
	}
	return a
}

func byHub(e core.EventEntry) bool { return e.Event.Source != nil && e.Event.Source.Connector == "hub" }

func (h *harness) sameAnswers(how string, want, got chunkAnswers) {
	h.t.Helper()
	for _, c := range []struct {
		what      string
		want, got []string
	}{
		{"holds", want.holds, got.holds},
		{"open gaps", want.gaps, got.gaps},
		{"recalls", want.recalls, got.recalls},
		{"lot status", want.lots, got.lots},
	} {
		if slices.Equal(c.want, c.got) {
			continue
		}
		var diffs []string
		for _, x := range c.got {
			if slices.Contains(c.want, x) || len(diffs) >= 6 {
				continue
			}
			// Show where it parts from the closest entry of the whole.
			near, at := "", 0
			for _, w := range c.want {
				n := 0
				for n < min(len(w), len(x)) && w[n] == x[n] {
					n++
				}
				if n > at {
					near, at = w, n
				}
			}
			from := max(0, at-200)
			diffs = append(diffs, "  "+how+": …"+clip(x[from:]), "  whole: …"+clip(near[from:]))
		}
		for _, x := range c.want {
			if !slices.Contains(c.got, x) && len(diffs) < 8 {
				diffs = append(diffs, "  only whole: "+clip(x))
			}
		}
		h.t.Errorf("%s, ingested %s: %d entries, whole: %d\n%s", c.what, how, len(c.got), len(c.want), strings.Join(diffs, "\n"))
	}
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}
