package netsuite

import (
	"fmt"
	"slices"
	"time"
)

// SuiteQL shows and compares times as wall clocks in the time zone of the
// user's preferences: TO_CHAR gives "2026-11-01 01:30:00", TO_TIMESTAMP
// reads one back. A wall clock is not an instant: when clocks fall back,
// an hour of wall clocks happens twice (01:30 PDT, then 01:30 PST), and
// when they spring forward an hour never happens. The helpers below turn
// wall clocks into instants and back without ever moving a lower bound
// later than it should be, which would skip records.

// instants returns the instants whose wall clock in loc reads at (layout
// goTimestamp), earliest first: one on most days, two in a repeated hour,
// none in a skipped one.
func instants(at string, loc *time.Location) ([]time.Time, error) {
	naive, err := time.ParseInLocation(goTimestamp, at, time.UTC)
	if err != nil {
		return nil, fmt.Errorf("%q is not a YYYY-MM-DD HH24:MI:SS time", at)
	}
	// The offsets in force around that day: a zone changes offset at
	// most a few times a year, never twice within a day.
	var offsets []int
	for _, d := range []time.Duration{-26 * time.Hour, 0, 26 * time.Hour} {
		_, off := naive.Add(d).In(loc).Zone()
		if !slices.Contains(offsets, off) {
			offsets = append(offsets, off)
		}
	}
	var out []time.Time
	for _, off := range offsets {
		t := naive.Add(-time.Duration(off) * time.Second)
		if t.In(loc).Format(goTimestamp) == at && !slices.ContainsFunc(out, t.Equal) {
			out = append(out, t.UTC())
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out, nil
}

// earliestInstant is the earliest instant whose wall clock in loc reads at.
// For a wall clock in a skipped hour (which NetSuite should never show) it
// is the instant the wall clock would be with the offset before the jump,
// which is earlier than any real one after it.
func earliestInstant(at string, loc *time.Location) (time.Time, error) {
	ts, err := instants(at, loc)
	if err != nil {
		return time.Time{}, err
	}
	if len(ts) > 0 {
		return ts[0], nil
	}
	naive, _ := time.ParseInLocation(goTimestamp, at, time.UTC)
	_, before := naive.Add(-26 * time.Hour).In(loc).Zone()
	_, after := naive.Add(26 * time.Hour).In(loc).Zone()
	return naive.Add(-time.Duration(max(before, after)) * time.Second).UTC(), nil
}

// wallClockNotAfter returns a wall clock in loc that, however NetSuite
// reads it back (either instant of a repeated hour), is not after t: the
// lower bound of a query built from it never skips a record at or after t.
func wallClockNotAfter(t time.Time, loc *time.Location) string {
	c := t
	for range 48 {
		w := c.In(loc).Format(goTimestamp)
		ts, _ := instants(w, loc) // w comes from Format: it parses
		if len(ts) > 0 && !ts[len(ts)-1].After(t) {
			return w
		}
		c = c.Add(-time.Hour)
	}
	return t.Add(-48 * time.Hour).In(loc).Format(goTimestamp) // unreachable for real zones
}

// ambiguous reports whether t's wall clock in loc happens twice.
func ambiguous(t time.Time, loc *time.Location) bool {
	ts, _ := instants(t.In(loc).Format(goTimestamp), loc)
	return len(ts) > 1
}
