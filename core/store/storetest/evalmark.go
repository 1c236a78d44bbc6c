package storetest

import (
	"context"

	"github.com/lothub/lothub/core"
)

// Cases for the evaluation mark: whether the gap rules are due is read
// from the store (data version against the version last evaluated), so
// that a process that wrote no events (a sync completing one killed after
// its last commit) still evaluates what another left unevaluated.

func (h *harness) mark() core.EvaluationMark {
	h.t.Helper()
	m, err := h.s.EvaluationMark(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

func (h *harness) markEvaluated(v int64) {
	h.t.Helper()
	if err := h.s.Ingest(h.ctx, func(tx core.IngestTx) error { return tx.MarkEvaluated(h.ctx, v) }); err != nil {
		h.t.Fatal(err)
	}
}

// midway is a store that runs during before its gap facts are read: the
// moment between an evaluation's start and its end.
type midway struct {
	core.Store
	during func()
}

func (s midway) GapFacts(ctx context.Context, p core.GapFactsParams) (*core.GapFacts, error) {
	if s.during != nil {
		s.during()
	}
	return s.Store.GapFacts(ctx, p)
}

func init() {
	cases = append(cases, []testCase{
		{"EvaluationMarkFollowsEventWrites", func(h *harness) {
			h.equal("a new store", h.mark(), core.EvaluationMark{})
			h.equal("a new store is not due", h.mark().Due(), false)
			h.ingest(recv("r1", "FLOUR", "F-A", 100, "V", "X"))
			m1 := h.mark()
			if !m1.Due() || m1.Evaluated != 0 {
				h.t.Fatalf("after a receipt: %+v, want due", m1)
			}
			m := h.monitor(newClock("2026-03-05T00:00:00Z"), core.DefaultGapRules())
			h.evaluate(m)
			h.equal("evaluated", h.mark(), core.EvaluationMark{Version: m1.Version, Evaluated: m1.Version})

			h.ingest(recv("r1", "FLOUR", "F-A", 100, "V", "X"))
			h.equal("a duplicate writes no event: not due", h.mark().Due(), false)
			h.ingest("not json")
			h.equal("quarantined input writes no event: not due", h.mark().Due(), false)

			for _, c := range []struct{ what, event string }{
				{"a correction (new version)", recv("r1", "FLOUR", "F-A", 90, "V", "X")},
				{"a consumption", consume("c1", "WO-1", "FLOUR", "F-A", 40)},
				{"a reversal", reverse("x1", "c1")},
			} {
				before := h.mark().Version
				h.ingest(c.event)
				got := h.mark()
				if got.Version <= before || !got.Due() {
					h.t.Errorf("after %s: %+v, want the version raised past %d and due", c.what, got, before)
				}
				h.evaluate(m)
				if got := h.mark(); got.Due() {
					h.t.Errorf("evaluated after %s: still due (%+v)", c.what, got)
				}
			}
		}},
		{"EvaluateIfDueCatchesUpWhatAnotherWriterLeft", func(h *harness) {
			c := newClock("2026-03-05T00:00:00Z")
			// One writer stored events and never evaluated (killed after
			// its commit, or --evaluate=false).
			h.ingest(
				consume("c1", "WO-1", "FLOUR", "F-UNKNOWN", 40),
				produce("p1", "WO-1", "DOUGH", "D-1", 40),
			)
			// The next one writes nothing and decides from the store.
			m := h.monitor(c, core.DefaultGapRules())
			res, ran, err := m.EvaluateIfDue(h.ctx)
			if err != nil {
				h.t.Fatal(err)
			}
			if !ran || res.Opened == 0 {
				h.t.Fatalf("EvaluateIfDue on unevaluated events: ran %v, %+v; want the gaps opened", ran, res)
			}
			want := h.gapList(m, core.ExceptionFilter{})
			res, ran, err = m.EvaluateIfDue(h.ctx)
			if err != nil || ran {
				h.t.Errorf("EvaluateIfDue with nothing new: ran %v (%+v, %v), want not run", ran, res, err)
			}
			h.equal("gaps", h.gapList(m, core.ExceptionFilter{}), want)
		}},
		{"EventsWrittenDuringAnEvaluationKeepItDue", func(h *harness) {
			h.ingest(recv("r1", "FLOUR", "F-A", 100, "V", "X"))
			s := midway{Store: h.s}
			s.during = func() {
				s.during = nil
				h.ingest(consume("c1", "WO-1", "FLOUR", "F-A", 40))
			}
			m := &core.Monitor{Store: &s, Rules: core.DefaultGapRules(), Now: newClock("2026-03-05T00:00:00Z").now, Sleep: noSleep}
			if _, err := m.Evaluate(h.ctx); err != nil {
				h.t.Fatal(err)
			}
			if got := h.mark(); !got.Due() {
				h.t.Errorf("an event written while the rules ran (after they read the store's version) is taken for evaluated: %+v", got)
			}
		}},
		{"EvaluationMarkNeverMovesBack", func(h *harness) {
			h.ingest(recv("r1", "FLOUR", "F-A", 100, "V", "X"))
			h.ingest(recv("r2", "FLOUR", "F-B", 100, "V", "X"))
			v := h.mark().Version
			h.markEvaluated(v)
			// A slower evaluation that started before the last write ends
			// after the faster one.
			h.markEvaluated(v - 1)
			h.equal("mark", h.mark(), core.EvaluationMark{Version: v, Evaluated: v})
		}},
	}...)
}
