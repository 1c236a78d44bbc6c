package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pipedTx is a transaction on a connection of the pool whose BEGIN was
// sent in one round trip with its first statements (beginWith): pgx's
// Begin waits for BEGIN's answer alone, a round trip of each ingest
// transaction (hub serve's group commits: one of about eight). It
// behaves as pgx's own: Commit and Rollback end it and give the
// connection back to the pool (which drops a connection left inside a
// transaction), and every method after them returns pgx.ErrTxClosed.
type pipedTx struct {
	c      *pgxpool.Conn
	closed bool
}

// beginWith takes a connection from the pool and sends BEGIN and b's
// statements in one round trip; b's results are read (and their
// QueryRow functions run) before it returns. On error nothing is left
// open.
func beginWith(ctx context.Context, pool *pgxpool.Pool, b *pgx.Batch) (*pipedTx, error) {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	all := &pgx.Batch{QueuedQueries: append([]*pgx.QueuedQuery{{SQL: "begin"}}, b.QueuedQueries...)}
	tx := &pipedTx{c: c}
	if err := c.SendBatch(ctx, all).Close(); err != nil {
		tx.Rollback(context.WithoutCancel(ctx))
		return nil, err
	}
	return tx, nil
}

// end closes the transaction and gives the connection back.
func (tx *pipedTx) end() {
	tx.closed = true
	tx.c.Release()
}

func (tx *pipedTx) Begin(ctx context.Context) (pgx.Tx, error) {
	if tx.closed {
		return nil, pgx.ErrTxClosed
	}
	return nil, errors.New("postgres: nested transactions are not used in ingest transactions")
}

func (tx *pipedTx) Commit(ctx context.Context) error {
	if tx.closed {
		return pgx.ErrTxClosed
	}
	defer tx.end()
	tag, err := tx.c.Exec(ctx, "commit")
	if err != nil {
		if tx.c.Conn().PgConn().TxStatus() != 'I' {
			_ = tx.c.Conn().Close(ctx) // the error says enough
		}
		return err
	}
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

func (tx *pipedTx) Rollback(ctx context.Context) error {
	if tx.closed {
		return pgx.ErrTxClosed
	}
	defer tx.end()
	if _, err := tx.c.Exec(ctx, "rollback"); err != nil {
		// Left in an unknown state: the pool drops it.
		_ = tx.c.Conn().Close(ctx)
		return err
	}
	return nil
}

func (tx *pipedTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	if tx.closed {
		return 0, pgx.ErrTxClosed
	}
	return tx.c.CopyFrom(ctx, table, cols, src)
}

func (tx *pipedTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if tx.closed {
		return closedBatch{}
	}
	return tx.c.SendBatch(ctx, b)
}

func (tx *pipedTx) LargeObjects() pgx.LargeObjects {
	panic("postgres: large objects are not used in ingest transactions")
}

func (tx *pipedTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	if tx.closed {
		return nil, pgx.ErrTxClosed
	}
	return tx.c.Conn().Prepare(ctx, name, sql)
}

func (tx *pipedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if tx.closed {
		return pgconn.CommandTag{}, pgx.ErrTxClosed
	}
	return tx.c.Exec(ctx, sql, args...)
}

func (tx *pipedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if tx.closed {
		return nil, pgx.ErrTxClosed
	}
	return tx.c.Query(ctx, sql, args...)
}

func (tx *pipedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if tx.closed {
		return errRow{pgx.ErrTxClosed}
	}
	return tx.c.QueryRow(ctx, sql, args...)
}

func (tx *pipedTx) Conn() *pgx.Conn { return tx.c.Conn() }

// closedBatch is the results of a batch sent on a closed transaction
// (the methods pgx.BatchResults has beside these are never called).
type closedBatch struct{ pgx.BatchResults }

func (closedBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, pgx.ErrTxClosed }
func (closedBatch) Query() (pgx.Rows, error)         { return nil, pgx.ErrTxClosed }
func (closedBatch) QueryRow() pgx.Row                { return errRow{pgx.ErrTxClosed} }
func (closedBatch) Close() error                     { return pgx.ErrTxClosed }
