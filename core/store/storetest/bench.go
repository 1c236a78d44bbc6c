package storetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/plantgen"
)

// BenchEvents is the size of the synthetic plant the benchmarks load:
// $LOTHUB_BENCH_EVENTS, 200,000 by default. The 1M and 5M figures of
// docs/benchmarks.md come from `hub gen` + `hub ingest` runs.
func BenchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("LOTHUB_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

// Benchmark measures ingest and traces on a synthetic plant against the
// store open returns, and the same traces over an in-memory graph (the
// baseline a store-backed trace is compared with).
func Benchmark(b *testing.B, open Opener) {
	ctx := context.Background()
	var plant bytes.Buffer
	st, err := plantgen.GenerateStats(ctx, &plant, plantgen.Config{Events: BenchEvents(), Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	data := plant.Bytes()

	b.Run("Ingest", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s := open(b)
			b.StartTimer()
			in := core.Ingester{Store: s}
			if _, err := in.IngestJSONL(ctx, bytes.NewReader(data), "plant"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(st.Events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})

	s := open(b)
	in := core.Ingester{Store: s}
	if _, err := in.IngestJSONL(ctx, bytes.NewReader(data), "plant"); err != nil {
		b.Fatal(err)
	}
	mem := newMemGraph(b, data)
	q := &core.Queries{Store: s}
	// The genealogy loaded into memory, as `hub serve` keeps it.
	cache := core.NewGraphCache(s)
	defer cache.Close()
	b.Run("GraphLoad", func(b *testing.B) {
		for b.Loop() {
			if err := cache.Load(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	if err := cache.Load(ctx); err != nil {
		b.Fatal(err)
	}
	qg := &core.Queries{Store: s, Graph: cache}
	typical := typicalLots(mem, 200)
	widest := st.WidestRawLot

	for _, c := range []struct {
		name  string
		dir   core.Direction
		roots []core.LotRef
	}{
		{"TraceForwardTypical", core.Forward, typical},
		{"TraceBackwardTypical", core.Backward, mem.finished(200)},
		{"RecallWidest", core.Forward, []core.LotRef{widest}},
	} {
		for _, v := range []struct {
			name string
			q    *core.Queries
		}{{"store", q}, {"store-graph", qg}} {
			q := v.q
			b.Run(c.name+"/"+v.name, func(b *testing.B) {
				var durs []time.Duration
				lots := 0
				i := 0
				for b.Loop() {
					ref := c.roots[i%len(c.roots)]
					i++
					t0 := time.Now()
					var r *core.TraceResult
					var err error
					if c.name == "RecallWidest" {
						r, err = q.Recall(ctx, core.Selector{Lot: &ref})
					} else {
						r, err = q.Trace(ctx, c.dir, core.Selector{Lot: &ref})
					}
					durs = append(durs, time.Since(t0))
					if err != nil {
						b.Fatal(err)
					}
					lots += len(r.Lots)
					got := counts{len(r.Lots), len(r.Links), len(r.Suppliers), len(r.Shipments)}
					if want := mem.trace(c.dir, ref).counts(); got != want {
						b.Fatalf("%s %s: store finds %+v, in-memory graph %+v", c.dir, ref, got, want)
					}
				}
				if q.Graph != nil && q.Graph.Walks() == 0 {
					b.Fatal("the genealogy loaded into memory was not used")
				}
				report(b, durs, lots)
			})
		}
		b.Run(c.name+"/memory", func(b *testing.B) {
			var durs []time.Duration
			lots := 0
			i := 0
			for b.Loop() {
				ref := c.roots[i%len(c.roots)]
				i++
				t0 := time.Now()
				lots += len(mem.trace(c.dir, ref).lots)
				durs = append(durs, time.Since(t0))
			}
			report(b, durs, lots)
		})
	}
}

func report(b *testing.B, durs []time.Duration, lots int) {
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lots)/float64(len(durs)), "lots/op")
}

// memGraph is the genealogy of a plant held in maps: the in-memory BFS
// baseline. It follows the same rules as core (order and transform groups,
// reversals), for the event mix plantgen writes (no supersedes).
type memGraph struct {
	ins, outs   map[string][]core.LotRef // group → input / output lots
	inOf, outOf map[core.LotRef][]string // lot → groups it is input / output of
	receipts    map[core.LotRef][]*core.Event
	shipments   map[core.LotRef][]*core.Event
	produced    []core.LotRef
	raw         []core.LotRef
}

// counts is the size of a trace's answer.
type counts struct{ lots, links, suppliers, shipments int }

// memTrace is the answer of a trace over the in-memory graph: the same
// lots (with depth), links, receipts and shipments core reports.
type memTrace struct {
	lots      map[core.LotRef]int
	links     []core.Link
	suppliers []*core.Event
	shipments []*core.Event
}

func (t *memTrace) counts() counts {
	return counts{len(t.lots) - 1, len(t.links), len(t.suppliers), len(t.shipments)}
}

// trace walks breadth-first from root and collects what core.Trace does.
func (g *memGraph) trace(dir core.Direction, root core.LotRef) *memTrace {
	from, to := g.inOf, g.outs
	if dir == core.Backward {
		from, to = g.outOf, g.ins
	}
	type edge struct {
		from, to core.LotRef
		group    string
	}
	t := &memTrace{lots: map[core.LotRef]int{root: 0}}
	seen := map[edge]bool{}
	frontier := []core.LotRef{root}
	for depth := 1; len(frontier) > 0; depth++ {
		var next []core.LotRef
		for _, l := range frontier {
			t.suppliers = append(t.suppliers, g.receipts[l]...)
			t.shipments = append(t.shipments, g.shipments[l]...)
			for _, grp := range from[l] {
				for _, c := range to[grp] {
					e := edge{l, c, grp}
					if seen[e] {
						continue
					}
					seen[e] = true
					t.links = append(t.links, core.Link{Parent: l, Child: c, Order: grp})
					if _, ok := t.lots[c]; !ok {
						t.lots[c] = depth
						next = append(next, c)
					}
				}
			}
		}
		frontier = next
	}
	return t
}

func newMemGraph(b *testing.B, data []byte) *memGraph {
	g := &memGraph{ins: map[string][]core.LotRef{}, outs: map[string][]core.LotRef{},
		inOf: map[core.LotRef][]string{}, outOf: map[core.LotRef][]string{},
		receipts: map[core.LotRef][]*core.Event{}, shipments: map[core.LotRef][]*core.Event{}}
	var events []*core.Event
	seen := map[string]bool{}
	reversed := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e core.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			b.Fatal(err)
		}
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		if e.Type == core.Reverse {
			reversed[e.Reverses] = true
		}
		events = append(events, &e)
	}
	add := func(group string, ref core.LotRef, out bool) {
		if out {
			g.outs[group] = append(g.outs[group], ref)
			g.outOf[ref] = append(g.outOf[ref], group)
		} else {
			g.ins[group] = append(g.ins[group], ref)
			g.inOf[ref] = append(g.inOf[ref], group)
		}
	}
	for _, e := range events {
		if reversed[e.ID] {
			continue
		}
		switch e.Type {
		case core.Consume, core.Produce:
			add("o:"+e.Order, *e.Lot, e.Type == core.Produce)
			if e.Type == core.Produce {
				g.produced = append(g.produced, *e.Lot)
			}
		case core.Transform:
			for _, q := range e.Inputs {
				add("t:"+e.ID, q.Ref(), false)
			}
			for _, q := range e.Outputs {
				add("t:"+e.ID, q.Ref(), true)
			}
		case core.Receive:
			g.raw = append(g.raw, *e.Lot)
			g.receipts[*e.Lot] = append(g.receipts[*e.Lot], e)
		case core.Ship:
			g.shipments[*e.Lot] = append(g.shipments[*e.Lot], e)
		}
	}
	return g
}

// typicalLots picks n raw lots (not SALT or WATER) whose forward trace
// reaches at most 1,000 lots, spread over the plant.
func typicalLots(g *memGraph, n int) []core.LotRef {
	var out []core.LotRef
	step := max(1, len(g.raw)/(n*2))
	for i := 0; i < len(g.raw) && len(out) < n; i += step {
		r := g.raw[i]
		if r.Item == "SALT" || r.Item == "WATER" {
			continue
		}
		if k := len(g.trace(core.Forward, r).lots) - 1; k > 0 && k <= 1000 {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// finished picks n produced lots spread over the plant.
func (g *memGraph) finished(n int) []core.LotRef {
	var out []core.LotRef
	step := max(1, len(g.produced)/n)
	for i := 0; i < len(g.produced) && len(out) < n; i += step {
		out = append(out, g.produced[i])
	}
	return out
}
