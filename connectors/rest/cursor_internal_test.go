package rest

import (
	"math/rand/v2"
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
