package web

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/lothub/lothub/core"
)

// The genealogy graph: the lot in the middle, its ancestors to the left
// (raw materials furthest), the lots made from it to the right, and the
// customers that received them last: raw → WIP → finished → shipments.
// It is drawn on the server as SVG, so the browser only lays out text;
// a graph of more than Options.GraphLimit lots is summarised per level
// and item instead, with links to the lots of each.

// DefaultDepth is how many levels each side of the graph shows unless
// the depth parameter says otherwise; MaxDepth bounds it.
const (
	DefaultDepth = 3
	MaxDepth     = 50
)

// Drawing sizes, in SVG units (pixels at 100 %).
const (
	nodeW   = 230
	nodeH   = 38
	colGap  = 70
	rowGap  = 12
	padding = 20
	maxText = 30 // runes of an item or lot shown in a node
)

type graphPage struct {
	Ref        core.LotRef
	Depth      int
	More, Less string // addresses of the graph one level deeper, shallower ("" when none)
	Back, Fwd  sideCount
	Summary    bool
	Levels     []levelRow // the summary
	SVG        *svgGraph
	Limit      int
	Customers  int
}

// sideCount is what one direction of the graph reached.
type sideCount struct {
	Lots, Shown, Levels int
}

type levelRow struct {
	Direction string
	Depth     int
	Item      string
	Lots      int
	URL       string
}

type svgGraph struct {
	Width, Height int
	Columns       []svgColumn
	Nodes         []svgNode
	Edges         []svgEdge
}

type svgColumn struct {
	X     int
	Label string
}

type svgNode struct {
	X, Y, W, H int
	Item, Lot  string // shortened
	Title      string // in full
	URL        string
	Kind       string // root, lot, held, customer
	TextX      int
	Line1Y     int
	Line2Y     int
}

type svgEdge struct {
	Path  string
	Title string
	Kind  string // link, confirmed, ship
}

func depthParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("depth")
	if v == "" {
		return DefaultDepth, nil
	}
	d, err := strconv.Atoi(v)
	if err != nil || d < 1 || d > MaxDepth {
		return 0, core.Errorf(core.EINVALID, "depth %q: want a number of levels from 1 to %d", v, MaxDepth)
	}
	return d, nil
}

func (h *Handler) graph(rq *request) {
	ref, err := lotParam(rq.Request)
	if err != nil {
		h.fail(rq, err)
		return
	}
	depth, err := depthParam(rq.Request)
	if err != nil {
		h.fail(rq, err)
		return
	}
	p, err := h.buildGraph(rq, ref, depth)
	if err != nil {
		h.fail(rq, err)
		return
	}
	h.render(rq, http.StatusOK, "graph", "Genealogy of "+ref.String(), p)
}

// buildGraph traces both ways from ref and lays out the lots within
// depth levels, or summarises them when there are too many.
func (h *Handler) buildGraph(rq *request, ref core.LotRef, depth int) (*graphPage, error) {
	q := h.o.Queries()
	// First what each side reaches (the walk alone); the traces, which
	// read every lot's links and shipments, only for a graph drawn.
	backLots, err := q.Reach(rq.ctx(), core.Backward, ref)
	if err != nil {
		return nil, err
	}
	fwdLots, err := q.Reach(rq.ctx(), core.Forward, ref)
	if err != nil {
		return nil, err
	}
	p := &graphPage{Ref: ref, Depth: depth, Limit: h.o.GraphLimit}
	count := func(lots []core.TracedLot) (c sideCount) {
		c.Lots = len(lots)
		for _, l := range lots {
			c.Levels = max(c.Levels, l.Depth)
			if l.Depth <= depth {
				c.Shown++
			}
		}
		return c
	}
	p.Back, p.Fwd = count(backLots), count(fwdLots)
	link := func(d int) string { return lotURL("/graph", ref.Item, ref.Lot, "depth", strconv.Itoa(d)) }
	levels := max(p.Back.Levels, p.Fwd.Levels)
	if depth < levels {
		p.More = link(depth + 1)
	}
	if shown := min(depth, levels); shown > 1 {
		p.Less = link(shown - 1)
	}
	p.Depth = max(1, min(depth, levels))
	if p.Back.Shown+p.Fwd.Shown > h.o.GraphLimit {
		p.Summary = true
		p.Levels = append(summarise(ref, "backward", backLots, depth), summarise(ref, "forward", fwdLots, depth)...)
		return p, nil
	}
	back, err := q.Trace(rq.ctx(), core.Backward, core.Selector{Lot: &ref})
	if err != nil {
		return nil, err
	}
	fwd, err := q.Trace(rq.ctx(), core.Forward, core.Selector{Lot: &ref})
	if err != nil {
		return nil, err
	}
	held, err := h.heldAmong(rq, ref, back.Lots, fwd.Lots, depth)
	if err != nil {
		return nil, err
	}
	p.SVG, p.Customers = layout(ref, back, fwd, depth, held)
	return p, nil
}

// heldAmong tells which of the lots drawn are on hold (only those: a
// plant may hold thousands).
func (h *Handler) heldAmong(rq *request, root core.LotRef, back, fwd []core.TracedLot, depth int) (map[core.LotRef]bool, error) {
	refs := []core.LotRef{root}
	for _, l := range slices.Concat(back, fwd) {
		if l.Depth <= depth {
			refs = append(refs, core.LotRef{Item: l.Item, Lot: l.Lot})
		}
	}
	rows, err := h.o.Store.FindLots(rq.ctx(), refs)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(rows))
	byID := make(map[int64]core.LotRef, len(rows))
	for i, r := range rows {
		ids[i], byID[r.ID] = r.ID, r.Ref
	}
	heldIDs, err := h.o.Store.HeldAmong(rq.ctx(), ids)
	if err != nil {
		return nil, err
	}
	held := make(map[core.LotRef]bool, len(heldIDs))
	for _, id := range heldIDs {
		held[byID[id]] = true
	}
	return held, nil
}

// summarise counts the lots of each level and item, up to depth (with
// core.LevelCounter, as hub recall --summary does).
func summarise(ref core.LotRef, dir string, lots []core.TracedLot, depth int) []levelRow {
	n := core.LevelCounter{}
	for _, l := range lots {
		if l.Depth <= depth {
			n.Add(l.Depth, l.Item)
		}
	}
	var out []levelRow
	for _, lv := range n.Levels() {
		for _, it := range lv.Items {
			out = append(out, levelRow{Direction: dir, Depth: lv.Depth, Item: it.Item, Lots: it.Lots,
				URL: lotURL("/graph/level", ref.Item, ref.Lot, "dir", dir, "level", strconv.Itoa(lv.Depth), "of", it.Item)})
		}
	}
	return out
}

type placed struct {
	ref core.LotRef
	col int // column index
	y   float64
}

// layout places the lots in columns by signed depth (ancestors negative)
// and orders each column by the average place of its neighbours nearer
// the root, which keeps most edges short and uncrossed.
func layout(ref core.LotRef, back, fwd *core.TraceResult, depth int, held map[core.LotRef]bool) (*svgGraph, int) {
	backLevels, fwdLevels := 0, 0
	pos := map[core.LotRef]*placed{ref: {ref: ref}}
	cols := map[int][]*placed{0: {pos[ref]}}
	add := func(l core.TracedLot, sign int) {
		r := core.LotRef{Item: l.Item, Lot: l.Lot}
		if l.Depth > depth || pos[r] != nil {
			return
		}
		c := sign * l.Depth
		pl := &placed{ref: r, col: c}
		pos[r] = pl
		cols[c] = append(cols[c], pl)
		if sign < 0 {
			backLevels = max(backLevels, l.Depth)
		} else {
			fwdLevels = max(fwdLevels, l.Depth)
		}
	}
	for _, l := range back.Lots {
		add(l, -1)
	}
	for _, l := range fwd.Lots {
		add(l, 1)
	}
	links := slices.Concat(back.Links, fwd.Links)
	// neighbours nearer the root, for ordering
	near := map[core.LotRef][]core.LotRef{}
	for _, k := range links {
		pa, ch := pos[k.Parent], pos[k.Child]
		if pa == nil || ch == nil {
			continue
		}
		if ch.col > 0 && pa.col < ch.col {
			near[k.Child] = append(near[k.Child], k.Parent)
		}
		if pa.col < 0 && ch.col > pa.col {
			near[k.Parent] = append(near[k.Parent], k.Child)
		}
	}
	order := func(c int) {
		col := cols[c]
		for _, pl := range col {
			var sum float64
			for _, n := range near[pl.ref] {
				sum += pos[n].y
			}
			if len(near[pl.ref]) > 0 {
				pl.y = sum / float64(len(near[pl.ref]))
			} else {
				pl.y = 1e9
			}
		}
		slices.SortStableFunc(col, func(a, b *placed) int {
			return cmp.Or(cmp.Compare(a.y, b.y), strings.Compare(a.ref.Item, b.ref.Item), strings.Compare(a.ref.Lot, b.ref.Lot))
		})
		for i, pl := range col {
			pl.y = float64(i) - float64(len(col)-1)/2 // centred, as drawn
		}
	}
	for d := 1; d <= max(backLevels, fwdLevels); d++ {
		if d <= fwdLevels {
			order(d)
		}
		if d <= backLevels {
			order(-d)
		}
	}

	// Customers: one node per customer that received a lot shown.
	type custKey struct{ id, name string }
	custOf := map[custKey]map[core.LotRef]float64{}
	var custs []custKey
	for _, s := range slices.Concat(back.Shipments, fwd.Shipments) {
		r := core.LotRef{Item: s.Item, Lot: s.Lot}
		if pos[r] == nil || pos[r].col < 0 {
			continue
		}
		k := custKey{s.Customer.ID, s.Customer.Name}
		if custOf[k] == nil {
			custOf[k] = map[core.LotRef]float64{}
			custs = append(custs, k)
		}
		custOf[k][r] += s.Qty
	}
	custCol := fwdLevels + 1
	// Customers in the order of the lots they received.
	custY := map[custKey]float64{}
	for _, k := range custs {
		var sum float64
		for r := range custOf[k] {
			sum += pos[r].y + float64(pos[r].col)*0.001
		}
		custY[k] = sum / float64(len(custOf[k]))
	}
	slices.SortStableFunc(custs, func(a, b custKey) int { return cmp.Compare(custY[a], custY[b]) })

	// Column x positions, left to right.
	g := &svgGraph{}
	colX := map[int]int{}
	x := padding
	last := fwdLevels
	if len(custs) > 0 {
		last = custCol
	}
	maxRows := 0
	for c := -backLevels; c <= last; c++ {
		colX[c] = x
		label := ""
		switch {
		case c < 0:
			label = fmt.Sprintf("%d level%s back", -c, plural1(-c))
		case c == 0:
			label = "this lot"
		case c == custCol && len(custs) > 0:
			label = "customers"
		default:
			label = fmt.Sprintf("%d level%s forward", c, plural1(c))
		}
		g.Columns = append(g.Columns, svgColumn{X: x + nodeW/2, Label: label})
		x += nodeW + colGap
		if c == custCol {
			maxRows = max(maxRows, len(custs))
		} else {
			maxRows = max(maxRows, len(cols[c]))
		}
	}
	g.Width = x - colGap + padding
	top := padding + 24
	g.Height = top + maxRows*(nodeH+rowGap) + padding
	// Centre each column vertically.
	yOf := func(c, i, n int) int {
		offset := (maxRows - n) * (nodeH + rowGap) / 2
		return top + offset + i*(nodeH+rowGap)
	}
	nodeAt := map[core.LotRef][2]int{}
	for c := -backLevels; c <= fwdLevels; c++ {
		for i, pl := range cols[c] {
			nx, ny := colX[c], yOf(c, i, len(cols[c]))
			nodeAt[pl.ref] = [2]int{nx, ny}
			kind := "lot"
			switch {
			case c == 0:
				kind = "root"
			case held[pl.ref]:
				kind = "held"
			}
			g.Nodes = append(g.Nodes, node(nx, ny, pl.ref.Item, pl.ref.Lot, pl.ref.String(), lotURL("/lot", pl.ref.Item, pl.ref.Lot), kind))
		}
	}
	for _, k := range links {
		a, okA := nodeAt[k.Parent]
		b, okB := nodeAt[k.Child]
		if !okA || !okB {
			continue
		}
		kind, via := "link", k.Order
		if via == "" {
			via = "transform " + k.Transform
		} else {
			via = "order " + via
		}
		if k.Confirmed {
			kind, via = "confirmed", via+" (confirmed by hand)"
		}
		g.Edges = append(g.Edges, edge(a, b, k.Parent.String()+" → "+k.Child.String()+" by "+via, kind))
	}
	for i, k := range custs {
		nx, ny := colX[custCol], yOf(custCol, i, len(custs))
		name := cmp.Or(k.name, k.id)
		g.Nodes = append(g.Nodes, node(nx, ny, name, k.id, name+" ("+k.id+")", "/search?customer="+url.QueryEscape(k.id), "customer"))
		refs := make([]core.LotRef, 0, len(custOf[k]))
		for r := range custOf[k] {
			refs = append(refs, r)
		}
		slices.SortFunc(refs, func(a, b core.LotRef) int { return strings.Compare(a.String(), b.String()) })
		for _, r := range refs {
			g.Edges = append(g.Edges, edge(nodeAt[r], [2]int{nx, ny}, fmt.Sprintf("%s shipped %s to %s", r, num(custOf[k][r]), name), "ship"))
		}
	}
	return g, len(custs)
}

func plural1(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func node(x, y int, line1, line2, title, href, kind string) svgNode {
	return svgNode{X: x, Y: y, W: nodeW, H: nodeH, Item: truncate(maxText, line1), Lot: truncate(maxText, line2),
		Title: title, URL: href, Kind: kind, TextX: x + 10, Line1Y: y + 15, Line2Y: y + 31}
}

// edge is a curve from the right side of a to the left side of b.
func edge(a, b [2]int, title, kind string) svgEdge {
	x1, y1 := a[0]+nodeW, a[1]+nodeH/2
	x2, y2 := b[0], b[1]+nodeH/2
	if x2 < x1 { // a link back across columns (rework): loop below
		x2, y2 = b[0]+nodeW/2, b[1]+nodeH
	}
	mx := (x1 + x2) / 2
	return svgEdge{Path: fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, mx, y1, mx, y2, x2, y2), Title: title, Kind: kind}
}

// ---- the drill-down of a summarised level

type levelPage struct {
	Ref       core.LotRef
	Direction string
	Level     int
	Item      string
	Lots      []core.LotRef
	Pager     pager
}

func (h *Handler) graphLevel(rq *request) {
	ref, err := lotParam(rq.Request)
	if err != nil {
		h.fail(rq, err)
		return
	}
	q := rq.URL.Query()
	dir := core.Direction(q.Get("dir"))
	if dir != core.Forward && dir != core.Backward {
		h.fail(rq, core.Errorf(core.EINVALID, "dir %q: want forward or backward", q.Get("dir")))
		return
	}
	level, err := strconv.Atoi(q.Get("level"))
	if err != nil || level < 1 {
		h.fail(rq, core.Errorf(core.EINVALID, "level %q: want a level number from 1", q.Get("level")))
		return
	}
	reached, err := h.o.Queries().Reach(rq.ctx(), dir, ref)
	if err != nil {
		h.fail(rq, err)
		return
	}
	p := levelPage{Ref: ref, Direction: string(dir), Level: level, Item: q.Get("of")}
	var lots []core.LotRef
	for _, l := range reached {
		if l.Depth == level && (p.Item == "" || l.Item == p.Item) {
			lots = append(lots, core.LotRef{Item: l.Item, Lot: l.Lot})
		}
	}
	slices.SortFunc(lots, func(a, b core.LotRef) int {
		return cmp.Or(strings.Compare(a.Item, b.Item), strings.Compare(a.Lot, b.Lot))
	})
	p.Lots, p.Pager = pageOf(rq.Request, "page", lots, h.o.PageSize)
	h.render(rq, http.StatusOK, "level", fmt.Sprintf("%s level %d of %s", dir, level, ref), p)
}
