package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// series is the durations of repeated runs of one thing.
type series []time.Duration

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of the
// series: the smallest value with at least p % of the values at or below
// it. The median of an even count is the lower middle value, a time that
// was measured rather than an average of two. Zero for an empty series.
func (s series) percentile(p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	v := slices.Clone(s)
	slices.Sort(v)
	// The small tolerance keeps 0.99 × 200 (197.99999… or 198.00…01 in
	// floating point) at rank 198.
	rank := int(math.Ceil(p/100*float64(len(v)) - 1e-9))
	rank = max(1, min(rank, len(v)))
	return v[rank-1]
}

func (s series) median() time.Duration { return s.percentile(50) }
func (s series) min() time.Duration    { return s.percentile(0) }
func (s series) max() time.Duration    { return s.percentile(100) }

// span formats a series as "min–max (median m)", or one value for one run.
func (s series) span() string {
	if len(s) == 0 {
		return "—"
	}
	if len(s) == 1 {
		return dur(s[0])
	}
	return fmt.Sprintf("%s–%s (median %s)", dur(s.min()), dur(s.max()), dur(s.median()))
}

// dur formats a duration for people at a precision that fits it: 0.8 µs, 0.420 ms,
// 23 ms, 1.23 s, 81.0 s.
func dur(d time.Duration) string {
	switch {
	case d < 100*time.Microsecond:
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	case d < time.Millisecond:
		return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}

// thousands formats n with comma thousands separators: 1234567 → 1,234,567.
func thousands(n int64) string {
	neg := n < 0
	if neg {
		n = -n
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// mb formats a size in kilobytes (as rusage's ru_maxrss gives it) in MB.
func mb(kb int64) string {
	return fmt.Sprintf("%s MB", thousands((kb+512)/1024))
}

// rate is count per second of d, rounded to a whole number.
func rate(count int64, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Round(float64(count) / d.Seconds()))
}

// row is one line of the table.
type row struct {
	Figure, SQLite, Postgres, Baseline, Goal, Met string
}

// markdownTable renders rows as a GitHub markdown table under the fixed
// header. A "|" inside a cell is escaped so it cannot split the cell, and
// an empty cell shows as "—".
func markdownTable(rows []row) string {
	var b strings.Builder
	b.WriteString("| figure | SQLite | PostgreSQL | baseline (same run) | goal | met? |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, r := range rows {
		cells := []string{r.Figure, r.SQLite, r.Postgres, r.Baseline, r.Goal, r.Met}
		for i, c := range cells {
			c = strings.ReplaceAll(strings.TrimSpace(c), "|", `\|`)
			c = strings.ReplaceAll(c, "\n", " ")
			if c == "" {
				c = "—"
			}
			cells[i] = c
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

// verdict is the met? cell: each store's answer, "yes"/"no" bold when all
// stores agree.
func verdict(parts ...verdictPart) string {
	var out []string
	allYes, allNo, n := true, true, 0
	for _, p := range parts {
		if p.skipped {
			continue
		}
		n++
		allYes = allYes && p.met
		allNo = allNo && !p.met
	}
	switch {
	case n == 0:
		return "not measured"
	case allYes:
		return "**yes**"
	case allNo:
		return "**no**"
	}
	for _, p := range parts {
		if p.skipped {
			continue
		}
		out = append(out, p.store+" "+map[bool]string{true: "yes", false: "no"}[p.met])
	}
	return strings.Join(out, ", ")
}

type verdictPart struct {
	store   string
	met     bool
	skipped bool
}
