package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
)

// Cases for the gap kinds of issue 15: quarantined input (§1) and items
// in several units (§7). Both are raised, alerted and resolved like any
// gap, and both are a function of what is stored, not of the order it
// came in.

// qty builds an event of type typ on a lot with a quantity in a unit at a
// time.
func qty(id, typ, item, lot string, q float64, uom, at string) string {
	extra := ""
	switch typ {
	case "receive":
		extra = `,"supplier":{"id":"V","name":"V Co"}`
	case "consume", "produce":
		extra = `,"order":"WO-U"`
	case "ship":
		extra = `,"customer":{"id":"C","name":"C Foods"}`
	}
	return fmt.Sprintf(`{"id":%q,"type":%q,"time":%q,"lot":{"item":%q,"lot":%q},"qty":%g,"uom":%q%s}`, id, typ, at, item, lot, q, uom, extra)
}

// gapFacts renders the open gaps of the kinds asked for with what users
// read in them.
func (h *harness) gapFacts(s core.Store, kinds ...string) []string {
	h.t.Helper()
	es, err := s.Exceptions(h.ctx, core.ExceptionFilter{Open: true})
	if err != nil {
		h.t.Fatal(err)
	}
	out := []string{}
	for _, e := range es {
		if slices.Contains(kinds, e.Kind) {
			out = append(out, fmt.Sprintf("%s %s/%s since %s records %v: %s", e.Key, e.Item, e.Lot, e.Since.Format(time.RFC3339), e.Records, e.Detail))
		}
	}
	slices.Sort(out)
	return out
}

func init() {
	cases = append(cases, []testCase{
		{"QuarantinedInputIsAGap", func(h *harness) {
			// h.ingest quarantines at 2026-04-01T00:00:00Z (its clock).
			c := newClock("2026-04-01T06:00:00Z")
			al := &alerts{}
			m := h.monitor(c, core.DefaultGapRules())
			m.Alerts = al
			st := h.ingest(
				recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				strings.Replace(recv("bad1", "FLOUR", "F-Z", 5, "V", "Y"), `"qty":5`, `"qty":-5`, 1),
				strings.Replace(recv("bad2", "SALT", "S-1", 5, "V", "Y"), `"lot":"S-1"`, `"lot":"N/A"`, 1),
				`not an event`,
			)
			h.equal("quarantined", st.Quarantined, 3)
			r := h.evaluate(m)
			h.equal("opened and alerted", fmt.Sprint(r.Opened, r.Alerted), "1 1")
			got := h.gapFacts(h.s, core.GapQuarantined)
			if len(got) != 1 || !strings.HasPrefix(got[0], "quarantined:test.jsonl / since 2026-04-01T00:00:00Z records []: 3 records from test.jsonl are in quarantine") ||
				!strings.Contains(got[0], "hub errors") {
				h.t.Errorf("one gap for the file, saying how many:\n%s", strings.Join(got, "\n"))
			}
			h.equal("alerted through the notifiers", al.delivered, []string{"GAP-1 supervisor"})
			gaps, err := m.GapList(h.ctx, core.ExceptionFilter{Open: true})
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("severity", gaps[0].Severity, core.SeverityHigh)

			// One is fixed at the source and sent again: the gap follows
			// (two records left), without a new alert.
			h.ingest(recv("bad2", "SALT", "S-1", 5, "V", "Y"))
			h.evaluate(m)
			got = h.gapFacts(h.s, core.GapQuarantined)
			if len(got) != 1 || !strings.HasPrefix(got[0], "quarantined:test.jsonl / since 2026-04-01T00:00:00Z records []: 2 records from test.jsonl") {
				h.t.Errorf("after one is fixed:\n%s", strings.Join(got, "\n"))
			}
			// Escalation: still open after the delay → quality.
			c.add(25 * time.Hour)
			h.evaluate(m)
			h.equal("escalated", al.delivered, []string{"GAP-1 supervisor", "GAP-1 quality"})
			h.equal("the alerts were not repeated", len(al.delivered), 2)
		}},
		{"QuarantineGapFollowsEntries", func(h *harness) {
			c := newClock("2026-04-01T06:00:00Z")
			m := h.monitor(c, core.DefaultGapRules())
			bad := func(id, lot string) string {
				return strings.Replace(recv(id, "FLOUR", lot, 5, "V", "Y"), `"qty":5`, `"qty":-5`, 1)
			}
			h.ingest(bad("bad1", "F-Z"), bad("bad2", "F-Y"))
			h.evaluate(m)
			h.equal("two records", len(h.gapFacts(h.s, core.GapQuarantined)), 1)
			// bad2 is fixed: the one left names its lot and event.
			h.ingest(recv("bad2", "FLOUR", "F-Y", 5, "V", "Y"))
			h.evaluate(m)
			got := h.gapFacts(h.s, core.GapQuarantined)
			if len(got) != 1 || !strings.HasPrefix(got[0], "quarantined:test.jsonl FLOUR/F-Z since 2026-04-01T00:00:00Z records [bad1]: 1 record from test.jsonl is in quarantine") ||
				!strings.Contains(got[0], "event bad1: ") {
				h.t.Errorf("after one is fixed:\n%s", strings.Join(got, "\n"))
			}
			// bad1 too: nothing left, the gap resolves by itself.
			h.ingest(recv("bad1", "FLOUR", "F-Z", 5, "V", "Y"))
			r := h.evaluate(m)
			h.equal("resolved", r.Resolved, 1)
			h.equal("gaps", h.gapList(m, core.ExceptionFilter{}), []string{"quarantined:FLOUR/F-Z:resolved"})

			// A source record that fails to map (a connector sync): its
			// own gap, resolved when the fixed mapping maps it (hub remap).
			fail := mapped("erp", "doc-9", `{"n":9}`)
			fail.Err = errors.New(`record doc-9: rule "receipt": var uom: lookup: no entry "sack" in table "units"`)
			h.ingestRecords("", fail)
			h.evaluate(m)
			got = h.gapFacts(h.s, core.GapQuarantined)
			if len(got) != 1 || !strings.HasPrefix(got[0], "quarantined:erp / since 2026-04-01T00:00:00Z records []: 1 record from erp is in quarantine") ||
				!strings.Contains(got[0], `no entry "sack"`) {
				h.t.Errorf("a record that failed to map:\n%s", strings.Join(got, "\n"))
			}
			// Read again a day later, still failing: the gap keeps its
			// since (when the record was first quarantined).
			later := core.Ingester{Store: h.s, Now: func() time.Time { return time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC) }}
			if _, err := later.IngestRecords(h.ctx, []core.MappedRecord{fail}, "", nil); err != nil {
				h.t.Fatal(err)
			}
			h.evaluate(m)
			if got := h.gapFacts(h.s, core.GapQuarantined); len(got) != 1 || !strings.HasPrefix(got[0], "quarantined:erp / since 2026-04-01T00:00:00Z") {
				h.t.Errorf("read again:\n%s", strings.Join(got, "\n"))
			}
			h.ingestRecords("remap-1", mapped("erp", "doc-9", `{"n":9}`, recv("r9", "FLOUR", "F-9", 5, "V", "Y")))
			h.evaluate(m)
			h.equal("released by the remap", h.gapFacts(h.s, core.GapQuarantined), []string{})
			// A later broken mapping fails it again: quarantined anew, since
			// then.
			if _, err := later.IngestRecords(h.ctx, []core.MappedRecord{fail}, "", nil); err != nil {
				h.t.Fatal(err)
			}
			h.evaluate(m)
			if got := h.gapFacts(h.s, core.GapQuarantined); len(got) != 1 || !strings.HasPrefix(got[0], "quarantined:erp / since 2026-04-02T00:00:00Z") {
				h.t.Errorf("failing again after a release:\n%s", strings.Join(got, "\n"))
			}
			h.ingestRecords("remap-2", mapped("erp", "doc-9", `{"n":9}`, recv("r9", "FLOUR", "F-9", 5, "V", "Y")))
			h.evaluate(m)

			// Off in hub.yaml: no gap, and an open one resolves.
			h.ingest(bad("bad3", "F-X"))
			rules := core.DefaultGapRules()
			rules.Quarantined.Off = true
			h.evaluate(h.monitor(c, rules))
			h.equal("rule off", h.gapFacts(h.s, core.GapQuarantined), []string{})
			// A window, measured from the quarantine time.
			rules = core.DefaultGapRules()
			rules.Quarantined.Window = 12 * time.Hour
			h.evaluate(h.monitor(c, rules)) // 6 h after
			h.equal("window open", h.gapFacts(h.s, core.GapQuarantined), []string{})
			c.add(6 * time.Hour)
			h.evaluate(h.monitor(c, rules))
			h.equal("window closed", len(h.gapFacts(h.s, core.GapQuarantined)), 1)
		}},
		{"QuarantineGapIndependentOfBatches", func(h *harness) {
			// The same input in one delivery, or in three in another order,
			// with the same source: the same gap.
			lines := []string{recv("r1", "FLOUR", "F-A", 100, "V", "X")}
			for i := range 7 {
				lines = append(lines, strings.Replace(recv(fmt.Sprintf("bad%d", i), "FLOUR", fmt.Sprintf("F-%d", i), 5, "V", "Y"), `"qty":5`, `"qty":-5`, 1))
			}
			lines = append(lines, `{"broken`)
			c := newClock("2026-04-01T06:00:00Z")
			ingest := func(s core.Store, parts ...[]string) {
				in := core.Ingester{Store: s, Now: func() time.Time { return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) }, BatchSize: 2}
				m := &core.Monitor{Store: s, Rules: core.DefaultGapRules(), Now: c.now, Sleep: noSleep}
				for _, p := range parts {
					if _, err := in.IngestJSONL(h.ctx, strings.NewReader(strings.Join(p, "\n")), "plant.jsonl"); err != nil {
						h.t.Fatal(err)
					}
					if _, err := m.Evaluate(h.ctx); err != nil {
						h.t.Fatal(err)
					}
				}
			}
			ingest(h.s, lines)
			other := h.open(h.t)
			ingest(other, lines[6:], lines[:3], lines[3:6])
			want := h.gapFacts(h.s, core.GapQuarantined)
			h.equal("one gap", len(want), 1)
			h.equal("in three deliveries", h.gapFacts(other, core.GapQuarantined), want)
		}},
		{"MixedUnitsIsAGap", func(h *harness) {
			c := newClock("2026-03-10T00:00:00Z")
			al := &alerts{}
			m := h.monitor(c, core.DefaultGapRules())
			m.Alerts = al
			lines := []string{
				qty("r1", "receive", "FLOUR", "F-A", 100, "KG", "2026-03-01T08:00:00Z"),
				qty("r2", "receive", "FLOUR", "F-B", 50, "KG", "2026-03-02T08:00:00Z"),
				qty("s1", "ship", "FLOUR", "F-A", 40, "KG", "2026-03-03T08:00:00Z"),
				// A receipt in pounds: the mapping has no conversion.
				qty("r3", "receive", "FLOUR", "F-X", 20, "LBR", "2026-03-02T09:00:00Z"),
				qty("s2", "ship", "FLOUR", "F-X", 5, "LBR", "2026-03-04T08:00:00Z"),
				// DOUGH is made in EA by a transform, and received in KG.
				`{"id":"t1","type":"transform","time":"2026-03-05T08:00:00Z","inputs":[{"item":"FLOUR","lot":"F-B","qty":10,"uom":"KG"}],"outputs":[{"item":"DOUGH","lot":"D-1","qty":5,"uom":"EA"}]}`,
				qty("r4", "receive", "DOUGH", "D-2", 3, "KG", "2026-03-06T08:00:00Z"),
				// SALT in one unit: nothing.
				qty("r5", "receive", "SALT", "S-1", 3, "KG", "2026-03-06T08:00:00Z"),
			}
			h.ingest(lines...)
			r := h.evaluate(m)
			h.equal("opened", r.Opened, 2)
			h.equal("gaps", h.gapList(m, core.ExceptionFilter{Open: true}), []string{"mixed_units:DOUGH/D-2:alerted", "mixed_units:FLOUR/F-X:alerted"})
			got := h.gapFacts(h.s, core.GapMixedUnits)
			h.equal("facts", strings.Join(got, "\n"), strings.Join([]string{
				"mixed_units:DOUGH DOUGH/D-2 since 2026-03-06T08:00:00Z records [r4]: item DOUGH carries quantities in 2 units: " +
					"EA: 1 lot (D-1), first in event t1 at 2026-03-05T08:00:00Z; KG: 1 lot (D-2), first in event r4 at 2026-03-06T08:00:00Z. " +
					"On hand and mass balance are kept per unit, so its quantities in KG are not added to those in EA: add a conversion to the mapping's units: table (e.g. KG: {EA: FACTOR}), convert() the quantity in its rule and run hub remap (canonical events sent as such: correct their unit at the source); or, if the item really is kept in several units, allow them under gaps.rules.mixed_units.allow in hub.yaml",
				"mixed_units:FLOUR FLOUR/F-X since 2026-03-02T09:00:00Z records [r3 s2]: item FLOUR carries quantities in 2 units: " +
					"KG: 2 lots (F-A, F-B), first in event r1 at 2026-03-01T08:00:00Z; LBR: 1 lot (F-X), first in event r3 at 2026-03-02T09:00:00Z. " +
					"On hand and mass balance are kept per unit, so its quantities in LBR are not added to those in KG: add a conversion to the mapping's units: table (e.g. LBR: {KG: FACTOR}), convert() the quantity in its rule and run hub remap (canonical events sent as such: correct their unit at the source); or, if the item really is kept in several units, allow them under gaps.rules.mixed_units.allow in hub.yaml",
			}, "\n"))
			h.equal("alerted", al.delivered, []string{"GAP-1 supervisor", "GAP-2 supervisor"})

			// In another store, in the reverse order and one at a time:
			// the same gaps (the main unit is not the one that came first).
			other := h.open(h.t)
			in := core.Ingester{Store: other, Now: func() time.Time { return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) }}
			m2 := &core.Monitor{Store: other, Rules: core.DefaultGapRules(), Now: c.now, Sleep: noSleep}
			for i := len(lines) - 1; i >= 0; i-- {
				if _, err := in.IngestJSONL(h.ctx, strings.NewReader(lines[i]), "late.jsonl"); err != nil {
					h.t.Fatal(err)
				}
				if _, err := m2.Evaluate(h.ctx); err != nil {
					h.t.Fatal(err)
				}
			}
			h.equal("in reverse order", h.gapFacts(other, core.GapMixedUnits), got)

			// Allowed in hub.yaml: DOUGH in EA and KG is fine, FLOUR only
			// in KG and G is not.
			rules := core.DefaultGapRules()
			rules.UnitsAllowed = map[string][]string{"DOUGH": {"EA", "KG"}, "FLOUR": {"KG", "G"}}
			h.evaluate(h.monitor(c, rules))
			h.equal("allowed", h.gapList(m, core.ExceptionFilter{}), []string{"mixed_units:DOUGH/D-2:resolved", "mixed_units:FLOUR/F-X:alerted"})

			// The pound receipts are corrected at the source (reversed and
			// sent again in KG): FLOUR's gap resolves by itself.
			h.ingest(reverse("x1", "r3"), reverse("x2", "s2"),
				qty("r3kg", "receive", "FLOUR", "F-X", 9.07, "KG", "2026-03-02T09:00:00Z"))
			r = h.evaluate(m)
			h.equal("resolved", r.Resolved, 1)
			h.equal("after the correction", h.gapList(m, core.ExceptionFilter{Open: true}), []string{"mixed_units:DOUGH/D-2:alerted"})
			// Reversing the correction brings it back.
			h.ingest(reverse("x3", "x1"))
			h.evaluate(m)
			h.equal("reopened", h.gapList(m, core.ExceptionFilter{Open: true}), []string{"mixed_units:DOUGH/D-2:alerted", "mixed_units:FLOUR/F-X:alerted"})
			rules = core.DefaultGapRules()
			rules.MixedUnits.Off = true
			h.evaluate(h.monitor(c, rules))
			h.equal("rule off", h.gapFacts(h.s, core.GapMixedUnits), []string{})
		}},
	}...)
}
