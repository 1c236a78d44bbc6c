package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lothub/lothub/core"
)

// ReadSnapshot runs fn in a read transaction on a pooled connection, not
// the writer's: in WAL mode it sees the last commit before its first
// read, and neither waits for the writer nor holds it up.
func (s *DB) ReadSnapshot(ctx context.Context, fn func(core.SnapshotTx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("read a snapshot of %s: %w", s.path, err)
	}
	defer tx.Rollback()
	return fn(snapshotTx{tx})
}

type snapshotTx struct{ tx *sql.Tx }

func (t snapshotTx) CurrentEvents(ctx context.Context, ids []string) (map[string]core.EventRow, error) {
	return currentEvents(ctx, t.tx, ids)
}

func (t snapshotTx) Reversers(ctx context.Context, targets []string) (map[string][]string, error) {
	return reversers(ctx, t.tx, targets)
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
	return out, existingLots(ctx, t.tx, lotPairs(refs), out)
}
