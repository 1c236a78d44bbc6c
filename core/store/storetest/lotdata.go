package storetest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
)

// Cases for the lot data kept in memory beside the genealogy
// (core.GraphCache, as `hub serve` keeps it): a trace answered from it
// is byte for byte the one the store gives, and a write that changes
// what a trace reports is seen by the next trace.

func init() {
	cases = append(cases, testCase{"LotDataCacheFollowsWrites", func(h *harness) {
		CacheFollowsWrites(h.t, h.s, h.s)
	}})
}

// CacheFollowsWrites writes through w and traces through r, a second
// handle on the same database (another hub replica) or w itself: after
// every write (a shipment, a corrected shipment, a reversal, a hold and
// its release, an adjustment of on hand, a hand-confirmed link) the
// answers of a cache loaded before it and of one loaded after it are the
// store's, byte for byte.
func CacheFollowsWrites(t *testing.T, w, r core.Store) {
	ctx := context.Background()
	write := func(lines ...string) {
		t.Helper()
		in := core.Ingester{Store: w, Now: func() time.Time { return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) }}
		if _, err := in.IngestJSONL(ctx, strings.NewReader(strings.Join(lines, "\n")), "test.jsonl"); err != nil {
			t.Fatalf("ingest: %v", err)
		}
	}
	write(
		recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1"),
		consume("c1", "WO-1", "FLOUR", "F-A", 40),
		produce("p1", "WO-1", "DOUGH", "D-1", 40),
		consume("c2", "WO-2", "DOUGH", "D-1", 30),
		produce("p2", "WO-2", "BREAD", "B-1", 30),
		ship("s1", "BREAD", "B-1", 10, "C-1", "SO-1"),
	)
	cache := core.NewGraphCache(r)
	defer cache.Close()
	cache.MinInterval = time.Hour // no background load: the test loads
	if err := cache.Load(ctx); err != nil {
		t.Fatal(err)
	}
	type ask struct {
		what string
		run  func(q *core.Queries) (*core.TraceResult, error)
	}
	lot := func(item, lot string) core.Selector { return core.Selector{Lot: &core.LotRef{Item: item, Lot: lot}} }
	asks := []ask{
		{"recall FLOUR/F-A", func(q *core.Queries) (*core.TraceResult, error) { return q.Recall(ctx, lot("FLOUR", "F-A")) }},
		{"trace forward FLOUR/F-A", func(q *core.Queries) (*core.TraceResult, error) {
			return q.Trace(ctx, core.Forward, lot("FLOUR", "F-A"))
		}},
		{"trace backward BREAD/B-1", func(q *core.Queries) (*core.TraceResult, error) {
			return q.Trace(ctx, core.Backward, lot("BREAD", "B-1"))
		}},
		{"recall DOUGH/D-1", func(q *core.Queries) (*core.TraceResult, error) { return q.Recall(ctx, lot("DOUGH", "D-1")) }},
	}
	answer := func(step string, a ask, q *core.Queries) []byte {
		t.Helper()
		res, err := a.run(q)
		if err != nil {
			t.Fatalf("%s: %s: %v", step, a.what, err)
		}
		var b bytes.Buffer
		if err := res.WriteCompactJSON(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	// check compares each answer through the cache with the store's, and
	// returns the store's recall of FLOUR/F-A.
	check := func(step string, fromMemory bool) string {
		t.Helper()
		var first string
		for i, a := range asks {
			reads := cache.Reads()
			want := answer(step, a, &core.Queries{Store: r})
			got := answer(step, a, &core.Queries{Store: r, Graph: cache})
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: %s through the cache (lot data in memory: %v) differs from the store's:\n got  %s\n want %s", step, a.what, fromMemory, got, want)
			}
			if used := cache.Reads() > reads; used != fromMemory {
				t.Fatalf("%s: %s read the lot data in memory: %v, want %v", step, a.what, used, fromMemory)
			}
			if i == 0 {
				first = string(want)
			}
		}
		return first
	}
	before := check("loaded", true)
	for _, step := range []struct {
		what   string
		events []string
		shows  string // a part of the recall the write changes
	}{
		{"a new shipment", []string{ship("s2", "DOUGH", "D-1", 5, "C-2", "SO-2")}, `"sales_order":"SO-2"`},
		{"a corrected shipment", []string{ship("s2", "DOUGH", "D-1", 4, "C-2", "SO-2")}, `"qty":4`},
		{"a shipment reversed", []string{reverse("x1", "s1")}, ``},
		{"a hold", []string{holdEv("h1", "hold", "BREAD", "B-1", "2026-03-04T09:00:00Z")}, `"on_hold":true`},
		{"its release", []string{holdEv("h2", "release", "BREAD", "B-1", "2026-03-04T10:00:00Z")}, ``},
		{"an adjustment of on hand", []string{adjust("a1", "DOUGH", "D-1", -2)}, ``},
		{"a new lot and a link confirmed by hand", []string{
			consume("confirm:c3", "WO-3", "FLOUR", "F-A", 5), produce("p3", "WO-3", "BUN", "BN-1", 5)}, `"confirmed":true`},
	} {
		write(step.events...)
		// The cache loaded before the write must not answer from memory.
		after := check(step.what+", the cache loaded before it", false)
		if after == before {
			t.Fatalf("%s: the recall of FLOUR/F-A did not change:\n%s", step.what, after)
		}
		if step.shows != "" && !strings.Contains(after, step.shows) {
			t.Fatalf("%s: the recall of FLOUR/F-A does not show %s:\n%s", step.what, step.shows, after)
		}
		if err := cache.Load(ctx); err != nil {
			t.Fatal(err)
		}
		check(step.what+", the cache loaded after it", true)
		before = after
	}
}
