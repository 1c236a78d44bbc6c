package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/core"
)

// The outbox: an action is recorded in the transaction of the event that
// sets it off, once per event and action, and two workers never claim the
// same action.

// receiptActions sets off one "post-receipt" action for every receive
// event, whatever its source.
type receiptActions struct{}

func (receiptActions) Trigger(t core.Trigger) []core.OutboxAction {
	if t.Event.Type != core.Receive {
		return nil
	}
	return []core.OutboxAction{{
		Key: core.OutboxKey(t.Event.ID, "post-receipt"), Action: "post-receipt", Kind: "http", EventID: t.Event.ID,
		Payload: []byte(fmt.Sprintf(`{"lot":%q,"source":%q}`, t.Event.Lot.Lot, t.Source)), State: core.OutboxPending,
		NextAt: t.Now, CreatedAt: t.Now,
	}}
}

func (h *harness) ingestActions(now time.Time, lines ...string) {
	h.t.Helper()
	in := core.Ingester{Store: h.s, Now: func() time.Time { return now }, Actions: receiptActions{}}
	if _, err := in.IngestJSONL(h.ctx, strings.NewReader(strings.Join(lines, "\n")), "dock.jsonl"); err != nil {
		h.t.Fatalf("ingest: %v", err)
	}
}

func (h *harness) outbox(f core.OutboxFilter) []core.OutboxAction {
	h.t.Helper()
	as, err := h.s.Outbox(h.ctx, f)
	if err != nil {
		h.t.Fatalf("outbox: %v", err)
	}
	return as
}

func (h *harness) claim(now time.Time, lease time.Duration, limit int) []core.OutboxAction {
	h.t.Helper()
	as, err := h.s.ClaimOutbox(h.ctx, core.OutboxClaim{Now: now, Lease: lease, Limit: limit})
	if err != nil {
		h.t.Fatalf("claim: %v", err)
	}
	return as
}

func outboxSummary(as []core.OutboxAction) string {
	var out []string
	for _, a := range as {
		s := fmt.Sprintf("%s/%s:%s#%d", a.EventID, a.Action, a.State, a.Attempts)
		if a.Document != "" {
			s += " " + a.Document
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func init() {
	t0 := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	cases = append(cases, []testCase{
		{"OutboxActionWrittenWithItsEventOnce", func(h *harness) {
			h.ingestActions(t0, recv("r1", "SUGAR", "S-1", 100, "V1", "VL-1"), produce("p1", "WO-1", "DOUGH", "D-1", 5))
			got := h.outbox(core.OutboxFilter{})
			h.equal("actions of a receipt and a production", outboxSummary(got), "r1/post-receipt:pending#0")
			h.equal("key", got[0].Key, core.OutboxKey("r1", "post-receipt"))
			h.equal("payload", string(got[0].Payload), `{"lot":"S-1","source":"dock.jsonl"}`)
			h.equal("due", got[0].NextAt, t0)
			// The same event again, and a new version of it: still one action.
			h.ingestActions(t0.Add(time.Hour), recv("r1", "SUGAR", "S-1", 100, "V1", "VL-1"), recv("r1", "SUGAR", "S-1", 90, "V1", "VL-1"))
			h.equal("after a duplicate and a new version", outboxSummary(h.outbox(core.OutboxFilter{})), "r1/post-receipt:pending#0")
			h.equal("by event", len(h.outbox(core.OutboxFilter{EventIDs: []string{"p1", "r1"}})), 1)
			h.equal("by other event", len(h.outbox(core.OutboxFilter{EventIDs: []string{"p1"}})), 0)
		}},
		{"OutboxActionRolledBackWithItsEvent", func(h *harness) {
			boom := errors.New("the write failed")
			err := h.s.Ingest(h.ctx, func(tx core.IngestTx) error {
				c, _, err := core.Plan(h.ctx, tx, []core.PreparedEvent{core.Prepare(mustEvent(h, recv("r1", "SUGAR", "S-1", 1, "V1", "VL-1")))}, t0, nil)
				if err != nil {
					return err
				}
				c.Outbox = receiptActions{}.Trigger(core.Trigger{Event: mustEvent(h, recv("r1", "SUGAR", "S-1", 1, "V1", "VL-1")), Now: t0})
				if err := tx.Write(h.ctx, c); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				h.t.Fatalf("ingest: %v, want the failure", err)
			}
			h.equal("actions of a rolled back event", len(h.outbox(core.OutboxFilter{})), 0)
		}},
		{"OutboxClaimFinishRetryCancel", func(h *harness) {
			h.ingestActions(t0, recv("r1", "SUGAR", "S-1", 1, "V1", "VL-1"), recv("r2", "SALT", "T-1", 1, "V1", "VL-2"))
			lease := 5 * time.Minute
			got := h.claim(t0, lease, 10)
			h.equal("claimed", outboxSummary(got), "r1/post-receipt:delivering#1 r2/post-receipt:delivering#1")
			h.equal("claimed again at once", len(h.claim(t0.Add(time.Minute), lease, 10)), 0)
			r1, r2 := got[0], got[1]
			// r1 is delivered; r2's worker dies and its lease runs out.
			if err := h.s.FinishOutbox(h.ctx, core.OutboxOutcome{ID: r1.ID, Attempts: 1, State: core.OutboxDelivered, Document: "5000000001", Now: t0.Add(time.Second), NextAt: t0}); err != nil {
				h.t.Fatal(err)
			}
			again := h.claim(t0.Add(lease+time.Second), lease, 10)
			h.equal("reclaimed after the lease", outboxSummary(again), "r2/post-receipt:delivering#2")
			// The first worker wakes up: its outcome is refused.
			err := h.s.FinishOutbox(h.ctx, core.OutboxOutcome{ID: r2.ID, Attempts: 1, State: core.OutboxDelivered, Document: "X", Now: t0})
			h.equal("stale outcome", core.ErrorCode(err), core.ECONFLICT)
			failAt := t0.Add(lease + 2*time.Second)
			if err := h.s.FinishOutbox(h.ctx, core.OutboxOutcome{ID: r2.ID, Attempts: 2, State: core.OutboxFailed, Error: "HTTP 503", Now: failAt, NextAt: failAt.Add(time.Minute)}); err != nil {
				h.t.Fatal(err)
			}
			h.equal("not due yet", len(h.claim(failAt.Add(30*time.Second), lease, 10)), 0)
			third := h.claim(failAt.Add(time.Minute), lease, 10)
			h.equal("due again", outboxSummary(third), "r2/post-receipt:delivering#3")
			if err := h.s.FinishOutbox(h.ctx, core.OutboxOutcome{ID: r2.ID, Attempts: 3, State: core.OutboxDead, Error: "400: batch exists", Now: failAt.Add(2 * time.Minute), NextAt: failAt}); err != nil {
				h.t.Fatal(err)
			}
			dead := h.outbox(core.OutboxFilter{ID: r2.ID})[0]
			h.equal("dead", fmt.Sprint(dead.State, " ", dead.LastError, " ", dead.FailedSince), "dead 400: batch exists "+failAt.String())
			h.equal("dead are not claimed", len(h.claim(failAt.Add(time.Hour), lease, 10)), 0)
			h.equal("retry delivered", core.ErrorCode(h.s.RetryOutbox(h.ctx, r1.ID, failAt)), core.ECONFLICT)
			h.equal("cancel delivered", core.ErrorCode(h.s.CancelOutbox(h.ctx, r1.ID, "no", failAt)), core.ECONFLICT)
			h.equal("retry unknown", core.ErrorCode(h.s.RetryOutbox(h.ctx, 999, failAt)), core.ENOTFOUND)
			if err := h.s.MarkOutboxAlerted(h.ctx, r2.ID, failAt); err != nil {
				h.t.Fatal(err)
			}
			if err := h.s.RetryOutbox(h.ctx, r2.ID, failAt.Add(time.Hour)); err != nil {
				h.t.Fatal(err)
			}
			re := h.outbox(core.OutboxFilter{ID: r2.ID})[0]
			h.equal("retried", fmt.Sprint(re.State, " ", re.Attempts, " ", re.FailedSince.IsZero(), " ", re.AlertedAt.IsZero()), "pending 3 true true")
			if err := h.s.CancelOutbox(h.ctx, r2.ID, "entered by hand in the ERP", failAt); err != nil {
				h.t.Fatal(err)
			}
			h.equal("cancelled", outboxSummary(h.outbox(core.OutboxFilter{States: []core.OutboxState{core.OutboxCancelled}})), "r2/post-receipt:cancelled#3")
			h.equal("delivered", outboxSummary(h.outbox(core.OutboxFilter{States: []core.OutboxState{core.OutboxDelivered}})), "r1/post-receipt:delivered#1 5000000001")
			// The ERP's answers and the operator's decisions are in the
			// audit trail, newest first; a transient failure is not.
			es := h.auditLog(core.AuditFilter{Action: "outbox."})
			var entries []string
			for _, e := range es {
				entries = append(entries, e.Action+" "+e.Object+" "+e.Reason)
			}
			h.equal("audit", strings.Join(entries, "; "), fmt.Sprintf("outbox.cancelled outbox:%d entered by hand in the ERP; outbox.retried outbox:%d ; outbox.dead outbox:%d ; outbox.delivered outbox:%d ", r2.ID, r2.ID, r2.ID, r1.ID))
			if v := h.verify(nil); !v.OK {
				h.t.Fatalf("the chain does not verify after the outbox's entries: %+v", v.Problems)
			}
		}},
		{"OutboxConcurrentClaimsTakeEachActionOnce", func(h *harness) {
			var lines []string
			for i := range 40 {
				lines = append(lines, recv(fmt.Sprintf("r%02d", i), "SUGAR", fmt.Sprintf("S-%02d", i), 1, "V1", "VL"))
			}
			h.ingestActions(t0, lines...)
			var mu sync.Mutex
			var ids []int64
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for {
						as, err := h.s.ClaimOutbox(h.ctx, core.OutboxClaim{Now: t0, Lease: time.Hour, Limit: 3})
						if err != nil {
							h.t.Error(err)
							return
						}
						if len(as) == 0 {
							return
						}
						mu.Lock()
						for _, a := range as {
							ids = append(ids, a.ID)
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			slices.Sort(ids)
			h.equal("claims", len(ids), 40)
			h.equal("each once", len(slices.Compact(ids)), 40)
		}},
	}...)
}
