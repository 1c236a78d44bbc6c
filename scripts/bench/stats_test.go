package main

import (
	"strings"
	"testing"
	"time"
)

func ms(v ...int) series {
	var s series
	for _, x := range v {
		s = append(s, time.Duration(x)*time.Millisecond)
	}
	return s
}

func seq(n int) []int {
	v := make([]int, n)
	for i := range v {
		v[i] = n - i
	}
	return v
}

func TestPercentile(t *testing.T) {
	for _, c := range []struct {
		name string
		s    series
		p    float64
		want time.Duration
	}{
		{"Empty", nil, 50, 0},
		{"One", ms(7), 50, 7 * time.Millisecond},
		{"MedianOdd", ms(5, 1, 3), 50, 3 * time.Millisecond},
		{"MedianEvenIsLowerMiddle", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"Min", ms(4, 1, 3, 2), 0, 1 * time.Millisecond},
		{"Max", ms(4, 1, 3, 2), 100, 4 * time.Millisecond},
		{"P90Of10", ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 90, 9 * time.Millisecond},
		{"P99Of200IsThe198th", append(ms(make([]int, 197)...), 30*time.Millisecond, 50*time.Millisecond, 60*time.Millisecond), 99, 30 * time.Millisecond},
		{"P50Of200IsThe100th", ms(seq(200)...), 50, 100 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			orig := append(series(nil), c.s...)
			if got := c.s.percentile(c.p); got != c.want {
				t.Errorf("percentile(%v) of %v = %v, want %v", c.p, c.s, got, c.want)
			}
			for i := range orig {
				if orig[i] != c.s[i] {
					t.Fatalf("percentile reordered its series: %v, was %v", c.s, orig)
				}
			}
		})
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{thousands(0), "0"},
		{thousands(999), "999"},
		{thousands(1000), "1,000"},
		{thousands(1234567), "1,234,567"},
		{thousands(-50000), "-50,000"},
		{dur(850 * time.Nanosecond), "0.8 µs"},
		{dur(42 * time.Microsecond), "42.0 µs"},
		{dur(420 * time.Microsecond), "0.420 ms"},
		{dur(2345 * time.Microsecond), "2.35 ms"},
		{dur(23 * time.Millisecond), "23 ms"},
		{dur(1234 * time.Millisecond), "1.23 s"},
		{dur(81 * time.Second), "81.0 s"},
		{mb(349 * 1024), "349 MB"},
		{ms(30, 10, 20).span(), "10 ms–30 ms (median 20 ms)"},
		{ms(30).span(), "30 ms"},
		{series(nil).span(), "—"},
		{millions(1_000_000), "1M"},
		{millions(200_000), "200k"},
		{millions(1_234_567), "1,234,567"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if got := rate(1_000_000, 20*time.Second); got != 50_000 {
		t.Errorf("rate = %d, want 50000", got)
	}
	if got := rate(5, 0); got != 0 {
		t.Errorf("rate over no time = %d, want 0", got)
	}
}

func TestMarkdownTable(t *testing.T) {
	got := markdownTable([]row{
		{Figure: "ingest", SQLite: "41,000/s", Postgres: "a | b", Baseline: "", Goal: "≥ 50,000/s\n", Met: "**no**"},
	})
	want := "| figure | SQLite | PostgreSQL | baseline (same run) | goal | met? |\n" +
		"|---|---|---|---|---|---|\n" +
		"| ingest | 41,000/s | a \\| b | — | ≥ 50,000/s | **no** |\n"
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
	// Every line has the same number of unescaped cell separators.
	for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
		if n := strings.Count(strings.ReplaceAll(l, `\|`, ""), "|"); n != 7 {
			t.Errorf("line %q has %d separators, want 7", l, n)
		}
	}
}

func TestVerdict(t *testing.T) {
	for _, c := range []struct {
		name  string
		parts []verdictPart
		want  string
	}{
		{"BothYes", []verdictPart{{store: "SQLite", met: true}, {store: "PostgreSQL", met: true}}, "**yes**"},
		{"BothNo", []verdictPart{{store: "SQLite"}, {store: "PostgreSQL"}}, "**no**"},
		{"Split", []verdictPart{{store: "SQLite", met: true}, {store: "PostgreSQL"}}, "SQLite yes, PostgreSQL no"},
		{"OneMeasured", []verdictPart{{store: "SQLite", met: true}, {store: "PostgreSQL", skipped: true}}, "**yes**"},
		{"NoneMeasured", []verdictPart{{store: "SQLite", skipped: true}}, "not measured"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := verdict(c.parts...); got != c.want {
				t.Errorf("verdict = %q, want %q", got, c.want)
			}
		})
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{
		"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"postgres://postgres@localhost/postgres",
		"postgres://postgres@[::1]:5432/postgres",
		"postgres:///postgres?host=/var/run/postgresql",
	} {
		if err := loopbackOnly(ok); err != nil {
			t.Errorf("loopbackOnly(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"postgres://postgres@10.0.0.5/postgres", "postgres://db.example.com/postgres"} {
		if err := loopbackOnly(bad); err == nil {
			t.Errorf("loopbackOnly(%q) = nil, want an error", bad)
		}
	}
}

func TestCTESQL(t *testing.T) {
	// Both directions on both stores name their parameters and booleans
	// in the store's dialect, and walk the opposite sides of a group.
	for _, c := range []struct {
		store   string
		forward bool
		has     []string
	}{
		{storeSQLite, true, []string{"?1", "a.out = 0", "b.out = 1", "x.lot_id = a.lot_id", "reach r CROSS JOIN shipments"}},
		{storeSQLite, false, []string{"?2", "a.out = 1", "b.out = 0", "x.lot_id = b.lot_id", "reach r CROSS JOIN receipts"}},
		{storePostgres, true, []string{"$1", "a.out = false", "b.out = true", "JOIN shipments"}},
		{storePostgres, false, []string{"$2", "a.out = true", "b.out = false", "JOIN receipts"}},
	} {
		q := cteSQL(c.store, c.forward)
		for _, h := range c.has {
			if !strings.Contains(q, h) {
				t.Errorf("%s forward=%v: query lacks %q:\n%s", c.store, c.forward, h, q)
			}
		}
	}
}
