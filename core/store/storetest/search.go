package storetest

import (
	"fmt"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
)

// Cases for the web application's lot search and dashboard counts.

func init() {
	cases = append(cases, []testCase{
		{"SearchLots", func(h *harness) {
			h.ingest(
				recv("r1", "FLOUR", "F-A", 10, "V", "M-1"),
				recv("r2", "FLOUR", "F-B", 10, "V", "M-2"),
				recv("r3", "SALT", "F-A1", 10, "V", "S-1"),
				recv("r4", "SALT", "X_%1", 10, "V", "S-2"),
			)
			search := func(f core.LotSearch) string {
				h.t.Helper()
				rows, err := h.s.SearchLots(h.ctx, f)
				if err != nil {
					h.t.Fatalf("search %+v: %v", f, err)
				}
				var out []string
				for _, r := range rows {
					out = append(out, r.Ref.String())
				}
				return strings.Join(out, " ")
			}
			h.equal("lot number prefix, any item", search(core.LotSearch{Lot: "F-A"}), "FLOUR/F-A SALT/F-A1")
			h.equal("item only", search(core.LotSearch{Item: "FLOUR"}), "FLOUR/F-A FLOUR/F-B")
			h.equal("item and lot", search(core.LotSearch{Item: "SALT", Lot: "F-"}), "SALT/F-A1")
			h.equal("wildcards are plain characters", search(core.LotSearch{Lot: "X_%"}), "SALT/X_%1")
			h.equal("no wildcard match", search(core.LotSearch{Lot: "%"}), "")
			h.equal("limit and offset", search(core.LotSearch{Lot: "F", Limit: 2, Offset: 1}), "FLOUR/F-B SALT/F-A1")
			if _, err := h.s.SearchLots(h.ctx, core.LotSearch{Lot: " "}); core.ErrorCode(err) != core.EINVALID {
				h.t.Errorf("empty search: err = %v, want EINVALID", err)
			}
		}},
		{"ReachListsWhatTraceReaches", func(h *harness) {
			h.ingest(
				recv("r1", "FLOUR", "F-A", 10, "V", "M-1"),
				consume("c1", "WO-1", "FLOUR", "F-A", 5),
				produce("p1", "WO-1", "DOUGH", "D-1", 5),
				produce("p2", "WO-1", "DOUGH", "D-2", 5),
				consume("c2", "WO-2", "DOUGH", "D-1", 5),
				produce("p3", "WO-2", "BREAD", "B-1", 5),
			)
			for _, dir := range []core.Direction{core.Forward, core.Backward} {
				for _, ref := range []core.LotRef{{Item: "FLOUR", Lot: "F-A"}, {Item: "BREAD", Lot: "B-1"}} {
					got, err := h.q().Reach(h.ctx, dir, ref)
					if err != nil {
						h.t.Fatal(err)
					}
					tr, err := h.q().Trace(h.ctx, dir, core.Selector{Lot: &ref})
					if err != nil {
						h.t.Fatal(err)
					}
					h.equal(fmt.Sprintf("reach %s %s", dir, ref), got, tr.Lots)
				}
			}
			if _, err := h.q().Reach(h.ctx, core.Forward, core.LotRef{Item: "FLOUR", Lot: "NOPE"}); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("reach of an unknown lot: err = %v, want ENOTFOUND", err)
			}
		}},
		{"Activity", func(h *harness) {
			h.ingest(
				recv("r1", "FLOUR", "F-A", 10, "V", "M-1"), // 2026-03-01T08:00
				consume("c1", "WO-1", "FLOUR", "F-A", 5),   // 2026-03-02
				produce("p1", "WO-1", "DOUGH", "D-1", 5),   // 2026-03-02T12:00
				produce("p2", "WO-1", "DOUGH", "D-2", 5),
				ship("s1", "DOUGH", "D-1", 1, "C-1", "SO-1"), // 2026-03-03T10:00
				ship("s2", "DOUGH", "D-1", 1, "C-2", "SO-2"),
			)
			count := func(day string) string {
				h.t.Helper()
				from, _ := time.Parse(time.DateOnly, day)
				a, err := h.s.Activity(h.ctx, from, from.AddDate(0, 0, 1))
				if err != nil {
					h.t.Fatal(err)
				}
				return fmt.Sprintf("received %d produced %d shipped %d", a.Received, a.Produced, a.Shipped)
			}
			h.equal("day 1", count("2026-03-01"), "received 1 produced 0 shipped 0")
			h.equal("day 2", count("2026-03-02"), "received 0 produced 2 shipped 0")
			h.equal("day 3: one lot shipped twice", count("2026-03-03"), "received 0 produced 0 shipped 1")
			h.ingest(`{"id":"x1","type":"reverse","time":"2026-03-04T00:00:00Z","reverses":"s1"}`, `{"id":"x2","type":"reverse","time":"2026-03-04T00:00:00Z","reverses":"s2"}`)
			h.equal("reversed shipments do not count", count("2026-03-03"), "received 0 produced 0 shipped 0")
		}},
	}...)
}
