package storetest

import (
	"time"

	"github.com/lothub/lothub/core"
)

// Alerts are delivered at least once: a stage claimed by a hub that was
// killed before it finished sending is sent again, later.

func init() {
	cases = append(cases, []testCase{
		{"GapAlertLostToACrash", func(h *harness) {
			c := newClock("2026-03-10T00:00:00Z")
			m := h.monitor(c, core.DefaultGapRules())
			h.ingest(produce("p1", "WO-1", "DOUGH", "D-1", 50))
			h.evaluate(m) // no notifiers: opened, not alerted
			// A hub claims the supervisor alert, and is killed before it
			// has sent it: the stage is claimed, the delivery unconfirmed.
			err := h.s.Ingest(h.ctx, func(tx core.IngestTx) error {
				es, err := tx.Exceptions(h.ctx, core.ExceptionFilter{ID: 1})
				if err != nil {
					return err
				}
				e := es[0]
				e.Stage, e.Status, e.Sending = core.StageSupervisor, core.GapAlerted, c.now()
				return tx.SaveException(h.ctx, &e)
			})
			if err != nil {
				h.t.Fatal(err)
			}
			a := &alerts{}
			m.Alerts = a
			c.add(5 * time.Minute)
			h.evaluate(m)
			h.equal("a delivery may still be under way", len(a.delivered), 0)
			c.add(15 * time.Minute)
			h.evaluate(m)
			h.evaluate(m)
			h.equal("sent again, once", a.delivered, []string{"GAP-1 supervisor"})
			h.equal("history", h.history(m, 1), []string{"opened by hub", "alert_unconfirmed by hub", "alerted by hub"})
			es, err := h.s.Exceptions(h.ctx, core.ExceptionFilter{ID: 1})
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("delivery recorded", es[0].Sending.IsZero(), true)
			h.equal("stage", es[0].Stage, core.StageSupervisor)
		}},
	}...)
}
