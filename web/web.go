// Package web is lothub's web application for the people who act on a
// trace or a recall: a dashboard, lot search, lot pages, the genealogy
// graph drawn as server-side SVG, recall lists with their downloads,
// the exceptions queue, holds, and connectors with their runs, cursors
// and quarantine.
//
// Pages are rendered on the server with html/template from files
// embedded in the binary; one small script (static/app.js) sets the
// time-zone cookie and asks before destructive actions, so no build step
// is needed. Every page calls the query functions the JSON API and the
// CLI call (core.Queries, core.Monitor, the report package, the runner):
// the web application never reads a store table the others do not.
//
// Who is signed in comes from the server through Auth; every page and
// every action checks the actor's role (core.Role.Can). The server checks
// the CSRF token of every cookie-authenticated POST before a handler
// runs; the pages put it in every form. The package does no
// authentication itself and must not: it has no passwords, sessions or
// tokens.
package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // user time zones on hosts without a zoneinfo database

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/report"
)

// Auth is who is signed in, and the CSRF token for forms; the server
// provides it.
type Auth interface {
	Actor(r *http.Request) (core.Actor, bool) // false: not signed in → redirect to /login?next=<path>
	CSRFToken(r *http.Request) string         // put in every form as hidden field "csrf"
}

// Syncer runs one sync of a connector now (runner.Runner): "run now".
type Syncer interface {
	Sync(ctx context.Context, name, trigger string) (core.Run, error)
}

// Options are what the web application works with. Functions are called
// per request, so the server may replace what they return after New (hub
// serve sets the monitor's alerts and may drop the genealogy cache).
type Options struct {
	Auth    Auth
	Store   core.Store
	Queries func() *core.Queries
	Monitor func() *core.Monitor
	Config  *config.Hub
	Sync    Syncer // nil: "run now" is not offered
	Report  func() report.Options
	Log     *slog.Logger
	// Context bounds work that outlives a request ("run now"); the
	// server cancels it when it stops. context.Background when nil.
	Context context.Context
	// GraphLimit is how many lots a genealogy graph draws node by node;
	// wider graphs are summarised per level and item (DefaultGraphLimit
	// when 0).
	GraphLimit int
	// PageSize is the rows of a list page (DefaultPageSize when 0).
	PageSize int
}

// Defaults of Options.
const (
	DefaultGraphLimit = 500
	DefaultPageSize   = 50
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Handler serves the web application. Create it with New.
type Handler struct {
	o     Options
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// Paths are the patterns the web application serves; the server mounts
// the handler on each.
var Paths = []string{
	"GET /{$}",
	"GET /search",
	"GET /lot",
	"GET /lot/report",
	"GET /graph",
	"GET /graph/level",
	"GET /recall",
	"GET /recall/download",
	"POST /recall/hold",
	"GET /exceptions",
	"GET /exceptions/{id}",
	"POST /exceptions/{id}/{action}",
	"GET /holds",
	"POST /holds/{action}",
	"GET /connectors",
	"GET /connectors/{name}",
	"GET /connectors/{name}/reset",
	"POST /connectors/{name}/{action}",
	"GET /quarantine",
	"GET /outbox",
	"POST /outbox/{id}/{action}",
	"GET /static/",
}

// New returns the web application.
func New(o Options) (*Handler, error) {
	if o.Auth == nil || o.Store == nil || o.Queries == nil || o.Monitor == nil || o.Config == nil {
		return nil, errors.New("web: Auth, Store, Queries, Monitor and Config are required")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	if o.Report == nil {
		o.Report = func() report.Options { return report.Options{} }
	}
	if o.GraphLimit <= 0 {
		o.GraphLimit = DefaultGraphLimit
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	h := &Handler{o: o, pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", n, err)
		}
		h.pages[base] = t
	}
	mux := http.NewServeMux()
	read, quality, integrate := core.PermRead, core.PermQuality, core.PermIntegrate
	mux.Handle("GET /{$}", h.guard(read, h.dashboard))
	mux.Handle("GET /search", h.guard(read, h.search))
	mux.Handle("GET /lot", h.guard(read, h.lot))
	mux.Handle("GET /lot/report", h.guard(read, h.lotReport))
	mux.Handle("GET /graph", h.guard(read, h.graph))
	mux.Handle("GET /graph/level", h.guard(read, h.graphLevel))
	mux.Handle("GET /recall", h.guard(read, h.recall))
	mux.Handle("GET /recall/download", h.guard(read, h.recallDownload))
	mux.Handle("POST /recall/hold", h.guard(quality, h.recallHold))
	mux.Handle("GET /exceptions", h.guard(read, h.exceptions))
	mux.Handle("GET /exceptions/{id}", h.guard(read, h.exception))
	mux.Handle("POST /exceptions/{id}/{action}", h.guard(quality, h.exceptionAction))
	mux.Handle("GET /holds", h.guard(read, h.holds))
	mux.Handle("POST /holds/{action}", h.guard(quality, h.holdAction))
	mux.Handle("GET /connectors", h.guard(read, h.connectors))
	mux.Handle("GET /connectors/{name}", h.guard(read, h.connector))
	mux.Handle("GET /connectors/{name}/reset", h.guard(integrate, h.resetConfirm))
	mux.Handle("POST /connectors/{name}/{action}", h.guard(integrate, h.connectorAction))
	mux.Handle("GET /quarantine", h.guard(read, h.quarantine))
	mux.Handle("GET /outbox", h.guard(read, h.outbox))
	mux.Handle("POST /outbox/{id}/{action}", h.guard(integrate, h.outboxAction))
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(http.FileServerFS(static))))
	h.mux = mux
	return h, nil
}

// Register mounts the web application's paths on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, p := range Paths {
		mux.Handle(p, h)
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'")
	h.mux.ServeHTTP(w, r)
}

func cacheFor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// request is one request to a page: who asks, in which time zone.
type request struct {
	*http.Request
	w     http.ResponseWriter
	actor core.Actor
	loc   *time.Location
}

func (rq *request) ctx() context.Context { return rq.Context() }

// can reports whether the signed-in user may do p.
func (rq *request) can(p core.Permission) bool { return rq.actor.Role.Can(p) }

// guard lets a signed-in user with permission p through; others are sent
// to sign in, or refused with a 403 page.
func (h *Handler) guard(p core.Permission, fn func(rq *request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := h.o.Auth.Actor(r)
		if !ok {
			if r.Method != http.MethodGet {
				http.Error(w, "not signed in: sign in at /login and try again", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		rq := &request{Request: r.WithContext(core.WithActor(r.Context(), a)), w: w, actor: a, loc: userZone(r)}
		if !a.Role.Can(p) {
			h.log().Warn("web: action refused to role", "user", a.String(), "role", a.Role, "needs", p, "path", r.URL.Path)
			h.render(rq, http.StatusForbidden, "error", "Not allowed", errorPage{
				Status:  http.StatusForbidden,
				Message: fmt.Sprintf("Your role (%s) may not do this: it needs the %q permission. Ask an administrator if you need it.", roleName(a.Role), p),
			})
			return
		}
		fn(rq)
	})
}

func roleName(r core.Role) string {
	if r == "" {
		return "none"
	}
	return string(r)
}

func (h *Handler) log() *slog.Logger { return h.o.Log }

// userZone is the time zone the user's browser reported (the tz cookie
// app.js sets from Intl), or the tz parameter; UTC when neither names a
// zone this host knows.
func userZone(r *http.Request) *time.Location {
	name := r.URL.Query().Get("tz")
	if name == "" {
		if c, err := r.Cookie("tz"); err == nil {
			name, _ = url.QueryUnescape(c.Value)
		}
	}
	if name == "" || len(name) > 64 {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// view is what every template gets.
type view struct {
	Title   string
	Actor   core.Actor
	CSRF    string
	Zone    string
	Path    string
	Query   string // the search box's content
	Message string // what the last action did
	Quality bool   // the user may place holds and decide exceptions
	Integr  bool   // the user may run syncs and reset cursors
	Data    any
	loc     *time.Location
}

func (h *Handler) render(rq *request, status int, page, title string, data any) {
	t, ok := h.pages[page]
	if !ok {
		h.log().Error("web: no template", "page", page)
		http.Error(rq.w, "internal error: see the hub's log", http.StatusInternalServerError)
		return
	}
	v := &view{Title: title, Actor: rq.actor, Zone: zoneName(rq.loc), Path: rq.URL.Path, Data: data, loc: rq.loc,
		Message: doneMessage(rq.Request), Query: rq.URL.Query().Get("q"), Quality: rq.can(core.PermQuality), Integr: rq.can(core.PermIntegrate)}
	if rq.actor.Name != "" {
		v.CSRF = h.o.Auth.CSRFToken(rq.Request)
	}
	// A clone per request carries the user's time zone into "when"
	// (Funcs on the shared template would race).
	t, err := t.Clone()
	if err == nil {
		t.Funcs(template.FuncMap{"when": func(v any) string { return when(v, rq.loc) }})
	}
	var b strings.Builder
	if err == nil {
		err = t.ExecuteTemplate(&b, "layout", v)
	}
	if err != nil {
		h.log().Error("web: render page", "page", page, "err", err)
		http.Error(rq.w, "internal error: see the hub's log", http.StatusInternalServerError)
		return
	}
	rq.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	rq.w.Header().Set("Cache-Control", "no-store")
	rq.w.WriteHeader(status)
	_, _ = rq.w.Write([]byte(b.String()))
}

func zoneName(loc *time.Location) string {
	if loc == nil {
		return "UTC"
	}
	return loc.String()
}

// errorPage is the page shown for a failure: 404 with a search box, 400
// with what is wrong, 500 without detail.
type errorPage struct {
	Status  int
	Message string
	Search  bool
}

// fail shows err as a page: ENOTFOUND a 404 with a search box, EINVALID
// a 400, ECONFLICT a 409, anything else a 500 whose detail only the log
// has.
func (h *Handler) fail(rq *request, err error) {
	p := errorPage{Status: http.StatusInternalServerError, Message: "Something went wrong on the hub: the hub's log has the detail."}
	title := "Error"
	switch core.ErrorCode(err) {
	case core.ENOTFOUND:
		p = errorPage{Status: http.StatusNotFound, Message: err.Error(), Search: true}
		title = "Not found"
	case core.EINVALID:
		p = errorPage{Status: http.StatusBadRequest, Message: err.Error(), Search: true}
		title = "Bad request"
	case core.ECONFLICT:
		p = errorPage{Status: http.StatusConflict, Message: err.Error()}
		title = "Conflict"
	default:
		if rq.ctx().Err() != nil {
			return // the user went away
		}
		h.log().Error("web: page failed", "path", rq.URL.Path, "err", err)
	}
	h.render(rq, p.Status, "error", title, p)
}

// redirect answers a successful POST: back to a page, saying what was
// done. The message travels in the address, signed with a key of this
// process, so that a link made elsewhere cannot show a page saying
// something the hub did not ("recall cancelled").
func redirect(rq *request, to, done string) {
	u, _ := url.Parse(to)
	q := u.Query()
	q.Set("done", done)
	q.Set("sig", signDone(done))
	u.RawQuery = q.Encode()
	http.Redirect(rq.w, rq.Request, u.String(), http.StatusSeeOther)
}

var doneKey = func() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err) // crypto/rand never fails on a supported system
	}
	return k
}()

func signDone(msg string) string {
	m := hmac.New(sha256.New, doneKey)
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// doneMessage is the signed message of the request's address, or "".
func doneMessage(r *http.Request) string {
	q := r.URL.Query()
	msg := q.Get("done")
	if msg == "" || !hmac.Equal([]byte(q.Get("sig")), []byte(signDone(msg))) {
		return ""
	}
	return msg
}

// lotURL is the address of a lot's page (or graph, recall).
func lotURL(page, item, lot string, extra ...string) string {
	q := url.Values{"item": {item}, "lot": {lot}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return page + "?" + q.Encode()
}

// lotParam reads the item and lot of a page's query, or an EINVALID.
func lotParam(r *http.Request) (core.LotRef, error) {
	ref := core.LotRef{Item: strings.TrimSpace(r.FormValue("item")), Lot: strings.TrimSpace(r.FormValue("lot"))}
	if ref.Item == "" || ref.Lot == "" {
		return ref, core.Errorf(core.EINVALID, "say which lot: both item and lot are needed (search finds them)")
	}
	return ref, nil
}

// pager is one page of a list.
type pager struct {
	Page, Pages, Total, From, To int
	Prev, Next                   string // addresses, "" at the ends
}

// paginate cuts n rows into pages of size and returns the bounds of the
// page the request asks for (parameter key, 1-based).
func paginate(r *http.Request, key string, n, size int) (lo, hi int, p pager) {
	page, _ := strconv.Atoi(r.URL.Query().Get(key))
	pages := max(1, (n+size-1)/size)
	page = min(max(page, 1), pages)
	lo, hi = (page-1)*size, min(page*size, n)
	p = pager{Page: page, Pages: pages, Total: n, From: lo + 1, To: hi}
	if n == 0 {
		p.From = 0
	}
	link := func(to int) string {
		q := r.URL.Query()
		q.Set(key, strconv.Itoa(to))
		q.Del("done")
		q.Del("sig")
		return r.URL.Path + "?" + q.Encode()
	}
	if page > 1 {
		p.Prev = link(page - 1)
	}
	if page < pages {
		p.Next = link(page + 1)
	}
	return lo, hi, p
}

// pageOf returns the rows of the requested page and its pager.
func pageOf[T any](r *http.Request, key string, rows []T, size int) ([]T, pager) {
	lo, hi, p := paginate(r, key, len(rows), size)
	return rows[lo:hi], p
}
