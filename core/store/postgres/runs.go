package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lothub/lothub/core"
)

// Connector positions and sync runs.

func (t *ingestTx) SetCursor(ctx context.Context, c core.CursorRow) error {
	if _, err := t.tx.Exec(ctx, `INSERT INTO cursors (connector, position, updated, run_id) VALUES ($1, $2, $3, $4)
		ON CONFLICT (connector) DO UPDATE SET position = excluded.position, updated = excluded.updated, run_id = excluded.run_id`,
		c.Connector, c.Position, micros(c.Updated), c.RunID); err != nil {
		return fmt.Errorf("store position of %s: %w", c.Connector, err)
	}
	return nil
}

func (t *ingestTx) CountRun(ctx context.Context, r core.Run) error {
	if _, err := t.tx.Exec(ctx, `UPDATE runs SET batches = $1, records = $2, events = $3, unchanged = $4, quarantined = $5, skips = $6 WHERE id = $7`,
		r.Batches, r.Records, r.Events, r.Unchanged, r.Quarant, core.EncodeSkips(r.Skips), r.ID); err != nil {
		return fmt.Errorf("count run %d: %w", r.ID, err)
	}
	return nil
}

func (s *DB) Cursor(ctx context.Context, connector string) (core.CursorRow, error) {
	c := core.CursorRow{Connector: connector}
	var updated int64
	err := s.pool.QueryRow(ctx, `SELECT position, updated, run_id FROM cursors WHERE connector = $1`, connector).
		Scan(&c.Position, &updated, &c.RunID)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, core.Errorf(core.ENOTFOUND, "connector %s has no stored position: its next sync starts at the beginning of the source", connector)
	}
	if err != nil {
		return c, fmt.Errorf("read position of %s: %w", connector, err)
	}
	c.Updated = time.UnixMicro(updated).UTC()
	return c, nil
}

func (s *DB) StartRun(ctx context.Context, r core.Run) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO runs (connector, trigger, started, status) VALUES ($1, $2, $3, $4) RETURNING id`,
		r.Connector, r.Trigger, micros(r.Started), core.RunRunning).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	return id, nil
}

func (s *DB) FinishRun(ctx context.Context, r core.Run) error {
	_, err := s.pool.Exec(ctx, `UPDATE runs SET ended = $1, status = $2, batches = $3, records = $4, events = $5,
		unchanged = $6, quarantined = $7, skips = $8, error = $9 WHERE id = $10`,
		micros(r.Ended), r.Status, r.Batches, r.Records, r.Events, r.Unchanged, r.Quarant, core.EncodeSkips(r.Skips), text(r.Error), r.ID)
	if err != nil {
		return fmt.Errorf("record end of run: %w", err)
	}
	return nil
}

func (s *DB) Runs(ctx context.Context, f core.RunFilter) ([]core.Run, error) {
	var limit any
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, connector, trigger, started, coalesce(ended, 0), status, batches, records, events,
		unchanged, quarantined, skips, error FROM runs WHERE $1 = '' OR connector = $1 ORDER BY id DESC LIMIT $2`, f.Connector, limit)
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	defer rows.Close()
	var out []core.Run
	for rows.Next() {
		var r core.Run
		var started, ended int64
		var batches, records, events, unchanged, quarantined int64
		var skips string
		if err := rows.Scan(&r.ID, &r.Connector, &r.Trigger, &started, &ended, &r.Status, &batches, &records, &events,
			&unchanged, &quarantined, &skips, &r.Error); err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		if err := r.DecodeSkips(skips); err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		r.Batches, r.Records, r.Events, r.Unchanged, r.Quarant = int(batches), int(records), int(events), int(unchanged), int(quarantined)
		r.Started = time.UnixMicro(started).UTC()
		if ended != 0 {
			r.Ended = time.UnixMicro(ended).UTC()
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	return out, nil
}
