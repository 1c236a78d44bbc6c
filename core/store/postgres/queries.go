package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlq"
)

// The queries PostgreSQL shares with SQLite (users, audit trail, outbox)
// live in core/store/sqlq; this file adapts pgx to them and says how this
// store serialises writers.

// conn is the pool or a transaction, as sqlq reads and writes it. pgx's
// rows and rows' Scan fit sqlq's as they are.
type conn struct {
	c interface {
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	}
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlq.Rows, error) {
	return c.c.Query(ctx, query, args...)
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlq.Row {
	return c.c.QueryRow(ctx, query, args...)
}

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := c.c.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

// queries is the store's side of the shared queries: single writes need
// no lock of their own (row locks, and FOR UPDATE SKIP LOCKED in claims,
// keep several hubs apart); users, tokens and sessions are written in a
// transaction that does not take the ingest writers' advisory lock.
func (s *DB) queries() *sqlq.Queries {
	return sqlq.New(sqlq.PostgreSQL, s.name, conn{s.pool}, sqlq.Hooks{
		Write: func(ctx context.Context, fn func(sqlq.Querier) error) error {
			return fn(conn{s.pool})
		},
		Tx: func(ctx context.Context, fn func(sqlq.Querier) error) error {
			tx, err := s.pool.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(context.WithoutCancel(ctx))
			if err := fn(conn{tx}); err != nil {
				return err
			}
			return tx.Commit(ctx)
		},
		Ingest: func(ctx context.Context, fn func(sqlq.Querier, core.IngestTx) error) error {
			return s.Ingest(ctx, func(tx core.IngestTx) error {
				return fn(conn{tx.(*ingestTx).tx}, tx)
			})
		},
	})
}

// Audit appends e to the audit trail in this ingest transaction. The
// head is read in a round trip of its own (its hash chains the entry);
// the entry's insert and the head's move are held and sent with the
// transaction's next statement, in a batch of hub ingest its COMMIT
// (connTx.hold). A failure of either then fails that statement or the
// commit, and the transaction with it.
func (t *ingestTx) Audit(ctx context.Context, e core.AuditEntry) (core.AuditEntry, error) {
	q := &queuedConn{tx: t.tx}
	e, err := sqlq.AppendAudit(ctx, sqlq.PostgreSQL, q, e)
	if err != nil {
		return e, err
	}
	for _, qq := range q.batch.QueuedQueries {
		t.tx.hold("append "+e.Action+" to the audit trail", qq.SQL, qq.Arguments...)
	}
	t.written["audit_log"]++
	return e, nil
}

// queuedConn is a transaction whose statements without results are
// queued, and sent in one round trip with flush or before the next
// query: for writes whose row counts nobody reads (its Exec returns 0),
// such as the audit trail's append.
type queuedConn struct {
	tx    pgx.Tx
	batch pgx.Batch
}

func (c *queuedConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	c.batch.Queue(query, args...)
	return 0, nil
}

func (c *queuedConn) Query(ctx context.Context, query string, args ...any) (sqlq.Rows, error) {
	if err := c.flush(ctx); err != nil {
		return nil, err
	}
	return c.tx.Query(ctx, query, args...)
}

func (c *queuedConn) QueryRow(ctx context.Context, query string, args ...any) sqlq.Row {
	if err := c.flush(ctx); err != nil {
		return errRow{err}
	}
	return c.tx.QueryRow(ctx, query, args...)
}

func (c *queuedConn) flush(ctx context.Context) error {
	if c.batch.Len() == 0 {
		return nil
	}
	b := c.batch
	c.batch = pgx.Batch{}
	return c.tx.SendBatch(ctx, &b).Close()
}

// errRow is a row whose Scan fails with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (t *ingestTx) Exceptions(ctx context.Context, f core.ExceptionFilter) ([]core.Exception, error) {
	return sqlq.ReadExceptions(ctx, sqlq.PostgreSQL, conn{t.tx}, f)
}

func (t *ingestTx) SaveException(ctx context.Context, e *core.Exception) error {
	t.written["gap_exceptions"]++
	return sqlq.SaveException(ctx, sqlq.PostgreSQL, conn{t.tx}, e)
}

func (t *ingestTx) LogException(ctx context.Context, ev core.ExceptionEvent) error {
	t.written["gap_history"]++
	return sqlq.LogException(ctx, sqlq.PostgreSQL, conn{t.tx}, ev)
}

func (t *ingestTx) SetCursor(ctx context.Context, c core.CursorRow) error {
	return sqlq.SetCursor(ctx, sqlq.PostgreSQL, conn{t.tx}, c)
}

func (t *ingestTx) CountRun(ctx context.Context, r core.Run) error {
	return sqlq.CountRun(ctx, sqlq.PostgreSQL, conn{t.tx}, r)
}
