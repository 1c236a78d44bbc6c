package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lothub/lothub/core"
)

// TraceReads sends a trace's reads about the lots it reached (shipments,
// names or states, receipts, confirmed links) as one batch on a one-shot
// store: one round trip, and the server runs each statement while the
// client reads the rows of the one before, where one statement after
// the other cost four round trips with the server idle during each
// read. Each statement is the one the single read runs, with its
// parameter and results in text as a one-shot store's small reads are
// (Options.OneShot; extra_float_digits makes float8 exact). A store for
// many commands, or a read of wideRead lots or more, reads one by one.
func (s *DB) TraceReads(ctx context.Context, ids []int64, groups []string, states bool) (core.TraceRead, bool, error) {
	var r core.TraceRead
	if !s.oneShot || len(ids) >= s.wideRead {
		return r, false, nil
	}
	arr := int8ArrayText(ids)
	var b pgconn.Batch
	b.ExecParams(shipmentsSQL+`lot_id = ANY($1::bigint[])`, [][]byte{arr}, nil, nil, nil)
	if states {
		b.ExecParams(lotStatesSQL, [][]byte{arr}, nil, nil, nil)
	} else {
		b.ExecParams(lotsSQL, [][]byte{arr}, nil, nil, nil)
	}
	b.ExecParams(receiptsSQL+`lot_id = ANY($1::bigint[])`, [][]byte{arr}, nil, nil, nil)
	if len(groups) > 0 {
		b.ExecParams(manualLinksSQL, nil, nil, nil, nil)
	}
	err := s.pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error {
		conn := c.Conn()
		mrr := conn.PgConn().ExecBatch(ctx, &b)
		// next is the rows of the batch's next statement.
		next := func(what string) (pgx.Rows, error) {
			if !mrr.NextResult() {
				if err := mrr.Close(); err != nil {
					return nil, fmt.Errorf("%s: %w", what, err)
				}
				return nil, fmt.Errorf("%s: no result", what)
			}
			return pgx.RowsFromResultReader(conn.TypeMap(), mrr.ResultReader()), nil
		}
		var err error
		if r.Shipments, err = batchRead(next, "read shipments", shipmentDest); err != nil {
			mrr.Close()
			return err
		}
		if states {
			rows, err := next("read lot states")
			if err != nil {
				mrr.Close()
				return err
			}
			ls := core.NewLotStates(len(ids))
			err = scanLotStates(rows, ls)
			rows.Close()
			if err != nil {
				mrr.Close()
				return fmt.Errorf("read lot states: %w", err)
			}
			r.States = ls.States()
		} else if r.Lots, err = batchRead(next, "read lots", lotDest); err != nil {
			mrr.Close()
			return err
		}
		if r.Receipts, err = batchRead(next, "read receipts", receiptDest); err != nil {
			mrr.Close()
			return err
		}
		if len(groups) > 0 {
			all, err := batchRead(next, "read confirmed links", linkDest)
			if err != nil {
				mrr.Close()
				return err
			}
			r.Manual = core.LinksOfGroups(all, groups)
		}
		return mrr.Close()
	})
	if err != nil {
		return core.TraceRead{}, false, fmt.Errorf("read the lots of a trace from %s: %w", s.name, err)
	}
	return r, true, nil
}

// batchRead reads the rows of the batch's next statement as collect does.
func batchRead[T any](next func(string) (pgx.Rows, error), what string, dest func(*T) []any) ([]T, error) {
	rows, err := next(what)
	if err != nil {
		return nil, err
	}
	return collect(rows, what, dest)
}

// int8ArrayText is ids as a PostgreSQL array literal, the text form of a
// bigint[] parameter.
func int8ArrayText(ids []int64) []byte {
	b := make([]byte, 0, 2+len(ids)*8)
	b = append(b, '{')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return append(b, '}')
}
