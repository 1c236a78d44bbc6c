package core

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Alert is what a notifier is asked to deliver: a gap reaching an
// escalation stage.
type Alert struct {
	Stage int // StageSupervisor or StageQuality
	Gap   Gap
}

// Channel names the audience of a stage: "supervisor" or "quality".
func (a Alert) Channel() string {
	if a.Stage == StageQuality {
		return "quality"
	}
	return "supervisor"
}

// Alerter delivers alerts. Implementations route by stage and site and do
// their own I/O; core/notify holds the webhook, SMTP and log notifiers.
// Alert returns an error when delivery failed; the Monitor retries.
type Alerter interface {
	Alert(ctx context.Context, a Alert) error
}

// Monitor turns the gap rules into stored exceptions and works them:
// evaluation (on every ingest and on a schedule), acknowledgement,
// waiver, retroactive confirmation, escalation. It does no I/O but
// through Store and Alerter.
type Monitor struct {
	Store  Store
	Rules  GapRules
	Now    func() time.Time // the clock; time.Now when nil. Windows and escalation use it.
	Alerts Alerter          // nil: no alerts
	Log    *slog.Logger     // nil: slog.Default()
	// Attempts is how often an alert is tried per evaluation (3 when 0);
	// Sleep waits between attempts (doubling from 1 s) and may be
	// replaced in tests.
	Attempts int
	Sleep    func(ctx context.Context, d time.Duration) error
}

// unconfirmedAfter is how long an alert may stay claimed without its
// delivery being confirmed before it is taken for lost (the hub was killed
// while sending) and sent again: far longer than a delivery takes
// (Attempts tries of a notifier's request timeout). Alerts are delivered
// at least once; a hub killed right after a delivery and before recording
// it sends that alert twice.
const unconfirmedAfter = 15 * time.Minute

func (m *Monitor) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

func (m *Monitor) log() *slog.Logger {
	if m.Log != nil {
		return m.Log
	}
	return slog.Default()
}

// EvalResult counts what an evaluation changed.
type EvalResult struct {
	Opened   int `json:"opened"`
	Reopened int `json:"reopened"`
	Resolved int `json:"resolved"`
	Open     int `json:"open"` // exceptions not closed after the evaluation
	Alerted  int `json:"alerted"`
	Failed   int `json:"alerts_failed"`
	Held     int `json:"born_on_hold"`
	// HoldsWithdrawn counts born-on-hold holds withdrawn: a release,
	// reversal or correction that arrived late took away their reason.
	HoldsWithdrawn int `json:"holds_withdrawn"`
}

// Evaluate applies the gap rules to the store now: new gaps are opened,
// gaps whose condition is gone are resolved (the late event arrived), a
// resolved gap whose condition returns is reopened, lots made from held
// material are put on hold, and open gaps are alerted and escalated.
// Confirmed and waived gaps stay closed.
func (m *Monitor) Evaluate(ctx context.Context) (EvalResult, error) {
	res, now, err := m.Detect(ctx)
	if err != nil {
		return res, err
	}
	res.Alerted, res.Failed = m.Alert(ctx, now)
	return res, nil
}

// Detect is the first half of Evaluate: holds applied and gaps opened,
// reopened or resolved in the store, without alerting. It returns the
// time it evaluated at, for Alert.
//
// When it completes it marks the store evaluated up to the data version it
// read before it began (EvaluationMark): events written meanwhile, by this
// process or another, keep evaluation due.
func (m *Monitor) Detect(ctx context.Context) (EvalResult, time.Time, error) {
	var res EvalResult
	mark, err := m.Store.EvaluationMark(ctx)
	if err != nil {
		return res, time.Time{}, fmt.Errorf("evaluate gaps: %w", err)
	}
	held, err := m.ApplyHolds(ctx)
	if err != nil {
		return res, time.Time{}, err
	}
	res.Held, res.HoldsWithdrawn = held.Held, held.Withdrawn
	now := m.now()
	facts, err := m.Store.GapFacts(ctx, m.Rules.Params())
	if err != nil {
		return res, now, fmt.Errorf("evaluate gaps: %w", err)
	}
	found := DetectGaps(facts, m.Rules, now)
	err = m.Store.Ingest(ctx, func(tx IngestTx) error {
		res.Opened, res.Reopened, res.Resolved, res.Open = 0, 0, 0, 0
		var opened, reopened, resolved []string
		keys := make([]string, len(found))
		for i, g := range found {
			keys[i] = g.Key
		}
		known, err := tx.Exceptions(ctx, ExceptionFilter{Keys: keys})
		if err != nil {
			return err
		}
		byKey := make(map[string]Exception, len(known))
		for _, e := range known {
			byKey[e.Key] = e
		}
		present := make(map[string]bool, len(found))
		for _, g := range found {
			present[g.Key] = true
			e, ok := byKey[g.Key]
			switch {
			case !ok:
				g.Status, g.Opened, g.Updated = GapOpen, now, now
				if err := tx.SaveException(ctx, &g); err != nil {
					return err
				}
				res.Opened++
				opened = append(opened, g.GapID())
				if err := tx.LogException(ctx, ExceptionEvent{GapID: g.ID, At: now, Action: "opened", By: "hub", Note: g.Detail}); err != nil {
					return err
				}
			case e.Status == GapResolved:
				e.setFacts(g)
				e.Status, e.Stage, e.Updated = GapOpen, StageNone, now
				if err := tx.SaveException(ctx, &e); err != nil {
					return err
				}
				res.Reopened++
				reopened = append(reopened, e.GapID())
				if err := tx.LogException(ctx, ExceptionEvent{GapID: e.ID, At: now, Action: "reopened", By: "hub", Note: "the condition is back: " + g.Detail}); err != nil {
					return err
				}
			case !e.Status.Closed() && !e.sameFacts(g):
				// Late events change what a gap is about (an earlier event
				// of the order, another order of the lot): the stored gap
				// follows, so that it reads the same whatever order the
				// events came in.
				e.setFacts(g)
				e.Updated = now
				if err := tx.SaveException(ctx, &e); err != nil {
					return err
				}
			}
		}
		open, err := tx.Exceptions(ctx, ExceptionFilter{Open: true})
		if err != nil {
			return err
		}
		for _, e := range open {
			if present[e.Key] {
				res.Open++
				continue
			}
			e.Status, e.Updated = GapResolved, now
			if err := tx.SaveException(ctx, &e); err != nil {
				return err
			}
			res.Resolved++
			resolved = append(resolved, e.GapID())
			if err := tx.LogException(ctx, ExceptionEvent{GapID: e.ID, At: now, Action: "resolved", By: "hub", Note: "a later event closed the gap"}); err != nil {
				return err
			}
		}
		if len(opened)+len(reopened)+len(resolved) > 0 {
			d := map[string]any{}
			for k, v := range map[string][]string{"opened": opened, "reopened": reopened, "resolved": resolved} {
				if len(v) > 0 {
					d[k] = v
				}
			}
			if _, err := tx.Audit(ctx, AuditEntry{Actor: SystemActor, Action: AuditGapsEvaluated, Object: "gaps", Details: MustJSON(d)}); err != nil {
				return err
			}
		}
		return tx.MarkEvaluated(ctx, mark.Version)
	})
	if err != nil {
		return res, now, fmt.Errorf("store gap exceptions: %w", err)
	}
	return res, now, nil
}

// Due reports whether events were stored that no completed evaluation
// has seen (EvaluationMark): what decides, after a sync, an ingest or a
// start, whether the gap rules run. A sync that only completes one killed
// after its last commit writes nothing, and evaluation is still due.
// Windows that close by the clock are not counted: hub serve evaluates on
// a schedule for those.
func (m *Monitor) Due(ctx context.Context) (bool, error) {
	mark, err := m.Store.EvaluationMark(ctx)
	if err != nil {
		return false, err
	}
	return mark.Due(), nil
}

// EvaluateIfDue evaluates when Due says so; ran is false when nothing was
// due.
func (m *Monitor) EvaluateIfDue(ctx context.Context) (res EvalResult, ran bool, err error) {
	due, err := m.Due(ctx)
	if err != nil || !due {
		return res, false, err
	}
	res, err = m.Evaluate(ctx)
	return res, true, err
}

// sameFacts reports whether a stored exception says what the rules found
// now (g, not stored).
func (e *Exception) sameFacts(g Exception) bool {
	return e.Severity == g.Severity && e.Item == g.Item && e.Lot == g.Lot && e.Order == g.Order && e.Site == g.Site &&
		e.Detail == g.Detail && e.Since.Equal(g.Since) && slices.Equal(e.Records, g.Records)
}

// setFacts takes what the rules found now (g) into a stored exception,
// keeping its identity, status and history.
func (e *Exception) setFacts(g Exception) {
	e.Severity, e.Item, e.Lot, e.Order, e.Site = g.Severity, g.Item, g.Lot, g.Order, g.Site
	e.Detail, e.Since, e.Records = g.Detail, g.Since, g.Records
}

// Alert is the second half of Evaluate: it alerts the supervisor channel
// of every open gap not yet alerted, and the quality channel of every gap
// still open after the escalation delay. Each stage is claimed in the store before sending, so
// the same gap is alerted once per stage; a stage whose delivery failed
// every attempt is released and tried again at the next evaluation.
// Failures are recorded in the gap's history and never returned: alerts
// never block ingest.
func (m *Monitor) Alert(ctx context.Context, now time.Time) (sent, failed int) {
	if m.Alerts == nil {
		return 0, 0
	}
	open, err := m.Store.Exceptions(ctx, ExceptionFilter{Open: true})
	if err != nil {
		m.log().Error("gap alerts: read open gaps", "err", err)
		return 0, 0
	}
	for _, e := range open {
		if ctx.Err() != nil {
			break // shutting down: the rest go out at the next evaluation
		}
		if !e.Sending.IsZero() && now.Sub(e.Sending) >= unconfirmedAfter {
			back, err := m.unclaim(ctx, e.ID, now)
			if err != nil {
				m.log().Error("gap alerts: take back an unconfirmed alert", "gap", e.GapID(), "err", err)
				continue
			}
			e = back
		}
		stage := StageNone
		switch {
		case e.Stage < StageSupervisor:
			stage = StageSupervisor
		case e.Stage < StageQuality && m.Rules.Escalation > 0 && !now.Before(e.Opened.Add(m.Rules.Escalation)):
			stage = StageQuality
		default:
			continue
		}
		claimed, prev, err := m.claim(ctx, e.ID, stage, now)
		if err != nil {
			m.log().Error("gap alerts: claim", "gap", e.GapID(), "err", err)
			continue
		}
		if !claimed {
			continue
		}
		a := Alert{Stage: stage, Gap: claimedView(e, stage)}
		if err := m.deliver(ctx, a); err != nil {
			failed++
			m.log().Warn("gap alert not delivered; will retry at the next evaluation", "gap", e.GapID(), "channel", a.Channel(), "err", err)
			// Released even when ctx ended (shutdown): the stage must not
			// stay claimed by an alert that never went out.
			m.release(context.WithoutCancel(ctx), e.ID, stage, prev, now, err)
			continue
		}
		sent++
		m.log().Info("gap alerted", "gap", e.GapID(), "channel", a.Channel(), "kind", e.Kind)
		if err := m.confirmSent(context.WithoutCancel(ctx), e.ID, stage); err != nil {
			// Delivered but not recorded: it goes out once more later.
			m.log().Error("gap alerts: record delivery", "gap", e.GapID(), "err", err)
		}
	}
	return sent, failed
}

func claimedView(e Exception, stage int) Gap {
	e.Stage = stage
	if e.Status == GapOpen {
		e.Status = GapAlerted
	}
	return e.View()
}

// deliver tries an alert Attempts times with doubling waits.
func (m *Monitor) deliver(ctx context.Context, a Alert) error {
	attempts := m.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	sleep := m.Sleep
	if sleep == nil {
		sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	var err error
	wait := time.Second
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if serr := sleep(ctx, wait); serr != nil {
				return fmt.Errorf("%w (gave up: %v)", err, serr)
			}
			wait *= 2
		}
		if err = m.Alerts.Alert(ctx, a); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%d attempts: %w", attempts, err)
}

// inGap runs fn in one transaction with gap id as stored; fn saves what
// it changes. A gap that does not exist is ENOTFOUND.
func (m *Monitor) inGap(ctx context.Context, id int64, fn func(tx IngestTx, e Exception) error) error {
	return m.Store.Ingest(ctx, func(tx IngestTx) error {
		es, err := tx.Exceptions(ctx, ExceptionFilter{ID: id})
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return Errorf(ENOTFOUND, "gap %s not found: hub gaps lists them", FormatGapID(id))
		}
		return fn(tx, es[0])
	})
}

// claim records that stage is being alerted, unless another evaluator
// already did.
func (m *Monitor) claim(ctx context.Context, id int64, stage int, now time.Time) (claimed bool, prev Exception, err error) {
	err = m.inGap(ctx, id, func(tx IngestTx, e Exception) error {
		if e.Status.Closed() || e.Stage >= stage {
			return nil
		}
		prev = e
		e.Stage, e.Updated, e.Sending = stage, now, now
		if e.Status == GapOpen {
			e.Status = GapAlerted
		}
		claimed = true
		if err := tx.SaveException(ctx, &e); err != nil {
			return err
		}
		return tx.LogException(ctx, ExceptionEvent{GapID: id, At: now, Action: "alerted", By: "hub", Note: "alert sent to the " + Alert{Stage: stage}.Channel() + " channel"})
	})
	return claimed, prev, err
}

// confirmSent records that the claimed stage was delivered.
func (m *Monitor) confirmSent(ctx context.Context, id int64, stage int) error {
	return m.inGap(ctx, id, func(tx IngestTx, e Exception) error {
		if e.Stage != stage || e.Sending.IsZero() {
			return nil
		}
		e.Sending = time.Time{}
		return tx.SaveException(ctx, &e)
	})
}

// unclaim takes back a stage claimed long ago whose delivery was never
// confirmed (the hub died while sending), so that it is sent again, and
// records that in the gap's history. It returns the gap as it now is.
func (m *Monitor) unclaim(ctx context.Context, id int64, now time.Time) (Exception, error) {
	var out Exception
	err := m.inGap(ctx, id, func(tx IngestTx, e Exception) error {
		out = e
		if e.Sending.IsZero() || now.Sub(e.Sending) < unconfirmedAfter {
			return nil // confirmed or retaken meanwhile
		}
		channel := Alert{Stage: e.Stage}.Channel()
		claimed := e.Sending
		e.Stage, e.Sending, e.Updated = e.Stage-1, time.Time{}, now
		if e.Stage == StageNone && e.Status == GapAlerted {
			e.Status = GapOpen
		}
		if err := tx.SaveException(ctx, &e); err != nil {
			return err
		}
		out = e
		return tx.LogException(ctx, ExceptionEvent{GapID: id, At: now, Action: "alert_unconfirmed", By: "hub",
			Note: "the alert to the " + channel + " channel was begun at " + fmtTime(claimed) + " and never confirmed (was the hub stopped while sending?): it is sent again"})
	})
	return out, err
}

// release undoes a claim whose delivery failed, and records the failure.
func (m *Monitor) release(ctx context.Context, id int64, stage int, prev Exception, now time.Time, cause error) {
	err := m.inGap(ctx, id, func(tx IngestTx, e Exception) error {
		if e.Stage == stage {
			e.Stage, e.Sending = prev.Stage, time.Time{}
			if e.Status == GapAlerted && prev.Status == GapOpen {
				e.Status = GapOpen
			}
			e.Updated = now
			if err := tx.SaveException(ctx, &e); err != nil {
				return err
			}
		}
		return tx.LogException(ctx, ExceptionEvent{GapID: id, At: now, Action: "alert_failed", By: "hub",
			Note: "alert to the " + Alert{Stage: stage}.Channel() + " channel failed: " + cause.Error()})
	})
	if err != nil {
		m.log().Error("gap alerts: record failure", "gap", FormatGapID(id), "err", err)
	}
}

// Gap is a gap as users see it: `hub gaps --json` prints {"gaps": [Gap]}.
// The first six fields are the stable shape of shared/design.md; the
// others were added with exceptions.
type Gap struct {
	Kind     string    `json:"kind"`
	Item     string    `json:"item"`
	Lot      string    `json:"lot"`
	Order    string    `json:"order"`
	Detail   string    `json:"detail"`
	Since    string    `json:"since"`
	ID       string    `json:"id,omitempty"`
	Status   GapStatus `json:"status,omitempty"`
	Severity string    `json:"severity,omitempty"`
	Site     string    `json:"site,omitempty"`
	Records  []string  `json:"records,omitempty"`
	Opened   string    `json:"opened,omitempty"`
	Updated  string    `json:"updated,omitempty"`
	// Escalated is the last channel alerted: supervisor or quality.
	Escalated string `json:"escalated,omitempty"`
}

// View renders an exception for users.
func (e Exception) View() Gap {
	g := Gap{
		Kind: e.Kind, Item: e.Item, Lot: e.Lot, Order: e.Order, Detail: e.Detail, Since: fmtTime(e.Since),
		ID: e.GapID(), Status: e.Status, Severity: e.Severity, Site: e.Site, Records: e.Records,
		Opened: fmtTime(e.Opened), Updated: fmtTime(e.Updated),
	}
	if e.Since.IsZero() {
		g.Since = fmtTime(e.Opened)
	}
	if e.Stage > StageNone {
		g.Escalated = Alert{Stage: e.Stage}.Channel()
	}
	return g
}

// GapHistoryEntry is one entry of a gap's history.
type GapHistoryEntry struct {
	At     string `json:"at"`
	Action string `json:"action"`
	By     string `json:"by"`
	Note   string `json:"note,omitempty"`
}

// GapDetail is one gap with its history and the source records
// involved: `hub gap show`.
type GapDetail struct {
	Gap
	// Sources are the events involved, with the source record each came
	// from: where to look in the ERP.
	Sources []GapSource       `json:"sources"`
	History []GapHistoryEntry `json:"history"`
}

// GapSource is one event involved in a gap and the source record it was
// mapped from (connector "manual" for hub confirm, "" when ingested as a
// canonical event without a source).
type GapSource struct {
	Event     string `json:"event"`
	Type      string `json:"type"`
	Time      string `json:"time"`
	Status    string `json:"status"`
	Connector string `json:"connector,omitempty"`
	Record    string `json:"record,omitempty"`
}

// maxGapSources bounds the sources shown for one gap (an overdrawn lot
// shipped in thousands of deliveries).
const maxGapSources = 200

// gapSources finds the events a gap is about: its recorded events when it
// has them, else the events of its lot, else of its order.
func (m *Monitor) gapSources(ctx context.Context, e Exception) ([]GapSource, error) {
	var rows []EventRow
	if e.Item != "" && e.Lot != "" {
		id, err := m.Store.FindLot(ctx, LotRef{Item: e.Item, Lot: e.Lot})
		if err != nil && ErrorCode(err) != ENOTFOUND {
			return nil, err
		}
		if id != 0 {
			lr, err := m.Store.LotEvents(ctx, id)
			if err != nil {
				return nil, err
			}
			rows = append(rows, lr...)
		}
	}
	if e.Order != "" && (len(e.Records) > 0 || len(rows) == 0) {
		or, err := m.Store.OrderEvents(ctx, e.Order)
		if err != nil {
			return nil, err
		}
		rows = append(rows, or...)
	}
	want := map[string]bool{}
	for _, id := range e.Records {
		want[id] = true
	}
	seen := map[int64]bool{}
	out := []GapSource{}
	for _, r := range rows {
		if seen[r.Seq] || r.Status == Superseded || (len(want) > 0 && !want[r.ID]) {
			continue
		}
		seen[r.Seq] = true
		s := GapSource{Event: r.ID, Type: string(r.Type), Time: fmtTime(r.Time), Status: string(r.Status)}
		var body struct {
			Source *Source `json:"source"`
		}
		if json.Unmarshal(r.Body, &body) == nil && body.Source != nil {
			s.Connector, s.Record = body.Source.Connector, body.Source.Record
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time < out[j].Time })
	if len(out) > maxGapSources {
		out = out[:maxGapSources]
	}
	return out, nil
}

// GapList lists stored gaps, oldest condition first.
func (m *Monitor) GapList(ctx context.Context, f ExceptionFilter) ([]Gap, error) {
	es, err := m.Store.Exceptions(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]Gap, len(es))
	for i, e := range es {
		out[i] = e.View()
	}
	// Ties by key, not by id: ids number gaps in the order they were
	// found, which depends on the order events came in.
	idx := make([]int, len(es))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return cmp.Or(strings.Compare(out[a].Since, out[b].Since), strings.Compare(es[a].Key, es[b].Key))
	})
	sorted := make([]Gap, len(es))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted, nil
}

func (m *Monitor) get(ctx context.Context, id int64) (Exception, error) {
	es, err := m.Store.Exceptions(ctx, ExceptionFilter{ID: id})
	if err != nil {
		return Exception{}, err
	}
	if len(es) == 0 {
		return Exception{}, Errorf(ENOTFOUND, "gap %s not found: hub gaps lists them", FormatGapID(id))
	}
	return es[0], nil
}

// Show returns a gap with its history, or ENOTFOUND.
func (m *Monitor) Show(ctx context.Context, id int64) (*GapDetail, error) {
	e, err := m.get(ctx, id)
	if err != nil {
		return nil, err
	}
	hist, err := m.Store.ExceptionHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	src, err := m.gapSources(ctx, e)
	if err != nil {
		return nil, err
	}
	d := &GapDetail{Gap: e.View(), Sources: src, History: []GapHistoryEntry{}}
	for _, h := range hist {
		d.History = append(d.History, GapHistoryEntry{At: fmtTime(h.At), Action: h.Action, By: h.By, Note: h.Note})
	}
	return d, nil
}

// transition moves an open gap to status, recording who and why. It
// returns ENOTFOUND for an unknown gap and ECONFLICT for a closed one.
func (m *Monitor) transition(ctx context.Context, id int64, status GapStatus, action, by, note string, audit AuditEntry, extra func(tx IngestTx, e *Exception) (*Changes, error)) (*GapDetail, error) {
	if strings.TrimSpace(by) == "" {
		return nil, Errorf(EINVALID, "%s %s: say who you are (--by USER): the history records it", action, FormatGapID(id))
	}
	now := m.now()
	err := m.inGap(ctx, id, func(tx IngestTx, e Exception) error {
		if e.Status.Closed() {
			return Errorf(ECONFLICT, "gap %s is already %s: nothing to %s", e.GapID(), e.Status, action)
		}
		var c *Changes
		if extra != nil {
			var err error
			if c, err = extra(tx, &e); err != nil {
				return err
			}
		}
		e.Status, e.Updated = status, now
		if err := tx.SaveException(ctx, &e); err != nil {
			return err
		}
		if err := tx.LogException(ctx, ExceptionEvent{GapID: id, At: now, Action: action, By: by, Note: note}); err != nil {
			return err
		}
		audit.Object = "gap:" + FormatGapID(id)
		return AuditChanges(ctx, tx, c, audit, map[string]any{"by": by, "kind": e.Kind, "lot": gapLot(e), "order": e.Order})
	})
	if err != nil {
		return nil, err
	}
	return m.Show(ctx, id)
}

// Ack acknowledges a gap: someone is working on it. Escalation to
// quality still happens if it stays open past the delay.
func (m *Monitor) Ack(ctx context.Context, id int64, by, note string) (*GapDetail, error) {
	e, err := m.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.Status == GapAcknowledged {
		return nil, Errorf(ECONFLICT, "gap %s is already acknowledged", e.GapID())
	}
	return m.transition(ctx, id, GapAcknowledged, "acknowledged", by, note, AuditEntry{Action: AuditGapAck, Reason: note}, nil)
}

// Waive closes a gap that will not be fixed. The reason and the user are
// required: an auditor will ask.
func (m *Monitor) Waive(ctx context.Context, id int64, by, reason string) (*GapDetail, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, Errorf(EINVALID, "waive %s: a reason is required (--reason \"...\"): an auditor will ask why the gap was accepted", FormatGapID(id))
	}
	return m.transition(ctx, id, GapWaived, "waived", by, reason, AuditEntry{Action: AuditGapWaived, Reason: reason}, nil)
}

// ConfirmParams is a retroactive confirmation of a gap: what an operator
// says happened that the source never recorded. Which fields apply
// depends on the gap's kind (see Confirm).
type ConfirmParams struct {
	ID       int64
	Consumed []LotQty // order gaps: lots the order consumed
	Produced []LotQty // order gaps: lots the order produced
	// Result confirms a missed scan: the outcome of the step (pass, fail,
	// a reading), recorded on the step event.
	Result    string
	Equipment string
	// Supplier or Order confirms an unknown lot: it was received from
	// the supplier (with SupplierLot, PO) or produced by the order.
	Supplier    *Party
	SupplierLot string
	PO          string
	Order       string
	Qty         *LotQty // the quantity received or produced, when known (Item/Lot ignored)
	By          string
	Note        string
}

// ConfirmRequest is a confirmation as users write it, on the command line
// (hub confirm) or as the body of POST /v1/gaps/{id}/confirm.
type ConfirmRequest struct {
	By          string   `json:"by"`
	Note        string   `json:"note"`
	Consumed    []string `json:"consumed,omitempty"` // ITEM/LOT[:QTY[:UOM]]
	Produced    []string `json:"produced,omitempty"`
	Result      string   `json:"result,omitempty"`
	Equipment   string   `json:"equipment,omitempty"`
	Supplier    string   `json:"supplier,omitempty"` // ID[:NAME]
	SupplierLot string   `json:"supplier_lot,omitempty"`
	PO          string   `json:"po,omitempty"`
	Order       string   `json:"order,omitempty"`
	Qty         string   `json:"qty,omitempty"` // QTY[:UOM]
}

// Params parses the request into ConfirmParams for gap id.
func (r ConfirmRequest) Params(id int64) (ConfirmParams, error) {
	p := ConfirmParams{ID: id, By: r.By, Note: r.Note, Result: strings.TrimSpace(r.Result), Equipment: r.Equipment,
		Supplier: ParseParty(r.Supplier), SupplierLot: r.SupplierLot, PO: r.PO, Order: strings.TrimSpace(r.Order)}
	var err error
	if p.Consumed, err = ParseLotQtys(r.Consumed); err != nil {
		return p, err
	}
	if p.Produced, err = ParseLotQtys(r.Produced); err != nil {
		return p, err
	}
	if r.Qty != "" {
		q, err := ParseQty(r.Qty)
		if err != nil {
			return p, err
		}
		p.Qty = &q
	}
	return p, nil
}

// ParseLotQty reads ITEM/LOT[:QTY[:UOM]] as hub confirm takes it.
func ParseLotQty(s string) (LotQty, error) {
	bad := Errorf(EINVALID, "%q: want ITEM/LOT, ITEM/LOT:QTY or ITEM/LOT:QTY:UOM (e.g. FLOUR/F-A:40:KG)", s)
	ref, rest, _ := strings.Cut(s, ":")
	item, lot, ok := strings.Cut(ref, "/")
	if !ok || item == "" || lot == "" {
		return LotQty{}, bad
	}
	q := LotQty{Item: item, Lot: lot}
	if rest != "" {
		qty, err := ParseQty(rest)
		if err != nil {
			return LotQty{}, bad
		}
		q.Qty, q.UOM = qty.Qty, qty.UOM
	}
	return q, nil
}

// ParseLotQtys parses a list of ITEM/LOT[:QTY[:UOM]].
func ParseLotQtys(list []string) ([]LotQty, error) {
	var out []LotQty
	for _, s := range list {
		q, err := ParseLotQty(s)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

// ParseQty reads QTY[:UOM] (e.g. 40:KG) into a LotQty without a lot.
func ParseQty(s string) (LotQty, error) {
	qs, uom, _ := strings.Cut(s, ":")
	v, err := strconv.ParseFloat(strings.TrimSpace(qs), 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return LotQty{}, Errorf(EINVALID, "quantity %q: want QTY or QTY:UOM with QTY a number ≥ 0 (e.g. 40:KG)", s)
	}
	return LotQty{Qty: &v, UOM: strings.TrimSpace(uom)}, nil
}

// ParseParty reads ID or ID:NAME (e.g. V-MILL:Mill Co).
func ParseParty(s string) *Party {
	id, name, _ := strings.Cut(strings.TrimSpace(s), ":")
	if id == "" {
		return nil
	}
	return &Party{ID: id, Name: strings.TrimSpace(name)}
}

// Confirm closes a gap by hand: it writes ordinary canonical events for
// what the operator confirms, each marked as a manual confirmation
// (params: confirmation, gap, by, note, confirmed_at; source connector
// "manual"), and marks the gap confirmed, all in one transaction. The
// events are timed at the gap's start so the genealogy reads as it
// happened; traces show the links as confirmed by hand. By kind:
//
//   - an order gap (output without input, input without output, yield):
//     a consume per Consumed lot and a produce per Produced lot, on the
//     gap's order;
//   - a missed scan: the missing step event on the gap's lot, with Result;
//   - an unknown lot: its receipt from Supplier, or its production by
//     Order.
//
// Overdrawn lots and time-order violations are wrong quantities or times
// at the source: there is nothing to add, so they are corrected there or
// waived.
func (m *Monitor) Confirm(ctx context.Context, p ConfirmParams) (*GapDetail, error) {
	if strings.TrimSpace(p.By) == "" {
		return nil, Errorf(EINVALID, "confirm %s: say who you are (--by USER): the history and the event record it", FormatGapID(p.ID))
	}
	e, err := m.get(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	now := m.now()
	if e.Status.Closed() {
		return nil, Errorf(ECONFLICT, "gap %s is already %s: nothing to confirm", e.GapID(), e.Status)
	}
	events, err := m.confirmEvents(ctx, e, p, now)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(p.Note) == "" {
		return nil, Errorf(EINVALID, "confirm %s: a reason is required (--note \"...\": why, and on what evidence): it is recorded in the audit trail, and an auditor will ask", FormatGapID(p.ID))
	}
	var ids []string
	for _, ev := range events {
		ids = append(ids, ev.Event.ID)
	}
	note := fmt.Sprintf("confirmed by hand with event(s) %s", strings.Join(ids, ", "))
	if p.Note != "" {
		note += ": " + p.Note
	}
	return m.transition(ctx, p.ID, GapConfirmed, "confirmed", p.By, note, AuditEntry{Action: AuditGapConfirmed, Reason: p.Note}, func(tx IngestTx, _ *Exception) (*Changes, error) {
		c, _, err := Plan(ctx, tx, events, now, nil)
		if err != nil {
			return nil, err
		}
		return c, tx.Write(ctx, c)
	})
}

// confirmKinds says what confirms each kind of gap, for error messages.
var confirmKinds = map[string]string{
	GapOutputWithoutInput: "--consumed ITEM/LOT[:QTY[:UOM]] (the lots the order used)",
	GapInputWithoutOutput: "--produced ITEM/LOT[:QTY[:UOM]] (the lots the order made)",
	GapYield:              "--consumed ITEM/LOT[:QTY[:UOM]] (the input that is missing)",
	GapMissedScan:         "--result RESULT (the outcome of the step, e.g. pass)",
	GapUnknownLot:         "--supplier ID[:NAME] (its receipt) or --order ORDER (its production), with --qty QTY[:UOM]",
}

// fixKinds says how the gaps that no event confirms are closed, for error
// messages.
var fixKinds = map[string]string{
	GapQuarantined: "the records themselves must be ingested: hub errors lists them with the reasons; fix them at the source and ingest them again, or fix the mapping and run hub remap (the gap then resolves itself), or waive it with a reason",
	GapMixedUnits:  "add a conversion to the mapping's units: table, convert() the quantity and run hub remap (the gap then resolves itself), allow the units under gaps.rules.mixed_units.allow in hub.yaml, or waive it with a reason",
}

// Confirmable reports whether a gap of kind can be closed with hub
// confirm; the others are fixed at the source (or waived).
func Confirmable(kind string) bool {
	_, ok := confirmKinds[kind]
	return ok
}

func (m *Monitor) confirmEvents(ctx context.Context, e Exception, p ConfirmParams, now time.Time) ([]PreparedEvent, error) {
	want, ok := confirmKinds[e.Kind]
	if !ok {
		if fix, ok := fixKinds[e.Kind]; ok {
			return nil, Errorf(EINVALID, "gap %s (%s) cannot be confirmed: %s", e.GapID(), e.Kind, fix)
		}
		return nil, Errorf(EINVALID, "gap %s (%s) cannot be confirmed: nothing is missing, a quantity or time is wrong; correct it at the source (the gap then resolves itself) or waive it with a reason", e.GapID(), e.Kind)
	}
	unused := func(names ...string) error {
		return Errorf(EINVALID, "confirm %s (%s): %s do not apply; confirm it with %s", e.GapID(), e.Kind, strings.Join(names, ", "), want)
	}
	at := e.Since
	if at.IsZero() {
		at = e.Opened
	}
	var out []PreparedEvent
	mk := func(ev *Event, q LotQty, withQty bool, extra map[string]any) error {
		ev.ID = fmt.Sprintf("confirm:%s:%d", e.GapID(), len(out)+1)
		ev.Time, ev.Operator, ev.Source = fmtTime(at), p.By, &Source{Connector: "manual", Record: e.GapID()}
		if ev.Site == "" {
			ev.Site = e.Site
		}
		ev.Params = map[string]any{"confirmation": "manual", "gap": e.GapID(), "by": p.By, "note": p.Note, "confirmed_at": fmtTime(now)}
		maps.Copy(ev.Params, extra)
		if withQty {
			zero := 0.0
			ev.Qty, ev.UOM = q.Qty, q.UOM
			if ev.Qty == nil {
				ev.Qty = &zero // a link without quantity: the amount is unknown
			}
			if ev.UOM == "" {
				ev.UOM = m.lotUnit(ctx, ev.Lot)
			}
		}
		if err := ev.Validate(); err != nil {
			return Errorf(EINVALID, "confirm %s: %v", e.GapID(), err)
		}
		out = append(out, Prepare(ev))
		return nil
	}
	orderArgs := len(p.Consumed)+len(p.Produced) > 0
	lotArgs := p.Supplier != nil || p.Order != "" || p.Qty != nil || p.SupplierLot != "" || p.PO != ""
	stepArgs := p.Result != "" || p.Equipment != ""
	switch e.Kind {
	case GapMissedScan:
		if orderArgs || lotArgs {
			return nil, unused("--consumed, --produced, --supplier, --order, --qty")
		}
		if strings.TrimSpace(p.Result) == "" {
			return nil, Errorf(EINVALID, "confirm %s (missed scan): give the step's outcome with %s", e.GapID(), want)
		}
		step := e.Key[strings.LastIndex(e.Key, ":")+1:]
		ev := &Event{Type: Step, Lot: &LotRef{Item: e.Item, Lot: e.Lot}, Order: e.Order, Step: step, Equipment: p.Equipment}
		if err := mk(ev, LotQty{}, false, map[string]any{"result": p.Result}); err != nil {
			return nil, err
		}
	case GapUnknownLot:
		if orderArgs || stepArgs {
			return nil, unused("--consumed, --produced, --result, --equipment")
		}
		if (p.Supplier == nil) == (p.Order == "") {
			return nil, Errorf(EINVALID, "confirm %s (unknown lot): say where the lot came from with %s", e.GapID(), want)
		}
		q := LotQty{}
		if p.Qty != nil {
			q = *p.Qty
		}
		ev := &Event{Type: Receive, Lot: &LotRef{Item: e.Item, Lot: e.Lot}, Supplier: p.Supplier, SupplierLot: p.SupplierLot, PO: p.PO}
		if p.Order != "" {
			if p.SupplierLot != "" || p.PO != "" {
				return nil, unused("--supplier-lot, --po (they go with --supplier)")
			}
			ev = &Event{Type: Produce, Lot: &LotRef{Item: e.Item, Lot: e.Lot}, Order: p.Order}
		}
		if err := mk(ev, q, true, nil); err != nil {
			return nil, err
		}
	default: // order gaps
		if lotArgs || stepArgs {
			return nil, unused("--supplier, --order, --qty, --result, --equipment")
		}
		if !orderArgs {
			return nil, Errorf(EINVALID, "confirm %s (%s): name the missing lots with %s", e.GapID(), e.Kind, want)
		}
		for _, list := range []struct {
			typ  EventType
			lots []LotQty
		}{{Consume, p.Consumed}, {Produce, p.Produced}} {
			for _, q := range list.lots {
				if err := mk(&Event{Type: list.typ, Lot: &LotRef{Item: q.Item, Lot: q.Lot}, Order: e.Order}, q, true, nil); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// lotUnit is the unit a lot is kept in, EA when unknown.
func (m *Monitor) lotUnit(ctx context.Context, ref *LotRef) string {
	id, err := m.Store.FindLot(ctx, *ref)
	if err != nil {
		return "EA"
	}
	rows, err := m.Store.OnHand(ctx, []int64{id})
	if err != nil || len(rows) == 0 {
		return "EA"
	}
	return rows[0].UOM
}

// IsConfirmation reports whether an event was written by hub confirm.
func IsConfirmation(body []byte) bool {
	var e struct {
		Params map[string]any `json:"params"`
	}
	return json.Unmarshal(body, &e) == nil && e.Params["confirmation"] == "manual"
}

// gapLot names a gap's lot for its audit entry ("" when it has none).
func gapLot(e Exception) string {
	if e.Item == "" {
		return ""
	}
	return e.Item + "/" + e.Lot
}
