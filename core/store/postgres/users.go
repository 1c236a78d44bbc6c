package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lothub/lothub/core"
)

// Users, API tokens and web sessions (core.UserStore).

// unique reports a unique violation (SQLSTATE 23505).
func unique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func (s *DB) CreateUser(ctx context.Context, u *core.User) error {
	return s.writeTx(ctx, "add user "+u.Name, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO users (name, full_name, role, password_hash, created, disabled) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			u.Name, u.FullName, string(u.Role), u.PasswordHash, micros(u.Created), optMicros(u.Disabled)).Scan(&u.ID)
		if unique(err) {
			return core.Errorf(core.ECONFLICT, "user %q exists already: choose another name, or change its password with hub user passwd", u.Name)
		}
		return err
	})
}

// write runs one statement.
func (s *DB) write(ctx context.Context, what, query string, args ...any) (pgconn.CommandTag, error) {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return tag, fmt.Errorf("%s: %w", what, err)
	}
	return tag, nil
}

const userColumns = `id, name, full_name, role, password_hash, created, disabled`

func scanUser(sc interface{ Scan(...any) error }) (core.User, error) {
	var u core.User
	var role string
	var created, disabled int64
	err := sc.Scan(&u.ID, &u.Name, &u.FullName, &role, &u.PasswordHash, &created, &disabled)
	u.Role, u.Created, u.Disabled = core.Role(role), fromMicros(created), optTime(disabled)
	return u, err
}

func noUser(name string) error {
	return core.Errorf(core.ENOTFOUND, "no user %q: hub user list shows the users, hub user add adds one", name)
}

func (s *DB) User(ctx context.Context, name string) (core.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, noUser(name)
	}
	if err != nil {
		return u, fmt.Errorf("read user %s: %w", name, err)
	}
	return u, nil
}

func (s *DB) Users(ctx context.Context) ([]core.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	defer rows.Close()
	var out []core.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("read users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	return out, nil
}

// writeTx runs fn in one transaction. Users, tokens and sessions are
// not genealogy: they do not take the ingest writers' advisory lock.
//
// When ctx carries an audit entry (core.WithAudit), the change runs as an
// ingest transaction instead (under the writers' lock, which the audit
// chain needs) and the entry is appended in it.
func (s *DB) writeTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	if e, ok := core.PendingAudit(ctx); ok {
		err := s.Ingest(ctx, func(itx core.IngestTx) error {
			if err := fn(itx.(*ingestTx).tx); err != nil {
				return err
			}
			_, err := itx.Audit(ctx, e)
			return err
		})
		if err != nil && core.ErrorCode(err) == core.EINTERNAL {
			return fmt.Errorf("%s: %w", what, err)
		}
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		if core.ErrorCode(err) != core.EINTERNAL {
			return err
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (s *DB) SetPassword(ctx context.Context, name, hash string) error {
	return s.writeTx(ctx, "set password of "+name, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `UPDATE users SET password_hash = $1 WHERE name = $2 RETURNING id`, hash, name).Scan(&id); errors.Is(err, pgx.ErrNoRows) {
			return noUser(name)
		} else if err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		return err
	})
}

func (s *DB) DisableUser(ctx context.Context, name string, at time.Time) error {
	return s.writeTx(ctx, "disable user "+name, func(tx pgx.Tx) error {
		var id, disabled int64
		if err := tx.QueryRow(ctx, `SELECT id, disabled FROM users WHERE name = $1`, name).Scan(&id, &disabled); errors.Is(err, pgx.ErrNoRows) {
			return noUser(name)
		} else if err != nil {
			return err
		}
		if disabled != 0 {
			return core.Errorf(core.ECONFLICT, "user %q is disabled already (since %s)", name, fromMicros(disabled).Format(time.RFC3339))
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET disabled = $1 WHERE id = $2`, micros(at), id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		return err
	})
}

func (s *DB) CreateToken(ctx context.Context, t core.APIToken) error {
	return s.writeTx(ctx, "create token for "+t.User, func(tx pgx.Tx) error {
		var uid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM users WHERE name = $1`, t.User).Scan(&uid); errors.Is(err, pgx.ErrNoRows) {
			return noUser(t.User)
		} else if err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_tokens (id, user_id, label, hash, created, expires, revoked, last_used) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			t.ID, uid, t.Label, t.Hash, micros(t.Created), optMicros(t.Expires), optMicros(t.Revoked), optMicros(t.LastUsed))
		if unique(err) {
			return core.Errorf(core.ECONFLICT, "a token with id %s exists already", t.ID)
		}
		return err
	})
}

const tokenColumns = `t.id, u.name, t.label, t.hash, t.created, t.expires, t.revoked, t.last_used`

func scanToken(sc interface{ Scan(...any) error }) (core.APIToken, error) {
	var t core.APIToken
	var created, expires, revoked, used int64
	err := sc.Scan(&t.ID, &t.User, &t.Label, &t.Hash, &created, &expires, &revoked, &used)
	t.Created, t.Expires, t.Revoked, t.LastUsed = fromMicros(created), optTime(expires), optTime(revoked), optTime(used)
	return t, err
}

func noToken(id string) error {
	return core.Errorf(core.ENOTFOUND, "no token %q: hub token list shows the tokens", id)
}

func (s *DB) Token(ctx context.Context, id string) (core.APIToken, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, noToken(id)
	}
	if err != nil {
		return t, fmt.Errorf("read token %s: %w", id, err)
	}
	return t, nil
}

func (s *DB) Tokens(ctx context.Context, f core.TokenFilter) ([]core.APIToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE $1 = '' OR u.name = $2 ORDER BY t.created, t.id`, f.User, f.User)
	if err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	defer rows.Close()
	var out []core.APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("read tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	return out, nil
}

func (s *DB) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return s.writeTx(ctx, "revoke token "+id, func(tx pgx.Tx) error {
		var revoked int64
		if err := tx.QueryRow(ctx, `SELECT revoked FROM api_tokens WHERE id = $1`, id).Scan(&revoked); errors.Is(err, pgx.ErrNoRows) {
			return noToken(id)
		} else if err != nil {
			return err
		}
		if revoked != 0 {
			return core.Errorf(core.ECONFLICT, "token %s is revoked already (since %s)", id, fromMicros(revoked).Format(time.RFC3339))
		}
		_, err := tx.Exec(ctx, `UPDATE api_tokens SET revoked = $1 WHERE id = $2`, micros(at), id)
		return err
	})
}

func (s *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := s.write(ctx, "record use of token "+id, `UPDATE api_tokens SET last_used = $1 WHERE id = $2 AND last_used < $3`, micros(at), id, micros(at))
	return err
}

func (s *DB) CreateSession(ctx context.Context, ss core.Session) error {
	return s.writeTx(ctx, "start session of "+ss.User, func(tx pgx.Tx) error {
		var uid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM users WHERE name = $1`, ss.User).Scan(&uid); errors.Is(err, pgx.ErrNoRows) {
			return noUser(ss.User)
		} else if err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO sessions (hash, user_id, created, expires, last_seen, csrf) VALUES ($1, $2, $3, $4, $5, $6)`,
			ss.Hash, uid, micros(ss.Created), micros(ss.Expires), micros(ss.LastSeen), ss.CSRF)
		return err
	})
}

func (s *DB) Session(ctx context.Context, hash []byte) (core.Session, error) {
	var ss core.Session
	var created, expires, seen int64
	err := s.pool.QueryRow(ctx, `SELECT s.hash, u.name, s.created, s.expires, s.last_seen, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = $1`, hash).
		Scan(&ss.Hash, &ss.User, &created, &expires, &seen, &ss.CSRF)
	if errors.Is(err, pgx.ErrNoRows) {
		return ss, core.Errorf(core.ENOTFOUND, "no such session: sign in again")
	}
	if err != nil {
		return ss, fmt.Errorf("read session: %w", err)
	}
	ss.Created, ss.Expires, ss.LastSeen = fromMicros(created), fromMicros(expires), fromMicros(seen)
	return ss, nil
}

func (s *DB) TouchSession(ctx context.Context, hash []byte, at time.Time) error {
	_, err := s.write(ctx, "record session activity", `UPDATE sessions SET last_seen = $1 WHERE hash = $2 AND last_seen < $3`, micros(at), hash, micros(at))
	return err
}

func (s *DB) DeleteSession(ctx context.Context, hash []byte) error {
	_, err := s.write(ctx, "end session", `DELETE FROM sessions WHERE hash = $1`, hash)
	return err
}

func (s *DB) DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	res, err := s.write(ctx, "remove expired sessions", `DELETE FROM sessions WHERE expires <= $1 OR last_seen < $2`, micros(now), micros(idleBefore))
	if err != nil {
		return 0, err
	}
	return int(res.RowsAffected()), nil
}
