package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
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

// The planner's two reads by event id join the list of ids instead of
// testing "id IN (SELECT value FROM json_each(?))": for IN, SQLite first
// copies the list into a temporary b-tree (sorted, duplicates dropped),
// which was about a third of these reads' CPU for a batch of 5,000 new
// ids. The join reads the list as it is; Plan asks for each id once, and
// a repeated id would only repeat a row (CurrentEvents keys its answer
// by id; Plan drops reversers it has seen).

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

// stringList is jsonList(v) for strings, written without reflection: a
// string of printable ASCII without quotes or backslashes as it is, any
// other through encoding/json (the same text json_each reads back).
func stringList(v []string) string {
	n := 2
	for _, s := range v {
		n += len(s) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, s := range v {
		if i > 0 {
			b = append(b, ',')
		}
		plain := true
		for j := 0; j < len(s) && plain; j++ {
			c := s[j]
			plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\'
		}
		if plain {
			b = append(b, '"')
			b = append(b, s...)
			b = append(b, '"')
			continue
		}
		q, _ := json.Marshal(s) // a string always marshals
		b = append(b, q...)
	}
	b = append(b, ']')
	return string(b)
}
