package core

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Qty is a quantity in a unit.
type Qty struct {
	Qty float64 `json:"qty"`
	UOM string  `json:"uom"`
}

// TracedLot is a lot reached by a trace. OnHand is set by recalls only.
type TracedLot struct {
	Item   string `json:"item"`
	Lot    string `json:"lot"`
	Depth  int    `json:"depth"`
	OnHand *[]Qty `json:"on_hand,omitempty"`
	OnHold bool   `json:"on_hold,omitempty"` // recalls only
}

// RootLot is the lot a trace starts from. OnHand is set by recalls only.
type RootLot struct {
	Item   string `json:"item"`
	Lot    string `json:"lot"`
	OnHand *[]Qty `json:"on_hand,omitempty"`
	OnHold bool   `json:"on_hold,omitempty"` // recalls only
}

// Ref returns the root's lot.
func (r RootLot) Ref() LotRef { return LotRef{Item: r.Item, Lot: r.Lot} }

// Link is a genealogy edge: parent went into child through an order (Order
// set) or a transform (Transform set to the event id).
type Link struct {
	Parent    LotRef `json:"parent"`
	Child     LotRef `json:"child"`
	Order     string `json:"order,omitempty"`
	Transform string `json:"transform,omitempty"`
	// Confirmed: the link was supplied by hand after the fact (hub
	// confirm), not recorded by a scan or the ERP.
	Confirmed bool `json:"confirmed,omitempty"`
}

// SupplierLot is one receipt of a traced lot.
type SupplierLot struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Item        string  `json:"item"`
	Lot         string  `json:"lot"`
	SupplierLot string  `json:"supplier_lot"`
	PO          string  `json:"po"`
	Qty         float64 `json:"qty"`
	UOM         string  `json:"uom"`
	Time        string  `json:"time"`
}

// Shipment is one in-effect shipment of a traced lot.
type Shipment struct {
	Item       string  `json:"item"`
	Lot        string  `json:"lot"`
	Qty        float64 `json:"qty"`
	UOM        string  `json:"uom"`
	Customer   Party   `json:"customer"`
	SalesOrder string  `json:"sales_order"`
	Delivery   string  `json:"delivery,omitempty"`
	Time       string  `json:"time"`
}

// Customer is a customer reached by a recall, with what it received.
type Customer struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Shipped []Qty  `json:"shipped"`
}

// TraceResult is the answer to a trace or a recall. Its JSON form is the
// stable interface of `hub trace --json` and `hub recall --json`
// (shared/design.md, "Command-line contract").
type TraceResult struct {
	// Root is the lot the trace started from; when a selector (supplier
	// lot, sales order, item and dates) found several lots, Root is nil
	// and Roots lists them.
	Root      *RootLot      `json:"root,omitempty"`
	Roots     []RootLot     `json:"roots,omitempty"`
	Direction Direction     `json:"direction"`
	Lots      []TracedLot   `json:"lots"`
	Links     []Link        `json:"links"`
	Suppliers []SupplierLot `json:"suppliers"`
	Shipments []Shipment    `json:"shipments"`
	Customers *[]Customer   `json:"customers,omitempty"` // recalls only
}

// Queries answers questions about the genealogy. Every interface (CLI,
// HTTP, reports) calls these functions; none queries a store directly.
type Queries struct {
	Store Store
	// PrefetchAt is how many lots a walk finds before their reads start
	// while it goes on (0: prefetchAt). The conformance suite sets 1, to
	// check that reading a trace in parts gives the answer one read gives.
	PrefetchAt int
	// Serial reads what a trace of fewer than prefetchAt lots lists
	// (names, receipts, shipments, on hand, holds) one read after the
	// other on one connection, instead of all at once on several: for a
	// process that answers one trace and exits (the CLI), whose every
	// extra connection is a new one (a PostgreSQL backend to start, a
	// SQLite file to open and its schema to parse), that costs less than
	// the parallelism gains. `hub serve` keeps its connections and reads
	// in parallel.
	Serial bool
	// SerialPair, with Serial, reads the shipments of a trace of
	// pairAt lots or more (most often its largest read) on a second
	// connection beside the other reads, one after the other on the
	// first: for a store whose new connection costs less than that read,
	// a SQLite file. The answer is the same.
	SerialPair bool
	// ReachLimit is how many edges a walk reads in one recursive query
	// (Store.ReachHops) before it goes on level by level (0: reachLimit).
	// The conformance suite sets 1, to check that both walks agree.
	ReachLimit int
	// Graph, when set, answers walks, and what traces and recalls read
	// about the lots reached, from memory while it is current (`hub
	// serve` keeps one).
	Graph *GraphCache
	// SnapshotAt is how many lots a wide walk finds level by level before
	// it goes on over the genealogy snapshot (0: snapshotAt). The
	// conformance suite sets 1.
	SnapshotAt int
	// NoSnapshot walks wide traces level by level even where a genealogy
	// snapshot of the present version is saved (Store.GenealogySnapshot).
	NoSnapshot bool
}

// Selector says where a trace starts: one lot, or every lot matching a
// supplier lot, a sales order, a customer, or an item originated in a
// time range. Exactly one must be set.
type Selector struct {
	Lot         *LotRef
	SupplierLot string
	SalesOrder  string
	CustomerID  string
	Item        string
	From, To    time.Time // with Item: received or produced in [From, To)
}

func (s Selector) String() string {
	switch {
	case s.Lot != nil:
		return "lot " + s.Lot.String()
	case s.SupplierLot != "":
		return "supplier lot " + s.SupplierLot
	case s.SalesOrder != "":
		return "sales order " + s.SalesOrder
	case s.CustomerID != "":
		return "customer " + s.CustomerID
	case s.Item != "":
		return fmt.Sprintf("lots of %s from %s to %s", s.Item, s.From.Format(time.DateOnly), s.To.Format(time.DateOnly))
	}
	return "nothing"
}

// roots resolves a selector to lot ids, or ENOTFOUND.
func (q *Queries) roots(ctx context.Context, sel Selector) ([]int64, error) {
	return q.rootsIn(ctx, nil, sel)
}

// rootsIn is roots, looking a lot up in the lot data when it is current.
func (q *Queries) rootsIn(ctx context.Context, mem *LotData, sel Selector) ([]int64, error) {
	var ids []int64
	switch {
	case sel.Lot != nil && mem != nil:
		id, ok := mem.findLot(*sel.Lot)
		if !ok {
			return nil, lotNotFound(*sel.Lot)
		}
		return []int64{id}, nil
	case sel.Lot != nil:
		id, err := q.findLot(ctx, *sel.Lot)
		if err != nil {
			return nil, err
		}
		return []int64{id}, nil
	case sel.SupplierLot != "":
		rs, err := q.Store.Receipts(ctx, ReceiptFilter{SupplierLot: sel.SupplierLot})
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			ids = append(ids, r.LotID)
		}
	case sel.SalesOrder != "", sel.CustomerID != "":
		ss, err := q.Store.Shipments(ctx, ShipmentFilter{SalesOrder: sel.SalesOrder, CustomerID: sel.CustomerID})
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			ids = append(ids, s.LotID)
		}
	case sel.Item != "":
		if !sel.From.Before(sel.To) {
			return nil, Errorf(EINVALID, "the date range is empty: --from must be before --to")
		}
		var err error
		if ids, err = q.Store.Originated(ctx, OriginFilter{Item: sel.Item, From: sel.From, To: sel.To}); err != nil {
			return nil, err
		}
	default:
		return nil, Errorf(EINVALID, "say where to start: ITEM LOT, --supplier-lot, --sales-order, --customer, or --item with --from and --to")
	}
	ids = uniqueIDs(ids)
	if len(ids) == 0 {
		return nil, Errorf(ENOTFOUND, "no lot found for %s", sel)
	}
	return ids, nil
}

// findLot looks a lot up, with advice when it does not exist.
func (q *Queries) findLot(ctx context.Context, ref LotRef) (int64, error) {
	id, err := q.Store.FindLot(ctx, ref)
	if ErrorCode(err) == ENOTFOUND {
		return 0, lotNotFound(ref)
	}
	return id, err
}

func lotNotFound(ref LotRef) error {
	return Errorf(ENOTFOUND, "lot %s not found: item and lot are matched exactly as stored (case, spaces, zero padding); check both, or ingest the lot's events first", ref)
}

// cached is what a trace found current in the cache (Queries.Graph):
// nil parts answer from the store.
type cached struct {
	graph *Graph
	data  *LotData
	// tried, when set, counts the walks and reads from memory of an
	// answer that may be thrown away (fromCache), in place of the
	// cache's counters.
	tried *tally
}

type tally struct{ walks, reads int64 }

// counted adds a walk or a read from memory to the cache's counters, or
// to the tally of an answer that may be thrown away.
func (q *Queries) counted(mem cached, walk bool) {
	switch {
	case mem.tried != nil && walk:
		mem.tried.walks++
	case mem.tried != nil:
		mem.tried.reads++
	case walk:
		q.Graph.walks.Add(1)
	default:
		q.Graph.reads.Add(1)
	}
}

// cached reads the store's versions once, for the whole trace.
func (q *Queries) cached(ctx context.Context) (cached, error) {
	if q.Graph == nil {
		return cached{}, nil
	}
	g, d, err := q.Graph.current(ctx)
	return cached{graph: g, data: d}, err
}

func uniqueIDs(ids []int64) []int64 {
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := ids[:0]
	for i, id := range ids {
		if i == 0 || id != ids[i-1] {
			out = append(out, id)
		}
	}
	return out
}

// Trace follows the genealogy from the selected lots in one direction.
// Each lot reached is listed once, at its smallest depth; cycles end.
func (q *Queries) Trace(ctx context.Context, dir Direction, sel Selector) (*TraceResult, error) {
	if dir != Forward && dir != Backward {
		return nil, Errorf(EINVALID, "direction must be forward or backward, not %q", dir)
	}
	return q.fromCache(ctx, func(mem cached) (*TraceResult, error) {
		rootIDs, err := q.rootsIn(ctx, mem.data, sel)
		if err != nil {
			return nil, err
		}
		return q.trace(ctx, mem, dir, rootIDs, false)
	})
}

// fromCache runs answer on what the cache holds that is current. When
// it holds both the genealogy and the lot data, answer runs on them while
// the store's versions are read beside it (on PostgreSQL a round trip the
// walk need not wait for), and the answer is kept only if both turn out
// current; otherwise it runs again on what is. Either way the answer is of
// the store as it was when the versions were read, as if they were read
// first.
func (q *Queries) fromCache(ctx context.Context, answer func(cached) (*TraceResult, error)) (*TraceResult, error) {
	// Not while the last read found the cache behind (events arriving
	// continuously): the answer would be computed twice.
	if c := q.Graph; c != nil && !c.NoLotData && !c.stale.Load() {
		if g, d := c.graph.Load(), c.data.Load(); g != nil && d != nil {
			type current struct {
				mem cached
				err error
			}
			read := make(chan current, 1)
			go func() {
				g, d, err := c.current(ctx)
				read <- current{cached{graph: g, data: d}, err}
			}()
			tried := &tally{}
			res, err := answer(cached{graph: g, data: d, tried: tried})
			now := <-read
			if now.err != nil {
				return nil, now.err
			}
			if now.mem.graph == g && now.mem.data == d {
				c.walks.Add(tried.walks)
				c.reads.Add(tried.reads)
				return res, err
			}
			return answer(now.mem)
		}
	}
	mem, err := q.cached(ctx)
	if err != nil {
		return nil, err
	}
	return answer(mem)
}

// Reach lists the lots a trace from ref in direction dir reaches, each
// once at its smallest depth, ordered by depth, item and lot, without
// what a trace reads about them (links, receipts, shipments): enough to
// count a genealogy of tens of thousands of lots per level and item (the
// web application's graph summary) at the cost of the walk alone.
func (q *Queries) Reach(ctx context.Context, dir Direction, ref LotRef) ([]TracedLot, error) {
	if dir != Forward && dir != Backward {
		return nil, Errorf(EINVALID, "direction must be forward or backward, not %q", dir)
	}
	id, err := q.findLot(ctx, ref)
	if err != nil {
		return nil, err
	}
	g, err := q.walk(ctx, dir, []int64{id}, nil)
	if err != nil {
		return nil, err
	}
	out := []TracedLot{}
	if len(g.order) < 2 {
		return out, nil
	}
	rows, err := q.Store.Lots(ctx, g.order[1:])
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out = append(out, TracedLot{Item: r.Ref.Item, Lot: r.Ref.Lot, Depth: g.depthOf(r.ID)})
	}
	slices.SortFunc(out, func(a, b TracedLot) int {
		return cmp.Or(cmp.Compare(a.Depth, b.Depth), strings.Compare(a.Item, b.Item), strings.Compare(a.Lot, b.Lot))
	})
	return out, nil
}

// trace walks from the roots and reads what the answer lists about the
// lots reached. When the walk reaches many lots, their reads start while
// it goes on: a recall of 70,000 lots reads on one core while it walks
// on the other.
func (q *Queries) trace(ctx context.Context, mem cached, dir Direction, rootIDs []int64, recall bool) (*TraceResult, error) {
	if mem.data != nil {
		// Everything it reports is in memory: walk, then read there.
		g, err := q.walkIn(ctx, mem, dir, rootIDs, nil)
		if err != nil {
			return nil, err
		}
		q.counted(mem, false)
		var groups []string // only to find hand-confirmed links among them
		if len(mem.data.manual) > 0 {
			groups = g.groups()
		}
		f := mem.data.fetch(g.order, groups, recall) // in order
		return assemble(dir, g, f, recall, assembleApart), nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a failed walk stops the reads started beside it
	fr := &fetcher{q: q, ctx: ctx, onHand: recall, at: cmp.Or(q.PrefetchAt, prefetchAt)}
	g, err := q.walkIn(ctx, mem, dir, rootIDs, fr.add)
	if err != nil {
		fr.wait()
		return nil, err
	}
	f, err := fr.finish(g.groups())
	if err != nil {
		return nil, err
	}
	// PrefetchAt 1 (the conformance suite) puts every answer together
	// on two goroutines, as a wide one is.
	return assemble(dir, g, f, recall, cmp.Or(q.PrefetchAt, assembleApart)), nil
}

// graph is what a walk found: the lots in discovery order with their
// depths, and the edges seen.
type graph struct {
	roots []int64
	order []int64 // lot ids in discovery order, roots first
	level []int   // depth of order[i]
	hops  []Hop   // parent → child as stored (From is the walk's side)
	depth map[int64]int
}

// depthOf is the depth a lot was found at (0 for a lot not found).
func (g *graph) depthOf(id int64) int {
	if g.depth == nil {
		g.depth = make(map[int64]int, len(g.order))
		for i, id := range g.order {
			g.depth[id] = g.level[i]
		}
	}
	return g.depth[id]
}

// walk finds the lots reachable from the roots, level by level; found,
// when set, is told of the roots and of each level's new lots as soon as
// they are known.
func (q *Queries) walk(ctx context.Context, dir Direction, roots []int64, found func([]int64)) (*graph, error) {
	mem, err := q.cached(ctx)
	if err != nil {
		return nil, err
	}
	return q.walkIn(ctx, mem, dir, roots, found)
}

// walkIn is walk over the genealogy in memory when mem.graph is set (current),
// and over the store's otherwise.
func (q *Queries) walkIn(ctx context.Context, mem cached, dir Direction, roots []int64, found func([]int64)) (*graph, error) {
	if mem.graph != nil {
		q.counted(mem, true)
		return mem.graph.walk(dir, roots, found), nil
	}
	g := &graph{roots: roots, depth: make(map[int64]int, 64)}
	for _, id := range roots {
		g.depth[id] = 0
		g.order = append(g.order, id)
		g.level = append(g.level, 0)
	}
	if found != nil {
		found(roots)
	}
	// Without the genealogy in memory, the store walks it in one
	// recursive query and the levels are found here, in memory: no
	// round trip per level. A walk that turns out wide goes on level by
	// level, one query per level for the whole frontier, and once it has
	// found snapshotAt lots, over the genealogy snapshot when one of the
	// present version is saved (one read, then arrays): a recursive
	// query's bookkeeping then
	// costs more than the round trips it saves (the 73,532 lots of the 1M
	// plant's widest recall: 0.97 s against 0.6 s in SQLite).
	limit := cmp.Or(q.ReachLimit, reachLimit)
	all, err := q.Store.ReachHops(ctx, HopsParams{Direction: dir, LotIDs: roots, Limit: limit})
	if err != nil {
		return nil, err
	}
	var hopsOf func(lots []int64) ([]Hop, error)
	wide := len(all) > limit
	if wide {
		hopsOf = func(lots []int64) ([]Hop, error) {
			return q.Store.Hops(ctx, HopsParams{Direction: dir, LotIDs: lots})
		}
	} else {
		hopsOf = reachedHops(all)
	}
	snapAt := cmp.Or(q.SnapshotAt, snapshotAt)
	// A wide walk reads the snapshot beside its levels, from the moment
	// it knows it is wide: the levels then wait for it only if they find
	// snapAt lots first, and go on over it as soon as it is there. (The
	// widest recall of the 1M plant on PostgreSQL: levels, then the
	// snapshot read, were a quarter of its time, one after the other.)
	var snapRead chan *Graph
	if wide && snapAt > 0 && !q.NoSnapshot {
		snapRead = make(chan *Graph, 1)
		snapCtx, stop := context.WithCancel(ctx)
		defer stop() // a read the walk did not wait for ends with it
		go func() { snapRead <- q.snapshot(snapCtx, dir) }()
	}
	// An edge is seen once: the store may list one twice (a lot consumed
	// twice by one order). Groups are numbered as they come, so that the
	// edges are keyed by integers, and each group's name is kept once
	// (the widest recall walks 119,860 edges through 57,537 groups).
	type edge struct {
		from, to int64
		group    int32
	}
	seen := map[edge]struct{}{}
	groups := map[string]int32{}
	var names []string
	frontier := roots
	for depth := 1; len(frontier) > 0; depth++ {
		hops, err := hopsOf(frontier)
		if err != nil {
			return nil, err
		}
		var next []int64
		for _, h := range hops {
			gi, ok := groups[h.Group]
			if !ok {
				gi = int32(len(names))
				groups[h.Group] = gi
				names = append(names, h.Group)
			}
			k := edge{h.From, h.To, gi}
			if _, ok := seen[k]; ok {
				continue
			}
			seen[k] = struct{}{}
			h.Group = names[gi]
			g.hops = append(g.hops, h)
			if _, ok := g.depth[h.To]; !ok {
				g.depth[h.To] = depth
				g.order = append(g.order, h.To)
				g.level = append(g.level, depth)
				next = append(next, h.To)
			}
		}
		if snapRead != nil && len(next) > 0 {
			var snap *Graph
			read := len(g.order) >= snapAt
			if read {
				snap = <-snapRead
			} else {
				select {
				case snap = <-snapRead:
					read = true
				default:
				}
			}
			if read {
				snapRead = nil // tried once
			}
			if snap != nil {
				// The rest of the walk takes milliseconds: what it finds
				// is read at its end, in one read per attribute, instead
				// of in parts started level by level.
				pending := next
				snap.walkFrom(g, dir, next, depth+1, func(ids []int64) { pending = append(pending, ids...) })
				if found != nil {
					found(pending)
				}
				return g, nil
			}
		}
		if found != nil && len(next) > 0 {
			found(next)
		}
		frontier = next
	}
	return g, nil
}

// snapshot returns the store's genealogy snapshot when one of the present
// version is saved and q may use it. A snapshot that cannot be read or
// decoded is logged and left aside: the walk reads the links tables.
func (q *Queries) snapshot(ctx context.Context, dir Direction) *Graph {
	if q.NoSnapshot {
		return nil
	}
	g, err := loadSnapshot(ctx, q.Store, dir)
	if err != nil {
		if ctx.Err() == nil {
			slog.Warn("genealogy snapshot not used; the walk reads the links", "err", err)
		}
		return nil
	}
	return g
}

// snapshotAt is how many lots a wide walk finds level by level before it
// goes on over the genealogy snapshot: reading and decoding the snapshot
// costs in proportion to the plant (0.14 s of CPU for the 2.5M links of
// the 5M plant), the levels in proportion to the lots found (about 5 µs a
// lot), so a walk of a few thousand lots does not read it.
const snapshotAt = 4096

// reachLimit is how many edges a walk reads in one recursive query before
// it goes on level by level (a typical trace: a few hundred; a trace of
// 1,000 lots about 1,300). A wider walk has read up to this many edges
// for nothing: the bound keeps that small.
const reachLimit = 2048

// reachedHops answers Hops from the edges ReachHops read.
func reachedHops(all []Hop) func(lots []int64) ([]Hop, error) {
	from := make(map[int64][]int32, len(all)/2+1)
	for i, h := range all {
		from[h.From] = append(from[h.From], int32(i))
	}
	return func(lots []int64) ([]Hop, error) {
		var out []Hop
		for _, id := range lots {
			for _, i := range from[id] {
				out = append(out, all[i])
			}
		}
		return out, nil
	}
}

// fmtTime formats as t.UTC().Format(time.RFC3339) does.
func fmtTime(t time.Time) string { return string(appendTime(make([]byte, 0, 20), t)) }

// appendTime appends t as t.UTC().AppendFormat(b, time.RFC3339) does,
// without its general machinery for the years 0 to 9999 (a trace formats
// a time per shipment and receipt).
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, time.RFC3339)
	}
	h, mi, sec := t.Clock()
	m := int(mo)
	return append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), 'Z')
}

// fetched is what a trace reads about the lots it reached.
type fetched struct {
	lots      []LotRow   // traces
	states    []LotState // recalls: names, on hand and holds in one read
	receipts  []ReceiptRow
	shipments []ShipmentRow
	manual    []LinkRow // the hand-confirmed ends of the links walked
	// rank, when set (LotData), orders lots by id as cmpRef orders
	// their names: sorting compares numbers, to the same order.
	rank []int32
	// names, when set, holds the names of the lots (in place of lots).
	names *LotData
}

// fetch reads names, receipts, shipments and (for recalls) on-hand
// quantities and hold status of the lots at once: the queries are
// independent, and both stores serve concurrent readers. A recall reads
// names, on hand and holds in one query (Store.LotStates): a row per lot
// instead of three.
func (q *Queries) fetch(ctx context.Context, ids []int64, groups []string, onHand bool) (*fetched, error) {
	var f fetched
	var wg sync.WaitGroup
	errs := make([]error, 5)
	serial := q.Serial && len(ids) < prefetchAt
	if tr, ok := q.Store.(TraceReader); ok && serial && !(q.SerialPair && len(ids) >= pairAt) {
		r, ok, err := tr.TraceReads(ctx, ids, groups, onHand)
		if err != nil {
			return nil, err
		}
		if ok {
			f.shipments, f.lots, f.states, f.receipts = r.Shipments, r.Lots, r.States, r.Receipts
			if len(groups) > 0 {
				f.manual = r.Manual
			}
			sortShipments(f.shipments)
			sortReceipts(f.receipts)
			return &f, nil
		}
	}
	run := func(i int, fn func() error) {
		if serial && !(q.SerialPair && i == 2 && len(ids) >= pairAt) {
			errs[i] = fn()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	// The shipments first: with SerialPair they may go on beside the rest.
	run(2, func() (err error) {
		f.shipments, err = q.Store.Shipments(ctx, ShipmentFilter{LotIDs: ids})
		sortShipments(f.shipments)
		return
	})
	if onHand {
		run(0, func() (err error) { f.states, err = q.Store.LotStates(ctx, ids); return })
	} else {
		run(0, func() (err error) { f.lots, err = q.Store.Lots(ctx, ids); return })
	}
	// Each list is sorted where it is read, beside the other reads: the
	// 148,578 shipments of the widest recall took 60 ms of CPU to sort
	// that nothing else waited on.
	run(1, func() (err error) {
		f.receipts, err = q.Store.Receipts(ctx, ReceiptFilter{LotIDs: ids})
		sortReceipts(f.receipts)
		return
	})
	if len(groups) > 0 {
		run(3, func() (err error) { f.manual, err = q.Store.ManualLinks(ctx, groups); return })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &f, nil
}

// A TraceReader is a store that reads what a trace lists about a few lots
// (Queries.fetch's reads, one after the other) in one exchange with its
// server: on PostgreSQL, statements sent together, so that the server
// runs each while the client reads the rows of the one before, and one
// round trip instead of four.
type TraceReader interface {
	// TraceReads reads, of the lots ids: their shipments and receipts;
	// their names (Lots) or, with states, their names, on hand and hold
	// status (LotStates); and, when groups are given, the hand-confirmed
	// links among them (ManualLinks). The rows are those the single
	// reads return (lists in any order). False when the store reads them
	// one by one instead (too many lots, or a store that serves many
	// commands).
	TraceReads(ctx context.Context, ids []int64, groups []string, states bool) (TraceRead, bool, error)
}

// TraceRead is what TraceReads read.
type TraceRead struct {
	Lots      []LotRow
	States    []LotState
	Receipts  []ReceiptRow
	Shipments []ShipmentRow
	Manual    []LinkRow
}

// pairAt is the fewest lots whose shipments a trace with SerialPair reads
// on a second connection: below it the read takes less time than opening
// the connection (on SQLite, reading the schema again; the typical
// backward trace of the 1M plant, 23 lots, gained nothing for 2.5 ms of
// CPU, the typical forward trace, 563 lots, gained 1–3 ms of wall time).
const pairAt = 200

// prefetchAt is how many lots found by a walk start their reads before
// the walk ends. A typical trace (hundreds of lots) reads once at the end:
// starting reads per level was measured slower there, more queries
// competing for the same cores.
const prefetchAt = 4096

// fetcher reads about the lots a walk finds, in parts of at least
// prefetchAt lots while the walk goes on, and the rest at its end.
type fetcher struct {
	q       *Queries
	ctx     context.Context
	onHand  bool
	at      int // start reading once this many lots are pending
	pending []int64
	parts   []*fetchPart
	wg      sync.WaitGroup
}

type fetchPart struct {
	f   *fetched
	err error
}

func (fr *fetcher) add(ids []int64) {
	fr.pending = append(fr.pending, ids...)
	if len(fr.pending) >= fr.at {
		fr.start(nil)
	}
}

func (fr *fetcher) start(groups []string) {
	ids := fr.pending
	fr.pending = nil
	p := &fetchPart{}
	fr.parts = append(fr.parts, p)
	fr.wg.Add(1)
	go func() {
		defer fr.wg.Done()
		p.f, p.err = fr.q.fetch(fr.ctx, ids, groups, fr.onHand)
	}()
}

func (fr *fetcher) wait() { fr.wg.Wait() }

// finish reads the rest, with the hand-confirmed ends of the groups
// walked, and merges the parts in the order one read would have given.
func (fr *fetcher) finish(groups []string) (*fetched, error) {
	if len(fr.pending) > 0 || len(groups) > 0 || len(fr.parts) == 0 {
		fr.start(groups)
	}
	fr.wait()
	var errs []error
	for _, p := range fr.parts {
		errs = append(errs, p.err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	f := fr.parts[0].f
	if len(fr.parts) > 1 {
		// One allocation per list: appending part after part copied the
		// 148,578 shipments of the widest recall over and over.
		var lots, states int
		var receipts [][]ReceiptRow
		var shipments [][]ShipmentRow
		for _, p := range fr.parts {
			lots += len(p.f.lots)
			states += len(p.f.states)
			receipts = append(receipts, p.f.receipts)
			shipments = append(shipments, p.f.shipments)
		}
		f = &fetched{
			lots:   make([]LotRow, 0, lots),
			states: make([]LotState, 0, states),
		}
		for _, p := range fr.parts {
			f.lots = append(f.lots, p.f.lots...)
			f.states = append(f.states, p.f.states...)
			f.manual = append(f.manual, p.f.manual...)
		}
		// Each part is sorted (fetch): merged, not sorted again.
		f.receipts = mergeSorted(receipts, func(a, b *ReceiptRow) int {
			return cmpEvent(&a.Time, &b.Time, a.EventID, b.EventID, a.LotID, b.LotID)
		})
		f.shipments = mergeSorted(shipments, func(a, b *ShipmentRow) int {
			return cmpEvent(&a.Time, &b.Time, a.EventID, b.EventID, a.LotID, b.LotID)
		})
	}
	return f, nil
}

// mergeSorted merges lists each sorted by cmp into one sorted list (nil
// when all are empty), as sorting their concatenation would: the parts
// of a fetch hold distinct rows, so equal keys do not occur.
func mergeSorted[T any](lists [][]T, cmp func(a, b *T) int) []T {
	n := 0
	var nonEmpty [][]T
	for _, l := range lists {
		if len(l) > 0 {
			n += len(l)
			nonEmpty = append(nonEmpty, l)
		}
	}
	switch len(nonEmpty) {
	case 0:
		return nil
	case 1:
		return nonEmpty[0]
	}
	for len(nonEmpty) > 1 {
		var next [][]T
		for i := 0; i < len(nonEmpty); i += 2 {
			if i+1 == len(nonEmpty) {
				next = append(next, nonEmpty[i])
				continue
			}
			a, b := nonEmpty[i], nonEmpty[i+1]
			out := make([]T, 0, len(a)+len(b))
			for len(a) > 0 && len(b) > 0 {
				if cmp(&b[0], &a[0]) < 0 {
					out = append(out, b[0])
					b = b[1:]
				} else {
					out = append(out, a[0])
					a = a[1:]
				}
			}
			out = append(append(out, a...), b...)
			next = append(next, out)
		}
		nonEmpty = next
	}
	return nonEmpty[0]
}

// sortReceipts and sortShipments order rows in time order, then by event
// id in bytes: the stores return them in no order (sorting here is
// cheaper than in SQLite, and independent of a PostgreSQL database's
// collation).
func sortReceipts(rs []ReceiptRow) {
	slices.SortFunc(rs, func(a, b ReceiptRow) int {
		return cmpEvent(&a.Time, &b.Time, a.EventID, b.EventID, a.LotID, b.LotID)
	})
}

func sortShipments(ss []ShipmentRow) {
	slices.SortFunc(ss, func(a, b ShipmentRow) int {
		return cmpEvent(&a.Time, &b.Time, a.EventID, b.EventID, a.LotID, b.LotID)
	})
}

// cmpEvent orders rows by time, event id (in bytes) and lot.
func cmpEvent(at, bt *time.Time, ae, be string, al, bl int64) int {
	if c := at.Compare(*bt); c != 0 {
		return c
	}
	if c := strings.Compare(ae, be); c != 0 {
		return c
	}
	return cmp.Compare(al, bl)
}

// assemble builds the answer from what the walk found and the reads.
// From apart lots and shipments on, the answer is put together on two
// goroutines.
func assemble(dir Direction, g *graph, f *fetched, recall bool, apart int) *TraceResult {
	refs := make(map[int64]LotRef, len(f.lots)+len(f.states))
	for _, r := range f.lots {
		refs[r.ID] = r.Ref
	}
	ref := func(id int64) LotRef { return refs[id] }
	if d := f.names; d != nil {
		ref = d.ref
	}
	res := &TraceResult{Direction: dir,
		Lots:      make([]TracedLot, 0, len(g.order)-len(g.roots)),
		Links:     make([]Link, 0, len(g.hops)),
		Suppliers: make([]SupplierLot, 0, len(f.receipts)),
		Shipments: make([]Shipment, 0, len(f.shipments)),
	}
	// Recalls: each lot's on hand (rounded) and hold status, by lot id.
	type state struct {
		onHand *[]Qty
		held   bool
	}
	var states map[int64]state
	if recall {
		states = make(map[int64]state, len(f.states))
		stock := make([][]Qty, len(f.states)) // one allocation for the lists' headers
		for i := range f.states {
			st := &f.states[i]
			refs[st.ID] = st.Ref
			for j := range st.OnHand {
				st.OnHand[j].Qty = round(st.OnHand[j].Qty)
			}
			stock[i] = st.OnHand
			if stock[i] == nil {
				stock[i] = []Qty{}
			}
			states[st.ID] = state{onHand: &stock[i], held: st.Held}
		}
	}
	stock := func(id int64) (*[]Qty, bool) {
		if !recall {
			return nil, false
		}
		st, ok := states[id]
		if !ok { // a lot the store did not return: none on hand
			return &[]Qty{}, false
		}
		return st.onHand, st.held
	}
	for _, id := range g.roots {
		r := ref(id)
		onHand, held := stock(id)
		res.Roots = append(res.Roots, RootLot{Item: r.Item, Lot: r.Lot, OnHand: onHand, OnHold: held})
	}
	slices.SortFunc(res.Roots, func(a, b RootLot) int { return cmpRef(a.Ref(), b.Ref()) })
	// The lots and links on one core, the receipts, shipments and
	// customers on the other: they share only what is read (names, on
	// hand), and a wide recall spends 0.2 s of CPU here.
	var wg sync.WaitGroup
	lotsAndLinks := func() {
		assembleLots(res, dir, g, f, ref, stock)
	}
	if len(g.order)+len(f.shipments) >= apart {
		wg.Add(1)
		go func() { defer wg.Done(); lotsAndLinks() }()
	} else {
		lotsAndLinks()
	}
	assembleRows(res, f, ref, recall)
	wg.Wait()
	if len(res.Roots) == 1 {
		res.Root, res.Roots = &res.Roots[0], nil
	}
	return res
}

// assembleApart is how many lots and shipments an answer lists before
// assemble builds its parts on two goroutines.
const assembleApart = 4096

// assembleLots lists the lots and the links of the answer, sorted.
func assembleLots(res *TraceResult, dir Direction, g *graph, f *fetched, ref func(int64) LotRef, stock func(int64) (*[]Qty, bool)) {
	if f.rank != nil {
		// The comparisons give what the names' give: the same order.
		// Sorted as small keys, then listed in that order.
		type ranked struct{ depth, rank, i int32 }
		rs := make([]ranked, 0, len(g.order))
		for i, id := range g.order {
			if d := g.level[i]; d > 0 {
				rs = append(rs, ranked{int32(d), rankOf(f.rank, id), int32(i)})
			}
		}
		slices.SortFunc(rs, func(a, b ranked) int {
			if a.depth != b.depth {
				return cmp.Compare(a.depth, b.depth)
			}
			return cmp.Compare(a.rank, b.rank)
		})
		for _, k := range rs {
			id := g.order[k.i]
			r := ref(id)
			onHand, held := stock(id)
			res.Lots = append(res.Lots, TracedLot{Item: r.Item, Lot: r.Lot, Depth: int(k.depth), OnHand: onHand, OnHold: held})
		}
	} else {
		for i, id := range g.order {
			if d := g.level[i]; d > 0 {
				r := ref(id)
				onHand, held := stock(id)
				res.Lots = append(res.Lots, TracedLot{Item: r.Item, Lot: r.Lot, Depth: d, OnHand: onHand, OnHold: held})
			}
		}
		slices.SortFunc(res.Lots, func(a, b TracedLot) int {
			if a.Depth != b.Depth {
				return cmp.Compare(a.Depth, b.Depth)
			}
			return cmpRef(LotRef{a.Item, a.Lot}, LotRef{b.Item, b.Lot})
		})
	}
	for _, h := range g.hops {
		l := Link{Parent: ref(h.From), Child: ref(h.To)}
		if dir == Backward {
			l.Parent, l.Child = l.Child, l.Parent
		}
		if o, ok := strings.CutPrefix(h.Group, "o:"); ok {
			l.Order = o
		} else {
			l.Transform = strings.TrimPrefix(h.Group, "t:")
		}
		res.Links = append(res.Links, l)
	}
	markConfirmed(res.Links, g.hops, f.manual, dir)
	if f.rank != nil {
		// As small keys (a link is 100 bytes), then permuted.
		type ranked struct{ parent, child, i int32 }
		rs := make([]ranked, len(res.Links))
		for i, h := range g.hops {
			parent, child := h.From, h.To
			if dir == Backward {
				parent, child = child, parent
			}
			rs[i] = ranked{rankOf(f.rank, parent), rankOf(f.rank, child), int32(i)}
		}
		slices.SortFunc(rs, func(a, b ranked) int {
			if c := cmp.Compare(a.parent, b.parent); c != 0 {
				return c
			}
			if c := cmp.Compare(a.child, b.child); c != 0 {
				return c
			}
			la, lb := &res.Links[a.i], &res.Links[b.i]
			return cmp.Compare(la.Order+la.Transform, lb.Order+lb.Transform)
		})
		sorted := make([]Link, len(rs))
		for i, k := range rs {
			sorted[i] = res.Links[k.i]
		}
		res.Links = sorted
	} else {
		slices.SortFunc(res.Links, func(a, b Link) int {
			if c := cmpRef(a.Parent, b.Parent); c != 0 {
				return c
			}
			if c := cmpRef(a.Child, b.Child); c != 0 {
				return c
			}
			return cmp.Compare(a.Order+a.Transform, b.Order+b.Transform)
		})
	}
}

// assembleRows lists the receipts and the shipments of the answer, in
// the order read, and for recalls the customers.
func assembleRows(res *TraceResult, f *fetched, ref func(int64) LotRef, recall bool) {
	// The times of the receipts and the shipments, formatted into one
	// string: one allocation, not one per row.
	times := newTimeList(len(f.receipts) + len(f.shipments))
	for _, r := range f.receipts {
		times.add(r.Time)
	}
	for _, s := range f.shipments {
		times.add(s.Time)
	}
	times.done()
	for _, r := range f.receipts {
		lot := ref(r.LotID)
		res.Suppliers = append(res.Suppliers, SupplierLot{
			ID: r.Supplier.ID, Name: r.Supplier.Name, Item: lot.Item, Lot: lot.Lot,
			SupplierLot: r.SupplierLot, PO: r.PO, Qty: r.Qty, UOM: r.UOM, Time: times.next(),
		})
	}
	for _, s := range f.shipments {
		lot := ref(s.LotID)
		res.Shipments = append(res.Shipments, Shipment{
			Item: lot.Item, Lot: lot.Lot, Qty: s.Qty, UOM: s.UOM, Customer: s.Customer,
			SalesOrder: s.SalesOrder, Delivery: s.Delivery, Time: times.next(),
		})
	}
	if recall {
		cs := customers(res.Shipments)
		res.Customers = &cs
	}
}

// timeList formats times into one string and hands them out in order.
type timeList struct {
	buf  []byte
	ends []int32
	all  string
	i    int
}

func newTimeList(n int) *timeList {
	return &timeList{buf: make([]byte, 0, 20*n), ends: make([]int32, 0, n)}
}

func (l *timeList) add(t time.Time) {
	l.buf = appendTime(l.buf, t)
	l.ends = append(l.ends, int32(len(l.buf)))
}

func (l *timeList) done() { l.all, l.buf = string(l.buf), nil }

// next is the next time added, formatted.
func (l *timeList) next() string {
	start := int32(0)
	if l.i > 0 {
		start = l.ends[l.i-1]
	}
	end := l.ends[l.i]
	l.i++
	return l.all[start:end]
}

// rankOf is a lot's rank (-1 for an id it does not know: an empty name
// comes first).
func rankOf(rank []int32, id int64) int32 {
	if id < 0 || id >= int64(len(rank)) {
		return -1
	}
	return rank[id]
}

// cmpRef orders lots by item, then lot number.
func cmpRef(a, b LotRef) int {
	if c := strings.Compare(a.Item, b.Item); c != 0 {
		return c
	}
	return strings.Compare(a.Lot, b.Lot)
}

// round removes float noise from sums of decimal quantities.
func round(v float64) float64 {
	r := math.Round(v*1e6) / 1e6
	if r == 0 {
		return 0 // no "-0"
	}
	return r
}

// Recall is a forward trace plus the customers reached, what each received,
// and what is still on hand of the root and of every lot reached.
func (q *Queries) Recall(ctx context.Context, sel Selector) (*TraceResult, error) {
	return q.fromCache(ctx, func(mem cached) (*TraceResult, error) {
		rootIDs, err := q.rootsIn(ctx, mem.data, sel)
		if err != nil {
			return nil, err
		}
		// With on hand and hold status: a recall must say which of the
		// stock is already held.
		return q.trace(ctx, mem, Forward, rootIDs, true)
	})
}

func customers(shipments []Shipment) []Customer {
	byID := map[string]*Customer{}
	var ids []string
	for _, s := range shipments {
		c := byID[s.Customer.ID]
		if c == nil {
			c = &Customer{ID: s.Customer.ID, Name: s.Customer.Name}
			byID[s.Customer.ID] = c
			ids = append(ids, s.Customer.ID)
		}
		if c.Name == "" {
			c.Name = s.Customer.Name
		}
		found := false
		for i := range c.Shipped {
			if c.Shipped[i].UOM == s.UOM {
				c.Shipped[i].Qty = round(c.Shipped[i].Qty + s.Qty)
				found = true
			}
		}
		if !found {
			c.Shipped = append(c.Shipped, Qty{Qty: s.Qty, UOM: s.UOM})
		}
	}
	sort.Strings(ids)
	out := make([]Customer, 0, len(ids))
	for _, id := range ids {
		out = append(out, *byID[id])
	}
	return out
}

// markConfirmed flags the links whose input or output was confirmed by
// hand (hub confirm): an auditor must see which links no scan recorded.
func markConfirmed(links []Link, hops []Hop, manual []LinkRow, dir Direction) {
	if len(manual) == 0 {
		return
	}
	type end struct {
		lot   int64
		group string
		out   bool
	}
	m := map[end]bool{}
	for _, l := range manual {
		m[end{l.LotID, l.Group, l.Out}] = true
	}
	for i, h := range hops {
		parent, child := h.From, h.To
		if dir == Backward {
			parent, child = child, parent
		}
		if m[end{parent, h.Group, false}] || m[end{child, h.Group, true}] {
			links[i].Confirmed = true
		}
	}
}

// groups are the orders and transforms the walk went through, once each.
func (g *graph) groups() []string {
	var out []string
	seen := map[string]bool{}
	for _, h := range g.hops {
		if !seen[h.Group] {
			seen[h.Group] = true
			out = append(out, h.Group)
		}
	}
	return out
}
