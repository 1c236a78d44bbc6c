package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlq"
)

// The queries SQLite shares with PostgreSQL (users, audit trail, outbox)
// live in core/store/sqlq; this file adapts database/sql to them and says
// how this store serialises writers.

// conn is the database or a transaction, as sqlq reads and writes it.
type conn struct {
	c interface {
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	}
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlq.Rows, error) {
	r, err := c.c.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlq.Row {
	return c.c.QueryRowContext(ctx, query, args...)
}

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.c.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

type rows struct{ *sql.Rows }

func (r rows) Close() { r.Rows.Close() }

// queries is the store's side of the shared queries: writes outside
// Ingest hold the process's writer mutex (BEGIN IMMEDIATE and the busy
// timeout serialise processes).
func (s *DB) queries() *sqlq.Queries {
	return sqlq.New(sqlq.SQLite, s.path, conn{s.db}, sqlq.Hooks{
		Write: func(ctx context.Context, fn func(sqlq.Querier) error) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			w, err := s.writeConn(ctx)
			if err != nil {
				return err
			}
			err = fn(conn{w})
			if errors.Is(err, sql.ErrConnDone) {
				// fn may have written before the connection failed, so
				// it is not run again; the next write gets a new one.
				if rerr := s.reconnect(ctx, err); rerr != nil {
					return rerr
				}
			}
			return err
		},
		Tx: func(ctx context.Context, fn func(sqlq.Querier) error) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			tx, err := s.begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if err := fn(conn{tx}); err != nil {
				return err
			}
			return tx.Commit()
		},
		Ingest: func(ctx context.Context, fn func(sqlq.Querier, core.IngestTx) error) error {
			return s.Ingest(ctx, func(tx core.IngestTx) error {
				return fn(conn{tx.(*ingestTx).tx}, tx)
			})
		},
	})
}

// Audit appends e to the audit trail in this ingest transaction.
func (t *ingestTx) Audit(ctx context.Context, e core.AuditEntry) (core.AuditEntry, error) {
	return sqlq.AppendAudit(ctx, sqlq.SQLite, conn{cached{t}}, e)
}

func (t *ingestTx) Exceptions(ctx context.Context, f core.ExceptionFilter) ([]core.Exception, error) {
	return sqlq.ReadExceptions(ctx, sqlq.SQLite, conn{t.tx}, f)
}

func (t *ingestTx) SaveException(ctx context.Context, e *core.Exception) error {
	return sqlq.SaveException(ctx, sqlq.SQLite, conn{t.tx}, e)
}

func (t *ingestTx) LogException(ctx context.Context, ev core.ExceptionEvent) error {
	return sqlq.LogException(ctx, sqlq.SQLite, conn{t.tx}, ev)
}

func (t *ingestTx) SetCursor(ctx context.Context, c core.CursorRow) error {
	return sqlq.SetCursor(ctx, sqlq.SQLite, conn{t.tx}, c)
}

func (t *ingestTx) CountRun(ctx context.Context, r core.Run) error {
	return sqlq.CountRun(ctx, sqlq.SQLite, conn{t.tx}, r)
}
