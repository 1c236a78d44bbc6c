package server

import (
	"bytes"
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/access"
)

// Sign-in and sign-out of the web UI:
//
//	GET  /login   the form: name, password (or an API token), hidden next and csrf
//	POST /login   checks it; on success sets the session cookie and sends the
//	              browser to next (a path of this hub, "/" by default)
//	POST /logout  ends the session (CSRF token required, as for every form)
//
// Failed sign-ins are counted per user name and per client address; past
// the limits (serve.login) the form answers 429 until the window ends.
// They are logged with the name and address, never the password.

//go:embed pages/login.html
var pageFS embed.FS

// loginTemplate is parsed on first use: every hub command links this
// package, and only hub serve shows the page.
var loginTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.ParseFS(pageFS, "pages/login.html"))
})

type loginView struct {
	Error, Name, Next, CSRF, SignedInAs string
}

// safeNext keeps next only when it is a path of this hub: never another
// site ("//evil", "https://…", "/\evil").
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

func (s *Server) secureCookies(r *http.Request) bool { return r.TLS != nil }

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	if ai, ok := authFrom(r); ok && ai.session != nil {
		// Signed in already: the session's own token passes the CSRF
		// check that runs before POST /login.
		v.CSRF, v.SignedInAs = ai.session.CSRF, ai.actor.Name
	} else {
		v.CSRF = access.RandomString(24)
		http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: v.CSRF, Path: "/login", MaxAge: 3600,
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(r)})
	}
	var b bytes.Buffer
	if err := loginTemplate().Execute(&b, v); err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusOK, loginView{Next: safeNext(r.URL.Query().Get("next"))})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, r, http.StatusBadRequest, loginView{Error: "the form could not be read: try again"})
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	password := r.PostForm.Get("password")
	v := loginView{Name: name, Next: safeNext(r.PostForm.Get("next"))}
	addr := clientAddr(r)
	log := s.log.With("user", name, "remote", addr)

	// Without a session, the form's token must be the one its page set
	// in the login cookie (with one, the middleware checked it already).
	if ai, ok := authFrom(r); !ok || ai.session == nil {
		c, err := r.Cookie(loginCookie)
		got := r.PostForm.Get("csrf")
		if err != nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.Value)) != 1 {
			log.Warn("sign-in refused: CSRF token missing or wrong")
			s.renderLogin(w, r, http.StatusForbidden, loginView{Name: name, Next: v.Next,
				Error: "this sign-in form has expired or did not come from this hub: sign in again"})
			return
		}
	}

	now := time.Now()
	s.loginMu.Lock()
	wait := max(s.byName.blocked(name, now), s.byAddr.blocked(addr, now))
	s.loginMu.Unlock()
	if wait > 0 {
		log.Warn("sign-in refused: too many failures", "retry_after", wait.Round(time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)+1))
		v.Error = "Too many failed sign-ins for this user or from this address: try again in " + wait.Round(time.Minute).String() + "."
		if wait < time.Minute {
			v.Error = "Too many failed sign-ins for this user or from this address: try again in a minute."
		}
		s.renderLogin(w, r, http.StatusTooManyRequests, v)
		return
	}

	usr, err := s.users.Login(r.Context(), name, password)
	var refused *access.Refused
	switch {
	case errors.Is(err, access.ErrBadCredentials) || errors.As(err, &refused):
		s.loginMu.Lock()
		s.byName.add(name, now)
		s.byAddr.add(addr, now)
		s.loginMu.Unlock()
		reason := "wrong name, password or token"
		v.Error = "Wrong user name, password or token."
		if refused != nil {
			reason, v.Error = refused.Reason, refused.Reason
		}
		log.Warn("sign-in failed", "reason", reason)
		s.renderLogin(w, r, http.StatusUnauthorized, v)
		return
	case err != nil:
		s.fail(w, err)
		return
	}
	// A new session for every sign-in (never a session id the browser
	// brought: session fixation), and the old one ends.
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := s.users.EndSession(r.Context(), c.Value); err != nil {
			s.fail(w, err)
			return
		}
	}
	id, sess, err := s.users.StartSession(r.Context(), usr)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.loginMu.Lock()
	delete(s.byName.counts, name)
	s.loginMu.Unlock()
	log.Info("signed in", "role", usr.Role)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", Expires: sess.Expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(r)})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/login", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(r)})
	http.Redirect(w, r, v.Next, http.StatusSeeOther)
}

// logout ends the session of the request's cookie (the CSRF check ran
// before) and sends the browser to the sign-in page.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if ai, ok := authFrom(r); ok && ai.session != nil {
		if err := s.users.Store.DeleteSession(r.Context(), ai.session.Hash); err != nil {
			s.fail(w, err)
			return
		}
		s.log.Info("signed out", "user", ai.actor.Name, "remote", clientAddr(r))
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(r)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
