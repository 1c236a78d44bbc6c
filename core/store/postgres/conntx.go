package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// connTx is an ingest transaction on a pool connection whose BEGIN is
// sent in the round trip of its first statements (beginWith), and whose
// COMMIT in the round trip of the statements held for it (hold): pgx's
// own Tx sends each alone, and each round trip is a wait for the server
// and, on a busy machine, for a core (two of a batch's dozen). Held
// statements are sent before anything else the transaction runs, so
// they are applied in the order they were issued.
type connTx struct {
	conn   *pgxpool.Conn
	held   pgx.Batch
	whats  []string // what each held statement does, for errors
	closed bool
}

var _ pgx.Tx = (*connTx)(nil)

// beginWith acquires a connection and begins a transaction on it in one
// round trip with the statements of b.
func beginWith(ctx context.Context, pool *pgxpool.Pool, b *pgx.Batch) (*connTx, error) {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	t := &connTx{conn: c}
	all := &pgx.Batch{}
	all.Queue("BEGIN")
	all.QueuedQueries = append(all.QueuedQueries, b.QueuedQueries...)
	if err := c.SendBatch(ctx, all).Close(); err != nil {
		t.Rollback(context.WithoutCancel(ctx))
		return nil, err
	}
	return t, nil
}

// hold queues a statement without a result to be sent with the next
// statement the transaction runs, or with its COMMIT.
func (t *connTx) hold(what, sql string, args ...any) {
	t.held.Queue(sql, args...)
	t.whats = append(t.whats, what)
}

// send runs the held statements, then b's (nil: none), in one round trip.
func (t *connTx) send(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return t.conn.SendBatch(ctx, t.take(b))
}

// take returns the held statements followed by b's, and forgets them.
func (t *connTx) take(b *pgx.Batch) *pgx.Batch {
	if t.held.Len() == 0 {
		if b == nil {
			return &pgx.Batch{}
		}
		return b
	}
	all := &pgx.Batch{QueuedQueries: t.held.QueuedQueries}
	if b != nil {
		all.QueuedQueries = append(all.QueuedQueries, b.QueuedQueries...)
	}
	t.held = pgx.Batch{}
	return all
}

// flush runs the held statements, if any.
func (t *connTx) flush(ctx context.Context) error {
	if t.held.Len() == 0 {
		return nil
	}
	whats := t.whats
	t.whats = nil
	br := t.send(ctx, nil)
	for _, what := range whats {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return br.Close()
}

func (t *connTx) Begin(ctx context.Context) (pgx.Tx, error) {
	return nil, errors.New("postgres: no nested transaction in an ingest")
}

// Commit sends the held statements and COMMIT in one round trip.
func (t *connTx) Commit(ctx context.Context) error {
	if t.closed {
		return pgx.ErrTxClosed
	}
	whats := t.whats
	t.whats = nil
	b := t.take(nil)
	b.Queue("COMMIT")
	br := t.conn.SendBatch(ctx, b)
	err := func() error {
		for _, what := range whats {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		if tag.String() == "ROLLBACK" {
			return pgx.ErrTxCommitRollback
		}
		return nil
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// Leaves the connection as pgx's Tx does; Rollback releases it.
		t.rollback(ctx)
		return err
	}
	t.closed = true
	t.conn.Release()
	return nil
}

// Rollback rolls the transaction back and releases its connection (a
// connection still in a transaction is closed by the pool).
func (t *connTx) Rollback(ctx context.Context) error {
	if t.closed {
		return pgx.ErrTxClosed
	}
	return t.rollback(ctx)
}

func (t *connTx) rollback(ctx context.Context) error {
	t.closed = true
	t.held = pgx.Batch{}
	_, err := t.conn.Exec(ctx, "ROLLBACK")
	if err != nil {
		t.conn.Conn().Close(ctx)
	}
	t.conn.Release()
	return err
}

func (t *connTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	if err := t.flush(ctx); err != nil {
		return 0, err
	}
	return t.conn.CopyFrom(ctx, table, cols, src)
}

// SendBatch sends the held statements and b's in one round trip; the
// results returned are b's.
func (t *connTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	whats := t.whats
	t.whats = nil
	br := t.send(ctx, b)
	for _, what := range whats {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return errBatch{fmt.Errorf("%s: %w", what, err)}
		}
	}
	return br
}

// LargeObjects is not used by ingest: the zero value, whose methods fail.
func (t *connTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

func (t *connTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return t.conn.Conn().Prepare(ctx, name, sql)
}

func (t *connTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := t.flush(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return t.conn.Exec(ctx, sql, args...)
}

func (t *connTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return t.conn.Query(ctx, sql, args...)
}

func (t *connTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := t.flush(ctx); err != nil {
		return errRow{err}
	}
	return t.conn.QueryRow(ctx, sql, args...)
}

// Conn is the connection: a COPY sent on it directly must flush first
// (writer.copyRows does).
func (t *connTx) Conn() *pgx.Conn { return t.conn.Conn() }

// errBatch is the results of a batch that was not sent.
type errBatch struct{ err error }

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRow{b.err} }
func (b errBatch) Close() error                     { return b.err }
func (b errBatch) Tx() pgx.Tx                       { return nil }
