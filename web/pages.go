package web

import (
	"bytes"
	"cmp"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/esign"
	"github.com/lothub/lothub/report"
)

// ---- dashboard

type dashboard struct {
	Severities []severityRow
	OpenTotal  int
	Holds      []core.ActiveHold
	HoldsTotal int
	Runs       []connectorRun
	Activity   core.Activity // lots received, produced, shipped on Day
	Day        string
	Today      bool
	Prev, Next string // the day before, after
}

// severityRow counts open exceptions of one severity by age.
type severityRow struct {
	Severity                string
	Day, Week, Older, Total int
}

type connectorRun struct {
	Connector string
	Run       *core.Run
}

func (h *Handler) dashboard(rq *request) {
	ctx := rq.ctx()
	d := dashboard{}
	gaps, err := h.o.Monitor().GapList(ctx, core.ExceptionFilter{Open: true})
	if err != nil {
		h.fail(rq, err)
		return
	}
	now := time.Now()
	rows := map[string]*severityRow{}
	for _, sev := range []string{core.SeverityHigh, core.SeverityMedium, core.SeverityLow} {
		rows[sev] = &severityRow{Severity: sev}
	}
	for _, g := range gaps {
		row, ok := rows[g.Severity]
		if !ok {
			row = &severityRow{Severity: g.Severity}
			rows[g.Severity] = row
		}
		since, _ := time.Parse(time.RFC3339, g.Since)
		switch age := now.Sub(since); {
		case age < 24*time.Hour:
			row.Day++
		case age < 7*24*time.Hour:
			row.Week++
		default:
			row.Older++
		}
		row.Total++
		d.OpenTotal++
	}
	for _, sev := range []string{core.SeverityHigh, core.SeverityMedium, core.SeverityLow} {
		d.Severities = append(d.Severities, *rows[sev])
		delete(rows, sev)
	}
	for _, r := range rows {
		d.Severities = append(d.Severities, *r)
	}
	holds, err := h.o.Queries().Holds(ctx)
	if err != nil {
		h.fail(rq, err)
		return
	}
	slices.SortFunc(holds, func(a, b core.ActiveHold) int { return strings.Compare(b.Since, a.Since) })
	d.HoldsTotal = len(holds)
	d.Holds = holds[:min(len(holds), 10)]
	runs, err := h.lastRuns(rq)
	if err != nil {
		h.fail(rq, err)
		return
	}
	d.Runs = runs
	y, m, day := now.In(rq.loc).Date()
	from := time.Date(y, m, day, 0, 0, 0, 0, rq.loc)
	d.Today = true
	if v := rq.URL.Query().Get("day"); v != "" {
		t, err := time.ParseInLocation(time.DateOnly, v, rq.loc)
		if err != nil {
			h.fail(rq, core.Errorf(core.EINVALID, "day %q: give a date as YYYY-MM-DD", v))
			return
		}
		d.Today, from = t.Equal(from), t
	}
	d.Day = from.Format("Monday 2 January 2006")
	d.Prev = "/?day=" + from.AddDate(0, 0, -1).Format(time.DateOnly)
	if !d.Today {
		d.Next = "/?day=" + from.AddDate(0, 0, 1).Format(time.DateOnly)
	}
	if d.Activity, err = h.o.Store.Activity(ctx, from, from.AddDate(0, 0, 1)); err != nil {
		h.fail(rq, err)
		return
	}
	h.render(rq, http.StatusOK, "dashboard", "Dashboard", d)
}

// lastRuns is the last run of every configured connector (and of
// connectors that ran but are no longer configured).
func (h *Handler) lastRuns(rq *request) ([]connectorRun, error) {
	var out []connectorRun
	seen := map[string]bool{}
	for _, c := range h.o.Config.Connectors {
		runs, err := h.o.Store.Runs(rq.ctx(), core.RunFilter{Connector: c.Name, Limit: 1})
		if err != nil {
			return nil, err
		}
		cr := connectorRun{Connector: c.Name}
		if len(runs) > 0 {
			cr.Run = &runs[0]
		}
		out = append(out, cr)
		seen[c.Name] = true
	}
	runs, err := h.o.Store.Runs(rq.ctx(), core.RunFilter{Limit: 100})
	if err != nil {
		return nil, err
	}
	for i := range runs {
		if !seen[runs[i].Connector] {
			seen[runs[i].Connector] = true
			out = append(out, connectorRun{Connector: runs[i].Connector, Run: &runs[i]})
		}
	}
	return out, nil
}

// ---- search

type searchForm struct {
	Lot, Item, SupplierLot, SalesOrder, Customer, From, To string
	Errors                                                 map[string]string
	Searched                                               bool
	What                                                   string
	Results                                                []core.LotRef
	Pager                                                  pager
}

func (h *Handler) search(rq *request) {
	q := rq.URL.Query()
	f := searchForm{
		Lot: strings.TrimSpace(q.Get("lot")), Item: strings.TrimSpace(q.Get("item")),
		SupplierLot: strings.TrimSpace(q.Get("supplier_lot")), SalesOrder: strings.TrimSpace(q.Get("sales_order")),
		Customer: strings.TrimSpace(q.Get("customer")), From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to")),
		Errors: map[string]string{},
	}
	if f.Lot == "" && f.Item == "" {
		// One box for everything: the layout's search field sends q.
		f.Lot = strings.TrimSpace(q.Get("q"))
	}
	any := f.Lot != "" || f.Item != "" || f.SupplierLot != "" || f.SalesOrder != "" || f.Customer != "" || f.From != "" || f.To != ""
	if !any {
		h.render(rq, http.StatusOK, "search", "Search", f)
		return
	}
	refs, err := h.find(rq, &f)
	if err != nil && core.ErrorCode(err) != core.EINVALID {
		h.fail(rq, err)
		return
	}
	if len(f.Errors) > 0 {
		h.render(rq, http.StatusBadRequest, "search", "Search", f)
		return
	}
	f.Searched = true
	f.Results, f.Pager = pageOf(rq.Request, "page", refs, h.o.PageSize)
	h.render(rq, http.StatusOK, "search", "Search", f)
}

// searchLimit bounds the lots one search lists (an item with a million
// lots is narrowed with a date range).
const searchLimit = 5000

// find runs the search the form describes; problems with the form go to
// f.Errors by field.
func (h *Handler) find(rq *request, f *searchForm) ([]core.LotRef, error) {
	ctx := rq.ctx()
	var ids []int64
	switch {
	case f.SupplierLot != "":
		f.What = "lots received with supplier lot " + f.SupplierLot
		rs, err := h.o.Store.Receipts(ctx, core.ReceiptFilter{SupplierLot: f.SupplierLot})
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			ids = append(ids, r.LotID)
		}
	case f.SalesOrder != "" || f.Customer != "":
		if f.SalesOrder != "" {
			f.What = "lots shipped on sales order " + f.SalesOrder
		} else {
			f.What = "lots shipped to customer " + f.Customer
		}
		ss, err := h.o.Store.Shipments(ctx, core.ShipmentFilter{SalesOrder: f.SalesOrder, CustomerID: f.Customer})
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			ids = append(ids, s.LotID)
		}
	case f.From != "" || f.To != "":
		from, ferr := time.ParseInLocation(time.DateOnly, f.From, rq.loc)
		to, terr := time.ParseInLocation(time.DateOnly, f.To, rq.loc)
		if f.Item == "" {
			f.Errors["item"] = "Give the item whose lots were made or received in the date range."
		}
		if ferr != nil {
			f.Errors["from"] = "Give a date as YYYY-MM-DD."
		}
		if terr != nil {
			f.Errors["to"] = "Give a date as YYYY-MM-DD."
		}
		if ferr == nil && terr == nil && to.Before(from) {
			f.Errors["to"] = "The end of the range is before its start."
		}
		if len(f.Errors) > 0 {
			return nil, core.Errorf(core.EINVALID, "bad search")
		}
		f.What = "lots of " + f.Item + " received or produced from " + f.From + " to " + f.To
		var err error
		if ids, err = h.o.Store.Originated(ctx, core.OriginFilter{Item: f.Item, From: from, To: to.AddDate(0, 0, 1)}); err != nil {
			return nil, err
		}
	default:
		switch {
		case f.Lot != "" && f.Item != "":
			f.What = "lots of " + f.Item + " whose number starts with " + f.Lot
		case f.Lot != "":
			f.What = "lots whose number starts with " + f.Lot
		default:
			f.What = "lots of " + f.Item
		}
		rows, err := h.o.Store.SearchLots(ctx, core.LotSearch{Item: f.Item, Lot: f.Lot, Limit: searchLimit})
		if err != nil {
			return nil, err
		}
		refs := make([]core.LotRef, len(rows))
		for i, r := range rows {
			refs[i] = r.Ref
		}
		return refs, nil
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) > searchLimit {
		ids = ids[:searchLimit]
	}
	rows, err := h.o.Store.Lots(ctx, ids)
	if err != nil {
		return nil, err
	}
	refs := make([]core.LotRef, len(rows))
	for i, r := range rows {
		refs[i] = r.Ref
	}
	slices.SortFunc(refs, func(a, b core.LotRef) int {
		return cmp.Or(strings.Compare(a.Item, b.Item), strings.Compare(a.Lot, b.Lot))
	})
	return refs, nil
}

// ---- lot page

type lotPage struct {
	Status    *core.LotStatus
	Balance   *core.MassBalance
	Shipments []core.LotUseEntry
	ShipPager pager
	Consumed  []core.LotUseEntry
	UsePager  pager
	Steps     []core.StepEntry
	StepPager pager
	Events    []core.EventEntry
	EvPager   pager
	// OrderNames lists the orders of a lot with more than
	// maxOrderBalances of them, without their balances.
	OrderNames []string
	OrderPager pager
}

// maxOrderBalances is how many orders a lot page reads the balance of.
const maxOrderBalances = 50

func (h *Handler) lot(rq *request) {
	ref, err := lotParam(rq.Request)
	if err != nil {
		h.fail(rq, err)
		return
	}
	q := h.o.Queries()
	st, err := q.Lot(rq.ctx(), ref)
	if err != nil {
		h.fail(rq, err)
		return
	}
	// The balance of each order the lot went through, unless there are
	// too many to read them all for one page (a raw lot consumed by
	// thousands of orders): then the orders are listed by name.
	orders := map[string]bool{}
	for _, e := range st.Events {
		if e.Status == core.Active && e.Event.Order != "" && (e.Type == core.Consume || e.Type == core.Produce) {
			orders[e.Event.Order] = true
		}
	}
	balance := q.Balance
	if len(orders) > maxOrderBalances {
		balance = q.LotBalance
	}
	bal, err := balance(rq.ctx(), ref, h.o.Report().Tolerance)
	if err != nil {
		h.fail(rq, err)
		return
	}
	p := lotPage{Status: st, Balance: bal}
	if len(bal.Orders) == 0 && len(orders) > 0 {
		names := slices.Sorted(maps.Keys(orders))
		p.OrderNames, p.OrderPager = pageOf(rq.Request, "orders", names, h.o.PageSize)
	}
	var shipped, consumed []core.LotUseEntry
	for _, u := range bal.Uses {
		if u.Type == core.Ship {
			shipped = append(shipped, u)
		} else {
			consumed = append(consumed, u)
		}
	}
	p.Shipments, p.ShipPager = pageOf(rq.Request, "shipments", shipped, h.o.PageSize)
	p.Consumed, p.UsePager = pageOf(rq.Request, "uses", consumed, h.o.PageSize)
	p.Steps, p.StepPager = pageOf(rq.Request, "steps", st.Steps, h.o.PageSize)
	events := slices.Clone(st.Events)
	slices.Reverse(events) // newest first
	p.Events, p.EvPager = pageOf(rq.Request, "events", events, h.o.PageSize)
	h.render(rq, http.StatusOK, "lot", ref.String(), p)
}

// ---- recall

type recallPage struct {
	Ref        core.LotRef
	Report     *report.RecallData
	Deliveries []report.Delivery
	DelPager   pager
	OnHand     []report.StockRow
	OHPager    pager
	Customers  []core.Customer
	CustPager  pager
	InProcess  []report.OrderUse
	IPPager    pager
	Lots       []core.TracedLot // the affected lots, the root first
	LotPager   pager
	Preview    []core.LotRef // what a hold of all affected lots holds
	Reason     string
	Error      string
}

func (h *Handler) recall(rq *request) {
	h.showRecall(rq, http.StatusOK, "", "")
}

func (h *Handler) showRecall(rq *request, status int, reason, problem string) {
	ref, err := lotParam(rq.Request)
	if err != nil {
		h.fail(rq, err)
		return
	}
	rep, err := report.Recall(rq.ctx(), h.o.Queries(), core.Selector{Lot: &ref}, h.o.Report())
	if err != nil {
		h.fail(rq, err)
		return
	}
	res, err := h.o.Queries().Recall(rq.ctx(), core.Selector{Lot: &ref})
	if err != nil {
		h.fail(rq, err)
		return
	}
	d := &rep.Recall
	p := recallPage{Ref: ref, Report: d, Preview: holdPreview(res), Reason: reason, Error: problem}
	p.InProcess, p.IPPager = pageOf(rq.Request, "orders", d.InProcess, h.o.PageSize)
	lots := []core.TracedLot{{Item: res.Root.Item, Lot: res.Root.Lot, OnHand: res.Root.OnHand, OnHold: res.Root.OnHold}}
	p.Lots, p.LotPager = pageOf(rq.Request, "lots", append(lots, res.Lots...), h.o.PageSize)
	p.Deliveries, p.DelPager = pageOf(rq.Request, "deliveries", d.Deliveries, h.o.PageSize)
	p.OnHand, p.OHPager = pageOf(rq.Request, "onhand", d.OnHand, h.o.PageSize)
	p.Customers, p.CustPager = pageOf(rq.Request, "customers", d.Customers, h.o.PageSize)
	h.render(rq, status, "recall", "Recall of "+ref.String(), p)
}

// holdPreview lists the lots a hold of ref with propagation places on
// hold: ref unless held, and every lot made from it that still has stock
// and is not held (core.Monitor.Hold).
func (h *Handler) holdPreview(rq *request, ref core.LotRef) ([]core.LotRef, error) {
	res, err := h.o.Queries().Recall(rq.ctx(), core.Selector{Lot: &ref})
	if err != nil {
		return nil, err
	}
	return holdPreview(res), nil
}

// holdPreview lists what a propagated hold of a recall's root holds.
func holdPreview(res *core.TraceResult) []core.LotRef {
	var out []core.LotRef
	if res.Root != nil && !res.Root.OnHold {
		out = append(out, res.Root.Ref())
	}
	for _, l := range res.Lots {
		if l.OnHold || l.OnHand == nil {
			continue
		}
		for _, q := range *l.OnHand {
			if q.Qty > 1e-9 {
				out = append(out, core.LotRef{Item: l.Item, Lot: l.Lot})
				break
			}
		}
	}
	return out
}

// lotReport sends the lot's genealogy report as PDF (hub report lot).
func (h *Handler) lotReport(rq *request) {
	ref, err := lotParam(rq.Request)
	if err != nil {
		h.fail(rq, err)
		return
	}
	rep, err := report.Lot(rq.ctx(), h.o.Queries(), ref, h.o.Report())
	if err != nil {
		h.fail(rq, err)
		return
	}
	h.send(rq, rep, "pdf", "lot-"+ref.Item+"-"+ref.Lot)
}

// send renders a report in full, then sends it as a download.
func (h *Handler) send(rq *request, rep any, format, name string) {
	if err := esign.Attach(rq.ctx(), h.o.Store, rep); err != nil {
		h.fail(rq, err)
		return
	}
	var b bytes.Buffer
	if err := report.Render(&b, rep, format); err != nil {
		h.fail(rq, err)
		return
	}
	rq.w.Header().Set("Content-Type", report.ContentType(format))
	rq.w.Header().Set("Content-Disposition", `attachment; filename="`+fileName(name)+"."+format+`"`)
	rq.w.WriteHeader(http.StatusOK)
	_, _ = rq.w.Write(b.Bytes())
}

func (h *Handler) recallDownload(rq *request) {
	ref, err := lotParam(rq.Request)
	if err != nil {
		h.fail(rq, err)
		return
	}
	format := rq.URL.Query().Get("format")
	if err := report.CheckFormat("recall", format, report.RecallFormats); err != nil {
		h.fail(rq, err)
		return
	}
	rep, err := report.Recall(rq.ctx(), h.o.Queries(), core.Selector{Lot: &ref}, h.o.Report())
	if err != nil {
		h.fail(rq, err)
		return
	}
	h.send(rq, rep, format, "recall-"+ref.Item+"-"+ref.Lot)
}

// fileName keeps the characters of s a download's name may have.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

func (h *Handler) recallHold(rq *request) {
	ref, err := lotParam(rq.Request)
	if err != nil {
		h.fail(rq, err)
		return
	}
	reason := strings.TrimSpace(rq.FormValue("reason"))
	if reason == "" {
		h.showRecall(rq, http.StatusBadRequest, reason, "Give the reason for the hold: the lots' history and an auditor need it.")
		return
	}
	res, err := h.o.Monitor().Hold(rq.ctx(), core.HoldParams{Lot: ref, Reason: reason, By: rq.actor.Name, Propagate: true})
	if core.ErrorCode(err) == core.EINVALID || core.ErrorCode(err) == core.ECONFLICT {
		h.showRecall(rq, http.StatusBadRequest, reason, err.Error())
		return
	}
	if err != nil {
		h.fail(rq, err)
		return
	}
	h.log().Info("web: hold placed on a recall's lots", "user", rq.actor.String(), "lot", ref.String(), "lots", len(res.Lots))
	redirect(rq, lotURL("/recall", ref.Item, ref.Lot), plural(len(res.Lots), "lot")+" placed on hold")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return itoa(n) + " " + what + "s"
}
