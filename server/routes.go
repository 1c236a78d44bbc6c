package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/web"
)

// Route is one registered route and who may call it. Every route of the
// server is in one table (Routes): the mux is built from it, the access
// test walks it with every role, and the OpenAPI test checks it against
// the document, so a route cannot be added unchecked.
type Route struct {
	// Pattern is the method and path, as net/http.ServeMux takes it.
	Pattern string `json:"pattern"`
	// Permission is what the caller's role must grant. "" for Public and
	// Signed routes.
	Permission core.Permission `json:"permission,omitempty"`
	// Public routes need no sign-in: health, metrics, the OpenAPI
	// document, the sign-in page itself.
	Public bool `json:"public,omitempty"`
	// Signed routes (connector webhooks) are authenticated by the
	// connector's signature check, not by a user or role.
	Signed bool `json:"signed,omitempty"`

	handler http.Handler
}

// Method and Path split Pattern.
func (r Route) Method() string { m, _, _ := strings.Cut(r.Pattern, " "); return m }
func (r Route) Path() string   { _, p, _ := strings.Cut(r.Pattern, " "); return p }

// api reports whether the route is part of the JSON API (documented in
// OpenAPI, answered with JSON errors), as opposed to a page of the web UI
// (an unauthenticated browser is sent to the sign-in page).
func (r Route) api() bool {
	p := r.Path()
	return strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/epcis/") || p == "/metrics"
}

// Routes lists every route the server answers, in registration order.
func (s *Server) Routes() []Route {
	s.routeMu.Lock()
	defer s.routeMu.Unlock()
	return slices.Clone(s.routes)
}

// Handle adds a route of the web UI (or any other): h runs only for a
// caller whose role grants perm, with the actor in the request's context
// (core.ActorFrom, Server.Actor). Call it before serving.
func (s *Server) Handle(pattern string, perm core.Permission, h http.Handler) {
	s.add(Route{Pattern: pattern, Permission: perm, handler: h})
}

// HandlePublic adds a route anyone may call (static files of the UI).
func (s *Server) HandlePublic(pattern string, h http.Handler) {
	s.add(Route{Pattern: pattern, Public: true, handler: h})
}

func (s *Server) add(rt Route) {
	s.routeMu.Lock()
	defer s.routeMu.Unlock()
	h := rt.handler
	if !rt.Public && !rt.Signed {
		h = s.require(rt, h)
	}
	s.mux.Handle(rt.Pattern, h)
	s.routes = append(s.routes, rt)
}

// registerRoutes is the table of the server's own routes.
func (s *Server) registerRoutes() {
	f := func(h http.HandlerFunc) http.Handler { return h }
	public := func(p string, h http.Handler) Route { return Route{Pattern: p, Public: true, handler: h} }
	perm := func(p string, pm core.Permission, h http.HandlerFunc) Route {
		return Route{Pattern: p, Permission: pm, handler: h}
	}
	table := []Route{
		public("GET /v1/health", f(s.health)),
		public("GET /metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{})),
		public("GET /v1/openapi.json", f(s.openAPI)),
		public("GET /login", f(s.loginPage)),
		public("POST /login", f(s.login)),
		public("POST /logout", f(s.logout)),
		{Pattern: "POST /v1/webhooks/{connector}", Signed: true, handler: f(s.webhook)},

		perm("GET /v1/whoami", core.PermRead, s.whoami),
		perm("GET /v1/trace/{direction}/{item}/{lot}", core.PermRead, s.trace),
		perm("GET /v1/recall/{item}/{lot}", core.PermRead, s.recall),
		perm("GET /v1/lots/{item}/{lot}", core.PermRead, s.lot),
		perm("GET /v1/gaps", core.PermRead, s.gaps),
		perm("GET /v1/gaps/{id}", core.PermRead, s.gap),
		perm("GET /v1/holds", core.PermRead, s.holds),
		perm("GET /v1/balance/{item}/{lot}", core.PermRead, s.balance),
		perm("GET /v1/balance/order/{order}", core.PermRead, s.orderBalance),
		perm("GET /v1/runs", core.PermRead, s.runs),
		perm("GET /v1/audit", core.PermRead, s.audit),
		perm("GET /v1/reports/lot", core.PermRead, s.reportLot),
		perm("GET /v1/reports/recall", core.PermRead, s.reportRecall),
		perm("GET /v1/reports/fsma204", core.PermRead, s.reportFSMA),
		perm("POST /v1/reports/approve", core.PermQuality, s.approveReport),

		perm("POST /v1/gaps/{id}/{action}", core.PermQuality, s.gapAction),
		perm("POST /v1/holds", core.PermQuality, s.hold(core.Hold)),
		perm("POST /v1/holds/release", core.PermQuality, s.hold(core.Release)),

		perm("POST /v1/events", core.PermIntegrate, s.postEvents),
		perm("POST /v1/scans", core.PermIntegrate, s.postScans),
		perm("GET /v1/cursors/{connector}", core.PermRead, s.cursor),
		perm("DELETE /v1/cursors/{connector}", core.PermIntegrate, s.resetCursor),
		perm("POST /v1/connectors/{connector}/sync", core.PermIntegrate, s.syncNow),
		perm("GET /v1/outbox", core.PermRead, s.outboxList),
		perm("GET /v1/outbox/{id}", core.PermRead, s.outboxShow),
		perm("POST /v1/outbox/{id}/{action}", core.PermIntegrate, s.outboxAction),

		perm("GET /v1/users", core.PermAdmin, s.listUsers),
		perm("POST /v1/users", core.PermAdmin, s.addUser),
		perm("POST /v1/users/{name}/disable", core.PermAdmin, s.disableUser),
		perm("GET /v1/tokens", core.PermAdmin, s.listTokens),
		perm("POST /v1/tokens", core.PermAdmin, s.createToken),
		perm("DELETE /v1/tokens/{id}", core.PermAdmin, s.revokeToken),
	}
	table = append(table, s.epcisRoutes()...)
	for _, rt := range table {
		s.add(rt)
	}
}

// registerWeb mounts the web application's pages with the permission
// each needs: the server checks sign-in, role and CSRF before the page
// runs (the page checks the role again, to hide the buttons a role may
// not press).
func (s *Server) registerWeb(ui *web.Handler) {
	for _, p := range web.Paths {
		switch p {
		case "GET /static/":
			s.HandlePublic(p, ui)
		case "POST /recall/hold", "POST /exceptions/{id}/{action}", "POST /holds/{action}":
			s.Handle(p, core.PermQuality, ui)
		case "GET /connectors/{name}/reset", "POST /connectors/{name}/{action}", "POST /outbox/{id}/{action}":
			s.Handle(p, core.PermIntegrate, ui)
		default:
			if !strings.HasPrefix(p, "GET ") {
				panic("web path " + p + " has no permission in server.registerWeb") // caught by every test
			}
			s.Handle(p, core.PermRead, ui)
		}
	}
}
