package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/lothub/lothub/core"
)

// ReadSnapshot runs fn in a read-only REPEATABLE READ transaction on a
// pooled connection: one snapshot, taken at its first read, beside the
// writer and without its lock.
func (s *DB) ReadSnapshot(ctx context.Context, fn func(core.SnapshotTx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("read a snapshot of %s: %w", s.name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return fn(snapshotTx{tx})
}

type snapshotTx struct{ tx pgx.Tx }

func (t snapshotTx) CurrentEvents(ctx context.Context, ids []string) (map[string]core.EventRow, error) {
	return scanCurrentEvents(t.tx.Query(ctx, currentEventsSQL, ids))
}

func (t snapshotTx) Reversers(ctx context.Context, targets []string) (map[string][]string, error) {
	return scanReversers(t.tx.Query(ctx, reversersSQL, targets))
}

func (t snapshotTx) OrderLots(ctx context.Context, keys []core.LotGroup) ([]core.OrderLotSums, error) {
	return orderLots(ctx, t.tx, keys)
}

func (t snapshotTx) DataVersion(ctx context.Context) (int64, error) {
	return dataVersion(ctx, t.tx)
}

func (t snapshotTx) ExistingLotIDs(ctx context.Context, refs []core.LotRef) (map[core.LotRef]int64, error) {
	out := make(map[core.LotRef]int64, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	items, lots := make([]string, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		items[i], lots[i] = r.Item, r.Lot
	}
	rows, err := t.tx.Query(ctx, `SELECT l.id, l.item, l.lot
		FROM unnest($1::text[], $2::text[]) AS u(item, lot) JOIN lots l ON l.item = u.item AND l.lot = u.lot`, items, lots)
	if err != nil {
		return nil, fmt.Errorf("look up lots: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var r core.LotRef
		if err := rows.Scan(&id, &r.Item, &r.Lot); err != nil {
			return nil, fmt.Errorf("look up lots: %w", err)
		}
		out[r] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up lots: %w", err)
	}
	return out, nil
}

// DataVersion is the version read with the lock, as Write raised it
// (ingestTx.dataVersion): no round trip.
func (t *ingestTx) DataVersion(ctx context.Context) (int64, error) {
	return t.dataVersion, nil
}

func dataVersion(ctx context.Context, tx pgx.Tx) (int64, error) {
	var v int64
	if err := tx.QueryRow(ctx, `SELECT version FROM evaluation_mark`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read the data version: %w", err)
	}
	return v, nil
}
