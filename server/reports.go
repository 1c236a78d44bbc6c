package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/lothub/lothub/access"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/esign"
	"github.com/lothub/lothub/report"
)

// Report endpoints: the report package over HTTP, the same reports as hub
// report (docs/reports.md).
//
//	GET /v1/reports/lot?item=&lot=&format=pdf|html|json
//	GET /v1/reports/recall?item=&lot=&format=csv|xlsx|pdf|html|json
//	    (or supplier_lot=, sales_order=, customer=, or item= with from= and to=)
//	GET /v1/reports/fsma204?item=&from=&to=[&lot=]&format=xlsx|csv|json
//
// Each takes as_of= (RFC 3339, a date meaning its end in UTC, or -24h):
// the report as the store would have made it then (docs/as-of.md).
//
//	POST /v1/reports/approve {"sha256","meaning","reason","password"}
//	    (quality): the signed-in user signs the report with that content
//	    hash, re-entering their password → 201 the signature; a wrong
//	    password, a token in its place or a role that may not sign → 403,
//	    recorded as report.sign_refused (docs/audit.md); wrong passwords
//	    count with the sign-in form's limits (serve.login) → 429.
//
// A missing or bad parameter is a 400 that says which; an unknown lot a
// 404. The report is rendered in full before the first byte is sent, so a
// failure never sends half a file.

func (s *Server) reportOptions() report.Options {
	return report.Options{Version: s.reportVersion(), Tolerance: s.Monitor.Rules.Overdrawn.Tolerance}
}

// reportVersion is the version the binary was built as, for footers.
func (s *Server) reportVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// required returns the named query parameters, or an EINVALID naming the
// first one missing.
func required(q url.Values, names ...string) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.TrimSpace(q.Get(n))
		if out[i] == "" {
			return nil, core.Errorf(core.EINVALID, "parameter %q is missing: the report needs %s", n, strings.Join(names, ", "))
		}
	}
	return out, nil
}

func reportFormat(q url.Values, name, def string, formats []string) (string, error) {
	f := q.Get("format")
	if f == "" {
		f = def
	}
	return f, report.CheckFormat(name, f, formats)
}

func parseDay(name, v string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return t, core.Errorf(core.EINVALID, "parameter %q: %q is not a date: give YYYY-MM-DD or RFC 3339", name, v)
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// sendReport renders rep into memory and sends it.
func (s *Server) sendReport(w http.ResponseWriter, r *http.Request, rep any, format, name string) {
	// Signatures live in the audit trail of the live store, also for a
	// report made as of an earlier time.
	if err := esign.Attach(r.Context(), s.store, rep); err != nil {
		s.fail(w, err)
		return
	}
	var b bytes.Buffer
	if err := report.Render(&b, rep, format); err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", report.ContentType(format))
	if format != "json" && format != "html" {
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+"."+format+`"`)
	}
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
}

// makeReport builds a report with build over the store (or its view as
// of the request's as_of) and sends it in format: what every report
// route does once its parameters are read.
func (s *Server) makeReport(w http.ResponseWriter, r *http.Request, format, name string,
	build func(ctx context.Context, qs *core.Queries, opts report.Options) (any, error)) {
	qs, at, done, err := s.queriesAt(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer done()
	opts := s.reportOptions()
	opts.AsOf = at
	rep, err := build(r.Context(), qs, opts)
	if err != nil {
		s.failAt(w, at, err)
		return
	}
	s.sendReport(w, r, rep, format, name)
}

// dayRange reads the from and to parameters: from the start of from's
// day to the end of to's.
func dayRange(from, to string) (time.Time, time.Time, error) {
	f, err := parseDay("from", from, false)
	if err != nil {
		return f, time.Time{}, err
	}
	t, err := parseDay("to", to, true)
	return f, t, err
}

func (s *Server) reportLot(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format, err := reportFormat(q, "lot", "pdf", report.LotFormats)
	if err != nil {
		s.fail(w, err)
		return
	}
	v, err := required(q, "item", "lot")
	if err != nil {
		s.fail(w, err)
		return
	}
	s.makeReport(w, r, format, "lot-report", func(ctx context.Context, qs *core.Queries, opts report.Options) (any, error) {
		return report.Lot(ctx, qs, core.LotRef{Item: v[0], Lot: v[1]}, opts)
	})
}

func (s *Server) reportRecall(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format, err := reportFormat(q, "recall", "xlsx", report.RecallFormats)
	if err != nil {
		s.fail(w, err)
		return
	}
	var sel core.Selector
	switch {
	case q.Get("lot") != "":
		v, err := required(q, "item", "lot")
		if err != nil {
			s.fail(w, err)
			return
		}
		sel.Lot = &core.LotRef{Item: v[0], Lot: v[1]}
	case q.Get("supplier_lot") != "":
		sel.SupplierLot = q.Get("supplier_lot")
	case q.Get("sales_order") != "":
		sel.SalesOrder = q.Get("sales_order")
	case q.Get("customer") != "":
		sel.CustomerID = q.Get("customer")
	case q.Get("item") != "":
		v, err := required(q, "item", "from", "to")
		if err != nil {
			s.fail(w, err)
			return
		}
		sel.Item = v[0]
		if sel.From, sel.To, err = dayRange(v[1], v[2]); err != nil {
			s.fail(w, err)
			return
		}
	default:
		s.fail(w, core.Errorf(core.EINVALID, "say what to recall: item and lot, supplier_lot, sales_order, customer, or item with from and to"))
		return
	}
	s.makeReport(w, r, format, "recall-list", func(ctx context.Context, qs *core.Queries, opts report.Options) (any, error) {
		return report.Recall(ctx, qs, sel, opts)
	})
}

func (s *Server) reportFSMA(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format, err := reportFormat(q, "fsma204", "xlsx", report.FSMAFormats)
	if err != nil {
		s.fail(w, err)
		return
	}
	v, err := required(q, "item", "from", "to")
	if err != nil {
		s.fail(w, err)
		return
	}
	p := report.FSMAParams{Item: v[0], Lot: q.Get("lot")}
	if p.From, p.To, err = dayRange(v[1], v[2]); err != nil {
		s.fail(w, err)
		return
	}
	s.makeReport(w, r, format, "fsma204", func(ctx context.Context, qs *core.Queries, opts report.Options) (any, error) {
		return report.FSMA204(ctx, qs, p, opts)
	})
}

type approveRequest struct {
	SHA256   string `json:"sha256"`
	Meaning  string `json:"meaning"`
	Reason   string `json:"reason"`
	Password string `json:"password"`
	Kind     string `json:"kind"`
	Subject  string `json:"subject"`
}

// approveReport signs a report as the user the request is authenticated
// as: a session or a user's token names the signer, the password
// re-entered in the body is the signature (a token alone is not).
func (s *Server) approveReport(w http.ResponseWriter, r *http.Request) {
	var req approveRequest
	if err := decodeBody(r, &req); err != nil {
		s.fail(w, err)
		return
	}
	actor := core.ActorFrom(r.Context())
	if actor.Kind != "user" {
		writeJSON(w, http.StatusForbidden, map[string]any{"error": apiError{Code: "forbidden",
			Message: "only a hub user signs reports: sign in (or use a user's token) and re-enter the user's password; " + actor.String() + " is not a user"}})
		return
	}
	// Wrong passwords count with the sign-in form's (serve.login): a
	// stolen session or token cannot be used to guess the password here.
	now, addr := time.Now(), clientAddr(r)
	s.loginMu.Lock()
	wait := max(s.byName.blocked(actor.Name, now), s.byAddr.blocked(addr, now))
	s.loginMu.Unlock()
	if wait > 0 {
		s.log.Warn("report signing refused: too many failures", "user", actor.Name, "remote", addr, "retry_after", wait.Round(time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)+1))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": apiError{Code: "too_many_failures",
			Message: "too many wrong passwords for this user or from this address: nothing was signed; try again in " + wait.Round(time.Second).String()}})
		return
	}
	sig, err := esign.Sign(r.Context(), s.store, s.users, esign.Request{User: actor.Name, Password: req.Password, Hash: req.SHA256,
		Meaning: req.Meaning, Reason: req.Reason, Kind: req.Kind, Subject: req.Subject})
	if esign.Refusal(err) {
		if errors.Is(err, access.ErrBadCredentials) {
			s.loginMu.Lock()
			s.byName.add(actor.Name, now)
			s.byAddr.add(addr, now)
			s.loginMu.Unlock()
		}
		s.log.Warn("report signing refused", "user", actor.Name, "sha256", req.SHA256, "remote", clientAddr(r))
		writeJSON(w, http.StatusForbidden, map[string]any{"error": apiError{Code: "forbidden", Message: err.Error()}})
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	s.log.Info("report signed", "user", actor.Name, "sha256", req.SHA256, "meaning", sig.Meaning, "audit_seq", sig.AuditSeq)
	writeJSON(w, http.StatusCreated, sig)
}
