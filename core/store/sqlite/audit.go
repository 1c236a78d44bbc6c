package sqlite

import (
	"context"
	"fmt"

	"github.com/lothub/lothub/core"
)

// The audit trail's appends and reads are shared with PostgreSQL
// (core/store/sqlq/audit.go, and ingestTx.Audit in queries.go). ReadEvents,
// which verifying the trail reads beside it, stays: events scan through
// this store's timeScanner.

func (s *DB) ReadEvents(ctx context.Context, after int64, fn func(core.EventRow) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+eventCols+` FROM events WHERE seq > ? ORDER BY seq`, after)
	if err != nil {
		return fmt.Errorf("read events in %s: %w", s.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanEvent(rows)
		if err != nil {
			return fmt.Errorf("read events in %s: %w", s.path, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}
