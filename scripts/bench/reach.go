package main

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// genealogy is a store's links, shipments and receipts held in memory:
// what picks the traced lots by reach, and the in-memory BFS baseline.
type genealogy struct {
	names         []pick // by dense lot index
	lotIn, lotOut [][]int32
	grpIn, grpOut [][]int32
	ships, rcpts  [][]scanned // by dense lot index
	links         int
	stamp, gstamp []uint32
	epoch         uint32
	queue         []int32
}

// loadGenealogy reads a store's in-effect links (inputs returned in full
// to their order left out, as the store's walk does), its lots, shipments
// and receipts.
func (b *bench) loadGenealogy(ctx context.Context, store string) (*genealogy, error) {
	// each runs a query and calls fn after scanning each row into dest.
	var each func(query string, dest []any, fn func()) error
	out := "out = 1"
	outCol := "out"
	if store == storeSQLite {
		db, err := sql.Open("sqlite", "file:"+b.dsn(store)+"?mode=ro&_pragma=busy_timeout(30000)")
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", b.dsn(store), err)
		}
		defer db.Close()
		each = func(query string, dest []any, fn func()) error {
			rows, err := db.QueryContext(ctx, query)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if err := rows.Scan(dest...); err != nil {
					return err
				}
				fn()
			}
			return rows.Err()
		}
	} else {
		conn, err := pgx.Connect(ctx, b.dsn(store))
		if err != nil {
			return nil, fmt.Errorf("connect to the bench database: %w", err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		out, outCol = "out", "CASE WHEN out THEN 1 ELSE 0 END"
		each = func(query string, dest []any, fn func()) error {
			rows, err := conn.Query(ctx, query)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if err := rows.Scan(dest...); err != nil {
					return err
				}
				fn()
			}
			return rows.Err()
		}
	}
	g := &genealogy{}
	index := map[int64]int32{}
	var id int64
	var p pick
	if err := each(`SELECT id, item, lot FROM lots`, []any{&id, &p.item, &p.lot}, func() {
		index[id] = int32(len(g.names))
		g.names = append(g.names, p)
	}); err != nil {
		return nil, fmt.Errorf("read the lots: %w", err)
	}
	n := len(g.names)
	g.lotIn, g.lotOut = make([][]int32, n), make([][]int32, n)
	groups := map[string]int32{}
	var grp string
	var isOut int
	var lerr error
	if err := each(`SELECT DISTINCT grp, `+outCol+`, lot_id FROM links k
		WHERE `+out+` OR NOT EXISTS (SELECT 1 FROM returned_inputs r WHERE r.lot_id = k.lot_id AND r.grp = k.grp)`,
		[]any{&grp, &isOut, &id}, func() {
			gi, ok := groups[grp]
			if !ok {
				gi = int32(len(g.grpIn))
				groups[grp] = gi
				g.grpIn, g.grpOut = append(g.grpIn, nil), append(g.grpOut, nil)
			}
			li, ok := index[id]
			if !ok {
				lerr = fmt.Errorf("a link names lot id %d, which is not in lots", id)
				return
			}
			g.links++
			if isOut == 1 {
				g.lotOut[li] = append(g.lotOut[li], gi)
				g.grpOut[gi] = append(g.grpOut[gi], li)
			} else {
				g.lotIn[li] = append(g.lotIn[li], gi)
				g.grpIn[gi] = append(g.grpIn[gi], li)
			}
		}); err != nil {
		return nil, fmt.Errorf("read the links: %w", err)
	}
	if lerr != nil {
		return nil, lerr
	}
	g.ships, g.rcpts = make([][]scanned, n), make([][]scanned, n)
	var s scanned
	for _, t := range []struct {
		query string
		into  [][]scanned
	}{
		{`SELECT event_id, lot_id, customer_id, customer_name, sales_order, delivery, qty, uom, ts FROM shipments`, g.ships},
		{`SELECT event_id, lot_id, supplier_id, supplier_name, supplier_lot, po, qty, uom, ts FROM receipts`, g.rcpts},
	} {
		if err := each(t.query, s.dest(), func() {
			if li, ok := index[s.lotID]; ok {
				t.into[li] = append(t.into[li], s)
			}
		}); err != nil {
			return nil, fmt.Errorf("read shipments and receipts: %w", err)
		}
	}
	g.stamp, g.gstamp = make([]uint32, n), make([]uint32, len(g.grpIn))
	return g, nil
}

// walk is a breadth-first walk from one lot, forward (to the outputs of
// the groups it is an input of) or backward; it calls visit for every lot
// reached, the start included, and returns how many it reached besides
// the start.
func (g *genealogy) walk(start int32, forward bool, visit func(int32)) int {
	g.epoch++
	if g.epoch == 0 { // wrapped: clear the stamps
		clear(g.stamp)
		clear(g.gstamp)
		g.epoch = 1
	}
	from, to := g.lotIn, g.grpOut
	if !forward {
		from, to = g.lotOut, g.grpIn
	}
	q := append(g.queue[:0], start)
	g.stamp[start] = g.epoch
	for i := 0; i < len(q); i++ {
		u := q[i]
		if visit != nil {
			visit(u)
		}
		for _, gr := range from[u] {
			if g.gstamp[gr] == g.epoch {
				continue
			}
			g.gstamp[gr] = g.epoch
			for _, v := range to[gr] {
				if g.stamp[v] != g.epoch {
					g.stamp[v] = g.epoch
					q = append(q, v)
				}
			}
		}
	}
	g.queue = q
	return len(q) - 1
}

type reached struct {
	lot   int32
	reach int
}

// byReach sorts by reach, then by name, so that a pick is the same on
// every run.
func (g *genealogy) byReach(rs []reached) {
	slices.SortFunc(rs, func(a, b reached) int {
		return cmp.Or(cmp.Compare(a.reach, b.reach), cmp.Compare(g.names[a.lot].item, g.names[b.lot].item), cmp.Compare(g.names[a.lot].lot, g.names[b.lot].lot))
	})
}

// medianPick is the lower middle of rs sorted by reach.
func medianPick(rs []reached) reached { return rs[(len(rs)-1)/2] }

// pickLots chooses the traced lots: the widest lot by forward reach
// (every raw lot's reach counted; a raw lot is the input of some order or
// transform and the output of none); the typical lot, the raw lot of
// median reach among those that reach anything; and for backward traces
// the shipped lot of median backward reach among shipped lots that were
// made from something.
func (b *bench) pickLots(ctx context.Context) error {
	store := b.stores()[0]
	slog.Info("reading the genealogy into memory to pick the lots", "store", store)
	g, err := b.loadGenealogy(ctx, store)
	if err != nil {
		return err
	}
	start := time.Now()
	var raws, shipped []reached
	for i := range g.names {
		li := int32(i)
		if len(g.lotOut[i]) == 0 && len(g.lotIn[i]) > 0 {
			if r := g.walk(li, true, nil); r > 0 {
				raws = append(raws, reached{li, r})
			}
		}
		if len(g.lotOut[i]) > 0 && len(g.ships[i]) > 0 {
			if r := g.walk(li, false, nil); r > 0 {
				shipped = append(shipped, reached{li, r})
			}
		}
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if len(raws) == 0 || len(shipped) == 0 {
		return fmt.Errorf("the plant has no raw lot that reaches another (%d) or no shipped lot made from another (%d): is it a hub gen plant?", len(raws), len(shipped))
	}
	g.byReach(raws)
	g.byReach(shipped)
	mk := func(r reached) pick { p := g.names[r.lot]; p.reach = r.reach; return p }
	b.widest, b.typical, b.finished = mk(raws[len(raws)-1]), mk(medianPick(raws)), mk(medianPick(shipped))
	b.raws, b.graphLinks = len(raws), g.links
	slog.Info("picked", "widest", b.widest, "reach", b.widest.reach, "typical", b.typical, "typical reach", b.typical.reach,
		"backward", b.finished, "backward reach", b.finished.reach, "raw lots", len(raws), "took", time.Since(start))

	// The in-memory BFS baseline: the walk and the gathering of the
	// shipments (forward) or receipts (backward) of every lot reached.
	b.bfs = map[string]*queryResult{}
	find := func(p pick) int32 {
		for i, n := range g.names {
			if n.item == p.item && n.lot == p.lot {
				return int32(i)
			}
		}
		return -1
	}
	for _, x := range []struct {
		key     string
		lot     pick
		forward bool
	}{{"widest", b.widest, true}, {"typical", b.typical, true}, {"backward", b.finished, false}} {
		li := find(x.lot)
		r := &queryResult{}
		var got []scanned
		runs := max(20, b.cfg.runs)
		for i := 0; i <= runs; i++ {
			got = got[:0]
			t0 := time.Now()
			g.walk(li, x.forward, func(l int32) {
				if x.forward {
					got = append(got, g.ships[l]...)
				} else {
					got = append(got, g.rcpts[l]...)
				}
			})
			if i > 0 { // the first run is a warm-up
				r.walls = append(r.walls, time.Since(t0))
			}
		}
		r.rows = len(got)
		b.bfs[x.key] = r
	}
	return nil
}
