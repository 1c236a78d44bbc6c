package server

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/access"
	"github.com/lothub/lothub/core"
)

// Who a request acts as (docs/security.md):
//
//   - Authorization: Bearer TOKEN — a user's API token (lh_…: its user's
//     role) or one of the configuration's intake tokens (intake.tokens,
//     kept for compatibility: they act as admin);
//   - or the session cookie lothub_session, set by POST /login.
//
// A bearer header wins over the cookie. Every cookie-authenticated unsafe
// request (POST, PUT, PATCH, DELETE) must carry the session's CSRF token
// in the form field csrf or the header X-CSRF-Token; the check runs
// before any handler, so a refused request has no effect.

// SessionCookie is the name of the web UI's session cookie.
const SessionCookie = "lothub_session"

// loginCookie carries the sign-in form's CSRF token before there is a
// session (double submit: the form's csrf field must equal it), so that
// no other site can sign a browser in as someone else.
const loginCookie = "lothub_login"

// CSRFHeader is the header an API client using the session cookie sends
// the CSRF token in; forms send the field csrf.
const CSRFHeader = "X-CSRF-Token"

// authInfo is what the middleware found out about a request.
type authInfo struct {
	actor   core.Actor
	ok      bool          // signed in
	session *core.Session // set when signed in by the cookie
	err     error         // the store failed, or a credential was refused (*access.Refused)
}

type authKey struct{}

func authFrom(r *http.Request) (*authInfo, bool) {
	ai, ok := r.Context().Value(authKey{}).(*authInfo)
	return ai, ok
}

// Actor returns who a request acts as: the user of its session cookie or
// bearer token (or an intake token, as admin), and whether it is signed
// in at all. The web UI calls it (web.Auth).
func (s *Server) Actor(r *http.Request) (core.Actor, bool) {
	ai, ok := authFrom(r)
	if !ok {
		ai = s.authenticate(r)
	}
	return ai.actor, ai.ok
}

// CSRFToken returns the token the web UI embeds in its forms (field csrf)
// for a request signed in by the session cookie; "" for any other
// request (a bearer client needs none).
func (s *Server) CSRFToken(r *http.Request) string {
	ai, ok := authFrom(r)
	if !ok {
		ai = s.authenticate(r)
	}
	if ai.session == nil {
		return ""
	}
	return ai.session.CSRF
}

// authenticate finds who the request acts as. It never fails the
// request: the route decides whether being anonymous matters.
func (s *Server) authenticate(r *http.Request) *authInfo {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		// The scheme is case-insensitive (RFC 9110 §11.1).
		if len(h) <= len("Bearer ") || !strings.EqualFold(h[:len("Bearer ")], "Bearer ") {
			return &authInfo{err: access.ErrBadCredentials}
		}
		token := strings.TrimSpace(h[len("Bearer "):])
		if name, ok := s.intakeToken(token); ok {
			return &authInfo{ok: true, actor: core.Actor{Kind: "token", Name: name, Role: core.RoleAdmin}}
		}
		usr, _, err := s.users.Authenticate(ctx, token)
		if err != nil {
			return &authInfo{err: err}
		}
		return &authInfo{ok: true, actor: usr.Actor()}
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return &authInfo{}
	}
	usr, sess, err := s.users.CheckSession(ctx, c.Value)
	if err != nil {
		return &authInfo{err: err}
	}
	return &authInfo{ok: true, actor: usr.Actor(), session: &sess}
}

// intakeToken finds a configured intake token, comparing every one in
// constant time.
func (s *Server) intakeToken(got string) (string, bool) {
	name, found := "", false
	for _, t := range s.cfg.Intake.Tokens {
		if subtle.ConstantTimeCompare([]byte(got), []byte(t.Token.Value())) == 1 && !found {
			name, found = t.Name, true
		}
	}
	return name, found
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions && m != http.MethodTrace
}

// withAuth authenticates the request, puts the actor into its context and
// refuses a cookie-authenticated unsafe request without the session's
// CSRF token, before anything else runs.
func (s *Server) withAuth(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	ai := s.authenticate(r)
	ctx := context.WithValue(r.Context(), authKey{}, ai)
	if ai.ok {
		ctx = core.WithActor(ctx, ai.actor)
	}
	r = r.WithContext(ctx)
	if ai.session != nil && unsafeMethod(r.Method) && !csrfMatches(r, ai.session.CSRF) {
		s.log.Warn("request refused: CSRF token missing or wrong", "user", ai.actor.Name, "method", r.Method, "path", r.URL.Path, "remote", clientAddr(r))
		if wantsHTML(r) {
			refusalPage(w, http.StatusForbidden, "This form has expired or did not come from this page, so nothing was done. Go back, reload the page and try again.")
			return r, false
		}
		writeJSON(w, http.StatusForbidden, map[string]any{"error": apiError{Code: "forbidden",
			Message: "CSRF token missing or wrong: nothing was done; reload the page and try again (API clients using the session cookie send it in " + CSRFHeader + ")"}})
		return r, false
	}
	return r, true
}

// csrfMatches reports whether the request carries want in the header or
// the form field csrf (an url-encoded or multipart body).
func csrfMatches(r *http.Request, want string) bool {
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		ct := r.Header.Get("Content-Type")
		switch {
		case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
			if r.ParseForm() == nil {
				got = r.PostForm.Get("csrf")
			}
		case strings.HasPrefix(ct, "multipart/form-data"):
			if r.ParseMultipartForm(1<<20) == nil {
				got = r.PostFormValue("csrf")
			}
		}
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// require runs h only for a caller whose role grants the route's
// permission: 401 for no or a refused credential (a browser asking for a
// page is sent to the sign-in page instead), 403 naming the permission
// for a role without it.
func (s *Server) require(rt Route, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ai, ok := authFrom(r)
		if !ok {
			ai = s.authenticate(r)
		}
		if !ai.ok {
			var refused *access.Refused
			msg := "not signed in: send Authorization: Bearer TOKEN (a user's token from hub token create, or an intake token) or sign in at /login"
			switch {
			case ai.err != nil && errors.As(ai.err, &refused):
				msg = refused.Reason
			case ai.err != nil && !errors.Is(ai.err, access.ErrBadCredentials):
				s.fail(w, fmt.Errorf("authenticate request to %s: %w", rt.Pattern, ai.err))
				return
			case ai.err != nil:
				msg = "unknown or wrong credentials: send Authorization: Bearer TOKEN with a valid token, or sign in again at /login"
			}
			if !rt.api() && r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			if !rt.api() && wantsHTML(r) {
				refusalPage(w, http.StatusUnauthorized, "You are not signed in (or your session has ended), so nothing was done. Sign in and try again.")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="lothub"`)
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": apiError{Code: "unauthorized", Message: msg}})
			return
		}
		if !ai.actor.Role.Can(rt.Permission) {
			s.log.Info("request refused: role lacks the permission", "actor", ai.actor.String(), "role", ai.actor.Role, "permission", rt.Permission, "route", rt.Pattern)
			if !rt.api() {
				// A page of the web application: a page, not JSON, and
				// nothing done.
				titledPage(w, http.StatusForbidden, "Not allowed", fmt.Sprintf("You are signed in as %s (role %s) and may not do this: it needs the %s permission, which your role does not grant, so nothing was done. Ask an admin (docs/security.md lists the roles).", ai.actor.Name, ai.actor.Role, rt.Permission))
				return
			}
			writeJSON(w, http.StatusForbidden, map[string]any{"error": apiError{Code: "forbidden", Permission: string(rt.Permission),
				Message: fmt.Sprintf("%s needs the %s permission, which role %s does not grant: ask an admin (docs/security.md lists the roles)", rt.Pattern, rt.Permission, ai.actor.Role)}})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// clientAddr is the address the request came from (the connection's: a
// reverse proxy's when there is one).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// whoami answers who the request acts as and what it may do.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	a := core.ActorFrom(r.Context())
	perms := []core.Permission{}
	for _, p := range []core.Permission{core.PermRead, core.PermQuality, core.PermIntegrate, core.PermAdmin} {
		if a.Role.Can(p) {
			perms = append(perms, p)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": a.Kind, "name": a.Name, "role": a.Role, "permissions": perms})
}

// failures counts failed sign-ins per key (a user name, a client address)
// in fixed windows.
type failures struct {
	max    int
	window time.Duration
	counts map[string]failureWindow
}

type failureWindow struct {
	start time.Time
	n     int
}

// maxFailureKeys bounds the memory a flood of made-up names can take: when
// reached, windows that have ended are dropped, and if none has, the
// oldest half.
const maxFailureKeys = 100000

// blocked returns how long the key is still refused, 0 if it is not.
func (f *failures) blocked(key string, now time.Time) time.Duration {
	c, ok := f.counts[key]
	if !ok || now.Sub(c.start) >= f.window || c.n < f.max {
		return 0
	}
	return c.start.Add(f.window).Sub(now)
}

func (f *failures) add(key string, now time.Time) {
	if len(f.counts) >= maxFailureKeys {
		for k, c := range f.counts {
			if now.Sub(c.start) >= f.window {
				delete(f.counts, k)
			}
		}
		for k := range f.counts {
			if len(f.counts) < maxFailureKeys/2 {
				break
			}
			delete(f.counts, k)
		}
	}
	c := f.counts[key]
	if now.Sub(c.start) >= f.window {
		c = failureWindow{start: now}
	}
	c.n++
	f.counts[key] = c
}

// wantsHTML reports whether the request is a browser's (a form post, a
// page load) rather than an API client's.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

var refusalTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("refusal").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · lothub</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 10vh auto">
<h1>{{.Title}}</h1><p>{{.Msg}}</p><p><a href="/login">Sign in</a> · <a href="/">Home</a></p>
</body></html>
`))
})

// refusalPage answers a browser whose request was refused before it ran.
func refusalPage(w http.ResponseWriter, status int, msg string) {
	titledPage(w, status, "Nothing was done", msg)
}

// titledPage answers a browser with a short page: a title and a message.
func titledPage(w http.ResponseWriter, status int, title, msg string) {
	var b bytes.Buffer
	refusalTemplate().Execute(&b, struct{ Title, Msg string }{title, msg})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}
