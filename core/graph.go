package core

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// GraphCache keeps the genealogy in memory for a long-running process
// (`hub serve`), so that a walk follows arrays instead of querying the
// store once per depth level, and beside it what a trace reports about
// every lot (LotData: names, receipts, shipments, on hand, holds), so
// that a trace reads no row of the store. Each is only used while it is
// current: every trace first reads the store's versions (Store.ReadVersions,
// one small query) and walks the store itself when links were added or
// removed since the graph was loaded, and reads the lots' rows from the
// store when anything a trace reports changed since the lot data was
// loaded, while a fresh copy loads in the background. Whatever the cache
// holds, a trace gives the answer the store gives.
//
// A CLI process does not use one: loading the graph of a 5M-event plant
// (2.5M links) takes seconds, far more than the walks it would save.
type GraphCache struct {
	Store Store
	// MinInterval is the least time between the starts of two background
	// loads of the graph, and of the lot data (0: four times the last
	// load's duration, so that a store that keeps changing costs at most
	// a fifth of a core for each).
	MinInterval time.Duration
	// NoLotData keeps the genealogy only: traces read the lots' rows
	// from the store.
	NoLotData bool
	// NoSnapshot keeps a loaded genealogy to this cache; otherwise the
	// first load, and later ones at most every five minutes, are also
	// saved as the store's genealogy snapshot when none of its version is
	// (Store.SaveGenealogySnapshot), for the wide walks of command-line
	// processes.
	NoSnapshot bool
	// Log gets a line per load (nil: slog.Default()).
	Log *slog.Logger

	graph  atomic.Pointer[Graph]
	data   atomic.Pointer[LotData]
	stale  atomic.Bool  // the last versions read found a part not current
	walks  atomic.Int64 // walks answered from memory
	reads  atomic.Int64 // traces whose lots' rows came from memory
	graphL loader
	dataL  loader
	// When the last snapshot was saved (the start of its load).
	snapMu   sync.Mutex
	lastSnap time.Time
	ctx      context.Context // of background loads; cancelled by Close
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// loader paces the background loads of one part of the cache.
type loader struct {
	mu       sync.Mutex
	loading  bool
	lastLoad time.Time
	lastDur  time.Duration
}

// done records a load that started at start and took d (a load called
// directly, as by Load, counts as one started in the background).
func (l *loader) done(start time.Time, d time.Duration) {
	l.mu.Lock()
	l.lastDur = d
	if start.After(l.lastLoad) {
		l.lastLoad = start
	}
	l.mu.Unlock()
}

// snapshotDue reports whether a load that started at start saves the
// genealogy snapshot: the first does, later ones no more often than
// snapshotEvery (a store that keeps changing reloads every few seconds,
// and each save writes the whole genealogy, tens of megabytes).
func (c *GraphCache) snapshotDue(start time.Time) bool {
	c.snapMu.Lock()
	defer c.snapMu.Unlock()
	if !c.lastSnap.IsZero() && start.Sub(c.lastSnap) < snapshotEvery {
		return false
	}
	c.lastSnap = start
	return true
}

// snapshotEvery is the least time between two genealogy snapshots saved by
// one GraphCache.
const snapshotEvery = 5 * time.Minute

// failedLoadBackoff is the least time between a failed background load
// and the next (with MinInterval 0).
const failedLoadBackoff = time.Minute

// NewGraphCache returns an empty cache of the store's genealogy and lot
// data; the first trace that finds it empty starts loading it.
func NewGraphCache(s Store) *GraphCache {
	ctx, cancel := context.WithCancel(context.Background())
	return &GraphCache{Store: s, ctx: ctx, cancel: cancel}
}

// Close stops a background load and waits for it.
func (c *GraphCache) Close() {
	c.cancel()
	c.wg.Wait()
}

func (c *GraphCache) logger() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

// Walks is how many walks the cache answered.
func (c *GraphCache) Walks() int64 { return c.walks.Load() }

// Reads is how many traces read their lots' rows from the cache.
func (c *GraphCache) Reads() int64 { return c.reads.Load() }

// Load reads the whole genealogy and (unless NoLotData) the lot data now
// and keeps them.
func (c *GraphCache) Load(ctx context.Context) error {
	if err := c.loadGraph(ctx); err != nil {
		return err
	}
	if c.NoLotData {
		return nil
	}
	return c.loadData(ctx)
}

func (c *GraphCache) loadGraph(ctx context.Context) error {
	start := time.Now()
	g, err := LoadGraph(ctx, c.Store)
	if err != nil {
		return err
	}
	first := c.graph.Swap(g) == nil
	d := time.Since(start)
	c.graphL.done(start, d)
	level := slog.LevelDebug // reloads after changes: as often as every few seconds
	if first {
		level = slog.LevelInfo
	}
	c.logger().Log(ctx, level, "genealogy loaded into memory", "version", g.version, "groups", len(g.groups),
		"links", len(g.inputs.val)+len(g.outputs.val), "took", d.Round(time.Millisecond))
	if !c.NoSnapshot && c.snapshotDue(start) {
		// What was just read, saved for the command-line processes that
		// walk wide traces (core.Queries.snapshot); a failure only leaves
		// them on the slower walk.
		if ok, err := c.Store.HasGenealogySnapshot(ctx); err != nil || !ok {
			if err == nil {
				err = SaveGenealogySnapshot(ctx, c.Store, g)
			}
			if err != nil && ctx.Err() == nil {
				c.logger().Warn("genealogy snapshot not saved", "version", g.version, "err", err)
			}
		}
	}
	return nil
}

func (c *GraphCache) loadData(ctx context.Context) error {
	start := time.Now()
	ld, err := LoadLotData(ctx, c.Store)
	if err != nil {
		return err
	}
	first := c.data.Swap(ld) == nil
	d := time.Since(start)
	c.dataL.done(start, d)
	level := slog.LevelDebug
	if first {
		level = slog.LevelInfo
	}
	c.logger().Log(ctx, level, "lot data loaded into memory", "version", ld.version, "lots", ld.count,
		"receipts", len(ld.receipts.val), "shipments", len(ld.shipments.val), "mb", ld.bytes>>20, "took", d.Round(time.Millisecond))
	return nil
}

// Warm starts loading the genealogy and the lot data in the background
// if the cache is not current, so that the first trace need not wait for
// a walk to find it empty.
func (c *GraphCache) Warm(ctx context.Context) {
	if _, _, err := c.current(ctx); err != nil {
		c.logger().Warn("genealogy cache: read the store's versions", "err", err)
	}
}

// current returns the graph and the lot data that are of the store's
// present versions (nil for either that is not), read in one query, and
// starts a background load of a part that is not current (unless one
// runs or ran too recently).
func (c *GraphCache) current(ctx context.Context) (*Graph, *LotData, error) {
	v, err := c.Store.ReadVersions(ctx)
	if err != nil {
		return nil, nil, err
	}
	g := c.graph.Load()
	if g == nil || g.version != v.Genealogy {
		g = nil
		c.startLoad(&c.graphL, "genealogy", c.loadGraph)
	}
	if c.NoLotData {
		return g, nil, nil
	}
	d := c.data.Load()
	if d == nil || d.version != v.Data {
		d = nil
		c.startLoad(&c.dataL, "lot data", c.loadData)
	}
	c.stale.Store(g == nil || d == nil)
	return g, d, nil
}

func (c *GraphCache) startLoad(l *loader, what string, load func(context.Context) error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	interval := c.MinInterval
	if interval == 0 {
		interval = 4 * l.lastDur
	}
	if l.loading || c.ctx.Err() != nil || time.Since(l.lastLoad) < interval {
		return
	}
	l.loading, l.lastLoad = true, time.Now()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		err := load(c.ctx)
		l.mu.Lock()
		l.loading = false
		if err != nil {
			// Retry no sooner than a minute: a load that fails (the
			// database is down, a lot id out of range) must not be retried
			// by every trace.
			l.lastDur = max(l.lastDur, failedLoadBackoff/4)
		}
		l.mu.Unlock()
		if err != nil && c.ctx.Err() == nil {
			c.logger().Warn("genealogy cache: load failed; traces read the store", "part", what, "err", err, "retry_after", failedLoadBackoff)
		}
	}()
}

// Graph is the genealogy as of one GenealogyVersion: for every lot the
// groups (orders and transforms) it went into and came out of, and for
// every group its inputs and outputs, as arrays indexed by lot id and
// group number.
type Graph struct {
	version int64
	groups  []string
	inOf    csr       // lot id → groups it is an input of
	outOf   csr       // lot id → groups it is an output of
	inputs  csr       // group → input lot ids
	outputs csr       // group → output lot ids
	visits  sync.Pool // *visits of walks over it
}

// csr is a compressed adjacency: the neighbours of i are val[off[i]:off[i+1]].
type csr struct {
	off []int32
	val []int32
}

func (a *csr) of(i int64) []int32 {
	if i < 0 || i+1 >= int64(len(a.off)) {
		return nil
	}
	return a.val[a.off[i]:a.off[i+1]]
}

// maxGraphLots bounds the lot ids a Graph indexes directly.
const maxGraphLots = math.MaxInt32 - 1

// LoadGraph reads a store's whole genealogy into memory.
func LoadGraph(ctx context.Context, s Store) (*Graph, error) {
	var (
		groups   []string
		lot, grp []int32
		out      []bool
		maxLot   int64
	)
	version, err := s.ReadGenealogy(ctx, func(l GenealogyLink) error {
		if l.LotID <= 0 || l.LotID > maxGraphLots {
			return fmt.Errorf("lot id %d out of the range the in-memory genealogy holds", l.LotID)
		}
		if n := len(groups); n == 0 || groups[n-1] != l.Group {
			groups = append(groups, l.Group)
		} else if n := len(lot); n > 0 && lot[n-1] == int32(l.LotID) && out[n-1] == l.Out && grp[n-1] == int32(len(groups)-1) {
			return nil // the same (group, side, lot) again: Graph.walk relies on each once
		}
		lot = append(lot, int32(l.LotID))
		grp = append(grp, int32(len(groups)-1))
		out = append(out, l.Out)
		maxLot = max(maxLot, l.LotID)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load the genealogy into memory: %w", err)
	}
	// The lot arrays are indexed by id: both stores number lots densely,
	// but refuse ids so sparse that the arrays would dwarf the links.
	if limit := 8*int64(len(lot)) + 1<<20; maxLot > limit {
		return nil, fmt.Errorf("load the genealogy into memory: lot ids up to %d for %d links are too sparse to index directly", maxLot, len(lot))
	}
	g := &Graph{version: version, groups: groups}
	g.inOf, g.outOf = buildCSR(int(maxLot)+1, len(lot), func(i int) (int32, int32, bool) { return lot[i], grp[i], out[i] })
	g.inputs, g.outputs = buildCSR(len(groups), len(lot), func(i int) (int32, int32, bool) { return grp[i], lot[i], out[i] })
	return g, nil
}

// buildCSR builds two adjacencies over n keys from m rows (key, value,
// side): one of the rows whose side is false, one of those whose side is
// true. Values keep the rows' order.
func buildCSR(n, m int, row func(i int) (key, val int32, side bool)) (csr, csr) {
	var a [2]csr
	for s := range a {
		a[s].off = make([]int32, n+1)
	}
	side := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	for i := range m {
		k, _, s := row(i)
		a[side(s)].off[k+1]++
	}
	for s := range a {
		for k := range n {
			a[s].off[k+1] += a[s].off[k]
		}
		a[s].val = make([]int32, a[s].off[n])
	}
	next := [2][]int32{append([]int32(nil), a[0].off[:n]...), append([]int32(nil), a[1].off[:n]...)}
	for i := range m {
		k, v, s := row(i)
		j := side(s)
		a[j].val[next[j][k]] = v
		next[j][k]++
	}
	return a[0], a[1]
}

// walk is Queries.walkIn over the genealogy in memory: the same lots in
// the same order, the same edges in the same order, with arrays where the
// store's walk keeps maps. No edge is seen twice: LoadGraph keeps each
// (group, side, lot) once and every lot is left once, from the level it
// was found at.
func (g *Graph) walk(dir Direction, roots []int64, found func([]int64)) *graph {
	via, to := &g.inOf, &g.outputs // forward: the groups a lot went into, their outputs
	if dir == Backward {
		via, to = &g.outOf, &g.inputs
	}
	v, _ := g.visits.Get().(*visits) // a Graph decoded from a snapshot has no New
	if v == nil {
		v = new(visits)
	}
	defer g.visits.Put(v)
	seen := v.start(len(g.inOf.off))
	w := &graph{roots: roots, order: make([]int64, 0, 64), level: make([]int, 0, 64)}
	for _, id := range roots {
		if id >= 0 && id < int64(len(v.mark)) {
			v.mark[id] = seen
		}
		w.order = append(w.order, id)
		w.level = append(w.level, 0)
	}
	if found != nil {
		found(roots)
	}
	for depth, start := 1, 0; start < len(w.order); depth++ {
		end := len(w.order)
		for _, from := range w.order[start:end] {
			for _, gi := range via.of(from) {
				for _, t := range to.of(int64(gi)) {
					w.hops = append(w.hops, Hop{From: from, To: int64(t), Group: g.groups[gi]})
					if v.mark[t] != seen {
						v.mark[t] = seen
						w.order = append(w.order, int64(t))
						w.level = append(w.level, depth)
					}
				}
			}
		}
		if found != nil && len(w.order) > end {
			found(w.order[end:len(w.order):len(w.order)])
		}
		start = end
	}
	return w
}

// visits marks the lots a walk has found: mark[id] == the walk's stamp.
// A new stamp per walk spares clearing the array.
type visits struct {
	mark  []uint32
	stamp uint32
}

// start returns a new stamp for a walk over lot ids below n.
func (v *visits) start(n int) uint32 {
	if len(v.mark) < n {
		v.mark, v.stamp = make([]uint32, n), 0
	}
	v.stamp++
	if v.stamp == 0 { // wrapped: clear the old marks
		clear(v.mark)
		v.stamp = 1
	}
	return v.stamp
}

// hops returns the edges leaving the lots in the given direction, as the
// store's Hops does.
func (g *Graph) hops(dir Direction, lots []int64) []Hop {
	via, to := &g.inOf, &g.outputs // forward: the groups a lot went into, their outputs
	if dir == Backward {
		via, to = &g.outOf, &g.inputs
	}
	var out []Hop
	for _, from := range lots {
		for _, gi := range via.of(from) {
			for _, t := range to.of(int64(gi)) {
				out = append(out, Hop{From: from, To: int64(t), Group: g.groups[gi]})
			}
		}
	}
	return out
}

// walkFrom goes on with a walk whose lots g.order lists, from the lots of
// frontier, found at depth-1. Its edges need no check for repeats: the
// graph holds each (group, side, lot) once, and each lot is left once.
func (m *Graph) walkFrom(g *graph, dir Direction, frontier []int64, depth int, found func([]int64)) {
	via, to := &m.inOf, &m.outputs // forward: the groups a lot went into, their outputs
	if dir == Backward {
		via, to = &m.outOf, &m.inputs
	}
	n := int64(max(len(via.off)-1, 0)) // lot ids the graph holds (a snapshot's other half is not decoded)
	seen := make([]bool, n)
	for _, id := range g.order {
		if id >= 0 && id < n {
			seen[id] = true
		}
	}
	left := make([]bool, n) // a lot given twice in frontier is left once
	for ; len(frontier) > 0; depth++ {
		var next []int64
		for _, from := range frontier {
			if from >= 0 && from < n {
				if left[from] {
					continue
				}
				left[from] = true
			}
			for _, gi := range via.of(from) {
				for _, t := range to.of(int64(gi)) {
					g.hops = append(g.hops, Hop{From: from, To: int64(t), Group: m.groups[gi]})
					if !seen[t] {
						seen[t] = true
						g.depth[int64(t)] = depth
						g.order = append(g.order, int64(t))
						g.level = append(g.level, depth)
						next = append(next, int64(t))
					}
				}
			}
		}
		if found != nil && len(next) > 0 {
			found(next)
		}
		frontier = next
	}
}
