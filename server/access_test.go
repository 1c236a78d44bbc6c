package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lothub/lothub/access"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/server"
)

const password = "correct horse battery"

// userToken adds a user with the role and returns a new API token of it.
func (e *env) userToken(t *testing.T, name, role string) string {
	t.Helper()
	u := &access.Users{Store: e.store}
	if _, err := u.Add(context.Background(), name, "", core.Role(role), password); err != nil {
		t.Fatal(err)
	}
	tok, _, err := u.CreateToken(context.Background(), name, "test", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// fill makes a request path of a route's pattern, a value for every
// wildcard.
func fill(path string) string {
	path = strings.ReplaceAll(path, "{$}", "") // the end of the path: "/{$}" is "/"
	return regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "x1")
}

// TestEveryRouteChecksTheRole walks every route of the server's route
// table with every role, an intake token and no credentials: a route
// that needs a permission answers 401 without credentials, 403 naming
// the permission to a role without it, and runs for a role with it;
// public and webhook routes answer every caller alike.
func TestEveryRouteChecksTheRole(t *testing.T) {
	e := newEnv(t)
	// A page of the web UI, added as the web package adds its pages.
	e.srv.Handle("POST /ui/holds", core.PermQuality, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	e.srv.Handle("GET /ui/connectors", core.PermIntegrate, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	callers := map[string]string{"none": "", "intake-token": token}
	roles := map[string]core.Role{"intake-token": core.RoleAdmin}
	for _, r := range core.Roles {
		callers[string(r)] = e.userToken(t, "u-"+string(r), string(r))
		roles[string(r)] = r
	}
	routes := e.srv.Routes()
	if len(routes) < 30 {
		t.Fatalf("the route table has %d routes; the server has more", len(routes))
	}
	for _, rt := range routes {
		t.Run(rt.Pattern, func(t *testing.T) {
			status := map[string]int{}
			bodies := map[string]string{}
			for name, tok := range callers {
				code, body := e.do(t, rt.Method(), fill(rt.Path()), tok, nil, nil)
				status[name], bodies[name] = code, string(body)
			}
			switch {
			case rt.Public || rt.Signed:
				if rt.Permission != "" {
					t.Errorf("a public or signed route names permission %q", rt.Permission)
				}
				for name, code := range status {
					if code != status["none"] {
						t.Errorf("%s: %d, without credentials %d: a public or webhook route must not depend on the caller", name, code, status["none"])
					}
				}
			default:
				if rt.Permission == "" {
					t.Fatal("a route that is neither public nor signed has no permission")
				}
				switch {
				case !isAPIPath(rt.Path()) && rt.Method() == "GET":
					// A page: the browser is sent to the sign-in form.
					if status["none"] != http.StatusSeeOther {
						t.Errorf("page without credentials: %d %s, want 303 to /login", status["none"], bodies["none"])
					}
				case status["none"] != http.StatusUnauthorized:
					t.Errorf("without credentials: %d %s, want 401", status["none"], bodies["none"])
				}
				for name, role := range roles {
					code := status[name]
					if role.Can(rt.Permission) {
						if code == http.StatusUnauthorized || code == http.StatusForbidden {
							t.Errorf("%s (may %s): %d %s, want the route to run", name, rt.Permission, code, bodies[name])
						}
						continue
					}
					if !isAPIPath(rt.Path()) {
						// A page of the web application: a page saying so.
						if code != http.StatusForbidden || !strings.Contains(bodies[name], "the "+string(rt.Permission)+" permission") {
							t.Errorf("%s (may not %s): %d %s, want a 403 page naming the permission", name, rt.Permission, code, bodies[name])
						}
						continue
					}
					var got struct {
						Error struct{ Code, Permission string }
					}
					json.Unmarshal([]byte(bodies[name]), &got)
					if code != http.StatusForbidden || got.Error.Permission != string(rt.Permission) || got.Error.Code != "forbidden" {
						t.Errorf("%s (may not %s): %d %s, want 403 naming the permission", name, rt.Permission, code, bodies[name])
					}
				}
			}
		})
	}
}

// TestBearerTokens: a user's token acts with its role until it expires,
// is revoked or its user is disabled; the intake token acts as admin.
func TestBearerTokens(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	viewer := e.userToken(t, "vic", "viewer")
	code, body := e.do(t, "GET", "/v1/whoami", viewer, nil, nil)
	if code != 200 || !strings.Contains(string(body), `"name":"vic"`) || !strings.Contains(string(body), `"role":"viewer"`) || !strings.Contains(string(body), `"permissions":["read"]`) {
		t.Errorf("whoami as vic: %d %s", code, body)
	}
	if code, _ := e.do(t, "GET", "/v1/whoami", "", nil, map[string]string{"Authorization": "bearer " + viewer}); code != 200 {
		t.Errorf("lower-case bearer scheme: %d, want 200 (the scheme is case-insensitive)", code)
	}
	if code, _ := e.do(t, "GET", "/v1/whoami", "", nil, map[string]string{"Authorization": "Basic dXNlcjpwdw=="}); code != http.StatusUnauthorized {
		t.Errorf("basic auth: %d, want 401", code)
	}
	code, body = e.do(t, "GET", "/v1/whoami", token, nil, nil)
	if code != 200 || !strings.Contains(string(body), `{"kind":"token","name":"line-1","permissions":["read","quality","integrate","admin"],"role":"admin"}`) {
		t.Errorf("whoami with the intake token: %d %s, want admin", code, body)
	}
	// Events posted with a user's token name the user as their source.
	integ := e.userToken(t, "ivo", "integrator")
	if code, body := e.do(t, "POST", "/v1/events", integ, []byte(events), nil); code != http.StatusMultiStatus {
		t.Fatalf("POST events as integrator: %d %s", code, body)
	}
	if q, _ := e.store.Quarantined(ctx, core.QuarantineFilter{}); len(q) != 1 || q[0].Source != "http:user:ivo" {
		t.Errorf("quarantine after ivo's post: %+v, want one entry from http:user:ivo", q)
	}

	// Expired: made by hand, a day ago.
	expired := "lh_0123456789ab_" + strings.Repeat("A", 43)
	h := sha256.Sum256([]byte(expired))
	if err := e.store.CreateToken(ctx, core.APIToken{ID: "0123456789ab", User: "vic", Hash: h[:], Created: time.Now().Add(-48 * time.Hour), Expires: time.Now().Add(-24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	users := &access.Users{Store: e.store}
	revoked, tok, _ := users.CreateToken(ctx, "vic", "", time.Time{})
	if err := users.Revoke(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, token, want string }{
		{"expired", expired, "expired"},
		{"revoked", revoked, "revoked"},
		{"forged", viewer[:len(viewer)-2] + "zz", "unknown or wrong credentials"},
		{"not bearer", "", "not signed in"},
	} {
		code, body := e.do(t, "GET", "/v1/holds", c.token, nil, nil)
		if code != http.StatusUnauthorized || !strings.Contains(string(body), c.want) {
			t.Errorf("%s token: %d %s, want 401 saying %q", c.name, code, body, c.want)
		}
	}
	// Disabled through the server: its token is refused at once, although
	// the server accepted it a moment ago (and trusts an accepted token
	// for a second: a user disabled by another process is refused within
	// that second, access.TestTokenCache).
	admin := e.userToken(t, "root", "admin")
	if code, body := e.do(t, "POST", "/v1/users/vic/disable", admin, nil, nil); code != 200 {
		t.Fatalf("disable vic: %d %s", code, body)
	}
	if code, body := e.do(t, "GET", "/v1/holds", viewer, nil, nil); code != http.StatusUnauthorized || !strings.Contains(string(body), "disabled") {
		t.Errorf("token of a disabled user: %d %s, want 401", code, body)
	}

	// Admin manages users and tokens over the API.
	code, body = e.do(t, "POST", "/v1/tokens", admin, []byte(`{"user":"ivo","label":"mes","expires":"30d"}`), nil)
	var created struct{ ID, Token, User string }
	json.Unmarshal(body, &created)
	if code != http.StatusCreated || !strings.HasPrefix(created.Token, "lh_"+created.ID+"_") || created.User != "ivo" {
		t.Fatalf("create token: %d %s", code, body)
	}
	if code, _ := e.do(t, "GET", "/v1/lots/FLOUR/F-A", created.Token, nil, nil); code != 200 {
		t.Errorf("the new token: %d", code)
	}
	if code, _ := e.do(t, "GET", "/v1/lots/FLOUR/F-A", created.Token, nil, nil); code != 200 {
		t.Errorf("the new token, again (from the server's cache): %d", code)
	}
	code, body = e.do(t, "GET", "/v1/tokens", admin, nil, nil)
	if code != 200 || strings.Contains(string(body), created.Token) || strings.Contains(string(body), "hash") || !strings.Contains(string(body), created.ID) {
		t.Errorf("token list: %d %s; want the ids and never a token or hash", code, body)
	}
	if code, body := e.do(t, "DELETE", "/v1/tokens/"+created.ID, admin, nil, nil); code != 200 || !strings.Contains(string(body), `"revoked":`) {
		t.Errorf("revoke: %d %s", code, body)
	}
	if code, _ := e.do(t, "GET", "/v1/lots/FLOUR/F-A", created.Token, nil, nil); code != http.StatusUnauthorized {
		t.Errorf("a revoked token still works: %d", code)
	}
	code, body = e.do(t, "POST", "/v1/users", admin, []byte(`{"name":"qa","role":"quality","password":"short"}`), nil)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "at least 12") {
		t.Errorf("user with a short password: %d %s", code, body)
	}
	code, body = e.do(t, "POST", "/v1/users", admin, []byte(`{"name":"qa","role":"quality","password":"`+password+`"}`), nil)
	if code != http.StatusCreated || strings.Contains(string(body), "argon2") || strings.Contains(string(body), password) {
		t.Errorf("add user: %d %s", code, body)
	}
	if code, _ := e.do(t, "POST", "/v1/users", admin, []byte(`{"name":"qa","role":"viewer"}`), nil); code != http.StatusConflict {
		t.Errorf("add qa twice: %d, want 409", code)
	}
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn fetches the sign-in form and posts it; it returns the answer.
func signIn(t *testing.T, c *http.Client, base, name, pw, next string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(base + "/login?next=" + url.QueryEscape(next))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("GET /login: %d, no csrf field:\n%s", resp.StatusCode, page)
	}
	resp, err = c.PostForm(base+"/login", url.Values{"name": {name}, "password": {pw}, "csrf": {string(m[1])}, "next": {next}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func send(t *testing.T, c *http.Client, method, u, contentType, body string, header map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// uiProbe is a page as the web package writes one: it shows who is
// signed in and the CSRF token its forms carry (web.Auth).
func uiProbe(srv *server.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := srv.Actor(r)
		fmt.Fprintf(w, "%v %s %s csrf=%s", ok, a.Name, a.Role, srv.CSRFToken(r))
	})
}

func TestSessionAndCSRF(t *testing.T) {
	e := newEnv(t)
	e.srv.Handle("GET /ui/me", core.PermRead, uiProbe(e.srv))
	var ran sync.Mutex
	runs := 0
	e.srv.Handle("POST /ui/hold", core.PermQuality, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran.Lock()
		runs++
		ran.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	formPost := func(c *http.Client, form url.Values) (int, string) {
		return send(t, c, "POST", e.url+"/ui/hold", "application/x-www-form-urlencoded", form.Encode(), map[string]string{"Accept": "text/html"})
	}
	if code, body := e.do(t, "POST", "/v1/events", token, []byte(events), nil); code != http.StatusMultiStatus {
		t.Fatalf("post events: %d %s", code, body)
	}
	if _, err := (&access.Users{Store: e.store}).Add(context.Background(), "ana", "Ana Q", core.RoleQuality, password); err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	// Not signed in, a page sends the browser to the sign-in form.
	resp, err := c.Get(e.url + "/ui/me?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fui%2Fme%3Fx%3D1" {
		t.Errorf("page without a session: %d to %q, want 303 to the sign-in form", resp.StatusCode, resp.Header.Get("Location"))
	}

	resp, body := signIn(t, c, e.url, "ana", password, "/ui/me")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/me" {
		t.Fatalf("sign in: %d to %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == server.SessionCookie {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.Secure || cookie.Expires.IsZero() {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, an expiry, not Secure over plain HTTP", cookie)
	}
	code, page := send(t, c, "GET", e.url+"/ui/me", "", "", nil)
	csrf, _ := strings.CutPrefix(page[strings.Index(page, "csrf="):], "csrf=")
	if code != 200 || !strings.HasPrefix(page, "true ana quality csrf=") || len(csrf) < 32 {
		t.Fatalf("page signed in: %d %q", code, page)
	}
	if code, body := send(t, c, "GET", e.url+"/v1/whoami", "", "", nil); code != 200 || !strings.Contains(body, `"name":"ana"`) {
		t.Errorf("API with the session cookie: %d %s", code, body)
	}

	// Unsafe requests need the CSRF token, and are refused before they
	// do anything.
	hold := `{"item":"FLOUR","lot":"F-A","reason":"metal found"}`
	for name, hdr := range map[string]map[string]string{"no token": nil, "wrong token": {server.CSRFHeader: csrf + "x"}} {
		code, body := send(t, c, "POST", e.url+"/v1/holds", "application/json", hold, hdr)
		if code != http.StatusForbidden || !strings.Contains(body, "CSRF") {
			t.Errorf("hold with %s: %d %s, want 403", name, code, body)
		}
	}
	if hs, _ := (&core.Queries{Store: e.store}).Holds(context.Background()); len(hs) != 0 {
		t.Fatalf("a refused request placed a hold: %+v", hs)
	}
	code, body = send(t, c, "POST", e.url+"/v1/holds", "application/json", hold, map[string]string{server.CSRFHeader: csrf})
	if code != 200 {
		t.Fatalf("hold with the CSRF header: %d %s", code, body)
	}
	if hs, _ := (&core.Queries{Store: e.store}).Holds(context.Background()); len(hs) != 1 || hs[0].By != "ana" {
		t.Errorf("holds = %+v, want F-A held by ana (the signed-in user)", hs)
	}
	// A page's form: refused before the page's handler runs without the
	// csrf field, and run with it.
	if code, page := formPost(c, url.Values{"reason": {"x"}}); code != http.StatusForbidden || !strings.Contains(page, "Nothing was done") {
		t.Errorf("form without csrf: %d %s, want 403 and a page saying nothing was done", code, page)
	}
	if code, _ := formPost(c, url.Values{"reason": {"x"}, "csrf": {csrf}}); code != http.StatusNoContent {
		t.Errorf("form with csrf: %d, want the page's handler to run", code)
	}
	ran.Lock()
	if runs != 1 {
		t.Errorf("the page's handler ran %d times, want once (for the form with its token)", runs)
	}
	ran.Unlock()
	// Sign-out is a form: the field csrf, wrong then right.
	if code, _ := send(t, c, "POST", e.url+"/logout", "application/x-www-form-urlencoded", "csrf=nope", nil); code != http.StatusForbidden {
		t.Errorf("logout with a wrong csrf field: %d, want 403", code)
	}
	if code, _ := send(t, c, "GET", e.url+"/v1/whoami", "", "", nil); code != 200 {
		t.Fatal("a refused logout ended the session")
	}
	code, _ = send(t, c, "POST", e.url+"/logout", "application/x-www-form-urlencoded", url.Values{"csrf": {csrf}}.Encode(), nil)
	if code != http.StatusSeeOther {
		t.Errorf("logout: %d, want 303", code)
	}
	// The session is over on the server, even for a browser that kept
	// the cookie.
	old := browser(t)
	u, _ := url.Parse(e.url)
	old.Jar.SetCookies(u, []*http.Cookie{{Name: server.SessionCookie, Value: cookie.Value}})
	if code, _ := send(t, old, "GET", e.url+"/v1/whoami", "", "", nil); code != http.StatusUnauthorized {
		t.Errorf("the cookie after logout: %d, want 401", code)
	}
	if code, page := formPost(old, url.Values{"reason": {"x"}, "csrf": {csrf}}); code != http.StatusUnauthorized || !strings.Contains(page, "not signed in") {
		t.Errorf("form of an ended session: %d %s, want 401 and a page saying so", code, page)
	}
	ran.Lock()
	if runs != 1 {
		t.Errorf("the page's handler ran for an ended session")
	}
	ran.Unlock()

	// A token in the password field signs in too; a bearer header wins
	// over a cookie (and needs no CSRF token).
	viewer := e.userToken(t, "vic", "viewer")
	c2 := browser(t)
	if resp, body := signIn(t, c2, e.url, "vic", viewer, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in with a token: %d %s", resp.StatusCode, body)
	}
	if code, body := send(t, c2, "POST", e.url+"/v1/holds/release", "application/json", hold, map[string]string{"Authorization": "Bearer " + token}); code != 200 {
		t.Errorf("bearer beside a cookie: %d %s", code, body)
	}
	_, page = send(t, c2, "GET", e.url+"/ui/me", "", "", nil)
	csrf2 := page[strings.Index(page, "csrf=")+5:]
	if code, body := send(t, c2, "POST", e.url+"/v1/holds", "application/json", hold, map[string]string{server.CSRFHeader: csrf2}); code != http.StatusForbidden || !strings.Contains(body, `"permission":"quality"`) {
		t.Errorf("viewer's session placing a hold: %d %s, want 403 naming quality", code, body)
	}
}

func TestSignInForm(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	e := newEnvLog(t, slog.New(slog.NewTextHandler(lockedWriter{&logs, &mu}, nil)))
	if _, err := (&access.Users{Store: e.store}).Add(context.Background(), "ana", "", core.RoleViewer, password); err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	// A form that did not come from the hub's own page is refused.
	resp, err := c.PostForm(e.url+"/login", url.Values{"name": {"ana"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) > 0 && resp.Cookies()[0].Name == server.SessionCookie {
		t.Errorf("sign-in without the form's token: %d, want 403 and no session", resp.StatusCode)
	}
	// next never leaves the hub.
	for _, next := range []string{"//evil.example/x", "https://evil.example", "/\\evil.example"} {
		if resp, _ := signIn(t, browser(t), e.url, "ana", password, next); resp.Header.Get("Location") != "/" {
			t.Errorf("next %q: sent to %q, want /", next, resp.Header.Get("Location"))
		}
	}
	// HTML in the name is escaped when the form shows it again.
	if resp, body := signIn(t, browser(t), e.url, "<script>alert(1)</script>", "x", "/"); resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "<script>alert") {
		t.Errorf("name with HTML: %d, escaped: %v", resp.StatusCode, !strings.Contains(body, "<script>alert"))
	}

	// Five failures for a name: the sixth attempt is refused, even with
	// the right password.
	for i := range 5 {
		resp, body := signIn(t, c, e.url, "ana", fmt.Sprintf("wrong-password-%d", i), "/")
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name, password or token") {
			t.Fatalf("failure %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	resp, body := signIn(t, c, e.url, "ana", password, "/")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Too many failed sign-ins") {
		t.Errorf("sign-in after 5 failures: %d (Retry-After %q), want 429", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// From one address, 20 failures whatever the names: then every name
	// is refused there. Five were ana's, one was the <script> name.
	for i := range 14 {
		if resp, _ := signIn(t, c, e.url, fmt.Sprintf("guess%d", i), "wrong-password", "/"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	if resp, _ := signIn(t, c, e.url, "someone-else", "wrong-password", "/"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("21st failure from one address: %d, want 429", resp.StatusCode)
	}
	mu.Lock()
	log := logs.String()
	mu.Unlock()
	if !strings.Contains(log, `msg="sign-in failed" user=ana remote=127.0.0.1`) || !strings.Contains(log, `msg="sign-in refused: too many failures" user=ana`) {
		t.Errorf("the log does not name the failed sign-ins with user and address:\n%s", log)
	}
	if strings.Contains(log, "wrong-password") || strings.Contains(log, password) {
		t.Errorf("the log shows a password:\n%s", log)
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Under TLS the session cookie is Secure.
func TestSecureCookieUnderTLS(t *testing.T) {
	e := newEnv(t)
	ts := httptest.NewTLSServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	if _, err := (&access.Users{Store: e.store}).Add(context.Background(), "ana", "", core.RoleViewer, password); err != nil {
		t.Fatal(err)
	}
	c := ts.Client()
	jar, _ := cookiejar.New(nil)
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, body := signIn(t, c, ts.URL, "ana", password, "/")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in over TLS: %d %s", resp.StatusCode, body)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == server.SessionCookie && !ck.Secure {
			t.Errorf("session cookie over TLS is not Secure: %+v", ck)
		}
	}
}

// Routes are registered only through the route table (routes.go): the
// mux is never handed a handler anywhere else in the package, so no
// route escapes TestEveryRouteChecksTheRole and the OpenAPI test.
func TestRoutesOnlyThroughTheTable(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "routes.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range []string{"mux.Handle(", "mux.HandleFunc(", "http.Handle(", "http.HandleFunc("} {
			if strings.Contains(string(b), call) {
				t.Errorf("%s calls %s: register routes in routes.go's table (Server.add), with their permission", f, call)
			}
		}
	}
}

// An integrator starts a sync from the API; the run is recorded as any.
func TestSyncNow(t *testing.T) {
	e := newEnv(t)
	integ := e.userToken(t, "ivo", "integrator")
	if code, body := e.do(t, "POST", "/v1/connectors/mes/sync", integ, nil, nil); code != http.StatusServiceUnavailable {
		t.Errorf("sync on a server without a runner: %d %s, want 503", code, body)
	}
	h := e.cfg
	e.srv.Runner = &runner.Runner{Store: e.store, Config: h, Plugins: &runner.Plugins{Dir: h.PluginDir}}
	done := make(chan core.Run, 1)
	e.srv.OnSync = func(run core.Run, _ error) { done <- run }
	if code, body := e.do(t, "POST", "/v1/connectors/nosuch/sync", integ, nil, nil); code != http.StatusNotFound {
		t.Errorf("sync of an unknown connector: %d %s", code, body)
	}
	if code, body := e.do(t, "POST", "/v1/connectors/mes/sync", integ, nil, nil); code != http.StatusAccepted || !strings.Contains(string(body), `"started":true`) {
		t.Fatalf("sync: %d %s, want 202", code, body)
	}
	select {
	case run := <-done:
		if run.Status != core.RunOK || run.Trigger != "manual" {
			t.Errorf("run = %+v, want ok, manual", run)
		}
	case <-time.After(time.Minute):
		t.Fatal("the sync the API started never ended")
	}
	if code, body := e.do(t, "GET", "/v1/runs?connector=mes", integ, nil, nil); code != 200 || !strings.Contains(string(body), `"trigger":"manual"`) {
		t.Errorf("runs after the sync: %d %s", code, body)
	}
}
