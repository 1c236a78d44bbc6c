package web

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
)

type connectorsPage struct {
	Connectors []connectorRow
	CanRun     bool
}

type connectorRow struct {
	Conn   *config.Connector
	Last   *core.Run
	Cursor *cursorView
}

type cursorView struct {
	Position string
	Updated  time.Time
	RunID    int64
}

func (h *Handler) connectors(rq *request) {
	runs, err := h.lastRuns(rq)
	if err != nil {
		h.fail(rq, err)
		return
	}
	last := map[string]*core.Run{}
	for _, r := range runs {
		last[r.Connector] = r.Run
	}
	p := connectorsPage{CanRun: h.o.Sync != nil}
	for i, c := range h.o.Config.Connectors {
		cur, err := h.cursor(rq.ctx(), c.Name)
		if err != nil {
			h.fail(rq, err)
			return
		}
		p.Connectors = append(p.Connectors, connectorRow{Conn: &h.o.Config.Connectors[i], Last: last[c.Name], Cursor: cur})
	}
	h.render(rq, http.StatusOK, "connectors", "Connectors", p)
}

// cursor is a connector's stored position for people: nil when it has
// none (the next sync reads from the beginning).
func (h *Handler) cursor(ctx context.Context, name string) (*cursorView, error) {
	c, err := h.o.Store.Cursor(ctx, name)
	if core.ErrorCode(err) == core.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pos := string(c.Position)
	if !utf8.ValidString(pos) {
		pos = "(binary, " + itoa(len(c.Position)) + " bytes)"
	}
	return &cursorView{Position: truncate(400, pos), Updated: c.Updated, RunID: c.RunID}, nil
}

type connectorPage struct {
	Conn    *config.Connector
	Config  []configValue
	Cursor  *cursorView
	Runs    []core.Run
	Pager   pager
	CanRun  bool
	Running bool
	Error   string // the confirmation was not given
	// Reason is the reset's reason as typed; ReasonError says it is
	// missing (the audit trail needs one).
	Reason, ReasonError string
}

// configValue is one parameter of a connector's configuration as the
// page shows it: secrets never with their value.
type configValue struct {
	Name, Value string
	Masked      bool
}

// secretish names parameters whose literal values are masked too
// (config refuses most literal secrets; this is the page's own guard).
func secretish(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"password", "secret", "token", "key", "credential", "passphrase"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

func configValues(c *config.Connector) []configValue {
	var out []configValue
	for name, v := range c.Config {
		cv := configValue{Name: name}
		switch {
		case v.IsRef():
			// String is the reference (${env:NAME}), never the value.
			cv.Value, cv.Masked = "•••••• from "+v.String(), true
		case secretish(name):
			cv.Value, cv.Masked = "••••••", true
		default:
			cv.Value = v.String()
		}
		out = append(out, cv)
	}
	slices.SortFunc(out, func(a, b configValue) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (h *Handler) connector(rq *request) {
	c, err := h.o.Config.Connector(rq.PathValue("name"))
	if err != nil {
		h.fail(rq, core.Errorf(core.ENOTFOUND, "no connector %q in the hub's configuration", rq.PathValue("name")))
		return
	}
	cur, err := h.cursor(rq.ctx(), c.Name)
	if err != nil {
		h.fail(rq, err)
		return
	}
	runs, err := h.o.Store.Runs(rq.ctx(), core.RunFilter{Connector: c.Name, Limit: 1000})
	if err != nil {
		h.fail(rq, err)
		return
	}
	p := connectorPage{Conn: c, Config: configValues(c), Cursor: cur, CanRun: h.o.Sync != nil}
	for _, r := range runs {
		if r.Status == core.RunRunning {
			p.Running = true
		}
	}
	p.Runs, p.Pager = pageOf(rq.Request, "page", runs, h.o.PageSize)
	h.render(rq, http.StatusOK, "connector", "Connector "+c.Name, p)
}

// resetConfirm asks before a cursor is reset.
func (h *Handler) resetConfirm(rq *request) {
	c, err := h.o.Config.Connector(rq.PathValue("name"))
	if err != nil {
		h.fail(rq, core.Errorf(core.ENOTFOUND, "no connector %q in the hub's configuration", rq.PathValue("name")))
		return
	}
	cur, err := h.cursor(rq.ctx(), c.Name)
	if err != nil {
		h.fail(rq, err)
		return
	}
	h.render(rq, http.StatusOK, "reset", "Reset the cursor of "+c.Name, connectorPage{Conn: c, Cursor: cur})
}

func (h *Handler) connectorAction(rq *request) {
	c, err := h.o.Config.Connector(rq.PathValue("name"))
	if err != nil {
		h.fail(rq, core.Errorf(core.ENOTFOUND, "no connector %q in the hub's configuration", rq.PathValue("name")))
		return
	}
	back := "/connectors/" + c.Name
	switch rq.PathValue("action") {
	case "reset":
		reason := strings.TrimSpace(rq.FormValue("reason"))
		if rq.FormValue("confirm") != c.Name || reason == "" {
			// The confirmation step: the name typed again, and why.
			cur, _ := h.cursor(rq.ctx(), c.Name)
			p := connectorPage{Conn: c, Cursor: cur, Reason: reason}
			if rq.FormValue("confirm") != c.Name {
				p.Error = "Type " + c.Name + " to confirm: the cursor was not reset."
			}
			if reason == "" {
				p.ReasonError = "Say why: the reason is kept in the audit trail. The cursor was not reset."
			}
			h.render(rq, http.StatusBadRequest, "reset", "Reset the cursor of "+c.Name, p)
			return
		}
		if err := h.o.Store.ResetCursor(rq.ctx(), c.Name, reason); err != nil {
			h.fail(rq, err)
			return
		}
		h.log().Info("web: cursor reset", "user", rq.actor.String(), "connector", c.Name, "reason", reason)
		redirect(rq, back, "cursor reset: the next sync reads "+c.Name+" from the beginning")
	case "run":
		if h.o.Sync == nil {
			h.fail(rq, core.Errorf(core.ECONFLICT, "this hub runs no syncs from the web application"))
			return
		}
		// The sync outlives the request: a big source takes minutes. Its
		// run is listed at once (running), and when it ends.
		name := c.Name
		who := rq.actor.String()
		ctx := core.WithActor(h.o.Context, rq.actor)
		started := make(chan struct{})
		go func() {
			close(started)
			run, err := h.o.Sync.Sync(ctx, name, "manual")
			if err != nil {
				h.log().Warn("web: sync started from the web application failed", "user", who, "connector", name, "run", run.ID, "err", err)
				return
			}
			h.log().Info("web: sync started from the web application finished", "user", who, "connector", name, "run", run.ID, "records", run.Records)
		}()
		<-started
		// Give a short sync the time to be recorded, so the page shows it.
		h.waitForRun(rq.ctx(), name)
		redirect(rq, back, "sync of "+name+" started")
	default:
		h.fail(rq, core.Errorf(core.ENOTFOUND, "no connector action %q: run or reset", rq.PathValue("action")))
	}
}

// waitForRun waits up to two seconds for a run of name to be recorded.
func (h *Handler) waitForRun(ctx context.Context, name string) {
	before, _ := h.o.Store.Runs(ctx, core.RunFilter{Connector: name, Limit: 1})
	for range 20 {
		runs, err := h.o.Store.Runs(ctx, core.RunFilter{Connector: name, Limit: 1})
		if err != nil || len(runs) > 0 && (len(before) == 0 || runs[0].ID != before[0].ID) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ---- quarantine

type quarantinePage struct {
	Rows     []core.QuarantineRow
	Pager    pager
	Resolved bool
}

func (h *Handler) quarantine(rq *request) {
	p := quarantinePage{Resolved: rq.URL.Query().Get("resolved") != ""}
	rows, err := h.o.Store.Quarantined(rq.ctx(), core.QuarantineFilter{IncludeResolved: p.Resolved})
	if err != nil {
		h.fail(rq, err)
		return
	}
	slices.SortStableFunc(rows, func(a, b core.QuarantineRow) int { return b.At.Compare(a.At) })
	p.Rows, p.Pager = pageOf(rq.Request, "page", rows, h.o.PageSize)
	h.render(rq, http.StatusOK, "quarantine", "Quarantine", p)
}
