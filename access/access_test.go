package access_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/access"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
)

const pw = "correct horse battery"

// clock is a settable time for the session and expiry cases.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newUsers(t *testing.T) (*access.Users, *clock) {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := &clock{t: time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)}
	return &access.Users{Store: s, Now: c.now, Session: access.SessionPolicy{Idle: 30 * time.Minute, Lifetime: 8 * time.Hour}}, c
}

func TestPasswordHash(t *testing.T) {
	h1, err := access.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := access.HashPassword(pw)
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q does not record argon2id and its parameters", h1)
	}
	if h1 == h2 {
		t.Error("two hashes of one password are equal: the salt is not per hash")
	}
	if strings.Contains(h1, pw) {
		t.Error("the hash contains the password")
	}
	for _, c := range []struct {
		password string
		want     bool
	}{{pw, true}, {pw + " ", false}, {"", false}} {
		if ok, err := access.VerifyPassword(h1, c.password); err != nil || ok != c.want {
			t.Errorf("verify %q: %v, %v; want %v", c.password, ok, err, c.want)
		}
	}
	if _, err := access.HashPassword("short"); core.ErrorCode(err) != core.EINVALID || !strings.Contains(err.Error(), "at least 12") {
		t.Errorf("short password: %v, want EINVALID asking for 12 characters", err)
	}
	if ok, err := access.VerifyPassword("$2a$10$bcrypt", pw); ok || err == nil {
		t.Errorf("a hash of another kind verified: %v, %v", ok, err)
	}
}

func TestLoginAndTokens(t *testing.T) {
	u, c := newUsers(t)
	ctx := context.Background()
	if _, err := u.Add(ctx, "ana", "Ana Q", core.RoleQuality, pw); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Add(ctx, "bot", "", core.RoleIntegrator, ""); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ name, role string }{{"", "viewer"}, {"a b", "viewer"}, {"<script>", "viewer"}, {"zed", "root"}} {
		if _, err := u.Add(ctx, bad.name, "", core.Role(bad.role), pw); core.ErrorCode(err) != core.EINVALID {
			t.Errorf("add %q as %q: %v, want EINVALID", bad.name, bad.role, err)
		}
	}
	if usr, err := u.Login(ctx, "ana", pw); err != nil || usr.Role != core.RoleQuality {
		t.Errorf("login ana: %+v, %v", usr, err)
	}
	for _, c := range []struct{ name, password string }{{"ana", "wrong password!"}, {"nobody", pw}, {"bot", pw}, {"bot", ""}} {
		if _, err := u.Login(ctx, c.name, c.password); !errors.Is(err, access.ErrBadCredentials) {
			t.Errorf("login %s/%q: %v, want ErrBadCredentials", c.name, c.password, err)
		}
	}

	token, tok, err := u.CreateToken(ctx, "bot", "ci", c.t.AddDate(0, 0, 30))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, access.TokenPrefix+tok.ID+"_") || len(token) < 50 {
		t.Errorf("token %q: want lh_<id>_ and 32 random bytes", token)
	}
	if stored, _ := u.Store.Token(ctx, tok.ID); strings.Contains(string(stored.Hash), token) || len(stored.Hash) != 32 {
		t.Errorf("stored token hash %x is not a SHA-256", stored.Hash)
	}
	if usr, _, err := u.Authenticate(ctx, token); err != nil || usr.Name != "bot" {
		t.Fatalf("authenticate: %+v, %v", usr, err)
	}
	if stored, _ := u.Store.Token(ctx, tok.ID); !stored.LastUsed.Equal(c.t) {
		t.Errorf("last used = %v, want %v", stored.LastUsed, c.t)
	}
	// A token in the password field signs its user in.
	if usr, err := u.Login(ctx, "bot", token); err != nil || usr.Name != "bot" {
		t.Errorf("login with a token: %+v, %v", usr, err)
	}
	if _, err := u.Login(ctx, "ana", token); !errors.Is(err, access.ErrBadCredentials) {
		t.Errorf("ana with bot's token: %v, want ErrBadCredentials", err)
	}
	forged := token[:len(token)-1] + "A"
	if forged == token {
		forged = token[:len(token)-1] + "B"
	}
	for _, bad := range []string{forged, "lh_", "lh_zzzzzzzzzzzz_x", "intake-token"} {
		if _, _, err := u.Authenticate(ctx, bad); !errors.Is(err, access.ErrBadCredentials) {
			t.Errorf("authenticate %q: %v, want ErrBadCredentials", bad, err)
		}
	}
	var refused *access.Refused
	c.t = c.t.AddDate(0, 0, 31)
	if _, _, err := u.Authenticate(ctx, token); !errors.As(err, &refused) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: %v, want refused as expired", err)
	}
	token2, tok2, err := u.CreateToken(ctx, "bot", "", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Revoke(ctx, tok2.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := u.Authenticate(ctx, token2); !errors.As(err, &refused) || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked token: %v, want refused as revoked", err)
	}
	token3, _, err := u.CreateToken(ctx, "bot", "", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Disable(ctx, "bot"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := u.Authenticate(ctx, token3); !errors.As(err, &refused) || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("token of a disabled user: %v, want refused", err)
	}
	if _, _, err := u.CreateToken(ctx, "bot", "", time.Time{}); core.ErrorCode(err) != core.ECONFLICT {
		t.Errorf("token for a disabled user: %v, want ECONFLICT", err)
	}
	if _, _, err := u.CreateToken(ctx, "ana", "", c.t.Add(-time.Hour)); core.ErrorCode(err) != core.EINVALID {
		t.Errorf("token expiring in the past: %v, want EINVALID", err)
	}
}

func TestSessions(t *testing.T) {
	u, c := newUsers(t)
	ctx := context.Background()
	usr, err := u.Add(ctx, "ana", "", core.RoleViewer, pw)
	if err != nil {
		t.Fatal(err)
	}
	id, s, err := u.StartSession(ctx, usr)
	if err != nil {
		t.Fatal(err)
	}
	if s.CSRF == "" || s.CSRF == id || len(id) < 40 {
		t.Fatalf("session id %q, csrf %q: want two different random strings", id, s.CSRF)
	}
	check := func(what string, wantOK bool) {
		t.Helper()
		_, got, err := u.CheckSession(ctx, id)
		if wantOK && (err != nil || got.CSRF != s.CSRF) {
			t.Errorf("%s: %v, want the session", what, err)
		}
		if !wantOK && err == nil {
			t.Errorf("%s: the session is still accepted", what)
		}
	}
	check("at once", true)
	// Used every 20 minutes, it lives until its lifetime (8h) ends.
	for range 23 {
		c.t = c.t.Add(20 * time.Minute)
		check("active", true)
	}
	c.t = c.t.Add(20 * time.Minute) // 8h after sign-in
	check("after its lifetime", false)

	id, _, _ = u.StartSession(ctx, usr)
	c.t = c.t.Add(31 * time.Minute)
	check("idle 31 minutes", false)

	id, _, _ = u.StartSession(ctx, usr)
	if err := u.EndSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	check("after sign-out", false)
	if _, _, err := u.CheckSession(ctx, "not-a-session"); !errors.Is(err, access.ErrBadCredentials) {
		t.Errorf("unknown session: %v", err)
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{
		"90d":        "2026-08-02T08:00:00Z",
		"36h":        "2026-05-05T20:00:00Z",
		"2027-01-01": "2027-01-01T00:00:00Z",
		"never":      "0001-01-01T00:00:00Z",
	} {
		got, err := access.ParseExpiry(in, now)
		if err != nil || got.Format(time.RFC3339) != want {
			t.Errorf("ParseExpiry(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"0d", "-5h", "2020-01-01", "soon"} {
		if _, err := access.ParseExpiry(bad, now); core.ErrorCode(err) != core.EINVALID {
			t.Errorf("ParseExpiry(%q): %v, want EINVALID", bad, err)
		}
	}
}

// BenchmarkHashPassword is what one sign-in with a password costs the
// server (the argon2id parameters of HashPassword).
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := access.HashPassword(pw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticate is what a bearer token costs each API request:
// the token read by id, its hash compared, its user read (SQLite).
func BenchmarkAuthenticate(b *testing.B) {
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hub.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	u := &access.Users{Store: s}
	ctx := context.Background()
	if _, err := u.Add(ctx, "ana", "", core.RoleViewer, ""); err != nil {
		b.Fatal(err)
	}
	token, _, err := u.CreateToken(ctx, "ana", "", time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := u.Authenticate(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckSession is what the session cookie costs each page.
func BenchmarkCheckSession(b *testing.B) {
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hub.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	u := &access.Users{Store: s}
	ctx := context.Background()
	usr, err := u.Add(ctx, "ana", "", core.RoleViewer, "")
	if err != nil {
		b.Fatal(err)
	}
	id, _, err := u.StartSession(ctx, usr)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := u.CheckSession(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRandomPassword(t *testing.T) {
	a, b := access.RandomPassword(), access.RandomPassword()
	if a == b || len(a) != 23 || strings.Count(a, "-") != 3 || strings.ContainsAny(a, "0O1lI") {
		t.Errorf("random passwords %q, %q: want two different ones of four groups of five, without look-alikes", a, b)
	}
	if _, err := access.HashPassword(a); err != nil {
		t.Errorf("a random password is refused: %v", err)
	}
}

// hookedStore is the real store with a function run once, right after
// the next read of a token (to revoke it while Authenticate runs).
type hookedStore struct {
	core.UserStore
	afterToken func()
}

func (s *hookedStore) Token(ctx context.Context, id string) (core.APIToken, error) {
	t, err := s.UserStore.Token(ctx, id)
	if h := s.afterToken; h != nil {
		s.afterToken = nil
		h()
	}
	return t, err
}

func TestTokenCache(t *testing.T) {
	u, c := newUsers(t)
	u.TokenCache = time.Second
	ctx := context.Background()
	for _, name := range []string{"bot", "eve", "kim"} {
		if _, err := u.Add(ctx, name, "", core.RoleViewer, ""); err != nil {
			t.Fatal(err)
		}
	}
	create := func(user string, expires time.Time) (string, core.APIToken) {
		t.Helper()
		token, tok, err := u.CreateToken(ctx, user, "", expires)
		if err != nil {
			t.Fatal(err)
		}
		return token, tok
	}
	accepted := func(what, token, user string) {
		t.Helper()
		if usr, _, err := u.Authenticate(ctx, token); err != nil || usr.Name != user {
			t.Errorf("%s: %+v, %v; want accepted as %s", what, usr, err, user)
		}
	}
	refused := func(what, token, why string) {
		t.Helper()
		var r *access.Refused
		if _, _, err := u.Authenticate(ctx, token); !errors.As(err, &r) || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v, want refused as %s", what, err, why)
		}
	}

	// Revoked by another process (the store alone): accepted from the
	// cache until TokenCache has passed since it was read, then refused.
	tokA, a := create("bot", time.Time{})
	accepted("first use", tokA, "bot")
	if err := u.Store.RevokeToken(ctx, a.ID, c.t); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(999 * time.Millisecond)
	accepted("revoked elsewhere, within the cache's second", tokA, "bot")
	c.t = c.t.Add(time.Millisecond)
	refused("revoked elsewhere, a second later", tokA, "revoked")

	// A wrong secret with a cached token's id is refused: the hash is
	// compared on every call.
	tokB, b := create("bot", time.Time{})
	accepted("first use", tokB, "bot")
	forged := tokB[:len(tokB)-1] + "A"
	if forged == tokB {
		forged = tokB[:len(tokB)-1] + "B"
	}
	if _, _, err := u.Authenticate(ctx, forged); !errors.Is(err, access.ErrBadCredentials) {
		t.Errorf("forged secret of a cached token: %v, want ErrBadCredentials", err)
	}
	// Revoked through these Users: refused at once.
	if err := u.Revoke(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	refused("revoked here", tokB, "revoked")

	// Expiry is checked on every call, cached or not.
	tokC, _ := create("bot", c.t.Add(500*time.Millisecond))
	accepted("before its expiry", tokC, "bot")
	c.t = c.t.Add(500 * time.Millisecond)
	refused("expired within the cache's second", tokC, "expired")

	// A user disabled elsewhere: within the second, then refused; one
	// disabled here: at once.
	tokE, _ := create("eve", time.Time{})
	accepted("first use", tokE, "eve")
	if err := u.Store.DisableUser(ctx, "eve", c.t); err != nil {
		t.Fatal(err)
	}
	accepted("user disabled elsewhere, within the cache's second", tokE, "eve")
	c.t = c.t.Add(time.Second)
	refused("user disabled elsewhere, a second later", tokE, "disabled")
	tokK, _ := create("kim", time.Time{})
	accepted("first use", tokK, "kim")
	if err := u.Disable(ctx, "kim"); err != nil {
		t.Fatal(err)
	}
	refused("user disabled here", tokK, "disabled")

	// A revocation here while Authenticate reads the token: that call may
	// still accept it (it read the token before), but must not cache it.
	tokD, d := create("bot", time.Time{})
	hs := &hookedStore{UserStore: u.Store}
	u.Store = hs
	hs.afterToken = func() {
		if err := u.Revoke(ctx, d.ID); err != nil {
			t.Error(err)
		}
	}
	u.Authenticate(ctx, tokD)
	refused("revoked while being read", tokD, "revoked")
}
