package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
)

// outboxPage is the write-back outbox (docs/actions.md): every action an
// event set off in the ERP, newest first, with its state, the ERP's
// document number or its last error.
type outboxPage struct {
	Rows   []core.OutboxAction
	Pager  pager
	State  string // the state shown; "" every state
	States []core.OutboxState
	CanAct bool // integrator or admin: retry and cancel
	// Cancel is the action whose cancellation lacked a reason, and the
	// error shown next to its field.
	Cancel      int64
	ReasonError string
}

var outboxStates = []core.OutboxState{core.OutboxPending, core.OutboxDelivering, core.OutboxDelivered,
	core.OutboxFailed, core.OutboxDead, core.OutboxCancelled}

func (h *Handler) outbox(rq *request) {
	h.outboxList(rq, http.StatusOK, outboxPage{State: rq.URL.Query().Get("state")})
}

func (h *Handler) outboxList(rq *request, status int, p outboxPage) {
	f := core.OutboxFilter{}
	if p.State != "" {
		st := core.OutboxState(p.State)
		known := false
		for _, s := range outboxStates {
			known = known || s == st
		}
		if !known {
			h.fail(rq, core.Errorf(core.EINVALID, "state %q: want pending, delivering, delivered, failed, dead or cancelled", p.State))
			return
		}
		f.States = []core.OutboxState{st}
	}
	rows, err := h.o.Store.Outbox(rq.ctx(), f)
	if err != nil {
		h.fail(rq, err)
		return
	}
	p.States, p.CanAct = outboxStates, rq.can(core.PermIntegrate)
	p.Rows, p.Pager = pageOf(rq.Request, "page", rows, h.o.PageSize)
	h.render(rq, status, "outbox", "Outbox", p)
}

// outboxAction retries a failed, dead or cancelled action, or cancels one
// not yet delivered (with a reason, kept in the audit trail), as hub
// outbox retry|cancel do.
func (h *Handler) outboxAction(rq *request) {
	id, err := strconv.ParseInt(rq.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.fail(rq, core.Errorf(core.EINVALID, "outbox action %q: not an id", rq.PathValue("id")))
		return
	}
	now := time.Now()
	switch rq.PathValue("action") {
	case "retry":
		if err := h.o.Store.RetryOutbox(rq.ctx(), id, now); err != nil {
			h.fail(rq, err)
			return
		}
		h.log().Info("web: outbox action retried", "user", rq.actor.String(), "id", id)
		redirect(rq, "/outbox", "action "+strconv.FormatInt(id, 10)+" will be sent again")
	case "cancel":
		reason := strings.TrimSpace(rq.FormValue("reason"))
		if reason == "" {
			h.outboxList(rq, http.StatusBadRequest, outboxPage{Cancel: id,
				ReasonError: "Say why: the reason is kept in the audit trail. The action was not cancelled."})
			return
		}
		if err := h.o.Store.CancelOutbox(rq.ctx(), id, reason, now); err != nil {
			h.fail(rq, err)
			return
		}
		h.log().Info("web: outbox action cancelled", "user", rq.actor.String(), "id", id, "reason", reason)
		redirect(rq, "/outbox", "action "+strconv.FormatInt(id, 10)+" cancelled: it will not be sent")
	default:
		h.fail(rq, core.Errorf(core.ENOTFOUND, "no outbox action %q: retry or cancel", rq.PathValue("action")))
	}
}
