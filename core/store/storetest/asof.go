package storetest

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/asof"
)

// Cases for answers as of an earlier time (core/store/asof): the store
// as it stood when it had recorded only the versions seen by then. The
// recording time is the ingest's clock (seen_at), set per step here: no
// test sleeps or reads the wall clock.

// ingestAt applies lines as one input recorded at t.
func (h *harness) ingestAt(t time.Time, lines ...string) {
	h.t.Helper()
	in := core.Ingester{Store: h.s, Now: func() time.Time { return t }, BatchSize: 3}
	if _, err := in.IngestJSONL(h.ctx, strings.NewReader(strings.Join(lines, "\n")), "test.jsonl"); err != nil {
		h.t.Fatalf("ingest at %s: %v", t, err)
	}
}

// asOf opens the view of the harness's store as of t.
func (h *harness) asOf(t time.Time) *core.Queries {
	h.t.Helper()
	v, err := asof.Open(h.ctx, h.s, t, asof.Options{Dir: h.t.TempDir()})
	if err != nil {
		h.t.Fatalf("as of %s: %v", t, err)
	}
	h.t.Cleanup(func() { v.Close() })
	return &core.Queries{Store: v}
}

func mustT(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err) // test data
	}
	return t
}

func shipments(r *core.TraceResult) []string {
	out := []string{}
	for _, s := range r.Shipments {
		out = append(out, fmt.Sprintf("%s/%s %g %s to %s", s.Item, s.Lot, s.Qty, s.UOM, s.Customer.ID))
	}
	return out
}

func (h *harness) recallOf(q *core.Queries, item, lot string) *core.TraceResult {
	h.t.Helper()
	r, err := q.Recall(h.ctx, core.Selector{Lot: &core.LotRef{Item: item, Lot: lot}})
	if err != nil {
		h.t.Fatalf("recall %s/%s: %v", item, lot, err)
	}
	return r
}

func (h *harness) lotOf(q *core.Queries, item, lot string) *core.LotStatus {
	h.t.Helper()
	st, err := q.Lot(h.ctx, core.LotRef{Item: item, Lot: lot})
	if err != nil {
		h.t.Fatalf("lot %s/%s: %v", item, lot, err)
	}
	return st
}

// versions renders a lot's history as "id vN status".
func versions(st *core.LotStatus) []string {
	out := []string{}
	for _, e := range st.Events {
		out = append(out, fmt.Sprintf("%s v%d %s", e.ID, e.Version, e.Status))
	}
	return out
}

func init() {
	cases = append(cases, []testCase{
		{"EventVersionsRecordedBy", func(h *harness) {
			t1, t2 := mustT("2026-04-01T08:00:00Z"), mustT("2026-04-02T08:00:00Z")
			h.ingestAt(t1, recv("r1", "SUGAR", "S-1", 100, "V", "X"), ship("s1", "SUGAR", "S-1", 10, "C-1", "SO-1"))
			h.ingestAt(t2, ship("s1", "SUGAR", "S-1", 7, "C-1", "SO-1"), reverse("x1", "r1"))
			read := func(p core.EventVersionsParams) []string {
				rows, err := h.s.EventVersions(h.ctx, p)
				if err != nil {
					h.t.Fatal(err)
				}
				out := []string{}
				var last int64
				for _, r := range rows {
					if r.Seq <= last {
						h.t.Errorf("versions out of the store's order: seq %d after %d", r.Seq, last)
					}
					last = r.Seq
					out = append(out, fmt.Sprintf("%s v%d %s %s", r.ID, r.Version, r.Status, r.SeenAt.Format(time.DateOnly)))
				}
				return out
			}
			all := read(core.EventVersionsParams{})
			h.equal("every version, in the order recorded", all, []string{
				"r1 v1 reversed 2026-04-01", "s1 v1 superseded 2026-04-01", "s1 v2 active 2026-04-02", "x1 v1 active 2026-04-02"})
			h.equal("recorded by T", read(core.EventVersionsParams{SeenThrough: t2.Add(-time.Microsecond)}), all[:2])
			h.equal("recorded at T is in", read(core.EventVersionsParams{SeenThrough: t2}), all)
			rows, err := h.s.EventVersions(h.ctx, core.EventVersionsParams{Limit: 1})
			if err != nil || len(rows) != 1 {
				h.t.Fatalf("limit 1: %d rows, %v", len(rows), err)
			}
			h.equal("after the first, two", read(core.EventVersionsParams{AfterSeq: rows[0].Seq, Limit: 2}), all[1:3])
		}},
		{"AsOfReversalRecordedLater", func(h *harness) {
			t1, t2 := mustT("2026-04-01T08:00:00Z"), mustT("2026-04-02T08:00:00Z")
			h.ingestAt(t1, recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				consume("c1", "WO-1", "FLOUR", "F-A", 40), produce("p1", "WO-1", "DOUGH", "D-1", 40),
				ship("s1", "DOUGH", "D-1", 30, "C-1", "SO-1"))
			h.ingestAt(t2, reverse("x1", "s1"), reverse("x2", "c1"))
			then := h.asOf(t2.Add(-time.Hour))
			r := h.recallOf(then, "FLOUR", "F-A")
			h.equal("shipments before the reversal was recorded", shipments(r), []string{"DOUGH/D-1 30 KG to C-1"})
			h.equal("lots before", lots(r), []string{"DOUGH/D-1@1"})
			h.equal("on hand before", onHand(r.Root.OnHand), "60 KG")
			now := h.recallOf(h.q(), "FLOUR", "F-A")
			h.equal("shipments now", shipments(now), []string{})
			h.equal("lots now", lots(now), []string{})
			h.equal("on hand now", onHand(now.Root.OnHand), "100 KG")
			// Recorded at exactly T: in (seen_at ≤ T).
			h.equal("as of the reversal's recording time", shipments(h.recallOf(h.asOf(t2), "FLOUR", "F-A")), []string{})
			h.equal("lot history before", versions(h.lotOf(then, "DOUGH", "D-1")), []string{"p1 v1 active", "s1 v1 active"})
		}},
		{"AsOfSupersededDocument", func(h *harness) {
			t1, t2 := mustT("2026-04-01T08:00:00Z"), mustT("2026-04-02T08:00:00Z")
			h.ingestAt(t1, recv("r1", "SUGAR", "S-1", 100, "V", "X"), ship("s1", "SUGAR", "S-1", 10, "C-1", "SO-1"))
			// The ERP changed the delivery: another quantity and customer.
			h.ingestAt(t2, ship("s1", "SUGAR", "S-1", 7, "C-2", "SO-1"))
			then := h.asOf(t1)
			h.equal("old content at T", shipments(h.recallOf(then, "SUGAR", "S-1")), []string{"SUGAR/S-1 10 KG to C-1"})
			h.equal("new content now", shipments(h.recallOf(h.q(), "SUGAR", "S-1")), []string{"SUGAR/S-1 7 KG to C-2"})
			h.equal("history at T", versions(h.lotOf(then, "SUGAR", "S-1")), []string{"r1 v1 active", "s1 v1 active"})
			h.equal("history now", versions(h.lotOf(h.q(), "SUGAR", "S-1")), []string{"r1 v1 active", "s1 v1 superseded", "s1 v2 active"})
			h.equal("on hand at T", h.lotOf(then, "SUGAR", "S-1").OnHand, []core.Qty{{Qty: 90, UOM: "KG"}})
		}},
		{"AsOfEventRecordedLaterAbsent", func(h *harness) {
			t1, t2 := mustT("2026-04-01T08:00:00Z"), mustT("2026-04-02T08:00:00Z")
			h.ingestAt(t1, recv("r1", "FLOUR", "F-A", 100, "V", "X"), consume("c1", "WO-1", "FLOUR", "F-A", 40), produce("p1", "WO-1", "DOUGH", "D-1", 40))
			// Recorded later, though it happened earlier (business time
			// 2026-03-02 like the others): seen_at decides.
			h.ingestAt(t2, consume("c2", "WO-2", "FLOUR", "F-A", 10), produce("p2", "WO-2", "DOUGH", "D-2", 10))
			then := h.asOf(t2.Add(-time.Second))
			tr, err := then.Trace(h.ctx, core.Forward, core.Selector{Lot: &core.LotRef{Item: "FLOUR", Lot: "F-A"}})
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("trace at T", lots(tr), []string{"DOUGH/D-1@1"})
			h.equal("trace now", lots(h.trace(core.Forward, "FLOUR", "F-A")), []string{"DOUGH/D-1@1", "DOUGH/D-2@1"})
			if _, err := then.Lot(h.ctx, core.LotRef{Item: "DOUGH", Lot: "D-2"}); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("a lot first recorded after T, as of T: err = %v, want ENOTFOUND", err)
			}
			h.equal("nothing recorded yet", lots(h.recallOf(h.asOf(t2), "FLOUR", "F-A")), []string{"DOUGH/D-1@1", "DOUGH/D-2@1"})
			if _, err := h.asOf(t1.Add(-time.Second)).Lot(h.ctx, core.LotRef{Item: "FLOUR", Lot: "F-A"}); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("before anything was recorded: err = %v, want ENOTFOUND", err)
			}
		}},
		{"AsOfHoldPlacedLater", func(h *harness) {
			c := newClock("2026-04-01T08:00:00Z")
			m := h.monitor(c, core.DefaultGapRules())
			h.ingestAt(c.now(), recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				consume("c1", "WO-1", "FLOUR", "F-A", 40), produce("p1", "WO-1", "DOUGH", "D-1", 40))
			before := c.now()
			c.add(time.Hour)
			if _, err := m.Hold(h.ctx, core.HoldParams{Lot: core.LotRef{Item: "FLOUR", Lot: "F-A"}, Reason: "supplier recall", By: "qa", Propagate: true}); err != nil {
				h.t.Fatal(err)
			}
			held := c.now()
			c.add(time.Hour)
			if _, err := m.Release(h.ctx, core.HoldParams{Lot: core.LotRef{Item: "FLOUR", Lot: "F-A"}, Reason: "cleared", By: "qa", Propagate: true}); err != nil {
				h.t.Fatal(err)
			}
			holdsOf := func(q *core.Queries) []string {
				hs, err := q.Holds(h.ctx)
				if err != nil {
					h.t.Fatal(err)
				}
				out := []string{}
				for _, x := range hs {
					out = append(out, x.Item+"/"+x.Lot)
				}
				return out
			}
			h.equal("holds before the hold", holdsOf(h.asOf(before)), []string{})
			r := h.recallOf(h.asOf(before), "FLOUR", "F-A")
			h.equal("recall before the hold", fmt.Sprint(r.Root.OnHold, r.Lots[0].OnHold), "false false")
			h.equal("holds while held", holdsOf(h.asOf(held)), []string{"DOUGH/D-1", "FLOUR/F-A"})
			r = h.recallOf(h.asOf(held), "FLOUR", "F-A")
			h.equal("recall while held", fmt.Sprint(r.Root.OnHold, r.Lots[0].OnHold), "true true")
			h.equal("lot while held", h.lotOf(h.asOf(held), "DOUGH", "D-1").OnHold, true)
			h.equal("holds now", holdsOf(h.q()), []string{})
		}},
		{"AsOfGapsAsTheyStood", func(h *harness) {
			c := newClock("2026-03-02T13:00:00Z")
			m := h.monitor(c, core.DefaultGapRules())
			h.ingestAt(c.now(), recv("r1", "FLOUR", "F-A", 100, "V", "X"), produce("p1", "WO-1", "DOUGH", "D-1", 50))
			c.set("2026-03-02T16:00:00Z")
			h.evaluate(m) // the 4 h window closed: opened
			opened := c.now()
			c.add(time.Hour)
			if _, err := m.Waive(h.ctx, 1, "qa", "paper record checked"); err != nil {
				h.t.Fatal(err)
			}
			gapsAt := func(t time.Time) []string {
				gs, err := (&core.Monitor{Store: h.asOf(t).Store}).GapList(h.ctx, core.ExceptionFilter{})
				if err != nil {
					h.t.Fatal(err)
				}
				out := []string{}
				for _, g := range gs {
					out = append(out, g.Kind+":"+g.Order+":"+string(g.Status))
				}
				return out
			}
			h.equal("before it was opened", gapsAt(opened.Add(-time.Minute)), []string{})
			h.equal("opened", gapsAt(opened), []string{"output_without_input:WO-1:open"})
			h.equal("now", gapsAt(c.now()), []string{"output_without_input:WO-1:waived"})
			d, err := (&core.Monitor{Store: h.asOf(opened).Store}).Show(h.ctx, 1)
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("history at T", len(d.History), 1)
		}},
		{"AsOfNowEqualsPlainAnswer", func(h *harness) {
			c := newClock("2026-04-01T08:00:00Z")
			m := h.monitor(c, core.DefaultGapRules())
			lines := []string{
				reverse("x0", "s9"), // waits for its target
				recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1"),
				recv("r2", "SALT", "SA-1", 50, "V-SALT", "N-1"),
				consume("c1", "WO-1", "FLOUR", "F-A", 40), consume("c2", "WO-1", "SALT", "SA-1", 1),
				produce("p1", "WO-1", "DOUGH", "D-1", 41),
				`{"id":"t1","type":"transform","time":"2026-03-02T14:00:00Z","inputs":[{"item":"DOUGH","lot":"D-1","qty":20,"uom":"KG"}],"outputs":[{"item":"BREAD","lot":"B-1","qty":40,"uom":"EA"}]}`,
				ship("s1", "BREAD", "B-1", 30, "C-1", "SO-1"),
			}
			h.ingestAt(c.now(), lines...)
			c.add(time.Hour)
			h.ingestAt(c.now(), ship("s1", "BREAD", "B-1", 25, "C-1", "SO-1"), ship("s9", "DOUGH", "D-1", 5, "C-2", "SO-9"), reverse("x1", "c2"))
			c.add(time.Hour)
			if _, err := m.Hold(h.ctx, core.HoldParams{Lot: core.LotRef{Item: "FLOUR", Lot: "F-A"}, Reason: "mould", By: "qa"}); err != nil {
				h.t.Fatal(err)
			}
			c.add(time.Hour)
			h.ingestAt(c.now(), at(consume("c3", "WO-3", "FLOUR", "F-A", 10), "2026-04-01T12:00:00Z"), at(produce("p3", "WO-3", "DOUGH", "D-3", 10), "2026-04-01T12:00:00Z"))
			c.add(48 * time.Hour)
			h.evaluate(m) // D-3 is born on hold
			c.add(time.Hour)
			// Read in pages of two versions: recording steps span pages.
			nv, err := asof.Open(h.ctx, h.s, c.now(), asof.Options{Dir: h.t.TempDir(), PageSize: 2})
			if err != nil {
				h.t.Fatal(err)
			}
			defer nv.Close()
			now := &core.Queries{Store: nv}
			plain := h.q()
			for _, ref := range []core.LotRef{{Item: "FLOUR", Lot: "F-A"}, {Item: "SALT", Lot: "SA-1"}, {Item: "DOUGH", Lot: "D-1"}, {Item: "BREAD", Lot: "B-1"}, {Item: "DOUGH", Lot: "D-3"}} {
				sel := core.Selector{Lot: &ref}
				for _, dir := range []core.Direction{core.Forward, core.Backward} {
					a, err1 := now.Trace(h.ctx, dir, sel)
					b, err2 := plain.Trace(h.ctx, dir, sel)
					if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
						h.t.Errorf("trace %s %s as of now differs:\n as of %+v (%v)\n plain %+v (%v)", dir, ref, a, err1, b, err2)
					}
				}
				a, err1 := now.Recall(h.ctx, sel)
				b, err2 := plain.Recall(h.ctx, sel)
				if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
					h.t.Errorf("recall %s as of now differs:\n as of %+v (%v)\n plain %+v (%v)", ref, a, err1, b, err2)
				}
				la, err1 := now.Lot(h.ctx, ref)
				lb, err2 := plain.Lot(h.ctx, ref)
				if err1 != nil || err2 != nil || !reflect.DeepEqual(la, lb) {
					h.t.Errorf("lot %s as of now differs:\n as of %+v (%v)\n plain %+v (%v)", ref, la, err1, lb, err2)
				}
			}
			ha, _ := now.Holds(h.ctx)
			hb, _ := plain.Holds(h.ctx)
			h.equal("holds as of now", ha, hb)
			h.equal("born on hold is in the view", h.lotOf(now, "DOUGH", "D-3").OnHold, true)

			// The same events recorded at the same times in other batches
			// give the same view.
			other := h.open(h.t)
			in := core.Ingester{Store: other, Now: func() time.Time { return mustT("2026-04-01T08:00:00Z") }, BatchSize: 1}
			if _, err := in.IngestJSONL(h.ctx, strings.NewReader(strings.Join(lines, "\n")), "other.jsonl"); err != nil {
				h.t.Fatal(err)
			}
			t := mustT("2026-04-01T08:30:00Z")
			ov, err := asof.Open(h.ctx, other, t, asof.Options{Dir: h.t.TempDir()})
			if err != nil {
				h.t.Fatal(err)
			}
			defer ov.Close()
			a := h.recallOf(&core.Queries{Store: ov}, "FLOUR", "F-A")
			b := h.recallOf(h.asOf(t), "FLOUR", "F-A")
			if !reflect.DeepEqual(a, b) {
				h.t.Errorf("as of %s, batches of 1 and of 3 differ:\n 1: %+v\n 3: %+v", t, a, b)
			}
		}},
	}...)
}
