// Package access decides who is acting: it adds users and checks their
// passwords (argon2id), makes and checks API tokens, and starts and checks
// web UI sessions, over a core.UserStore. What a role may do is
// core.Role.Can; which route needs which permission is the server's.
//
// It never stores or logs a secret: passwords are kept as argon2id
// hashes, tokens and session ids as SHA-256 hashes, and the token itself
// is returned once, to be shown once.
package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/core"
)

// ErrBadCredentials is a sign-in or a bearer token that is refused. Its
// message names nothing: not whether the user exists, nor why it failed.
var ErrBadCredentials = errors.New("wrong user name, password or token")

// Refused is a credential that was checked and is valid but may not be
// used: an expired or revoked token, a disabled user, an expired session.
// Only someone who holds the credential learns why.
type Refused struct{ Reason string }

func (e *Refused) Error() string { return e.Reason }

func invalidf(format string, args ...any) error { return core.Errorf(core.EINVALID, format, args...) }

// TokenPrefix starts every user API token, so that a leaked token is
// recognised by secret scanners and never confused with an intake token.
const TokenPrefix = "lh_"

// tokenIDLen is the length of a token's public id (hex).
const tokenIDLen = 12

// SessionPolicy bounds a web UI session.
type SessionPolicy struct {
	// Idle: a session unused this long ends.
	Idle time.Duration
	// Lifetime: a session ends this long after sign-in, however used.
	Lifetime time.Duration
}

// DefaultSessionPolicy: an hour idle, twelve hours at most (a shift).
var DefaultSessionPolicy = SessionPolicy{Idle: time.Hour, Lifetime: 12 * time.Hour}

// touchEvery is how stale a token's last use or a session's last activity
// may be before it is written again: one write a minute, not one a request.
const touchEvery = time.Minute

// Users manages users, tokens and sessions in Store. Use it by pointer:
// it holds the cache of accepted tokens.
type Users struct {
	Store   core.UserStore
	Now     func() time.Time // time.Now when nil
	Session SessionPolicy    // DefaultSessionPolicy when zero
	// TokenCache is how long Authenticate trusts a token it accepted
	// without reading the token and its user from the store again (0:
	// read them on every call). Revoke and Disable through this Users
	// take effect at once; a token revoked or a user disabled by another
	// process (the CLI, another hub serve replica) is refused at the
	// latest TokenCache later. A token's expiry is checked on every call.
	TokenCache time.Duration

	cacheMu  sync.Mutex
	cache    map[string]acceptedToken // by token id
	cacheGen uint64                   // raised by every revocation and disabling
}

// acceptedToken is a token Authenticate accepted, and when it read it.
type acceptedToken struct {
	tok  core.APIToken
	usr  core.User
	read time.Time
}

// maxCachedTokens bounds the cache of accepted tokens (only tokens that
// were accepted enter it, so only the hub's own users fill it).
const maxCachedTokens = 4096

func (u *Users) now() time.Time {
	if u.Now != nil {
		return u.Now().UTC()
	}
	return time.Now().UTC()
}

func (u *Users) policy() SessionPolicy {
	p := u.Session
	if p.Idle <= 0 {
		p.Idle = DefaultSessionPolicy.Idle
	}
	if p.Lifetime <= 0 {
		p.Lifetime = DefaultSessionPolicy.Lifetime
	}
	return p
}

var userName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`) })

// Add adds a user. An empty password leaves the user without one: it
// signs in with a token only.
func (u *Users) Add(ctx context.Context, name, fullName string, role core.Role, password string) (core.User, error) {
	if !userName().MatchString(name) {
		return core.User{}, invalidf("user name %q: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)
	}
	if _, err := core.ParseRole(string(role)); err != nil {
		return core.User{}, invalidf("%v", err)
	}
	usr := core.User{Name: name, FullName: strings.TrimSpace(fullName), Role: role, Created: u.now()}
	if password != "" {
		h, err := HashPassword(password)
		if err != nil {
			return core.User{}, err
		}
		usr.PasswordHash = h
	}
	actx, err := audited(ctx, AuditUserAdded, "user:"+name, map[string]any{"user": name, "full_name": usr.FullName, "role": role, "password": password != ""})
	if err != nil {
		return core.User{}, err
	}
	if err := u.Store.CreateUser(actx, &usr); err != nil {
		return core.User{}, err
	}
	return usr, nil
}

// Audit actions of users and tokens. Details never hold a password, a
// token or a hash of either.
const (
	AuditUserAdded    = "user.added"
	AuditUserDisabled = "user.disabled"
	AuditPasswordSet  = "user.password_set"
	AuditTokenCreated = "token.created"
	AuditTokenRevoked = "token.revoked"
)

// audited returns ctx asking the store to record the change made under
// it in the audit trail, in the same transaction (core.WithAudit), as
// the context's actor.
func audited(ctx context.Context, action, object string, details map[string]any) (context.Context, error) {
	b, err := json.Marshal(details)
	if err != nil {
		return ctx, fmt.Errorf("audit details of %s: %w", action, err)
	}
	return core.WithAudit(ctx, core.AuditEntry{Actor: core.ActorFrom(ctx), Action: action, Object: object, Details: b}), nil
}

// SetPassword gives a user a new password; its sessions end.
func (u *Users) SetPassword(ctx context.Context, name, password string) error {
	h, err := HashPassword(password)
	if err != nil {
		return err
	}
	actx, err := audited(ctx, AuditPasswordSet, "user:"+name, map[string]any{"user": name})
	if err != nil {
		return err
	}
	return u.Store.SetPassword(actx, name, h)
}

// Disable disables a user: its tokens and sessions stop working at once.
func (u *Users) Disable(ctx context.Context, name string) error {
	actx, err := audited(ctx, AuditUserDisabled, "user:"+name, map[string]any{"user": name})
	if err != nil {
		return err
	}
	defer u.forgetTokens()
	return u.Store.DisableUser(actx, name, u.now())
}

// CreateToken makes a new API token for user, valid until expires (zero:
// no end). The token is returned once: only its hash is stored.
func (u *Users) CreateToken(ctx context.Context, user, label string, expires time.Time) (string, core.APIToken, error) {
	now := u.now()
	if !expires.IsZero() && !expires.After(now) {
		return "", core.APIToken{}, invalidf("expiry %s is in the past: give a later date or a duration such as 90d", expires.Format(time.RFC3339))
	}
	usr, err := u.Store.User(ctx, user)
	if err != nil {
		return "", core.APIToken{}, err
	}
	if !usr.Active() {
		return "", core.APIToken{}, core.Errorf(core.ECONFLICT, "user %q is disabled: a token of it would be refused", user)
	}
	idb := make([]byte, tokenIDLen/2)
	secret := make([]byte, 32)
	rand.Read(idb) // crypto/rand.Read never fails (it aborts the program instead)
	rand.Read(secret)
	id := hex.EncodeToString(idb)
	token := TokenPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(secret)
	t := core.APIToken{ID: id, User: user, Label: label, Hash: hashOf(token), Created: now, Expires: expires.UTC()}
	d := map[string]any{"id": id, "user": user, "role": usr.Role, "label": label}
	if !expires.IsZero() {
		d["expires"] = t.Expires
	}
	actx, err := audited(ctx, AuditTokenCreated, "token:"+id, d)
	if err != nil {
		return "", core.APIToken{}, err
	}
	if err := u.Store.CreateToken(actx, t); err != nil {
		return "", core.APIToken{}, err
	}
	return token, t, nil
}

// Revoke revokes a token at once.
func (u *Users) Revoke(ctx context.Context, id string) error {
	actx, err := audited(ctx, AuditTokenRevoked, "token:"+id, map[string]any{"id": id})
	if err != nil {
		return err
	}
	defer u.forgetTokens()
	return u.Store.RevokeToken(actx, id, u.now())
}

// forgetTokens empties the cache of accepted tokens and makes the
// Authenticate calls under way not cache what they read (it may be from
// before the change): called after a revocation or a disabling, whether
// it succeeded or not.
func (u *Users) forgetTokens() {
	u.cacheMu.Lock()
	defer u.cacheMu.Unlock()
	u.cache = nil
	u.cacheGen++
}

// cachedToken returns the token of that id accepted less than TokenCache
// ago, and the cache's generation (for remember).
func (u *Users) cachedToken(id string, now time.Time) (acceptedToken, bool, uint64) {
	u.cacheMu.Lock()
	defer u.cacheMu.Unlock()
	a, ok := u.cache[id]
	if ok && (now.Before(a.read) || now.Sub(a.read) >= u.TokenCache) {
		delete(u.cache, id)
		ok = false
	}
	return a, ok, u.cacheGen
}

// remember caches an accepted token unless a revocation or a disabling
// happened since gen.
func (u *Users) remember(gen uint64, a acceptedToken) {
	u.cacheMu.Lock()
	defer u.cacheMu.Unlock()
	if gen != u.cacheGen {
		return
	}
	if u.cache == nil || len(u.cache) >= maxCachedTokens {
		u.cache = make(map[string]acceptedToken)
	}
	u.cache[a.tok.ID] = a
}

func hashOf(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// IsUserToken reports whether s looks like a user API token (TokenPrefix,
// id, secret), as opposed to a configured intake token.
func IsUserToken(s string) bool {
	_, ok := tokenID(s)
	return ok
}

func tokenID(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, TokenPrefix)
	if !ok || len(rest) < tokenIDLen+2 || rest[tokenIDLen] != '_' {
		return "", false
	}
	id := rest[:tokenIDLen]
	if _, err := hex.DecodeString(id); err != nil {
		return "", false
	}
	return id, true
}

// Authenticate returns the user of a bearer token: ErrBadCredentials when
// it is no token of the hub's, *Refused when it is expired or revoked or
// its user disabled. Its hash is compared in constant time.
func (u *Users) Authenticate(ctx context.Context, token string) (core.User, core.APIToken, error) {
	id, ok := tokenID(token)
	if !ok {
		return core.User{}, core.APIToken{}, ErrBadCredentials
	}
	now := u.now()
	var gen uint64
	if u.TokenCache > 0 {
		var a acceptedToken
		if a, ok, gen = u.cachedToken(id, now); ok && subtle.ConstantTimeCompare(hashOf(token), a.tok.Hash) == 1 && a.tok.Valid(now) {
			return a.usr, a.tok, nil
		}
	}
	t, err := u.Store.Token(ctx, id)
	if core.ErrorCode(err) == core.ENOTFOUND {
		return core.User{}, core.APIToken{}, ErrBadCredentials
	}
	if err != nil {
		return core.User{}, core.APIToken{}, err
	}
	if subtle.ConstantTimeCompare(hashOf(token), t.Hash) != 1 {
		return core.User{}, core.APIToken{}, ErrBadCredentials
	}
	switch {
	case !t.Revoked.IsZero():
		return core.User{}, t, &Refused{Reason: fmt.Sprintf("token %s was revoked at %s: ask an admin for a new one (hub token create)", t.ID, t.Revoked.Format(time.RFC3339))}
	case !t.Valid(now):
		return core.User{}, t, &Refused{Reason: fmt.Sprintf("token %s expired at %s: ask an admin for a new one (hub token create)", t.ID, t.Expires.Format(time.RFC3339))}
	}
	usr, err := u.Store.User(ctx, t.User)
	if err != nil {
		return core.User{}, t, err
	}
	if !usr.Active() {
		return core.User{}, t, &Refused{Reason: fmt.Sprintf("user %s is disabled", usr.Name)}
	}
	if now.Sub(t.LastUsed) >= touchEvery {
		if err := u.Store.TouchToken(ctx, t.ID, now); err != nil {
			return core.User{}, t, err
		}
	}
	if u.TokenCache > 0 {
		u.remember(gen, acceptedToken{tok: t, usr: usr, read: now})
	}
	return usr, t, nil
}

// Login checks a sign-in: a user name and its password, or a user's API
// token in place of the password (the name, when given, must be the
// token's user). Every failure is ErrBadCredentials or *Refused, and an
// unknown name costs as long as a wrong password.
func (u *Users) Login(ctx context.Context, name, password string) (core.User, error) {
	if IsUserToken(password) {
		usr, _, err := u.Authenticate(ctx, password)
		if err != nil {
			return core.User{}, err
		}
		if name != "" && name != usr.Name {
			return core.User{}, ErrBadCredentials
		}
		return usr, nil
	}
	usr, err := u.Store.User(ctx, name)
	if err != nil && core.ErrorCode(err) != core.ENOTFOUND {
		return core.User{}, err
	}
	encoded := usr.PasswordHash
	if err != nil || encoded == "" {
		encoded = dummyHash()
	}
	ok, verr := VerifyPassword(encoded, password)
	switch {
	case verr != nil:
		return core.User{}, fmt.Errorf("check password of %s: %w", name, verr)
	case !ok || err != nil || usr.PasswordHash == "":
		return core.User{}, ErrBadCredentials
	case !usr.Active():
		return core.User{}, &Refused{Reason: fmt.Sprintf("user %s is disabled", usr.Name)}
	}
	return usr, nil
}

// StartSession signs user in: it returns the session id for the cookie
// (only its hash is stored) and the session. Sessions that have ended
// are removed on the way.
func (u *Users) StartSession(ctx context.Context, usr core.User) (string, core.Session, error) {
	now := u.now()
	p := u.policy()
	if _, err := u.Store.DeleteExpiredSessions(ctx, now, now.Add(-p.Idle)); err != nil {
		return "", core.Session{}, err
	}
	id := randomString(32)
	s := core.Session{Hash: hashOf(id), User: usr.Name, Created: now, Expires: now.Add(p.Lifetime), LastSeen: now, CSRF: randomString(32)}
	if err := u.Store.CreateSession(ctx, s); err != nil {
		return "", core.Session{}, err
	}
	return id, s, nil
}

// CheckSession returns the user and session of a session id from a
// cookie: ErrBadCredentials when there is no such session, *Refused when
// it has ended (idle, lifetime) or its user is disabled.
func (u *Users) CheckSession(ctx context.Context, id string) (core.User, core.Session, error) {
	if id == "" || len(id) > 128 {
		return core.User{}, core.Session{}, ErrBadCredentials
	}
	s, err := u.Store.Session(ctx, hashOf(id))
	if core.ErrorCode(err) == core.ENOTFOUND {
		return core.User{}, core.Session{}, ErrBadCredentials
	}
	if err != nil {
		return core.User{}, core.Session{}, err
	}
	now := u.now()
	p := u.policy()
	if !now.Before(s.Expires) || now.Sub(s.LastSeen) >= p.Idle {
		if err := u.Store.DeleteSession(ctx, s.Hash); err != nil {
			return core.User{}, core.Session{}, err
		}
		return core.User{}, core.Session{}, &Refused{Reason: "your session has ended: sign in again"}
	}
	usr, err := u.Store.User(ctx, s.User)
	if err != nil {
		return core.User{}, core.Session{}, err
	}
	if !usr.Active() {
		return core.User{}, core.Session{}, &Refused{Reason: fmt.Sprintf("user %s is disabled", usr.Name)}
	}
	if now.Sub(s.LastSeen) >= touchEvery {
		if err := u.Store.TouchSession(ctx, s.Hash, now); err != nil {
			return core.User{}, core.Session{}, err
		}
	}
	return usr, s, nil
}

// EndSession signs a session out.
func (u *Users) EndSession(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	return u.Store.DeleteSession(ctx, hashOf(id))
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// RandomString is n random bytes, base64url-encoded: for one-off secrets
// such as the sign-in form's CSRF token.
func RandomString(n int) string { return randomString(n) }

// ParseExpiry reads a token's expiry: a number of days ("90d"), a Go
// duration ("36h"), a date ("2027-01-01", its start in UTC) or an RFC 3339
// time; "" and "never" mean no expiry (the zero time).
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "never" {
		return time.Time{}, nil
	}
	var t time.Time
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return t, invalidf("expiry %q: give a positive number of days such as 90d", s)
		}
		t = now.AddDate(0, 0, n)
	} else if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return t, invalidf("expiry %q: give a positive duration", s)
		}
		t = now.Add(d)
	} else if t, err = time.Parse(time.DateOnly, s); err != nil {
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			return t, invalidf("expiry %q: give days (90d), a duration (36h), a date (2027-01-01) or never", s)
		}
	}
	if !t.After(now) {
		return time.Time{}, invalidf("expiry %q is not in the future", s)
	}
	return t.UTC(), nil
}
