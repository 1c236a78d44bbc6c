package core

import (
	"context"
	"time"
)

// User is a person who signs in to the hub (web UI, API token). What the
// user may do is its Role. Users are never deleted, only disabled: the
// audit trail names them.
type User struct {
	ID       int64     `json:"-"`
	Name     string    `json:"name"` // unique; what the user signs in with
	FullName string    `json:"full_name,omitempty"`
	Role     Role      `json:"role"`
	Created  time.Time `json:"created"`
	// Disabled is when the user was disabled (zero: active). A disabled
	// user's tokens and sessions are refused.
	Disabled time.Time `json:"disabled,omitzero"`
	// PasswordHash is the encoded argon2id hash of the password ("" when
	// the user has none and signs in with a token only). Never shown.
	PasswordHash string `json:"-"`
}

// Active reports whether the user may sign in.
func (u User) Active() bool { return u.Disabled.IsZero() }

// Actor is the user as the audit trail records a change made by it.
func (u User) Actor() Actor { return Actor{Kind: "user", Name: u.Name, Role: u.Role} }

// APIToken is a user's bearer token for the HTTP API. The token itself is
// shown once when it is created; the store keeps only its SHA-256 hash.
type APIToken struct {
	ID       string    `json:"id"` // public: names the token in lists and revocations
	User     string    `json:"user"`
	Label    string    `json:"label,omitempty"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"`   // zero: never
	Revoked  time.Time `json:"revoked,omitzero"`   // zero: not revoked
	LastUsed time.Time `json:"last_used,omitzero"` // zero: never used
	// Hash is the SHA-256 of the whole token. Never shown.
	Hash []byte `json:"-"`
}

// Valid reports whether the token may authenticate at now.
func (t APIToken) Valid(now time.Time) bool {
	return t.Revoked.IsZero() && (t.Expires.IsZero() || now.Before(t.Expires))
}

// Session is a signed-in web UI session. The session id lives in the
// browser's cookie; the store keeps only its SHA-256 hash.
type Session struct {
	Hash     []byte // SHA-256 of the session id
	User     string // the user's name
	Created  time.Time
	Expires  time.Time // absolute end, whatever the activity
	LastSeen time.Time // the idle timeout counts from it
	// CSRF is the secret every unsafe request of the session must carry
	// (form field csrf or header X-CSRF-Token).
	CSRF string
}

// TokenFilter selects API tokens.
type TokenFilter struct {
	User string // one user's tokens; "" for all
}

// UserStore keeps users, their API tokens and their web sessions. Both
// stores implement it (as part of Store) and pass core/store/storetest.
// Secrets are never stored: passwords as argon2id hashes, tokens and
// session ids as SHA-256 hashes.
type UserStore interface {
	// CreateUser stores a new user, setting u.ID: ECONFLICT when the name
	// is taken.
	CreateUser(ctx context.Context, u *User) error
	// User returns the user of that name, or ENOTFOUND.
	User(ctx context.Context, name string) (User, error)
	// Users lists every user, by name.
	Users(ctx context.Context) ([]User, error)
	// SetPassword replaces a user's password hash and ends the user's
	// sessions: ENOTFOUND when there is no such user.
	SetPassword(ctx context.Context, name, hash string) error
	// DisableUser disables a user at the given time and ends its
	// sessions: ENOTFOUND when there is no such user, ECONFLICT when it is
	// disabled already.
	DisableUser(ctx context.Context, name string, at time.Time) error

	// CreateToken stores a new API token of an existing user (t.User):
	// ENOTFOUND when there is no such user, ECONFLICT when the id is taken.
	CreateToken(ctx context.Context, t APIToken) error
	// Token returns the token with that id, or ENOTFOUND.
	Token(ctx context.Context, id string) (APIToken, error)
	// Tokens lists tokens, oldest first.
	Tokens(ctx context.Context, f TokenFilter) ([]APIToken, error)
	// RevokeToken revokes a token at the given time: ENOTFOUND when there
	// is no such token, ECONFLICT when it is revoked already.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// TouchToken records that the token was used at the given time.
	TouchToken(ctx context.Context, id string, at time.Time) error

	// CreateSession stores a new session of an existing user: ENOTFOUND
	// when there is no such user.
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session whose id hashes to hash, or ENOTFOUND.
	// Expired sessions may still be returned: the caller checks.
	Session(ctx context.Context, hash []byte) (Session, error)
	// TouchSession records activity of a session at the given time.
	TouchSession(ctx context.Context, hash []byte, at time.Time) error
	// DeleteSession ends a session (a missing one is no error).
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteExpiredSessions removes the sessions whose absolute end is
	// not after now, or that were last seen before idleBefore, and says
	// how many.
	DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error)
}
