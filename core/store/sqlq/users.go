package sqlq

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lothub/lothub/core"
)

// Users, API tokens and web sessions (core.UserStore). The SQL is the same
// in both databases but for the placeholders.

func (x *Queries) CreateUser(ctx context.Context, u *core.User) error {
	return x.writeTx(ctx, "add user "+u.Name, func(q Querier) error {
		err := x.queryRow(ctx, q, `INSERT INTO users (name, full_name, role, password_hash, created, disabled) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			u.Name, u.FullName, string(u.Role), u.PasswordHash, Micros(u.Created), OptMicros(u.Disabled)).Scan(&u.ID)
		if x.d.Unique(err) {
			return core.Errorf(core.ECONFLICT, "user %q exists already: choose another name, or change its password with hub user passwd", u.Name)
		}
		return err
	})
}

const userColumns = `id, name, full_name, role, password_hash, created, disabled`

func scanUser(sc Row) (core.User, error) {
	var u core.User
	var role string
	var created, disabled int64
	err := sc.Scan(&u.ID, &u.Name, &u.FullName, &role, &u.PasswordHash, &created, &disabled)
	u.Role, u.Created, u.Disabled = core.Role(role), FromMicros(created), OptTime(disabled)
	return u, err
}

func noUser(name string) error {
	return core.Errorf(core.ENOTFOUND, "no user %q: hub user list shows the users, hub user add adds one", name)
}

func (x *Queries) User(ctx context.Context, name string) (core.User, error) {
	u, err := scanUser(x.queryRow(ctx, x.db, `SELECT `+userColumns+` FROM users WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, noUser(name)
	}
	if err != nil {
		return u, fmt.Errorf("read user %s from %s: %w", name, x.name, err)
	}
	return u, nil
}

func (x *Queries) Users(ctx context.Context) ([]core.User, error) {
	rows, err := x.query(ctx, x.db, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read users from %s: %w", x.name, err)
	}
	return collect(rows, "read users from "+x.name, scanUser)
}

// userID is the id of the user called name, or ENOTFOUND.
func (x *Queries) userID(ctx context.Context, q Querier, name string) (int64, error) {
	var id int64
	err := x.queryRow(ctx, q, `SELECT id FROM users WHERE name = $1`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, noUser(name)
	}
	return id, err
}

func (x *Queries) SetPassword(ctx context.Context, name, hash string) error {
	return x.writeTx(ctx, "set password of "+name, func(q Querier) error {
		var id int64
		if err := x.queryRow(ctx, q, `UPDATE users SET password_hash = $1 WHERE name = $2 RETURNING id`, hash, name).Scan(&id); errors.Is(err, sql.ErrNoRows) {
			return noUser(name)
		} else if err != nil {
			return err
		}
		_, err := x.exec(ctx, q, `DELETE FROM sessions WHERE user_id = $1`, id)
		return err
	})
}

func (x *Queries) DisableUser(ctx context.Context, name string, at time.Time) error {
	return x.writeTx(ctx, "disable user "+name, func(q Querier) error {
		var id, disabled int64
		if err := x.queryRow(ctx, q, `SELECT id, disabled FROM users WHERE name = $1`, name).Scan(&id, &disabled); errors.Is(err, sql.ErrNoRows) {
			return noUser(name)
		} else if err != nil {
			return err
		}
		if disabled != 0 {
			return core.Errorf(core.ECONFLICT, "user %q is disabled already (since %s)", name, FromMicros(disabled).Format(time.RFC3339))
		}
		if _, err := x.exec(ctx, q, `UPDATE users SET disabled = $1 WHERE id = $2`, Micros(at), id); err != nil {
			return err
		}
		_, err := x.exec(ctx, q, `DELETE FROM sessions WHERE user_id = $1`, id)
		return err
	})
}

func (x *Queries) CreateToken(ctx context.Context, t core.APIToken) error {
	return x.writeTx(ctx, "create token for "+t.User, func(q Querier) error {
		uid, err := x.userID(ctx, q, t.User)
		if err != nil {
			return err
		}
		_, err = x.exec(ctx, q, `INSERT INTO api_tokens (id, user_id, label, hash, created, expires, revoked, last_used) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			t.ID, uid, t.Label, t.Hash, Micros(t.Created), OptMicros(t.Expires), OptMicros(t.Revoked), OptMicros(t.LastUsed))
		if x.d.Unique(err) {
			return core.Errorf(core.ECONFLICT, "a token with id %s exists already", t.ID)
		}
		return err
	})
}

const tokenColumns = `t.id, u.name, t.label, t.hash, t.created, t.expires, t.revoked, t.last_used`

func scanToken(sc Row) (core.APIToken, error) {
	var t core.APIToken
	var created, expires, revoked, used int64
	err := sc.Scan(&t.ID, &t.User, &t.Label, &t.Hash, &created, &expires, &revoked, &used)
	t.Created, t.Expires, t.Revoked, t.LastUsed = FromMicros(created), OptTime(expires), OptTime(revoked), OptTime(used)
	return t, err
}

func noToken(id string) error {
	return core.Errorf(core.ENOTFOUND, "no token %q: hub token list shows the tokens", id)
}

func (x *Queries) Token(ctx context.Context, id string) (core.APIToken, error) {
	t, err := scanToken(x.queryRow(ctx, x.db, `SELECT `+tokenColumns+` FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, noToken(id)
	}
	if err != nil {
		return t, fmt.Errorf("read token %s from %s: %w", id, x.name, err)
	}
	return t, nil
}

func (x *Queries) Tokens(ctx context.Context, f core.TokenFilter) ([]core.APIToken, error) {
	rows, err := x.query(ctx, x.db, `SELECT `+tokenColumns+` FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE $1::text = '' OR u.name = $1 ORDER BY t.created, t.id`, f.User)
	if err != nil {
		return nil, fmt.Errorf("read tokens from %s: %w", x.name, err)
	}
	return collect(rows, "read tokens from "+x.name, scanToken)
}

func (x *Queries) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return x.writeTx(ctx, "revoke token "+id, func(q Querier) error {
		var revoked int64
		if err := x.queryRow(ctx, q, `SELECT revoked FROM api_tokens WHERE id = $1`, id).Scan(&revoked); errors.Is(err, sql.ErrNoRows) {
			return noToken(id)
		} else if err != nil {
			return err
		}
		if revoked != 0 {
			return core.Errorf(core.ECONFLICT, "token %s is revoked already (since %s)", id, FromMicros(revoked).Format(time.RFC3339))
		}
		_, err := x.exec(ctx, q, `UPDATE api_tokens SET revoked = $1 WHERE id = $2`, Micros(at), id)
		return err
	})
}

func (x *Queries) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := x.write(ctx, "record use of token "+id, `UPDATE api_tokens SET last_used = $1 WHERE id = $2 AND last_used < $1`, Micros(at), id)
	return err
}

func (x *Queries) CreateSession(ctx context.Context, ss core.Session) error {
	return x.writeTx(ctx, "start session of "+ss.User, func(q Querier) error {
		uid, err := x.userID(ctx, q, ss.User)
		if err != nil {
			return err
		}
		_, err = x.exec(ctx, q, `INSERT INTO sessions (hash, user_id, created, expires, last_seen, csrf) VALUES ($1, $2, $3, $4, $5, $6)`,
			ss.Hash, uid, Micros(ss.Created), Micros(ss.Expires), Micros(ss.LastSeen), ss.CSRF)
		return err
	})
}

func (x *Queries) Session(ctx context.Context, hash []byte) (core.Session, error) {
	var ss core.Session
	var created, expires, seen int64
	err := x.queryRow(ctx, x.db, `SELECT s.hash, u.name, s.created, s.expires, s.last_seen, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = $1`, hash).
		Scan(&ss.Hash, &ss.User, &created, &expires, &seen, &ss.CSRF)
	if errors.Is(err, sql.ErrNoRows) {
		return ss, core.Errorf(core.ENOTFOUND, "no such session: sign in again")
	}
	if err != nil {
		return ss, fmt.Errorf("read session from %s: %w", x.name, err)
	}
	ss.Created, ss.Expires, ss.LastSeen = FromMicros(created), FromMicros(expires), FromMicros(seen)
	return ss, nil
}

func (x *Queries) TouchSession(ctx context.Context, hash []byte, at time.Time) error {
	_, err := x.write(ctx, "record session activity", `UPDATE sessions SET last_seen = $1 WHERE hash = $2 AND last_seen < $1`, Micros(at), hash)
	return err
}

func (x *Queries) DeleteSession(ctx context.Context, hash []byte) error {
	_, err := x.write(ctx, "end session", `DELETE FROM sessions WHERE hash = $1`, hash)
	return err
}

func (x *Queries) DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	n, err := x.write(ctx, "remove expired sessions", `DELETE FROM sessions WHERE expires <= $1 OR last_seen < $2`, Micros(now), Micros(idleBefore))
	return int(n), err
}
