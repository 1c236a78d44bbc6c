package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
)

// Worker delivers due actions. Several workers (hubs) may share a store:
// each action is claimed by one. A worker that dies mid-delivery leaves its
// claim to expire (config.Outbox.Lease); the action is then claimed again
// and, before it is sent, the ERP is asked whether it has the document.
type Worker struct {
	Store  core.Store
	Config *config.Hub
	// Alerter receives the alert of an action failed longer than its
	// alert_after; nil: none.
	Alerter core.Alerter
	// Delivered is called after an action is recorded delivered: the
	// audit trail's call site (hub serve and hub outbox run set it when
	// the audit trail exists).
	Delivered func(ctx context.Context, a core.OutboxAction)
	Now       func() time.Time
	Log       *slog.Logger
	// Limit is how many actions one claim takes; 20 when 0.
	Limit int
	// BaseDelay is the first retry's delay, doubled each attempt up to
	// MaxDelay, with ±20 % jitter; 10s and 15m when 0.
	BaseDelay, MaxDelay time.Duration
}

// Stats counts what a pass did.
type Stats struct {
	Claimed   int `json:"claimed"`
	Delivered int `json:"delivered"`
	Found     int `json:"found"` // delivered by an earlier attempt, found in the ERP by its key
	Failed    int `json:"failed"`
	Dead      int `json:"dead"`
	Alerted   int `json:"alerted"`
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now().UTC()
	}
	return time.Now().UTC()
}

func (w *Worker) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.Default()
}

// Run delivers due actions until ctx ends, looking every Poll.
func (w *Worker) Run(ctx context.Context) error {
	poll := time.Duration(w.Config.Outbox.Poll)
	for {
		st, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.log().Error("outbox: pass failed; trying again", "err", err, "in", poll)
		} else if st.Claimed > 0 {
			w.log().Info("outbox pass", "claimed", st.Claimed, "delivered", st.Delivered, "found", st.Found, "failed", st.Failed, "dead", st.Dead)
		}
		// Claimed a full batch: more may be due at once.
		if err == nil && st.Claimed >= w.limit() {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(poll):
		}
	}
}

func (w *Worker) limit() int {
	if w.Limit > 0 {
		return w.Limit
	}
	return 20
}

// RunOnce claims the actions due now, delivers them one after the other,
// and sends the alerts due.
func (w *Worker) RunOnce(ctx context.Context) (Stats, error) {
	var st Stats
	claimed, err := w.Store.ClaimOutbox(ctx, core.OutboxClaim{Now: w.now(), Lease: time.Duration(w.Config.Outbox.Lease), Limit: w.limit()})
	if err != nil {
		return st, err
	}
	st.Claimed = len(claimed)
	for _, a := range claimed {
		if err := ctx.Err(); err != nil {
			return st, err // the claims expire and are taken again
		}
		out := w.attempt(ctx, a)
		switch {
		case out.State == core.OutboxDelivered && out.Error != "":
			st.Found++
		case out.State == core.OutboxDelivered:
			st.Delivered++
		case out.State == core.OutboxFailed:
			st.Failed++
		case out.State == core.OutboxDead:
			st.Dead++
		}
		if err := w.Store.FinishOutbox(context.WithoutCancel(ctx), out); err != nil {
			if core.ErrorCode(err) == core.ECONFLICT {
				w.log().Warn("outbox: outcome not recorded", "action", a.ID, "err", err)
				continue
			}
			return st, err
		}
		if out.State == core.OutboxDelivered {
			a.State, a.Document = out.State, out.Document
			w.log().Info("outbox action delivered", "action", a.ID, "name", a.Action, "event", a.EventID, "document", out.Document)
			if w.Delivered != nil {
				w.Delivered(ctx, a)
			}
		}
	}
	n, err := w.alert(ctx)
	st.Alerted = n
	return st, err
}

// Prepare builds the delivery of a stored action with the current
// configuration: the action, its connector, the event and the fields.
func Prepare(cfg *config.Hub, a core.OutboxAction, dry *DryRun) (*Delivery, target, error) {
	act, err := cfg.Action(a.Action)
	if err != nil {
		return nil, nil, fmt.Errorf("action %q is no longer in %s: add it back, or hub outbox cancel %d", a.Action, cfg.File, a.ID)
	}
	t, ok := targets[act.Kind]
	if !ok {
		return nil, nil, permanent("action %s: unknown kind %q", act.Name, act.Kind)
	}
	var ev core.Event
	if err := json.Unmarshal(a.Payload, &ev); err != nil {
		return nil, nil, permanent("the stored event of action %d is unreadable: %v", a.ID, err)
	}
	fields, err := act.Payload(&ev)
	if err != nil {
		return nil, nil, permanent("the payload cannot be built from event %s: %v (fix the action's fields in hub.yaml, then hub outbox retry %d)", ev.ID, err, a.ID)
	}
	d := &Delivery{Action: act, Key: a.Key, Event: &ev, Fields: fields, Dry: dry, Client: newClient(time.Duration(act.Timeout), dry)}
	if dry != nil {
		dry.secrets = append(dry.secrets, act.Secrets()...)
		for _, s := range act.Secrets() {
			if b, err := json.Marshal(s); err == nil {
				dry.secrets = append(dry.secrets, string(b[1:len(b)-1]))
			}
		}
	}
	if act.Connector != "" {
		if d.Conn, err = cfg.Connector(act.Connector); err != nil {
			return nil, nil, permanent("action %s: %v", act.Name, err)
		}
	}
	return d, t, nil
}

// attempt delivers one claimed action and says how it ended.
func (w *Worker) attempt(ctx context.Context, a core.OutboxAction) core.OutboxOutcome {
	out := core.OutboxOutcome{ID: a.ID, Attempts: a.Attempts}
	d, t, err := Prepare(w.Config, a, nil)
	if err == nil && !d.Action.Enabled {
		err = fmt.Errorf("action %s is disabled in %s: enable it, or hub outbox cancel %d", a.Action, w.Config.File, a.ID)
	}
	var doc string
	var found bool
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(d.Action.Timeout))
		// Every attempt after the first may follow one whose outcome is
		// unknown (a timeout, a lost answer, a worker killed between the
		// ERP's answer and the commit): ask the ERP first.
		if a.Attempts > 1 {
			doc, found, err = t.lookup(ctx, d)
			if errors.Is(err, errNoLookup) {
				err = nil // the receiver deduplicates by Idempotency-Key
			}
		}
		if err == nil && !found {
			doc, err = t.deliver(ctx, d)
		}
		cancel()
	}
	out.Now = w.now()
	out.NextAt = out.Now
	if err == nil {
		out.State, out.Document = core.OutboxDelivered, doc
		if found {
			out.Error = fmt.Sprintf("found in the ERP by its key %s after an attempt of unknown outcome: not sent again", a.Key)
		}
		return out
	}
	f := classify(err)
	out.Error = f.Message
	if f.Permanent {
		out.State = core.OutboxDead
		w.log().Warn("outbox action refused", "action", a.ID, "name", a.Action, "event", a.EventID, "err", f.Message)
		return out
	}
	giveUp := time.Duration(24 * time.Hour)
	if d != nil {
		giveUp = time.Duration(d.Action.GiveUpAfter)
	}
	if !a.FailedSince.IsZero() && out.Now.Sub(a.FailedSince) >= giveUp {
		out.State = core.OutboxDead
		out.Error = fmt.Sprintf("gave up after %s of failures (give_up_after): %s", giveUp, f.Message)
		return out
	}
	out.State = core.OutboxFailed
	out.NextAt = out.Now.Add(w.backoff(a.Attempts, f.RetryAfter))
	w.log().Warn("outbox action failed; will retry", "action", a.ID, "name", a.Action, "event", a.EventID, "attempt", a.Attempts, "at", out.NextAt, "err", f.Message)
	return out
}

// backoff is the delay before the next attempt: what the ERP asked
// (Retry-After), else BaseDelay doubled per attempt up to MaxDelay, with
// ±20 % jitter so that actions failed together do not retry together.
func (w *Worker) backoff(attempts int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	base, maxD := w.BaseDelay, w.MaxDelay
	if base <= 0 {
		base = 10 * time.Second
	}
	if maxD <= 0 {
		maxD = 15 * time.Minute
	}
	d := base
	for i := 1; i < attempts && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// alert sends the alert of every failed or dead action failing for longer
// than its action's alert_after, once.
func (w *Worker) alert(ctx context.Context) (int, error) {
	if w.Alerter == nil {
		return 0, nil
	}
	stuck, err := w.Store.Outbox(ctx, core.OutboxFilter{States: []core.OutboxState{core.OutboxFailed, core.OutboxDead}})
	if err != nil {
		return 0, err
	}
	now := w.now()
	n := 0
	for _, a := range stuck {
		after := time.Hour
		if act, err := w.Config.Action(a.Action); err == nil {
			after = time.Duration(act.AlertAfter)
		}
		if a.FailedSince.IsZero() || !a.AlertedAt.IsZero() || now.Sub(a.FailedSince) < after {
			continue
		}
		if err := w.Alerter.Alert(ctx, StuckAlert(a)); err != nil {
			w.log().Warn("outbox alert not delivered; will retry", "action", a.ID, "err", err)
			continue
		}
		if err := w.Store.MarkOutboxAlerted(ctx, a.ID, now); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// AlertKind is the kind of the alert of a stuck action.
const AlertKind = "outbox_failed"

// StuckAlert is the notifiers' alert of an action that keeps failing:
// the gap-shaped alert every notifier sends, with the action's id as
// OUTBOX-N and what to do in the detail.
func StuckAlert(a core.OutboxAction) core.Alert {
	var ev core.Event
	_ = json.Unmarshal(a.Payload, &ev)
	g := core.Gap{Kind: AlertKind, ID: fmt.Sprintf("OUTBOX-%d", a.ID), Since: a.FailedSince.Format(time.RFC3339), Site: ev.Site,
		Detail: fmt.Sprintf("action %s for event %s is %s after %d attempts: %s. Fix the cause, then hub outbox retry %d (or hub outbox cancel %d)",
			a.Action, a.EventID, a.State, a.Attempts, a.LastError, a.ID, a.ID)}
	if ev.Lot != nil {
		g.Item, g.Lot = ev.Lot.Item, ev.Lot.Lot
	}
	return core.Alert{Stage: core.StageSupervisor, Gap: g}
}
