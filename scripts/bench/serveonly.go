package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// measureServeOnly measures hub serve alone (-serve-only) on databases
// already loaded: the lots are picked and the in-memory BFS timed as in
// the full run, then hub serve on each store.
func (b *bench) measureServeOnly(ctx context.Context) error {
	b.date = time.Now().UTC().Format("2006-01-02 15:04 MST")
	b.mach = machine()
	if commit, err := output(ctx, b.root, "git", "rev-parse", "--short=12", "HEAD"); err == nil {
		b.commit = commit
	}
	if err := b.buildHub(ctx); err != nil {
		return err
	}
	b.loadBefore = loadAvg()
	if err := b.pickLots(ctx); err != nil {
		return err
	}
	b.serve = map[string]*serveResult{}
	for _, store := range b.stores() {
		if err := b.measureServe(ctx, store); err != nil {
			return err
		}
	}
	b.loadAfter = loadAvg()
	return nil
}

// serveReport is the -serve-only report: one line per store.
func (b *bench) serveReport() string {
	var s strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	p("hub serve on %s, hub %s (repository at %s), %s; load average before %s, after %s\n", b.date, b.hub, b.commit, b.mach, b.loadBefore, b.loadAfter)
	p("typical %s (forward reach %d lots), widest %s (%d lots); in-memory BFS typical %s, widest %s\n",
		b.typical, b.typical.reach, b.widest, b.widest.reach, b.bfs["typical"].walls.span(), b.bfs["widest"].walls.span())
	for _, st := range b.stores() {
		r := b.serve[st]
		if r == nil {
			continue
		}
		p("- %s: typical trace over HTTP, %d requests: p50 %s, p90 %s, p99 %s, max %s; server CPU %s a request; widest recall %s (%d lots, %d shipments); server peak RSS %s\n",
			storeNames[st], len(r.typical), dur(r.typical.percentile(50)), dur(r.typical.percentile(90)), dur(r.typical.percentile(99)), dur(r.typical.max()),
			dur(r.cpu/time.Duration(max(1, len(r.typical)))), r.widest.span(), r.lots, r.shipment, mb(r.peakRSS))
		for _, l := range r.loads {
			p("  - `%s`\n", strings.TrimSpace(l))
		}
	}
	return s.String()
}
