package rest

import (
	"container/heap"
	"fmt"
	"maps"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// The text comparison of normalised cursor times agrees with comparing
// the parsed times, and leaves to parsing what it cannot compare as text.
func TestCompareUTCAgreesWithParsing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2024, 2, 28, 23, 59, 59, 0, time.UTC)
	var vals []string
	for range 400 {
		// Nearby times (equal seconds, different fractions) and far ones,
		// written as cursor writes them.
		d := time.Duration(rng.Int64N(int64(72*time.Hour))) - 36*time.Hour
		switch rng.IntN(3) {
		case 0:
			d = d.Truncate(time.Second)
		case 1:
			d = d.Truncate(time.Millisecond)
		}
		vals = append(vals, base.Add(d).UTC().Format(time.RFC3339Nano))
	}
	vals = append(vals,
		"2024-02-29T00:00:00Z", "2024-02-29T00:00:00.5Z", "2024-02-29T00:00:00.50Z", "2024-02-29T00:00:00.000000001Z",
		"2023-02-29T00:00:00Z", // no such day: parsed (and fails) as before
		"2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.1234567890Z",
		"2024-01-01T00:00:00+01:00", "2024-01-01", "", "bad",
	)
	for _, a := range vals {
		for _, b := range vals {
			x, _ := time.Parse(time.RFC3339Nano, a)
			y, _ := time.Parse(time.RFC3339Nano, b)
			want := x.Compare(y)
			got, ok := compareUTC(a, b)
			if !ok {
				if _, errA := time.Parse(time.RFC3339Nano, a); errA == nil && isUTCForm(a) && isUTCForm(b) {
					if _, errB := time.Parse(time.RFC3339Nano, b); errB == nil {
						t.Errorf("compareUTC(%q, %q) gave up on two valid UTC times", a, b)
					}
				}
				continue
			}
			if got != want {
				t.Errorf("compareUTC(%q, %q) = %d, parsed times compare %d", a, b, got, want)
			}
			if l := less(Endpoint{Incremental: &Incremental{Type: CursorTime}}, a, b); l != (want < 0) {
				t.Errorf("less(%q, %q) = %v, want %v", a, b, l, want < 0)
			}
		}
	}
}

// isUTCForm: what time.Format writes for a UTC time with RFC3339Nano.
func isUTCForm(s string) bool {
	t, err := time.Parse(time.RFC3339Nano, s)
	return err == nil && t.UTC().Format(time.RFC3339Nano) == s
}

// Pruning a pass at each new high-water mark from the front of byCursor
// leaves the same keys as the walk over all of them (prune), whatever the
// order records come in: keys read again with a newer value, values out
// of order, bad records, time and number cursors, a pass resumed from a
// position (byCursor not built yet).
func TestPrunePassAgreesWithPrune(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 3, 14, 8, 0, 0, 0, time.UTC)
	eps := map[string]Endpoint{
		"time":   {Incremental: &Incremental{Type: CursorTime, Overlap: 10 * time.Minute}},
		"number": {Incremental: &Incremental{Type: CursorNumber, OverlapNum: 40}},
	}
	for name, ep := range eps {
		t.Run(name, func(t *testing.T) {
			r := &reader{}
			value := func(i int64) string {
				if ep.Incremental.Type == CursorNumber {
					return strconv.FormatInt(i, 10)
				}
				return base.Add(time.Duration(i) * time.Minute / 3).UTC().Format(time.RFC3339Nano)
			}
			for round := range 20 {
				ps := &pass{}
				var walked map[string]string // what prune at every new high-water mark leaves
				hw := ""
				if round%2 == 1 {
					// resumed: a Seen from a position, byCursor not built
					ps.Seen = map[string]string{}
					for i := range 30 {
						ps.Seen[fmt.Sprintf("k%d", rng.IntN(60))] = value(int64(i))
					}
					ps.Seen["bad:x"] = "bad"
					walked = copyMap(ps.Seen)
				}
				for i := range 2000 {
					at := int64(i) - rng.Int64N(30) // mostly ascending, some late
					if rng.IntN(50) == 0 {
						at = int64(i) + rng.Int64N(300) // a jump ahead
					}
					key, cur := fmt.Sprintf("k%d", rng.IntN(400)), value(at)
					if rng.IntN(100) == 0 {
						key, cur = fmt.Sprintf("bad:%d", i), "bad"
					}
					if ps.Seen[key] == cur {
						continue
					}
					if ps.Seen == nil {
						ps.Seen = map[string]string{}
					}
					if walked == nil {
						walked = map[string]string{}
					}
					ps.Seen[key], walked[key] = cur, cur
					if cur == "bad" {
						continue
					}
					if ps.built {
						heap.Push(&ps.byCursor, seenItem{at: valueOf(ep, cur), key: key, cur: cur})
					}
					if hw == "" || less(ep, hw, cur) {
						hw = cur
						walked = r.prune(ep, walked, hw)
					}
					r.advance(ep, ps, cur)
					if !maps.Equal(ps.Seen, walked) {
						t.Fatalf("round %d, record %d: pruned from the front %d keys, walked %d", round, i, len(ps.Seen), len(walked))
					}
				}
			}
		})
	}
}
