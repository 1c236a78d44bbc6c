package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/lothub/lothub/core"
)

func itoa(n int) string { return strconv.Itoa(n) }

// ---- exceptions

type exceptionsPage struct {
	Status, Severity, Kind string
	Kinds                  []string
	Gaps                   []core.Gap
	Pager                  pager
}

var gapStatuses = []string{"open", "alerted", "acknowledged", "resolved", "confirmed", "waived"}

func (h *Handler) exceptions(rq *request) {
	q := rq.URL.Query()
	p := exceptionsPage{Status: q.Get("status"), Severity: q.Get("severity"), Kind: q.Get("kind")}
	f := core.ExceptionFilter{Open: true}
	switch p.Status {
	case "", "unresolved":
		p.Status = "unresolved"
	case "all":
		f = core.ExceptionFilter{}
	default:
		st, err := core.ParseGapStatus(p.Status)
		if err != nil {
			h.fail(rq, err)
			return
		}
		f = core.ExceptionFilter{Statuses: []core.GapStatus{st}}
	}
	gaps, err := h.o.Monitor().GapList(rq.ctx(), f)
	if err != nil {
		h.fail(rq, err)
		return
	}
	kinds := map[string]bool{}
	var shown []core.Gap
	for _, g := range gaps {
		kinds[g.Kind] = true
		if (p.Severity == "" || g.Severity == p.Severity) && (p.Kind == "" || g.Kind == p.Kind) {
			shown = append(shown, g)
		}
	}
	for k := range kinds {
		p.Kinds = append(p.Kinds, k)
	}
	slices.Sort(p.Kinds)
	p.Gaps, p.Pager = pageOf(rq.Request, "page", shown, h.o.PageSize)
	h.render(rq, http.StatusOK, "exceptions", "Exceptions", p)
}

type exceptionPage struct {
	Gap         *core.GapDetail
	Confirmable bool
	Closed      bool
	Form        map[string]string // the values sent, shown again with errors
	Errors      map[string]string // by field
	Action      string            // the form that failed: confirm or dismiss
}

func (h *Handler) exception(rq *request) {
	h.showException(rq, http.StatusOK, exceptionPage{})
}

func (h *Handler) showException(rq *request, status int, p exceptionPage) {
	id, err := core.ParseGapID(rq.PathValue("id"))
	if err != nil {
		h.fail(rq, core.Errorf(core.ENOTFOUND, "no exception %q: exceptions are named GAP-<number>", rq.PathValue("id")))
		return
	}
	d, err := h.o.Monitor().Show(rq.ctx(), id)
	if err != nil {
		h.fail(rq, err)
		return
	}
	p.Gap, p.Confirmable, p.Closed = d, core.Confirmable(d.Kind), d.Status.Closed()
	if p.Form == nil {
		p.Form = map[string]string{}
	}
	h.render(rq, status, "exception", d.ID, p)
}

// confirmFields are the form fields of a confirmation, by gap kind.
func (h *Handler) exceptionAction(rq *request) {
	id, err := core.ParseGapID(rq.PathValue("id"))
	if err != nil {
		h.fail(rq, core.Errorf(core.ENOTFOUND, "no exception %q", rq.PathValue("id")))
		return
	}
	action := rq.PathValue("action")
	form := map[string]string{}
	for _, k := range []string{"reason", "consumed", "produced", "result", "equipment", "supplier", "supplier_lot", "po", "order", "qty"} {
		form[k] = strings.TrimSpace(rq.FormValue(k))
	}
	bad := func(field, msg string) {
		h.showException(rq, http.StatusBadRequest, exceptionPage{Form: form, Errors: map[string]string{field: msg}, Action: action})
	}
	if form["reason"] == "" {
		bad("reason", "Give the reason: the exception's history and an auditor need it.")
		return
	}
	var d *core.GapDetail
	switch action {
	case "dismiss":
		d, err = h.o.Monitor().Waive(rq.ctx(), id, rq.actor.Name, form["reason"])
	case "confirm":
		req := core.ConfirmRequest{By: rq.actor.Name, Note: form["reason"], Consumed: lines(form["consumed"]), Produced: lines(form["produced"]),
			Result: form["result"], Equipment: form["equipment"], Supplier: form["supplier"], SupplierLot: form["supplier_lot"],
			PO: form["po"], Order: form["order"], Qty: form["qty"]}
		p, perr := req.Params(id)
		if perr != nil {
			bad("details", perr.Error())
			return
		}
		d, err = h.o.Monitor().Confirm(rq.ctx(), p)
	default:
		h.fail(rq, core.Errorf(core.ENOTFOUND, "no exception action %q: confirm or dismiss", action))
		return
	}
	switch core.ErrorCode(err) {
	case "":
	case core.EINVALID, core.ECONFLICT:
		bad("details", err.Error())
		return
	default:
		h.fail(rq, err)
		return
	}
	h.log().Info("web: exception decided", "user", rq.actor.String(), "gap", d.ID, "action", action)
	verb := map[string]string{"dismiss": "dismissed", "confirm": "confirmed"}[action]
	redirect(rq, "/exceptions/"+d.ID, d.ID+" "+verb)
}

// lines splits a text area into its non-empty lines (and commas).
func lines(s string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// ---- holds

type holdsPage struct {
	Holds   []core.ActiveHold
	Pager   pager
	Item    string
	Lot     string
	Reason  string
	Preview []core.LotRef
	Showing bool // a preview was asked for
	Errors  map[string]string
}

func (h *Handler) holds(rq *request) {
	q := rq.URL.Query()
	p := holdsPage{Item: strings.TrimSpace(q.Get("item")), Lot: strings.TrimSpace(q.Get("lot")), Errors: map[string]string{}}
	status := http.StatusOK
	if p.Item != "" || p.Lot != "" {
		p.Showing = true
		ref := core.LotRef{Item: p.Item, Lot: p.Lot}
		switch {
		case p.Item == "":
			p.Errors["item"] = "Give the lot's item."
		case p.Lot == "":
			p.Errors["lot"] = "Give the lot number."
		default:
			preview, err := h.holdPreview(rq, ref)
			switch core.ErrorCode(err) {
			case "":
				p.Preview = preview
			case core.ENOTFOUND:
				p.Errors["lot"] = err.Error()
			default:
				h.fail(rq, err)
				return
			}
		}
		if len(p.Errors) > 0 {
			status = http.StatusBadRequest
		}
	}
	h.showHolds(rq, status, p)
}

func (h *Handler) showHolds(rq *request, status int, p holdsPage) {
	holds, err := h.o.Queries().Holds(rq.ctx())
	if err != nil {
		h.fail(rq, err)
		return
	}
	slices.SortFunc(holds, func(a, b core.ActiveHold) int { return strings.Compare(b.Since, a.Since) })
	p.Holds, p.Pager = pageOf(rq.Request, "page", holds, h.o.PageSize)
	h.render(rq, status, "holds", "Holds", p)
}

func (h *Handler) holdAction(rq *request) {
	p := holdsPage{Item: strings.TrimSpace(rq.FormValue("item")), Lot: strings.TrimSpace(rq.FormValue("lot")),
		Reason: strings.TrimSpace(rq.FormValue("reason")), Errors: map[string]string{}}
	action := rq.PathValue("action")
	if action != "place" && action != "release" {
		h.fail(rq, core.Errorf(core.ENOTFOUND, "no hold action %q: place or release", action))
		return
	}
	if p.Item == "" {
		p.Errors["item"] = "Give the lot's item."
	}
	if p.Lot == "" {
		p.Errors["lot"] = "Give the lot number."
	}
	if p.Reason == "" {
		p.Errors["reason"] = "Give the reason: the lot's history and an auditor need it."
	}
	if len(p.Errors) > 0 {
		h.refusedHold(rq, p)
		return
	}
	hp := core.HoldParams{Lot: core.LotRef{Item: p.Item, Lot: p.Lot}, Reason: p.Reason, By: rq.actor.Name, Propagate: rq.FormValue("propagate") != ""}
	var res *core.HoldResult
	var err error
	if action == "place" {
		res, err = h.o.Monitor().Hold(rq.ctx(), hp)
	} else {
		res, err = h.o.Monitor().Release(rq.ctx(), hp)
	}
	switch core.ErrorCode(err) {
	case "":
	case core.ENOTFOUND:
		p.Errors["lot"] = err.Error()
		h.refusedHold(rq, p)
		return
	case core.EINVALID, core.ECONFLICT:
		p.Errors["reason"] = err.Error()
		h.refusedHold(rq, p)
		return
	default:
		h.fail(rq, err)
		return
	}
	h.log().Info("web: hold changed", "user", rq.actor.String(), "action", action, "lot", hp.Lot.String(), "lots", len(res.Lots))
	verb := "placed on hold"
	if action == "release" {
		verb = "released"
	}
	back := "/holds"
	if rq.FormValue("back") == "lot" {
		back = lotURL("/lot", p.Item, p.Lot)
	}
	redirect(rq, back, plural(len(res.Lots), "lot")+" "+verb)
}

// refusedHold shows the holds page again with what was wrong, and the
// preview of the lot when it exists.
func (h *Handler) refusedHold(rq *request, p holdsPage) {
	p.Showing = true
	if p.Item != "" && p.Lot != "" && p.Errors["lot"] == "" {
		if preview, err := h.holdPreview(rq, core.LotRef{Item: p.Item, Lot: p.Lot}); err == nil {
			p.Preview = preview
		}
	}
	h.showHolds(rq, http.StatusBadRequest, p)
}
