// Package storetest is the conformance suite every lothub store must pass.
// Each store's tests call Exercise with a function that opens a fresh,
// empty store; every genealogy case then runs against that store, so no
// case is written twice and the stores cannot drift apart.
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
)

// Opener returns a new, empty store for one test. It registers its own
// cleanup with t.
type Opener func(t testing.TB) core.Store

// Exercise runs the whole suite against the store that open returns.
func Exercise(t *testing.T, open Opener) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := &harness{t: t, s: open(t), ctx: context.Background(), open: open}
			c.run(h)
		})
	}
}

type harness struct {
	t    *testing.T
	s    core.Store
	ctx  context.Context
	open Opener           // for cases that compare several stores
	refs map[int64]string // lot names by id, filled by lotIDs
}

// ingest applies JSONL lines (each a canonical event or junk) as one input.
func (h *harness) ingest(lines ...string) core.IngestStats {
	h.t.Helper()
	in := core.Ingester{Store: h.s, Now: func() time.Time { return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) }, BatchSize: 3}
	st, err := in.IngestJSONL(h.ctx, strings.NewReader(strings.Join(lines, "\n")), "test.jsonl")
	if err != nil {
		h.t.Fatalf("ingest: %v", err)
	}
	return st
}

func (h *harness) q() *core.Queries { return &core.Queries{Store: h.s} }

func (h *harness) trace(dir core.Direction, item, lot string) *core.TraceResult {
	h.t.Helper()
	return h.inParts(fmt.Sprintf("trace %s %s/%s", dir, item, lot), func(q *core.Queries) (*core.TraceResult, error) {
		return q.Trace(h.ctx, dir, core.Selector{Lot: &core.LotRef{Item: item, Lot: lot}})
	})
}

func (h *harness) recall(item, lot string) *core.TraceResult {
	h.t.Helper()
	return h.inParts(fmt.Sprintf("recall %s/%s", item, lot), func(q *core.Queries) (*core.TraceResult, error) {
		return q.Recall(h.ctx, core.Selector{Lot: &core.LotRef{Item: item, Lot: lot}})
	})
}

// inParts runs a trace as usual (a trace this small is walked in one
// recursive query and reads its lots once, after the walk), and again
// walked level by level, reading each level's lots while the walk goes on,
// as a wide recall does; both must give the same answer.
func (h *harness) inParts(what string, run func(*core.Queries) (*core.TraceResult, error)) *core.TraceResult {
	h.t.Helper()
	r, err := run(h.q())
	if err != nil {
		h.t.Fatalf("%s: %v", what, err)
	}
	// Walked level by level past the first edge (a wide walk's way).
	parts, err := run(&core.Queries{Store: h.s, PrefetchAt: 1, ReachLimit: 1, NoSnapshot: true})
	if err != nil {
		h.t.Fatalf("%s, read in parts: %v", what, err)
	}
	if !reflect.DeepEqual(r, parts) {
		h.t.Fatalf("%s read in parts differs from one read:\n one   %+v\n parts %+v", what, r, parts)
	}
	// Read one read after the other, as a command-line process reads (on
	// a one-shot PostgreSQL store, the lots' reads in one batch:
	// core.TraceReader).
	serial, err := run(&core.Queries{Store: h.s, Serial: true})
	if err != nil {
		h.t.Fatalf("%s, read serially: %v", what, err)
	}
	if !reflect.DeepEqual(r, serial) {
		h.t.Fatalf("%s read serially differs from one read:\n one    %+v\n serial %+v", what, r, serial)
	}
	// And walked over the genealogy loaded into memory, reading the
	// lots' rows from the store; then with the lot data in memory too,
	// as `hub serve` does.
	for _, noData := range []bool{true, false} {
		c := core.NewGraphCache(h.s)
		c.NoLotData = noData
		if err := c.Load(h.ctx); err != nil {
			c.Close()
			h.t.Fatalf("load the genealogy: %v", err)
		}
		mem, err := run(&core.Queries{Store: h.s, Graph: c})
		c.Close()
		if err != nil {
			h.t.Fatalf("%s, walked in memory (lot data in memory: %v): %v", what, !noData, err)
		}
		if c.Walks() == 0 {
			h.t.Fatalf("%s: the loaded genealogy was not used", what)
		}
		if !noData && c.Reads() == 0 {
			h.t.Fatalf("%s: the loaded lot data was not used", what)
		}
		if !reflect.DeepEqual(r, mem) {
			h.t.Fatalf("%s walked in memory (lot data in memory: %v) differs from the store's walk:\n store  %+v\n memory %+v", what, !noData, r, mem)
		}
	}
	// And walked over the genealogy snapshot (the cache's load above saved
	// one), as a command-line process walks a wide trace.
	if _, err := core.RefreshGenealogySnapshot(h.ctx, h.s); err != nil {
		h.t.Fatalf("save a genealogy snapshot: %v", err)
	}
	cs := &countSnapshots{Store: h.s}
	snap, err := run(&core.Queries{Store: cs, PrefetchAt: 1, ReachLimit: 1, SnapshotAt: 1})
	if err != nil {
		h.t.Fatalf("%s, walked over the genealogy snapshot: %v", what, err)
	}
	if len(r.Links) > 1 && cs.used == 0 {
		// More than ReachLimit edges: a wide walk, which takes the
		// snapshot after its first level.
		h.t.Fatalf("%s: the genealogy snapshot was not used", what)
	}
	if !reflect.DeepEqual(r, snap) {
		h.t.Fatalf("%s walked over the genealogy snapshot differs from the store's walk:\n store    %+v\n snapshot %+v", what, r, snap)
	}
	return r
}

// countSnapshots counts the genealogy snapshots a store returned.
type countSnapshots struct {
	core.Store
	used int
}

func (s *countSnapshots) GenealogySnapshot(ctx context.Context, read func([]byte) error) (bool, error) {
	ok, err := s.Store.GenealogySnapshot(ctx, read)
	if ok {
		s.used++
	}
	return ok, err
}

// snapshotOf returns a copy of the store's genealogy snapshot, nil when
// there is none of the present version.
func snapshotOf(ctx context.Context, s core.Store) ([]byte, error) {
	var out []byte
	_, err := s.GenealogySnapshot(ctx, func(b []byte) error {
		out = bytes.Clone(b)
		return nil
	})
	return out, err
}

// lots renders the lots of a result as "ITEM/LOT@depth", in result order.
func lots(r *core.TraceResult) []string {
	out := []string{}
	for _, l := range r.Lots {
		out = append(out, fmt.Sprintf("%s/%s@%d", l.Item, l.Lot, l.Depth))
	}
	return out
}

// links renders the links as "P>C(order)".
func links(r *core.TraceResult) []string {
	out := []string{}
	for _, l := range r.Links {
		via := l.Order
		if l.Transform != "" {
			via = "t:" + l.Transform
		}
		out = append(out, fmt.Sprintf("%s>%s(%s)", l.Parent, l.Child, via))
	}
	return out
}

func onHand(q *[]core.Qty) string {
	if q == nil {
		return "<none>"
	}
	var parts []string
	for _, v := range *q {
		parts = append(parts, fmt.Sprintf("%g %s", v.Qty, v.UOM))
	}
	return strings.Join(parts, ", ")
}

func (h *harness) equal(what string, got, want any) {
	h.t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		h.t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// Event builders: compact JSON for the cases below.

func recv(id, item, lot string, qty float64, supplier, supplierLot string) string {
	return fmt.Sprintf(`{"id":%q,"type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":%q,"lot":%q},"qty":%g,"uom":"KG","supplier":{"id":%q,"name":"%s Co"},"supplier_lot":%q,"po":"PO-%s"}`,
		id, item, lot, qty, supplier, supplier, supplierLot, id)
}

func consume(id, order, item, lot string, qty float64) string {
	return fmt.Sprintf(`{"id":%q,"type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":%q,"lot":%q},"qty":%g,"uom":"KG","order":%q}`, id, item, lot, qty, order)
}

func produce(id, order, item, lot string, qty float64) string {
	return fmt.Sprintf(`{"id":%q,"type":"produce","time":"2026-03-02T12:00:00Z","lot":{"item":%q,"lot":%q},"qty":%g,"uom":"KG","order":%q}`, id, item, lot, qty, order)
}

func ship(id, item, lot string, qty float64, customer, so string) string {
	return fmt.Sprintf(`{"id":%q,"type":"ship","time":"2026-03-03T10:00:00Z","lot":{"item":%q,"lot":%q},"qty":%g,"uom":"KG","customer":{"id":%q,"name":"%s Foods"},"sales_order":%q}`,
		id, item, lot, qty, customer, customer, so)
}

func reverse(id, target string) string {
	return fmt.Sprintf(`{"id":%q,"type":"reverse","time":"2026-03-04T08:00:00Z","reverses":%q}`, id, target)
}

type testCase struct {
	name string
	run  func(h *harness)
}

var cases = []testCase{
	{"CoMingledInputs", func(h *harness) {
		h.ingest(
			recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1"),
			recv("r2", "FLOUR", "F-B", 100, "V-MILL", "M-2"),
			consume("c1", "WO-1", "FLOUR", "F-A", 40),
			consume("c2", "WO-1", "FLOUR", "F-B", 60),
			produce("p1", "WO-1", "DOUGH", "D-1", 100),
		)
		b := h.trace(core.Backward, "DOUGH", "D-1")
		h.equal("lots", lots(b), []string{"FLOUR/F-A@1", "FLOUR/F-B@1"})
		h.equal("links", links(b), []string{"FLOUR/F-A>DOUGH/D-1(WO-1)", "FLOUR/F-B>DOUGH/D-1(WO-1)"})
		var sl []string
		for _, s := range b.Suppliers {
			sl = append(sl, s.ID+":"+s.Lot+":"+s.SupplierLot+":"+s.PO)
		}
		h.equal("suppliers", sl, []string{"V-MILL:F-A:M-1:PO-r1", "V-MILL:F-B:M-2:PO-r2"})
		h.equal("root", *b.Root, core.RootLot{Item: "DOUGH", Lot: "D-1"})
		h.equal("direction", b.Direction, core.Backward)
	}},
	{"ShipmentsInTimeOrder", func(h *harness) {
		shipAt := func(id, item, lot, day string) string {
			return fmt.Sprintf(`{"id":%q,"type":"ship","time":"2026-03-%sT10:00:00Z","lot":{"item":%q,"lot":%q},"qty":1,"uom":"KG","customer":{"id":"C-1"},"sales_order":"SO-%s"}`, id, day, item, lot, id)
		}
		h.ingest(
			recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1"),
			consume("c1", "WO-1", "FLOUR", "F-A", 50),
			produce("p1", "WO-1", "DOUGH", "D-1", 50),
			consume("c2", "WO-2", "DOUGH", "D-1", 40),
			produce("p2", "WO-2", "BREAD", "B-1", 40),
			shipAt("s-b", "FLOUR", "F-A", "09"),
			shipAt("s-c", "DOUGH", "D-1", "05"),
			shipAt("s-a", "BREAD", "B-1", "07"),
			shipAt("s-d", "BREAD", "B-1", "05"),
		)
		var got []string
		for _, s := range h.recall("FLOUR", "F-A").Shipments {
			got = append(got, s.SalesOrder+"@"+s.Time[8:10])
		}
		// In time order, then by event id, whatever depth shipped.
		h.equal("shipments", got, []string{"SO-s-c@05", "SO-s-d@05", "SO-s-a@07", "SO-s-b@09"})
	}},
	{"SplitOutputs", func(h *harness) {
		h.ingest(
			recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1"),
			consume("c1", "WO-1", "FLOUR", "F-A", 100),
			produce("p1", "WO-1", "DOUGH", "D-1", 50),
			produce("p2", "WO-1", "DOUGH", "D-2", 50),
		)
		f := h.trace(core.Forward, "FLOUR", "F-A")
		h.equal("lots", lots(f), []string{"DOUGH/D-1@1", "DOUGH/D-2@1"})
		h.equal("links", links(f), []string{"FLOUR/F-A>DOUGH/D-1(WO-1)", "FLOUR/F-A>DOUGH/D-2(WO-1)"})
	}},
	{"LateConsumption", func(h *harness) {
		// The output is recorded first; the consumption arrives a batch later.
		h.ingest(produce("p1", "WO-1", "DOUGH", "D-1", 50))
		h.equal("links before", links(h.trace(core.Backward, "DOUGH", "D-1")), []string{})
		h.ingest(consume("c1", "WO-1", "FLOUR", "F-A", 100))
		h.equal("links after", links(h.trace(core.Backward, "DOUGH", "D-1")), []string{"FLOUR/F-A>DOUGH/D-1(WO-1)"})
	}},
	{"ReversalAfterTarget", func(h *harness) {
		h.ingest(
			recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1"),
			consume("c1", "WO-1", "FLOUR", "F-A", 40),
			produce("p1", "WO-1", "DOUGH", "D-1", 40),
		)
		h.equal("before", lots(h.trace(core.Forward, "FLOUR", "F-A")), []string{"DOUGH/D-1@1"})
		h.ingest(reverse("x1", "c1"))
		r := h.recall("FLOUR", "F-A")
		h.equal("lots after reversal", lots(r), []string{})
		h.equal("on hand after reversal", onHand(r.Root.OnHand), "100 KG")
		// Both stay in history.
		st, err := h.q().Lot(h.ctx, core.LotRef{Item: "FLOUR", Lot: "F-A"})
		if err != nil {
			h.t.Fatal(err)
		}
		var hist []string
		for _, e := range st.Events {
			hist = append(hist, e.ID+":"+string(e.Status))
		}
		h.equal("history", hist, []string{"r1:active", "c1:reversed", "x1:active"})
	}},
	{"ReversalBeforeTarget", func(h *harness) {
		h.ingest(reverse("x1", "c1"), recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1"))
		h.ingest(consume("c1", "WO-1", "FLOUR", "F-A", 40), produce("p1", "WO-1", "DOUGH", "D-1", 40))
		r := h.recall("FLOUR", "F-A")
		h.equal("lots", lots(r), []string{})
		h.equal("on hand", onHand(r.Root.OnHand), "100 KG")
		// Reversing the reversal puts the consumption back in effect.
		h.ingest(reverse("x2", "x1"))
		r = h.recall("FLOUR", "F-A")
		h.equal("lots after un-reversal", lots(r), []string{"DOUGH/D-1@1"})
		h.equal("on hand after un-reversal", onHand(r.Root.OnHand), "60 KG")
	}},
	{"ReversalInSameBatch", func(h *harness) {
		// Target and reversal in one transaction, in both orders.
		in := core.Ingester{Store: h.s, BatchSize: 100}
		lines := []string{
			recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1"),
			reverse("x1", "s1"), ship("s1", "FLOUR", "F-A", 30, "C-1", "SO-1"),
			ship("s2", "FLOUR", "F-A", 20, "C-2", "SO-2"), reverse("x2", "s2"),
			ship("s3", "FLOUR", "F-A", 5, "C-3", "SO-3"),
		}
		if _, err := in.IngestJSONL(h.ctx, strings.NewReader(strings.Join(lines, "\n")), "t"); err != nil {
			h.t.Fatal(err)
		}
		r := h.recall("FLOUR", "F-A")
		h.equal("on hand", onHand(r.Root.OnHand), "95 KG")
		h.equal("customers", len(*r.Customers), 1)
		h.equal("shipments", len(r.Shipments), 1)
	}},
	{"SupersededDocument", func(h *harness) {
		h.ingest(
			recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1"),
			recv("r2", "FLOUR", "F-B", 100, "V-MILL", "M-2"),
			consume("c1", "WO-1", "FLOUR", "F-A", 40),
			produce("p1", "WO-1", "DOUGH", "D-1", 40),
		)
		// The ERP changed the document: c1 now consumed F-B.
		st := h.ingest(consume("c1", "WO-1", "FLOUR", "F-B", 30))
		h.equal("stats", st, core.IngestStats{Read: 1, Superseded: 1})
		h.equal("backward", lots(h.trace(core.Backward, "DOUGH", "D-1")), []string{"FLOUR/F-B@1"})
		a := h.recall("FLOUR", "F-A")
		h.equal("F-A on hand", onHand(a.Root.OnHand), "100 KG")
		b := h.recall("FLOUR", "F-B")
		h.equal("F-B on hand", onHand(b.Root.OnHand), "70 KG")
		// History keeps both versions with the time each was seen.
		lot, err := h.q().Lot(h.ctx, core.LotRef{Item: "FLOUR", Lot: "F-A"})
		if err != nil {
			h.t.Fatal(err)
		}
		var hist []string
		for _, e := range lot.Events {
			hist = append(hist, fmt.Sprintf("%s:v%d:%s:%s", e.ID, e.Version, e.Status, e.SeenAt))
		}
		h.equal("F-A history", hist, []string{"r1:v1:active:2026-04-01T00:00:00Z", "c1:v1:superseded:2026-04-01T00:00:00Z"})
	}},
	{"Duplicate", func(h *harness) {
		lines := []string{
			recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1"),
			ship("s1", "FLOUR", "F-A", 30, "C-1", "SO-1"),
			ship("s1", "FLOUR", "F-A", 30, "C-1", "SO-1"),
		}
		st := h.ingest(lines...)
		h.equal("first stats", st, core.IngestStats{Read: 3, New: 2, Unchanged: 1})
		st = h.ingest(lines...)
		h.equal("re-ingest stats", st, core.IngestStats{Read: 3, Unchanged: 3})
		r := h.recall("FLOUR", "F-A")
		h.equal("on hand", onHand(r.Root.OnHand), "70 KG")
		h.equal("shipments", len(r.Shipments), 1)
	}},
	{"Cycle", func(h *harness) {
		h.ingest(
			consume("c1", "WO-1", "X", "A", 10), produce("p1", "WO-1", "X", "B", 10),
			consume("c2", "WO-2", "X", "B", 10), produce("p2", "WO-2", "X", "A", 10),
			consume("c3", "WO-2", "X", "C", 1),
		)
		f := h.trace(core.Forward, "X", "A")
		h.equal("forward lots", lots(f), []string{"X/B@1"})
		h.equal("forward links", links(f), []string{"X/A>X/B(WO-1)", "X/B>X/A(WO-2)"})
		b := h.trace(core.Backward, "X", "A")
		h.equal("backward lots", lots(b), []string{"X/B@1", "X/C@1"})
	}},
	{"SelfRework", func(h *harness) {
		h.ingest(
			recv("r1", "SAUCE", "S-1", 100, "V-1", "Q"),
			consume("c1", "RW-1", "SAUCE", "S-1", 10), produce("p1", "RW-1", "SAUCE", "S-1", 10),
			ship("s1", "SAUCE", "S-1", 5, "C-1", "SO-1"),
		)
		f := h.recall("SAUCE", "S-1")
		h.equal("lots", lots(f), []string{})
		h.equal("links", links(f), []string{"SAUCE/S-1>SAUCE/S-1(RW-1)"})
		h.equal("on hand", onHand(f.Root.OnHand), "95 KG")
	}},
	{"SameLotNumberTwoItems", func(h *harness) {
		h.ingest(
			recv("r1", "SUGAR", "L100", 100, "V-1", "S"),
			recv("r2", "SALT", "L100", 50, "V-2", "T"),
			consume("c1", "WO-1", "SUGAR", "L100", 10), produce("p1", "WO-1", "CANDY", "C-1", 10),
			ship("s1", "SALT", "L100", 5, "C-9", "SO-9"),
		)
		sugar := h.recall("SUGAR", "L100")
		h.equal("sugar lots", lots(sugar), []string{"CANDY/C-1@1"})
		h.equal("sugar on hand", onHand(sugar.Root.OnHand), "90 KG")
		h.equal("sugar shipments", len(sugar.Shipments), 0)
		salt := h.recall("SALT", "L100")
		h.equal("salt lots", lots(salt), []string{})
		h.equal("salt on hand", onHand(salt.Root.OnHand), "45 KG")
		h.equal("salt shipments", len(salt.Shipments), 1)
	}},
	{"UnknownLot", func(h *harness) {
		h.ingest(ship("s1", "BREAD", "BR-404", 10, "C-1", "SO-1"))
		r := h.recall("BREAD", "BR-404")
		h.equal("shipments", len(r.Shipments), 1)
		h.equal("on hand", onHand(r.Root.OnHand), "-10 KG")
		gaps, err := h.q().Gaps(h.ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		var got []string
		for _, g := range gaps {
			got = append(got, g.Kind+":"+g.Item+"/"+g.Lot+":"+g.Since)
		}
		h.equal("gaps", got, []string{"unknown_lot:BREAD/BR-404:2026-03-03T10:00:00Z"})
		// The receipt arrives late: the gap closes.
		h.ingest(recv("r1", "BREAD", "BR-404", 10, "V-1", "Z"))
		gaps, err = h.q().Gaps(h.ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("gaps after receipt", len(gaps), 0)
	}},
	{"OutputWithoutInput", func(h *harness) {
		h.ingest(produce("p1", "WO-7", "DOUGH", "D-1", 10), produce("p2", "WO-7", "DOUGH", "D-2", 10))
		gaps, err := h.q().Gaps(h.ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		if len(gaps) != 1 || gaps[0].Kind != core.GapOutputWithoutInput || gaps[0].Order != "WO-7" ||
			!strings.Contains(gaps[0].Detail, "DOUGH/D-1, DOUGH/D-2") {
			h.t.Fatalf("gaps = %+v, want one output_without_input for WO-7 naming both lots", gaps)
		}
		h.ingest(consume("c1", "WO-7", "FLOUR", "F-1", 20))
		gaps, err = h.q().Gaps(h.ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		var kinds []string
		for _, g := range gaps {
			kinds = append(kinds, g.Kind+":"+g.Item+"/"+g.Lot)
		}
		// The order is closed; the flour was never received, which is its own gap.
		h.equal("gaps after consumption", kinds, []string{"unknown_lot:FLOUR/F-1"})
	}},
	{"Quarantine", func(h *harness) {
		st := h.ingest(
			recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1"),
			`{"id":"bad1","type":"teleport","time":"2026-03-01T08:00:00Z","lot":{"item":"X","lot":"Y"}}`,
			`{"id":"bad2","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"X","lot":"Y"},"uom":"KG"}`,
			`{"id":"bad3","type":"ship","time":"yesterday","lot":{"item":"X","lot":"Y"},"qty":1,"uom":"KG","customer":{"id":"C"}}`,
			`{"id":"bad4","type":"ship","time":"2026-03-01T08:00:00Z","lot":{"item":"X","lot":"Y"},"qty":"ten","uom":"KG","customer":{"id":"C"}}`,
			`not json at all`,
			ship("s1", "FLOUR", "F-A", 30, "C-1", "SO-1"),
		)
		h.equal("stats", st, core.IngestStats{Read: 7, New: 2, Quarantined: 5})
		q, err := h.s.Quarantined(h.ctx, core.QuarantineFilter{})
		if err != nil {
			h.t.Fatal(err)
		}
		var got []string
		for _, r := range q {
			got = append(got, fmt.Sprintf("%s:%d:%s", r.Source, r.Line, r.EventID))
		}
		h.equal("quarantine", got, []string{"test.jsonl:2:bad1", "test.jsonl:3:bad2", "test.jsonl:4:bad3", "test.jsonl:5:bad4", "test.jsonl:6:"})
		for i, want := range []string{`unknown type "teleport"`, `"qty" is required`, `not RFC 3339`, `"qty" must be a number`, "invalid JSON"} {
			if i < len(q) && !strings.Contains(q[i].Reason, want) {
				h.t.Errorf("quarantine[%d].Reason = %q, want it to contain %q", i, q[i].Reason, want)
			}
		}
		// Nothing of the bad lines reached the graph.
		if _, err := h.s.FindLot(h.ctx, core.LotRef{Item: "X", Lot: "Y"}); core.ErrorCode(err) != core.ENOTFOUND {
			h.t.Errorf("lot X/Y: err = %v, want not found", err)
		}
		// Re-ingesting quarantines nothing twice; a fixed event resolves its entry.
		h.ingest(`{"id":"bad2","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"X","lot":"Y"},"uom":"KG"}`)
		h.ingest(`{"id":"bad2","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"X","lot":"Y"},"qty":5,"uom":"KG"}`)
		q, err = h.s.Quarantined(h.ctx, core.QuarantineFilter{})
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("open quarantine after fix", len(q), 4)
		all, err := h.s.Quarantined(h.ctx, core.QuarantineFilter{IncludeResolved: true})
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("all quarantine", len(all), 5)
	}},
	{"OnHandPartialAndReversedShipments", func(h *harness) {
		h.ingest(
			recv("r1", "BREAD", "BR-1", 100, "V-1", "B"),
			ship("s1", "BREAD", "BR-1", 30, "C-ALPHA", "SO-1"),
			ship("s2", "BREAD", "BR-1", 20, "C-BETA", "SO-2"),
			ship("s3", "BREAD", "BR-1", 10, "C-ALPHA", "SO-3"),
			reverse("x2", "s2"),
			`{"id":"r2","type":"receive","time":"2026-03-01T09:00:00Z","lot":{"item":"BREAD","lot":"BR-1"},"qty":3,"uom":"EA"}`,
		)
		r := h.recall("BREAD", "BR-1")
		h.equal("on hand", onHand(r.Root.OnHand), "3 EA, 60 KG")
		var cs []string
		for _, c := range *r.Customers {
			cs = append(cs, fmt.Sprintf("%s:%s:%v", c.ID, c.Name, c.Shipped))
		}
		h.equal("customers", cs, []string{"C-ALPHA:C-ALPHA Foods:[{40 KG}]"})
	}},
	{"DepthsSmallest", func(h *harness) {
		// A → B → C and A → C directly: C is listed once, at depth 1.
		h.ingest(
			consume("c1", "WO-1", "I", "A", 1), produce("p1", "WO-1", "I", "B", 1),
			consume("c2", "WO-2", "I", "B", 1), produce("p2", "WO-2", "I", "C", 1),
			consume("c3", "WO-2", "I", "A", 1),
			consume("c4", "WO-3", "I", "C", 1), produce("p4", "WO-3", "I", "D", 1),
		)
		f := h.trace(core.Forward, "I", "A")
		h.equal("lots", lots(f), []string{"I/B@1", "I/C@1", "I/D@2"})
		h.equal("links", links(f), []string{"I/A>I/B(WO-1)", "I/A>I/C(WO-2)", "I/B>I/C(WO-2)", "I/C>I/D(WO-3)"})
	}},
	{"Transform", func(h *harness) {
		h.ingest(`{"id":"t1","type":"transform","time":"2026-03-02T08:00:00Z","inputs":[{"item":"MILK","lot":"M1","qty":100,"uom":"L"},{"item":"CULTURE","lot":"K1"}],"outputs":[{"item":"YOGURT","lot":"Y1","qty":90,"uom":"L"}]}`)
		f := h.recall("MILK", "M1")
		h.equal("lots", lots(f), []string{"YOGURT/Y1@1"})
		h.equal("links", links(f), []string{"MILK/M1>YOGURT/Y1(t:t1)"})
		h.equal("milk on hand", onHand(f.Root.OnHand), "-100 L")
		h.equal("yogurt on hand", onHand(f.Lots[0].OnHand), "90 L")
		b := h.trace(core.Backward, "YOGURT", "Y1")
		h.equal("backward", lots(b), []string{"CULTURE/K1@1", "MILK/M1@1"})
	}},
	{"Selectors", func(h *harness) {
		h.ingest(
			recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-7781"),
			`{"id":"r2","type":"receive","time":"2026-03-09T08:00:00Z","lot":{"item":"FLOUR","lot":"F-B"},"qty":100,"uom":"KG"}`,
			consume("c1", "WO-1", "FLOUR", "F-A", 40), produce("p1", "WO-1", "BREAD", "BR-1", 40),
			consume("c2", "WO-2", "FLOUR", "F-B", 40), produce("p2", "WO-2", "BREAD", "BR-2", 40),
			ship("s1", "BREAD", "BR-1", 10, "C-ALPHA", "SO-1"),
			ship("s2", "BREAD", "BR-2", 10, "C-ALPHA", "SO-2"),
		)
		b, err := h.q().Trace(h.ctx, core.Backward, core.Selector{SalesOrder: "SO-1"})
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("by sales order", lots(b), []string{"FLOUR/F-A@1"})
		h.equal("by sales order root", b.Root.Ref(), core.LotRef{Item: "BREAD", Lot: "BR-1"})
		s, err := h.q().Trace(h.ctx, core.Forward, core.Selector{SupplierLot: "M-7781"})
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("by supplier lot", lots(s), []string{"BREAD/BR-1@1"})
		c, err := h.q().Trace(h.ctx, core.Backward, core.Selector{CustomerID: "C-ALPHA"})
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("by customer roots", len(c.Roots), 2)
		h.equal("by customer", lots(c), []string{"FLOUR/F-A@1", "FLOUR/F-B@1"})
		r, err := h.q().Recall(h.ctx, core.Selector{Item: "FLOUR",
			From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("by item and dates", lots(r), []string{"BREAD/BR-1@1"})
		_, err = h.q().Trace(h.ctx, core.Forward, core.Selector{SupplierLot: "NOPE"})
		h.equal("unknown supplier lot", core.ErrorCode(err), core.ENOTFOUND)
	}},
	{"LotNotFound", func(h *harness) {
		_, err := h.q().Trace(h.ctx, core.Forward, core.Selector{Lot: &core.LotRef{Item: "FLOUR", Lot: "F-X"}})
		h.equal("code", core.ErrorCode(err), core.ENOTFOUND)
		if msg := fmt.Sprint(err); !strings.HasPrefix(msg, "lot FLOUR/F-X not found: ") {
			h.t.Errorf("message = %q, want it to start with \"lot FLOUR/F-X not found: \" and give advice", msg)
		}
	}},
	{"LotStatus", func(h *harness) {
		h.ingest(
			`{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG","supplier":{"id":"V-MILL","name":"Mill Co"},"supplier_lot":"M-1","po":"PO-1","site":"PLANT-1","location":"RAW-01"}`,
			`{"id":"st1","type":"step","time":"2026-03-01T09:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"step":"QC-RELEASE","operator":"ana","equipment":"LAB-2","params":{"moisture_pct":12.5}}`,
			`{"id":"h1","type":"hold","time":"2026-03-01T10:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"reason":"aflatoxin retest"}`,
			`{"id":"m1","type":"move","time":"2026-03-01T11:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"from":"RAW-01","to":"QUAR-01"}`,
		)
		st, err := h.q().Lot(h.ctx, core.LotRef{Item: "FLOUR", Lot: "F-A"})
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("on hold", st.OnHold, true)
		h.equal("location", st.Location, "QUAR-01")
		h.equal("steps", fmt.Sprintf("%s %s %s %v", st.Steps[0].Step, st.Steps[0].Operator, st.Steps[0].Equipment, st.Steps[0].Params), "QC-RELEASE ana LAB-2 map[moisture_pct:12.5]")
		h.equal("receipt", st.Receipts[0].SupplierLot+" "+st.Receipts[0].Name, "M-1 Mill Co")
		h.equal("events", len(st.Events), 4)
		h.ingest(`{"id":"rl1","type":"release","time":"2026-03-02T10:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"reason":"retest passed"}`)
		st, err = h.q().Lot(h.ctx, core.LotRef{Item: "FLOUR", Lot: "F-A"})
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("on hold after release", st.OnHold, false)
		h.equal("holds", len(st.Holds), 2)
	}},
	{"ManyBatchesMatchOneBatch", func(h *harness) {
		// The same events give the same genealogy whatever the batching.
		var lines []string
		for i := 0; i < 40; i++ {
			lines = append(lines, consume(fmt.Sprintf("c%d", i), fmt.Sprintf("WO-%d", i%7), "RAW", fmt.Sprintf("R%d", i%5), 1))
			lines = append(lines, produce(fmt.Sprintf("p%d", i), fmt.Sprintf("WO-%d", (i+3)%7), "WIP", fmt.Sprintf("W%d", i%11), 1))
		}
		slices.Reverse(lines[40:])
		h.ingest(lines...) // batches of 3
		f := h.trace(core.Forward, "RAW", "R0")
		in := core.Ingester{Store: h.s, BatchSize: 1000}
		st, err := in.IngestJSONL(h.ctx, strings.NewReader(strings.Join(lines, "\n")), "again")
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("re-ingest", st.Unchanged, len(lines))
		h.equal("same trace", links(h.trace(core.Forward, "RAW", "R0")), links(f))
		if len(f.Lots) == 0 {
			h.t.Error("RAW/R0 reaches no lot")
		}
	}},
}
