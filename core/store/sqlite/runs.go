package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lothub/lothub/core"
)

// Connector positions and sync runs.

func (t *ingestTx) SetCursor(ctx context.Context, c core.CursorRow) error {
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO cursors (connector, position, updated, run_id) VALUES (?, ?, ?, ?)
		ON CONFLICT (connector) DO UPDATE SET position = excluded.position, updated = excluded.updated, run_id = excluded.run_id`,
		c.Connector, c.Position, micros(c.Updated), c.RunID); err != nil {
		return fmt.Errorf("store position of %s: %w", c.Connector, err)
	}
	return nil
}

func (t *ingestTx) CountRun(ctx context.Context, r core.Run) error {
	if _, err := t.tx.ExecContext(ctx, `UPDATE runs SET batches = ?, records = ?, events = ?, unchanged = ?, quarantined = ?, skips = ? WHERE id = ?`,
		r.Batches, r.Records, r.Events, r.Unchanged, r.Quarant, core.EncodeSkips(r.Skips), r.ID); err != nil {
		return fmt.Errorf("count run %d: %w", r.ID, err)
	}
	return nil
}

func (s *DB) Cursor(ctx context.Context, connector string) (core.CursorRow, error) {
	c := core.CursorRow{Connector: connector}
	var updated int64
	err := s.db.QueryRowContext(ctx, `SELECT position, updated, run_id FROM cursors WHERE connector = ?`, connector).
		Scan(&c.Position, &updated, &c.RunID)
	if errors.Is(err, sql.ErrNoRows) {
		return c, core.Errorf(core.ENOTFOUND, "connector %s has no stored position: its next sync starts at the beginning of the source", connector)
	}
	if err != nil {
		return c, fmt.Errorf("read position of %s: %w", connector, err)
	}
	c.Updated = fromMicros(updated)
	return c, nil
}

// write runs one statement under the writer lock.
func (s *DB) write(ctx context.Context, what, query string, args ...any) (sql.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", what, s.path, err)
	}
	return res, nil
}

func (s *DB) StartRun(ctx context.Context, r core.Run) (int64, error) {
	res, err := s.write(ctx, "record run", `INSERT INTO runs (connector, trigger, started, status) VALUES (?, ?, ?, ?)`,
		r.Connector, r.Trigger, micros(r.Started), core.RunRunning)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (s *DB) FinishRun(ctx context.Context, r core.Run) error {
	_, err := s.write(ctx, "record end of run", `UPDATE runs SET ended = ?, status = ?, batches = ?, records = ?, events = ?,
		unchanged = ?, quarantined = ?, skips = ?, error = ? WHERE id = ?`,
		micros(r.Ended), r.Status, r.Batches, r.Records, r.Events, r.Unchanged, r.Quarant, core.EncodeSkips(r.Skips), r.Error, r.ID)
	return err
}

func (s *DB) Runs(ctx context.Context, f core.RunFilter) ([]core.Run, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, connector, trigger, started, coalesce(ended, 0), status, batches, records, events,
		unchanged, quarantined, skips, error FROM runs WHERE ? = '' OR connector = ? ORDER BY id DESC LIMIT ?`, f.Connector, f.Connector, limit)
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	defer rows.Close()
	var out []core.Run
	for rows.Next() {
		var r core.Run
		var started, ended int64
		var skips string
		if err := rows.Scan(&r.ID, &r.Connector, &r.Trigger, &started, &ended, &r.Status, &r.Batches, &r.Records, &r.Events,
			&r.Unchanged, &r.Quarant, &skips, &r.Error); err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		if err := r.DecodeSkips(skips); err != nil {
			return nil, fmt.Errorf("read runs in %s: %w", s.path, err)
		}
		r.Started = fromMicros(started)
		if ended != 0 {
			r.Ended = fromMicros(ended)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	return out, nil
}
