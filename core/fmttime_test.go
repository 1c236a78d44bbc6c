package core

import (
	"math/rand/v2"
	"testing"
	"time"
)

// fmtTime must write what time.Format(time.RFC3339) writes of the UTC
// time, whatever the zone and the year.
func TestFmtTimeMatchesFormat(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("x", -7*3600-1800), time.FixedZone("y", 14*3600)}
	check := func(tm time.Time) {
		t.Helper()
		if got, want := fmtTime(tm), tm.UTC().Format(time.RFC3339); got != want {
			t.Errorf("fmtTime(%v) = %q, want %q", tm, got, want)
		}
	}
	for _, tm := range []time.Time{{}, time.Unix(0, 0), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)} {
		for _, z := range zones {
			check(tm.In(z))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		sec := r.Int64N(400000*365*86400) - 200000*365*86400
		check(time.Unix(sec, r.Int64N(1e9)).In(zones[r.IntN(len(zones))]))
	}
}

func FuzzFmtTime(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(1780000000), int64(5))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec)
		if got, want := fmtTime(tm), tm.UTC().Format(time.RFC3339); got != want {
			t.Errorf("fmtTime(%v) = %q, want %q", tm, got, want)
		}
	})
}
