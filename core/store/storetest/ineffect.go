package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
)

// Reads of many lots at once (FindLots, InEffectEvents): what the reports
// read instead of every stored version of each lot, one lot at a time.

func init() {
	cases = append(cases, []testCase{
		{"FindLots", func(h *harness) {
			h.ingest(recv("r1", "FLOUR", "F-A", 1, "V", "X"), recv("r2", "FLOUR", "F-B", 1, "V", "X"), recv("r3", "SUGAR", "F-A", 1, "V", "X"))
			rows, err := h.s.FindLots(h.ctx, []core.LotRef{
				{Item: "FLOUR", Lot: "F-A"}, {Item: "SUGAR", Lot: "F-A"}, {Item: "FLOUR", Lot: "F-A"}, // twice: listed once
				{Item: "FLOUR", Lot: "F-X"}, {Item: "SUGAR", Lot: "F-B"}, // unknown: left out
			})
			if err != nil {
				h.t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				id, err := h.s.FindLot(h.ctx, r.Ref)
				if err != nil || id != r.ID {
					h.t.Errorf("FindLots gives %s id %d, FindLot %d (%v)", r.Ref, r.ID, id, err)
				}
				got = append(got, r.Ref.String())
			}
			slices.Sort(got)
			h.equal("lots", got, []string{"FLOUR/F-A", "SUGAR/F-A"})
			if rows, err := h.s.FindLots(h.ctx, nil); err != nil || len(rows) != 0 {
				h.t.Errorf("FindLots(nil) = %v, %v; want nothing", rows, err)
			}
		}},
		{"InEffectEvents", func(h *harness) {
			h.ingest(
				recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				recv("r2", "FLOUR", "F-B", 100, "V", "X"),
				consume("c1", "WO-1", "FLOUR", "F-A", 10),
				produce("p1", "WO-1", "DOUGH", "D-1", 10),
				`{"id":"st1","type":"step","time":"2026-03-02T09:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"step":"sieve","params":{"mesh":"0.5"}}`,
				ship("s1", "FLOUR", "F-A", 5, "C-1", "SO-1"),
				ship("s2", "FLOUR", "F-A", 6, "C-2", "SO-2"),
				reverse("x2", "s2"), // s2 is reversed; x2 itself is no event of a lot
				ship("s3", "FLOUR", "F-A", 7, "C-3", "SO-3"),
				consume("c9", "WO-9", "FLOUR", "F-A", 1),
				// A transform about two of the lots, one reversed, one a rework.
				`{"id":"t1","type":"transform","time":"2026-03-04T08:00:00Z","inputs":[{"item":"FLOUR","lot":"F-A","qty":2,"uom":"KG"}],"outputs":[{"item":"MIX","lot":"M-1","qty":2,"uom":"KG"}]}`,
				`{"id":"t2","type":"transform","time":"2026-03-04T09:00:00Z","inputs":[{"item":"FLOUR","lot":"F-B","qty":2,"uom":"KG"}],"outputs":[{"item":"MIX","lot":"M-2","qty":2,"uom":"KG"}]}`,
				reverse("x3", "t2"),
				`{"id":"t3","type":"transform","time":"2026-03-05T08:00:00Z","rework":true,"params":{"mesh":"1.0"},"inputs":[{"item":"MIX","lot":"M-1","qty":2,"uom":"KG"}],"outputs":[{"item":"MIX","lot":"M-1","qty":2,"uom":"KG"}]}`,
			)
			// The ERP changed two documents: s3 (a new quantity) and c9
			// (now of lot F-B): only the current versions count.
			h.ingest(ship("s3", "FLOUR", "F-A", 8, "C-3", "SO-3"), consume("c9", "WO-9", "FLOUR", "F-B", 1))
			ids := h.lotIDs("FLOUR/F-A", "FLOUR/F-B", "MIX/M-1", "MIX/M-2", "DOUGH/D-1")
			fa, fb, m1, m2 := ids["FLOUR/F-A"], ids["FLOUR/F-B"], ids["MIX/M-1"], ids["MIX/M-2"]

			h.equal("all of F-A", h.inEffect(core.InEffectParams{LotIDs: []int64{fa}}),
				[]string{"FLOUR/F-A c1 v1 consume", "FLOUR/F-A r1 v1 receive", "FLOUR/F-A s1 v1 ship", "FLOUR/F-A s3 v2 ship", "FLOUR/F-A st1 v1 step", "FLOUR/F-A t1 v1 transform"})
			h.equal("several lots, one named twice, one unknown",
				h.inEffect(core.InEffectParams{LotIDs: []int64{fb, m1, m2, m1, fb + m1 + m2 + fa + 1000}}),
				[]string{"FLOUR/F-B c9 v2 consume", "FLOUR/F-B r2 v1 receive", "MIX/M-1 t1 v1 transform", "MIX/M-1 t3 v1 transform"})
			h.equal("ships", h.inEffect(core.InEffectParams{LotIDs: []int64{fa, fb}, Types: []core.EventType{core.Ship}}),
				[]string{"FLOUR/F-A s1 v1 ship", "FLOUR/F-A s3 v2 ship"})
			h.equal("transforms", h.inEffect(core.InEffectParams{LotIDs: []int64{fa, fb, m1, m2}, Types: []core.EventType{core.Transform}}),
				[]string{"FLOUR/F-A t1 v1 transform", "MIX/M-1 t1 v1 transform", "MIX/M-1 t3 v1 transform"})
			h.equal("receipts and transforms", h.inEffect(core.InEffectParams{LotIDs: []int64{fa, m1}, Types: []core.EventType{core.Receive, core.Transform}}),
				[]string{"FLOUR/F-A r1 v1 receive", "FLOUR/F-A t1 v1 transform", "MIX/M-1 t1 v1 transform", "MIX/M-1 t3 v1 transform"})
			h.equal("reverses are no lot's events", h.inEffect(core.InEffectParams{LotIDs: []int64{fa, fb}, Types: []core.EventType{core.Reverse}}), []string{})
			// [From, To): from is in, to is out.
			day := func(d int, hour int) time.Time { return time.Date(2026, 3, d, hour, 0, 0, 0, time.UTC) }
			h.equal("2 March", h.inEffect(core.InEffectParams{LotIDs: []int64{fa, fb}, From: day(2, 8), To: day(3, 10)}),
				[]string{"FLOUR/F-A c1 v1 consume", "FLOUR/F-A st1 v1 step", "FLOUR/F-B c9 v2 consume"})
			h.equal("from 3 March 10:00", h.inEffect(core.InEffectParams{LotIDs: []int64{fa}, From: day(3, 10)}),
				[]string{"FLOUR/F-A s1 v1 ship", "FLOUR/F-A s3 v2 ship", "FLOUR/F-A t1 v1 transform"})
			h.equal("transforms before 4 March 09:00", h.inEffect(core.InEffectParams{LotIDs: []int64{fa, m1}, Types: []core.EventType{core.Transform}, To: day(4, 9)}),
				[]string{"FLOUR/F-A t1 v1 transform", "MIX/M-1 t1 v1 transform"})
			h.equal("an empty range", h.inEffect(core.InEffectParams{LotIDs: []int64{fa}, From: day(3, 10), To: day(3, 10)}), []string{})
			h.equal("no lots", h.inEffect(core.InEffectParams{}), []string{})
			h.equal("with a param", h.inEffect(core.InEffectParams{LotIDs: []int64{fa, fb, m1}, WithParams: []string{"nope", "mesh"}}),
				[]string{"FLOUR/F-A st1 v1 step", "MIX/M-1 t3 v1 transform"})
			h.equal("with a param, of a type", h.inEffect(core.InEffectParams{LotIDs: []int64{fa, m1}, Types: []core.EventType{core.Transform}, WithParams: []string{"mesh"}}),
				[]string{"MIX/M-1 t3 v1 transform"})
			h.equal("with a param nothing has", h.inEffect(core.InEffectParams{LotIDs: []int64{fa, fb, m1}, WithParams: []string{"MESH", "mesh_mm"}}), []string{})

			// The rows are the stored versions, as LotEvents has them.
			versions := map[string]core.EventRow{}
			rows, err := h.s.LotEvents(h.ctx, fa)
			if err != nil {
				h.t.Fatal(err)
			}
			for _, r := range rows {
				versions[fmt.Sprint(r.ID, r.Version)] = r
			}
			err = h.s.InEffectEvents(h.ctx, core.InEffectParams{LotIDs: []int64{fa}}, func(lot int64, e core.EventRow) error {
				if want := versions[fmt.Sprint(e.ID, e.Version)]; fmt.Sprint(e) != fmt.Sprint(want) {
					h.t.Errorf("InEffectEvents row %+v, LotEvents has %+v", e, want)
				}
				return nil
			})
			if err != nil {
				h.t.Fatal(err)
			}

			// An error from fn stops the read and comes back as it is.
			stop := errors.New("stop")
			n := 0
			err = h.s.InEffectEvents(h.ctx, core.InEffectParams{LotIDs: []int64{fa, fb}}, func(int64, core.EventRow) error {
				n++
				return stop
			})
			if err != stop || n != 1 {
				h.t.Errorf("fn failed: InEffectEvents = %v after %d rows, want stop after 1", err, n)
			}
		}},
		{"InEffectEventsOfThousandsOfLots", func(h *harness) {
			// More lots than a wide read's threshold (PostgreSQL: 1,000),
			// each with a receipt, a shipment and a reversed shipment.
			const n = 1500
			var lines, refs []string
			for i := range n {
				lot := fmt.Sprintf("L-%04d", i)
				lines = append(lines, recv("r"+lot, "SALT", lot, 10, "V", "X"), ship("s"+lot, "SALT", lot, 1, "C-1", "SO-1"),
					ship("z"+lot, "SALT", lot, 1, "C-2", "SO-2"), reverse("x"+lot, "z"+lot))
				refs = append(refs, "SALT/"+lot)
			}
			in := core.Ingester{Store: h.s, BatchSize: 2000}
			if _, err := in.IngestJSONL(h.ctx, strings.NewReader(strings.Join(lines, "\n")), "many.jsonl"); err != nil {
				h.t.Fatal(err)
			}
			ids := h.lotIDs(refs...)
			all := make([]int64, 0, n)
			for _, id := range ids {
				all = append(all, id)
			}
			ships := map[int64]string{}
			err := h.s.InEffectEvents(h.ctx, core.InEffectParams{LotIDs: all, Types: []core.EventType{core.Ship}}, func(lot int64, e core.EventRow) error {
				if _, dup := ships[lot]; dup || e.LotID != lot {
					h.t.Errorf("lot %d: ship %s (of lot %d) comes twice or for another lot", lot, e.ID, e.LotID)
				}
				ships[lot] = e.ID
				return nil
			})
			if err != nil {
				h.t.Fatal(err)
			}
			for ref, id := range ids {
				if want := "s" + strings.TrimPrefix(ref, "SALT/"); ships[id] != want {
					h.t.Fatalf("lot %s: ship %q, want %s alone (the reversed one left out)", ref, ships[id], want)
				}
			}
			count := 0
			err = h.s.InEffectEvents(h.ctx, core.InEffectParams{LotIDs: all}, func(int64, core.EventRow) error {
				count++
				return nil
			})
			h.equal("events of every lot", fmt.Sprint(count, err), fmt.Sprint(2*n, nil))
		}},
	}...)
}

// lotIDs looks lots ("ITEM/LOT") up with FindLots.
func (h *harness) lotIDs(refs ...string) map[string]int64 {
	h.t.Helper()
	var rs []core.LotRef
	for _, r := range refs {
		item, lot, _ := strings.Cut(r, "/")
		rs = append(rs, core.LotRef{Item: item, Lot: lot})
	}
	rows, err := h.s.FindLots(h.ctx, rs)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]int64{}
	h.refs = map[int64]string{}
	for _, r := range rows {
		out[r.Ref.String()] = r.ID
		h.refs[r.ID] = r.Ref.String()
	}
	if len(out) != len(refs) {
		h.t.Fatalf("FindLots found %d of %d lots", len(out), len(refs))
	}
	return out
}

// inEffect renders InEffectEvents as "ITEM/LOT id vN type", sorted; the
// lots must be among those lotIDs looked up last.
func (h *harness) inEffect(p core.InEffectParams) []string {
	h.t.Helper()
	out := []string{}
	err := h.s.InEffectEvents(h.ctx, p, func(lot int64, e core.EventRow) error {
		if e.Status != core.Active {
			h.t.Errorf("%s: status %s", e.ID, e.Status)
		}
		out = append(out, fmt.Sprintf("%s %s v%d %s", h.refs[lot], e.ID, e.Version, e.Type))
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func init() {
	cases = append(cases, testCase{"OrdersEvents", func(h *harness) {
		h.ingest(
			recv("r1", "FLOUR", "F-A", 100, "V", "X"),
			consume("c1", "WO-1", "FLOUR", "F-A", 10),
			produce("p1", "WO-1", "DOUGH", "D-1", 10),
			produce("p1b", "WO-1", "DOUGH", "D-2", 1),
			consume("c2", "WO-2", "DOUGH", "D-1", 5),
			produce("p2", "WO-2", "BREAD", "B-1", 5),
			consume("c3", "WO-3", "FLOUR", "F-A", 1),
			reverse("x1", "p1b"), // reversed: not in effect
		)
		// The ERP changed c1: only its current version counts.
		h.ingest(consume("c1", "WO-1", "FLOUR", "F-A", 12))
		read := func(orders ...string) []string {
			out := []string{}
			err := h.s.OrdersEvents(h.ctx, orders, func(r core.EventRow) error {
				out = append(out, fmt.Sprintf("%s v%d %s", r.ID, r.Version, r.Type))
				return nil
			})
			if err != nil {
				h.t.Fatal(err)
			}
			slices.Sort(out)
			return out
		}
		// Each order alone is what OrderEvents gives.
		for _, o := range []string{"WO-1", "WO-2", "WO-3"} {
			rows, err := h.s.OrderEvents(h.ctx, o)
			if err != nil {
				h.t.Fatal(err)
			}
			want := []string{}
			for _, r := range rows {
				want = append(want, fmt.Sprintf("%s v%d %s", r.ID, r.Version, r.Type))
			}
			slices.Sort(want)
			h.equal("order "+o, read(o), want)
		}
		h.equal("two orders, one named twice, one unknown", read("WO-2", "WO-1", "WO-2", "WO-404"),
			[]string{"c1 v2 consume", "c2 v1 consume", "p1 v1 produce", "p2 v1 produce"})
		h.equal("no orders", read(), []string{})
		stop := errors.New("stop")
		if err := h.s.OrdersEvents(h.ctx, []string{"WO-1"}, func(core.EventRow) error { return stop }); err != stop {
			h.t.Errorf("fn failed: OrdersEvents = %v, want stop", err)
		}
	}})
}
