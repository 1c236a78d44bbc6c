package asof

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
)

// Gap exceptions are rows the hub updates in place, not versioned events;
// what is kept of their past is each one's history (who did what when).
// The view lists those opened by T with the status, escalation stage and
// update time their history gives at T. Their facts (detail, records)
// are as last written: a gap whose facts changed after T while it stayed
// open shows the later facts (docs/as-of.md).

// Exceptions lists the exceptions the hub had opened at or before T, as
// they stood at T, filtered as f says.
func (v *View) Exceptions(ctx context.Context, f core.ExceptionFilter) ([]core.Exception, error) {
	all, err := v.src.Exceptions(ctx, core.ExceptionFilter{ID: f.ID, Keys: f.Keys, Since: f.Since})
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, e := range all {
		if e.Opened.After(v.at) {
			continue
		}
		hist, err := v.src.ExceptionHistory(ctx, e.ID)
		if err != nil {
			return nil, err
		}
		e = stateAt(e, hist, v.at)
		if f.Open && e.Status.Closed() || len(f.Statuses) > 0 && !slices.Contains(f.Statuses, e.Status) {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// ExceptionHistory is the history of an exception up to T.
func (v *View) ExceptionHistory(ctx context.Context, id int64) ([]core.ExceptionEvent, error) {
	hist, err := v.src.ExceptionHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	out := hist[:0]
	for _, h := range hist {
		if !h.At.After(v.at) {
			out = append(out, h)
		}
	}
	return out, nil
}

// stateAt replays an exception's history up to t (core/monitor.go writes
// each action with the status change it records).
func stateAt(e core.Exception, hist []core.ExceptionEvent, t time.Time) core.Exception {
	e.Status, e.Stage, e.Sending, e.Updated = core.GapOpen, core.StageNone, time.Time{}, e.Opened
	for _, h := range hist {
		if h.At.After(t) {
			break
		}
		e.Updated = h.At
		switch h.Action {
		case "opened", "reopened":
			e.Status, e.Stage = core.GapOpen, core.StageNone
		case "alerted":
			e.Stage = min(e.Stage+1, core.StageQuality)
			if strings.Contains(h.Note, "quality") {
				e.Stage = core.StageQuality
			}
			if e.Status == core.GapOpen {
				e.Status = core.GapAlerted
			}
		case "alert_failed", "alert_unconfirmed":
			// The claim was taken back: the stage before it stands.
			if e.Stage > core.StageNone {
				e.Stage--
			}
			if e.Stage == core.StageNone && e.Status == core.GapAlerted {
				e.Status = core.GapOpen
			}
		case "acknowledged":
			e.Status = core.GapAcknowledged
		case "resolved":
			e.Status = core.GapResolved
		case "confirmed":
			e.Status = core.GapConfirmed
		case "waived":
			e.Status = core.GapWaived
		}
	}
	return e
}
