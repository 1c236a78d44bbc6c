package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
)

// Users, API tokens and web sessions (core.UserStore).

func unique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func (s *DB) CreateUser(ctx context.Context, u *core.User) error {
	return s.writeTx(ctx, "add user "+u.Name, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO users (name, full_name, role, password_hash, created, disabled) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			u.Name, u.FullName, string(u.Role), u.PasswordHash, micros(u.Created), optMicros(u.Disabled)).Scan(&u.ID)
		if unique(err) {
			return core.Errorf(core.ECONFLICT, "user %q exists already: choose another name, or change its password with hub user passwd", u.Name)
		}
		return err
	})
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
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, noUser(name)
	}
	if err != nil {
		return u, fmt.Errorf("read user %s from %s: %w", name, s.path, err)
	}
	return u, nil
}

func (s *DB) Users(ctx context.Context) ([]core.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read users from %s: %w", s.path, err)
	}
	defer rows.Close()
	var out []core.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("read users from %s: %w", s.path, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read users from %s: %w", s.path, err)
	}
	return out, nil
}

// writeTx runs fn in one write transaction under the writer lock. When
// ctx carries an audit entry (core.WithAudit), it is appended to the
// audit trail in the same transaction.
func (s *DB) writeTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	if e, ok := core.PendingAudit(ctx); ok {
		err := s.Ingest(ctx, func(itx core.IngestTx) error {
			if err := fn(itx.(*ingestTx).tx); err != nil {
				return err
			}
			_, err := itx.Audit(ctx, e)
			return err
		})
		if err != nil && core.ErrorCode(err) == core.EINTERNAL {
			return fmt.Errorf("%s in %s: %w", what, s.path, err)
		}
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s in %s: %w", what, s.path, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		if core.ErrorCode(err) != core.EINTERNAL {
			return err
		}
		return fmt.Errorf("%s in %s: %w", what, s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s in %s: %w", what, s.path, err)
	}
	return nil
}

func (s *DB) SetPassword(ctx context.Context, name, hash string) error {
	return s.writeTx(ctx, "set password of "+name, func(tx *sql.Tx) error {
		var id int64
		if err := tx.QueryRowContext(ctx, `UPDATE users SET password_hash = ? WHERE name = ? RETURNING id`, hash, name).Scan(&id); errors.Is(err, sql.ErrNoRows) {
			return noUser(name)
		} else if err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id)
		return err
	})
}

func (s *DB) DisableUser(ctx context.Context, name string, at time.Time) error {
	return s.writeTx(ctx, "disable user "+name, func(tx *sql.Tx) error {
		var id, disabled int64
		if err := tx.QueryRowContext(ctx, `SELECT id, disabled FROM users WHERE name = ?`, name).Scan(&id, &disabled); errors.Is(err, sql.ErrNoRows) {
			return noUser(name)
		} else if err != nil {
			return err
		}
		if disabled != 0 {
			return core.Errorf(core.ECONFLICT, "user %q is disabled already (since %s)", name, fromMicros(disabled).Format(time.RFC3339))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled = ? WHERE id = ?`, micros(at), id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id)
		return err
	})
}

func (s *DB) CreateToken(ctx context.Context, t core.APIToken) error {
	return s.writeTx(ctx, "create token for "+t.User, func(tx *sql.Tx) error {
		var uid int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE name = ?`, t.User).Scan(&uid); errors.Is(err, sql.ErrNoRows) {
			return noUser(t.User)
		} else if err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (id, user_id, label, hash, created, expires, revoked, last_used) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
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
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, noToken(id)
	}
	if err != nil {
		return t, fmt.Errorf("read token %s from %s: %w", id, s.path, err)
	}
	return t, nil
}

func (s *DB) Tokens(ctx context.Context, f core.TokenFilter) ([]core.APIToken, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE ? = '' OR u.name = ? ORDER BY t.created, t.id`, f.User, f.User)
	if err != nil {
		return nil, fmt.Errorf("read tokens from %s: %w", s.path, err)
	}
	defer rows.Close()
	var out []core.APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("read tokens from %s: %w", s.path, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tokens from %s: %w", s.path, err)
	}
	return out, nil
}

func (s *DB) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return s.writeTx(ctx, "revoke token "+id, func(tx *sql.Tx) error {
		var revoked int64
		if err := tx.QueryRowContext(ctx, `SELECT revoked FROM api_tokens WHERE id = ?`, id).Scan(&revoked); errors.Is(err, sql.ErrNoRows) {
			return noToken(id)
		} else if err != nil {
			return err
		}
		if revoked != 0 {
			return core.Errorf(core.ECONFLICT, "token %s is revoked already (since %s)", id, fromMicros(revoked).Format(time.RFC3339))
		}
		_, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked = ? WHERE id = ?`, micros(at), id)
		return err
	})
}

func (s *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := s.write(ctx, "record use of token "+id, `UPDATE api_tokens SET last_used = ? WHERE id = ? AND last_used < ?`, micros(at), id, micros(at))
	return err
}

func (s *DB) CreateSession(ctx context.Context, ss core.Session) error {
	return s.writeTx(ctx, "start session of "+ss.User, func(tx *sql.Tx) error {
		var uid int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE name = ?`, ss.User).Scan(&uid); errors.Is(err, sql.ErrNoRows) {
			return noUser(ss.User)
		} else if err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (hash, user_id, created, expires, last_seen, csrf) VALUES (?, ?, ?, ?, ?, ?)`,
			ss.Hash, uid, micros(ss.Created), micros(ss.Expires), micros(ss.LastSeen), ss.CSRF)
		return err
	})
}

func (s *DB) Session(ctx context.Context, hash []byte) (core.Session, error) {
	var ss core.Session
	var created, expires, seen int64
	err := s.db.QueryRowContext(ctx, `SELECT s.hash, u.name, s.created, s.expires, s.last_seen, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?`, hash).
		Scan(&ss.Hash, &ss.User, &created, &expires, &seen, &ss.CSRF)
	if errors.Is(err, sql.ErrNoRows) {
		return ss, core.Errorf(core.ENOTFOUND, "no such session: sign in again")
	}
	if err != nil {
		return ss, fmt.Errorf("read session from %s: %w", s.path, err)
	}
	ss.Created, ss.Expires, ss.LastSeen = fromMicros(created), fromMicros(expires), fromMicros(seen)
	return ss, nil
}

func (s *DB) TouchSession(ctx context.Context, hash []byte, at time.Time) error {
	_, err := s.write(ctx, "record session activity", `UPDATE sessions SET last_seen = ? WHERE hash = ? AND last_seen < ?`, micros(at), hash, micros(at))
	return err
}

func (s *DB) DeleteSession(ctx context.Context, hash []byte) error {
	_, err := s.write(ctx, "end session", `DELETE FROM sessions WHERE hash = ?`, hash)
	return err
}

func (s *DB) DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	res, err := s.write(ctx, "remove expired sessions", `DELETE FROM sessions WHERE expires <= ? OR last_seen < ?`, micros(now), micros(idleBefore))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
