package plantgen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/plantgen"
)

func generate(t testing.TB, cfg plantgen.Config) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := plantgen.Generate(context.Background(), &buf, cfg); err != nil {
		t.Fatalf("Generate(%+v): %v", cfg, err)
	}
	return buf.Bytes()
}

func lines(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

func TestSameSeedSameBytes(t *testing.T) {
	for _, cfg := range []plantgen.Config{
		{Events: 5000, Seed: 0},
		{Events: 5000, Seed: 1},
		{Events: 5000, Seed: 1 << 63},
		{Events: 3000, Seed: 7, Start: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(fmt.Sprintf("seed=%d", cfg.Seed), func(t *testing.T) {
			a, b := generate(t, cfg), generate(t, cfg)
			if !bytes.Equal(a, b) {
				t.Fatalf("two runs with %+v differ", cfg)
			}
		})
	}
}

func TestDifferentSeedDifferentBytes(t *testing.T) {
	a := generate(t, plantgen.Config{Events: 2000, Seed: 1})
	b := generate(t, plantgen.Config{Events: 2000, Seed: 2})
	if bytes.Equal(a, b) {
		t.Fatal("seeds 1 and 2 gave the same output")
	}
}

func TestExactlyNLines(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 100, 4321} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			out := generate(t, plantgen.Config{Events: n, Seed: 3})
			if n == 0 {
				if len(out) != 0 {
					t.Fatalf("0 events wrote %d bytes", len(out))
				}
				return
			}
			if !bytes.HasSuffix(out, []byte("\n")) {
				t.Fatal("output does not end with a newline")
			}
			ls := lines(out)
			if len(ls) != n {
				t.Fatalf("got %d lines, want %d", len(ls), n)
			}
			for i, l := range ls {
				if len(l) == 0 {
					t.Fatalf("line %d is empty", i+1)
				}
			}
		})
	}
}

func TestNegativeEvents(t *testing.T) {
	if err := plantgen.Generate(context.Background(), io.Discard, plantgen.Config{Events: -1}); err == nil {
		t.Fatal("Events -1: no error")
	}
}

func TestStart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start time.Time
		want  time.Time
	}{
		{"zero", time.Time{}, time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)},
		{"given", time.Date(2025, 6, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600)), time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := generate(t, plantgen.Config{Events: 50, Seed: 1, Start: tc.start})
			e, err := core.DecodeEvent(lines(out)[0])
			if err != nil {
				t.Fatal(err)
			}
			ts, err := e.Timestamp()
			if err != nil {
				t.Fatal(err)
			}
			if ts.Before(tc.want) || ts.After(tc.want.Add(time.Hour)) {
				t.Fatalf("first event at %s, want within an hour after %s", e.Time, tc.want.Format(time.RFC3339))
			}
			if !strings.HasSuffix(e.Time, "Z") {
				t.Fatalf("time %q is not UTC", e.Time)
			}
		})
	}
}

// checked is what checkEvents learns from a run.
type checked struct {
	events     []*core.Event // first occurrences, in order
	byType     map[core.EventType]int
	duplicates int
}

// checkEvents decodes and validates every line, and checks ids, duplicates,
// reversals and times.
func checkEvents(t *testing.T, out []byte) checked {
	t.Helper()
	c := checked{byType: map[core.EventType]int{}}
	first := map[string][]byte{}
	typeOf := map[string]core.EventType{}
	var last time.Time
	for i, l := range lines(out) {
		e, err := core.DecodeEvent(l)
		if err != nil {
			t.Fatalf("line %d: %v\n%s", i+1, err, l)
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("line %d: %v\n%s", i+1, err, l)
		}
		c.byType[e.Type]++
		if prev, ok := first[e.ID]; ok {
			if !bytes.Equal(prev, l) {
				t.Fatalf("line %d: id %s reused with different content:\n%s\n%s", i+1, e.ID, prev, l)
			}
			c.duplicates++
			continue
		}
		first[e.ID] = l
		typeOf[e.ID] = e.Type
		c.events = append(c.events, e)
		// one json.Marshal of core.Event a line
		m, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m, l) {
			t.Fatalf("line %d is not the canonical encoding of its event:\n got %s\nwant %s", i+1, l, m)
		}
		ts, _ := e.Timestamp()
		if ts.Before(last) {
			t.Fatalf("line %d: time %s goes back from %s", i+1, e.Time, last.Format(time.RFC3339))
		}
		last = ts
		if e.Type == core.Reverse {
			tt, ok := typeOf[e.Reverses]
			if !ok {
				t.Fatalf("line %d: reverses %s, not emitted before", i+1, e.Reverses)
			}
			if tt != core.Consume && tt != core.Ship {
				t.Fatalf("line %d: reverses a %s, want consume or ship", i+1, tt)
			}
			if e.ID != e.Reverses+"-REV" {
				t.Fatalf("line %d: reverse id %s, want %s-REV", i+1, e.ID, e.Reverses)
			}
		}
	}
	return c
}

func TestEventMix(t *testing.T) {
	const n = 20000
	out := generate(t, plantgen.Config{Events: n, Seed: 11})
	c := checkEvents(t, out)
	pct := func(k int) float64 { return 100 * float64(k) / n }
	for _, tc := range []struct {
		t        core.EventType
		min, max float64 // percent of lines
	}{
		{core.Receive, 0.05, 5},
		{core.Consume, 20, 50},
		{core.Produce, 5, 25},
		{core.Step, 10, 35},
		{core.Ship, 10, 35},
		{core.Transform, 0.3, 3},
		{core.Move, 0.3, 5},
		{core.Hold, 0.1, 3},
		{core.Release, 0.1, 3},
		{core.Reverse, 0.3, 3},
	} {
		if p := pct(c.byType[tc.t]); p < tc.min || p > tc.max {
			t.Errorf("%s: %.2f%% of events, want %.2f%%..%.2f%%", tc.t, p, tc.min, tc.max)
		}
	}
	if p := pct(c.duplicates); p < 0.3 || p > 3 {
		t.Errorf("duplicates: %.2f%% of events, want 0.3%%..3%%", p)
	}
}

func TestStatsMatchOutput(t *testing.T) {
	const n = 30000
	var buf bytes.Buffer
	st, err := plantgen.GenerateStats(context.Background(), &buf, plantgen.Config{Events: n, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), generate(t, plantgen.Config{Events: n, Seed: 5})) {
		t.Fatal("GenerateStats and Generate wrote different bytes")
	}
	c := checkEvents(t, buf.Bytes())
	if st.Events != n || st.Duplicates != c.duplicates {
		t.Errorf("stats: %d events, %d duplicates; output: %d, %d", st.Events, st.Duplicates, n, c.duplicates)
	}
	for typ, k := range c.byType {
		if st.ByType[typ] != k {
			t.Errorf("stats: %d %s, output: %d", st.ByType[typ], typ, k)
		}
	}
}

// TestPlantShape checks the genealogy a 200,000-event plant is meant to
// exercise: wide raw lots, co-mingling, split outputs, rework cycles.
func TestPlantShape(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 events")
	}
	var buf bytes.Buffer
	st, err := plantgen.GenerateStats(context.Background(), &buf, plantgen.Config{Events: 200000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := checkEvents(t, buf.Bytes())

	type orderLots struct{ in, out map[core.LotRef]bool }
	orders := map[string]*orderLots{}
	get := func(o string) *orderLots {
		if orders[o] == nil {
			orders[o] = &orderLots{map[core.LotRef]bool{}, map[core.LotRef]bool{}}
		}
		return orders[o]
	}
	rawOrders := map[core.LotRef]map[string]bool{}
	customers := map[string]bool{}
	receivedBy := map[core.LotRef]bool{}
	for _, e := range c.events {
		switch e.Type {
		case core.Receive:
			receivedBy[*e.Lot] = true
		case core.Consume:
			get(e.Order).in[*e.Lot] = true
			if receivedBy[*e.Lot] {
				if rawOrders[*e.Lot] == nil {
					rawOrders[*e.Lot] = map[string]bool{}
				}
				rawOrders[*e.Lot][e.Order] = true
			}
		case core.Produce:
			get(e.Order).out[*e.Lot] = true
		case core.Ship:
			customers[e.Customer.ID] = true
		}
	}
	widest, widestN := core.LotRef{}, 0
	for ref, os := range rawOrders {
		if len(os) > widestN || len(os) == widestN && ref.String() < widest.String() {
			widest, widestN = ref, len(os)
		}
	}
	if widest.Item != "SALT" && widest.Item != "WATER" {
		t.Errorf("widest raw lot is %s, want a SALT or WATER lot", widest)
	}
	if widestN != st.WidestRawLotOrders {
		t.Errorf("stats say the widest raw lot feeds %d orders, output says %d", st.WidestRawLotOrders, widestN)
	}
	saltMax := 0
	for ref, os := range rawOrders {
		if ref.Item == "SALT" && len(os) > saltMax {
			saltMax = len(os)
		}
	}
	if saltMax < 500 {
		t.Errorf("busiest SALT lot consumed by %d distinct orders, want ≥ 500", saltMax)
	}
	if len(customers) < 150 {
		t.Errorf("shipments reach %d customers, want ≥ 150", len(customers))
	}

	var split, comingled, self int
	parentsOf := map[core.LotRef]map[core.LotRef]bool{}
	for _, o := range orders {
		if len(o.out) >= 2 {
			split++
		}
		items := map[string]int{}
		for in := range o.in {
			items[in.Item]++
			if o.out[in] {
				self++
			}
		}
		for _, k := range items {
			if k >= 2 {
				comingled++
				break
			}
		}
		for out := range o.out {
			if parentsOf[out] == nil {
				parentsOf[out] = map[core.LotRef]bool{}
			}
			for in := range o.in {
				parentsOf[out][in] = true
			}
		}
	}
	cycles := 0
	for child, ps := range parentsOf {
		for p := range ps {
			if p != child && parentsOf[p][child] {
				cycles++
			}
		}
	}
	t.Logf("widest raw lot %s (%d orders), busiest SALT lot %d orders, %d customers, %d split, %d co-mingled, %d self-rework, %d cycles",
		widest, widestN, saltMax, len(customers), split, comingled, self, cycles)
	for _, tc := range []struct {
		what string
		got  int
		min  int
	}{
		{"orders with split outputs", split, 100},
		{"orders consuming two lots of one item", comingled, 100},
		{"self-rework orders", self, 5},
		{"A→B→A cycles", cycles, 5},
	} {
		if tc.got < tc.min {
			t.Errorf("%s: %d, want ≥ %d", tc.what, tc.got, tc.min)
		}
	}
}

// cancelWriter cancels its context once it has been written to.
type cancelWriter struct {
	cancel context.CancelFunc
	n      int
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	w.cancel()
	return len(p), nil
}

func TestContextCancel(t *testing.T) {
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var buf bytes.Buffer
		err := plantgen.Generate(ctx, &buf, plantgen.Config{Events: 1000, Seed: 1})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if buf.Len() != 0 {
			t.Fatalf("wrote %d bytes after cancellation", buf.Len())
		}
	})
	t.Run("during", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		w := &cancelWriter{cancel: cancel}
		done := make(chan error, 1)
		go func() { done <- plantgen.Generate(ctx, w, plantgen.Config{Events: 1 << 40, Seed: 1}) }()
		select {
		case err := <-done:
			if !errors.Is(err, ctx.Err()) || err == nil {
				t.Fatalf("got %v, want %v", err, ctx.Err())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Generate did not stop after cancellation")
		}
		if w.n > 1<<22 {
			t.Fatalf("wrote %d bytes after cancellation", w.n)
		}
	})
}

type failWriter struct{}

var errDiskFull = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestWriteError(t *testing.T) {
	for _, n := range []int{10, 100000} {
		err := plantgen.Generate(context.Background(), failWriter{}, plantgen.Config{Events: n, Seed: 1})
		if !errors.Is(err, errDiskFull) {
			t.Errorf("%d events: got %v, want %v", n, err, errDiskFull)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	const n = 100000
	b.ReportAllocs()
	for b.Loop() {
		if err := plantgen.Generate(context.Background(), io.Discard, plantgen.Config{Events: n, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
