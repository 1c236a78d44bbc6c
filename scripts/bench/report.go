package main

import (
	"fmt"
	"strings"
	"time"
)

var storeNames = map[string]string{storeSQLite: "SQLite", storePostgres: "PostgreSQL"}

// check compares the answers that must agree: each CLI answer with the
// CTE and the BFS of the same lot, the summary with the full recall,
// hub serve's recall with the CLI's. A difference is reported in the
// notes (the figures of a wrong answer mean nothing).
func (b *bench) check() {
	want := map[string]int{ // rows the BFS gathered
		"widest": b.bfs["widest"].rows, "typical": b.bfs["typical"].rows, "backward": b.bfs["backward"].rows,
	}
	same := true
	for _, store := range b.stores() {
		name := storeNames[store]
		cmp := func(what string, got, want int) {
			if got != want {
				same = false
				b.notef("DIFFERENT ANSWERS on %s: %s is %d, the in-memory BFS found %d", name, what, got, want)
			}
		}
		cli, cte := b.cli[store], b.cte[store]
		cmp("the widest recall's shipments (CLI)", cli["recall-widest"].answer.Shipments, want["widest"])
		cmp("the widest recall summary's shipments (CLI)", cli["summary-widest"].answer.Shipments, want["widest"])
		cmp("the widest recall summary's lots (CLI)", cli["summary-widest"].answer.Lots, b.widest.reach)
		cmp("the widest recall's shipments (CTE)", cte["widest"].rows, want["widest"])
		cmp("the typical recall's shipments (CLI)", cli["recall-typical"].answer.Shipments, want["typical"])
		cmp("the typical forward trace's shipments (CLI)", cli["forward-typical"].answer.Shipments, want["typical"])
		cmp("the typical recall's shipments (CTE)", cte["typical"].rows, want["typical"])
		cmp("the backward trace's suppliers (CLI)", cli["backward-typical"].answer.Suppliers, want["backward"])
		cmp("the backward trace's receipts (CTE)", cte["backward"].rows, want["backward"])
		if s := b.serve[store]; s != nil {
			cmp("the widest recall's shipments (hub serve)", s.shipment, want["widest"])
		}
	}
	if same {
		b.notes = append(b.notes, fmt.Sprintf("Answers agree: on every store the CLI, the recursive CTE, the in-memory BFS (and hub serve for the widest recall) found the same %s shipments for the widest lot, %s for the typical lot and %s receipts for the backward trace; the summary counted the same %s lots as the BFS.",
			thousands(int64(want["widest"])), thousands(int64(want["typical"])), thousands(int64(want["backward"])), thousands(int64(b.widest.reach))))
	}
}

func (b *bench) command() string {
	c := b.cfg
	s := "go run ./scripts/bench"
	if c.events != 1_000_000 {
		s += fmt.Sprintf(" -events %d", c.events)
	}
	if c.seed != 1 {
		s += fmt.Sprintf(" -seed %d", c.seed)
	}
	if c.runs != 5 {
		s += fmt.Sprintf(" -runs %d", c.runs)
	}
	if c.requests != 200 {
		s += fmt.Sprintf(" -requests %d", c.requests)
	}
	if c.stores != "sqlite,postgres" {
		s += " -stores " + c.stores
	}
	if c.plant != "" {
		s += " -plant " + c.plant
	}
	return s
}

func (b *bench) report() string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	p("```sh\n%s\n```\n\n", b.command())
	p("- **Machine:** %s\n", b.mach)
	p("- **Date:** %s; **commit** %s\n", b.date, b.commit)
	p("- **Load average** (1, 5, 15 min): %s before, %s after the ingests, %s at the end\n", b.loadBefore, b.loadMid, b.loadAfter)
	plant := fmt.Sprintf("`hub gen --events %d --seed %d`", b.cfg.events, b.cfg.seed)
	if b.cfg.plant != "" {
		plant = fmt.Sprintf("the file %s (-plant; said to be %s)", b.cfg.plant, plant)
	}
	p("- **Plant:** %s: %s lines, %s links in effect, %s raw lots that reach another lot\n",
		plant, thousands(b.events), thousands(int64(b.graphLinks)), thousands(int64(b.raws)))
	p("- **Lots traced:** widest by reach **%s** (a forward trace reaches %s lots); typical **%s** (the raw lot of median reach: %s lots); backward **%s** (the shipped lot of median backward reach: %s lots)\n",
		b.widest, thousands(int64(b.widest.reach)), b.typical, thousands(int64(b.typical.reach)), b.finished, thousands(int64(b.finished.reach)))
	p("- **Runs:** each CLI command once untimed, then %d timed runs (process start included; min–max and median; CPU is the hub's user + system time, peak RSS the largest of the runs, both from wait4); baselines in process, after one untimed run; hub serve: %d requests of the typical trace, %d of the widest recall, one at a time on a keep-alive connection\n\n",
		b.cfg.runs, b.cfg.requests, b.cfg.runs)
	p("%s\n", markdownTable(b.rows()))
	p("Notes:\n\n")
	notes := append([]string{
		"Ingest CPU and peak RSS are the hub process's only; on PostgreSQL the server's own work (on the same cores) is not in it.",
		"The bulk-load baselines write the events table only (its indexes included) of a freshly migrated store, from rows prepared in memory before the clock starts (one row per event id: the plant's duplicate lines are stored once); the ingest also reads and checks the file, plans, and writes links, receipts, shipments, quantities and the audit trail. Ratio = ingest events/s ÷ baseline rows/s.",
		"The recursive CTE and the BFS run in the bench's process (no process start, no JSON); the CTE returns the shipments of the lots reached (receipts for the backward trace) and reads every column, the BFS walks the links held in memory and gathers the same rows.",
	}, b.notes...)
	for _, n := range notes {
		p("- %s\n", n)
	}
	for _, store := range b.stores() {
		if s := b.serve[store]; s != nil && s.graph != "" {
			p("- hub serve on %s: `%s`\n", storeNames[store], strings.TrimSpace(s.graph))
		}
	}
	return w.String()
}

// cli formats a CLI result: times, CPU, RSS, and the ratio to the CTE.
func (b *bench) cliCell(store, key, cteKey string) string {
	r := b.cli[store][key]
	if r == nil {
		return ""
	}
	s := fmt.Sprintf("%s; CPU %s; %s peak RSS", r.walls.span(), dur(r.cpu.median()), mb(r.maxRSS))
	if c := b.cte[store][cteKey]; c != nil && c.walls.median() > 0 {
		s += fmt.Sprintf("; %.1f× the CTE", float64(r.walls.median())/float64(c.walls.median()))
	}
	return s
}

func (b *bench) rows() []row {
	var rows []row
	per := func(f func(store string) string) (string, string) {
		var s, pg string
		if b.sqlite {
			s = f(storeSQLite)
		}
		if b.postgres {
			pg = f(storePostgres)
		}
		return s, pg
	}
	verdictOf := func(f func(store string) bool) string {
		var parts []verdictPart
		for _, st := range []string{storeSQLite, storePostgres} {
			measured := (st == storeSQLite && b.sqlite) || (st == storePostgres && b.postgres)
			vp := verdictPart{store: storeNames[st], skipped: !measured}
			if measured {
				vp.met = f(st)
			}
			parts = append(parts, vp)
		}
		return verdict(parts...)
	}

	// Ingest.
	ratio := func(store string) float64 {
		u, bl := b.ingest[store], b.bulk[store]
		if bl.wall <= 0 || u.wall <= 0 {
			return 0
		}
		return float64(rate(b.events, u.wall)) / float64(rate(int64(bl.rows), bl.wall))
	}
	r := row{Figure: fmt.Sprintf("ingest, `hub ingest --evaluate=false --events` of the %s-event plant into a new store", millions(b.events)),
		Goal: "≥ 50,000 events/s and ≥ 1/3 of the baseline"}
	r.SQLite, r.Postgres = per(func(st string) string {
		u := b.ingest[st]
		return fmt.Sprintf("**%s events/s**: %s wall, CPU %s, %s peak RSS; **%.2f×** the baseline", thousands(rate(b.events, u.wall)), dur(u.wall), dur(u.cpu()), mb(u.maxRSSKB), ratio(st))
	})
	var base []string
	for _, st := range b.stores() {
		bl := b.bulk[st]
		how := map[string]string{storeSQLite: "SQLite INSERT, one transaction", storePostgres: "PostgreSQL COPY"}[st]
		base = append(base, fmt.Sprintf("%s: %s rows/s (%s rows in %s)", how, thousands(rate(int64(bl.rows), bl.wall)), thousands(int64(bl.rows)), dur(bl.wall)))
	}
	r.Baseline = strings.Join(base, "; ")
	r.Met = verdictOf(func(st string) bool { return rate(b.events, b.ingest[st].wall) >= 50_000 && ratio(st) >= 1.0/3 })
	rows = append(rows, r)

	r = row{Figure: "gap rules, first evaluation after the load (`hub gaps --evaluate`)", Goal: "—", Met: "—", Baseline: "—"}
	r.SQLite, r.Postgres = per(func(st string) string {
		u := b.gaps[st]
		return fmt.Sprintf("%s wall, CPU %s", dur(u.wall), dur(u.cpu()))
	})
	rows = append(rows, r)

	cteBase := func(key string) string {
		var parts []string
		for _, st := range b.stores() {
			if c := b.cte[st][key]; c != nil {
				parts = append(parts, fmt.Sprintf("CTE %s %s", storeNames[st], c.walls.span()))
			}
		}
		if f := b.bfs[key]; f != nil {
			parts = append(parts, "in-memory BFS "+f.walls.span())
		}
		return strings.Join(parts, "; ")
	}
	within := func(store, key, cteKey string, goal time.Duration, andCTE bool) bool {
		r := b.cli[store][key]
		if r == nil {
			return false
		}
		ok := r.walls.median() <= goal
		if andCTE {
			c := b.cte[store][cteKey]
			ok = ok && c != nil && r.walls.median() <= c.walls.median()
		}
		return ok
	}
	for _, t := range []struct {
		key, cteKey, figure, goal string
		limit                     time.Duration
		andCTE                    bool
	}{
		{"recall-widest", "widest", fmt.Sprintf("widest recall, `hub recall ITEM LOT --json`, CLI (%s lots)", thousands(int64(b.widest.reach))), "≤ 1 s (median), and no slower than the CTE", time.Second, true},
		{"summary-widest", "widest", "widest recall, `hub recall ITEM LOT --summary --json`, CLI", "≤ 1 s (median), and no slower than the CTE", time.Second, true},
		{"recall-typical", "typical", fmt.Sprintf("typical recall, `hub recall ITEM LOT --json`, CLI (%s lots)", thousands(int64(b.typical.reach))), "≤ 30 ms (median)", 30 * time.Millisecond, false},
		{"forward-typical", "typical", "typical trace, `hub trace forward ITEM LOT --json`, CLI", "≤ 30 ms (median)", 30 * time.Millisecond, false},
		{"backward-typical", "backward", fmt.Sprintf("typical trace, `hub trace backward ITEM LOT --json`, CLI (%s lots)", thousands(int64(b.finished.reach))), "≤ 30 ms (median)", 30 * time.Millisecond, false},
	} {
		r := row{Figure: t.figure, Goal: t.goal, Baseline: cteBase(t.cteKey)}
		r.SQLite, r.Postgres = per(func(st string) string { return b.cliCell(st, t.key, t.cteKey) })
		r.Met = verdictOf(func(st string) bool { return within(st, t.key, t.cteKey, t.limit, t.andCTE) })
		rows = append(rows, r)
	}

	bfs := func(key string) string {
		if f := b.bfs[key]; f != nil {
			return "in-memory BFS " + f.walls.span()
		}
		return ""
	}
	r = row{Figure: fmt.Sprintf("`hub serve`, typical trace forward over HTTP, p50 of %d requests", b.cfg.requests), Goal: "p50 ≤ 2 ms", Baseline: bfs("typical")}
	r.SQLite, r.Postgres = per(func(st string) string {
		s := b.serve[st]
		if s == nil {
			return ""
		}
		return fmt.Sprintf("**p50 %s** (p90 %s, p99 %s, max %s); server peak RSS %s", dur(s.typical.percentile(50)), dur(s.typical.percentile(90)), dur(s.typical.percentile(99)), dur(s.typical.max()), mb(s.peakRSS))
	})
	r.Met = verdictOf(func(st string) bool {
		s := b.serve[st]
		return s != nil && s.typical.percentile(50) <= 2*time.Millisecond
	})
	rows = append(rows, r)

	r = row{Figure: "`hub serve`, widest recall over HTTP", Goal: "—", Met: "—", Baseline: bfs("widest")}
	r.SQLite, r.Postgres = per(func(st string) string {
		if s := b.serve[st]; s != nil {
			return s.widest.span()
		}
		return ""
	})
	rows = append(rows, r)
	return rows
}

// millions names an event count the way the docs do: 1M, 5M, 200k.
func millions(n int64) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1_000 && n%1_000 == 0:
		return fmt.Sprintf("%dk", n/1_000)
	}
	return thousands(n)
}
