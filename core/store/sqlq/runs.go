package sqlq

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lothub/lothub/core"
)

// Connector positions and sync runs (core.CursorStore, core.RunStore).

// SetCursor stores a connector's position in tx, the ingest transaction
// that wrote the events read up to it (IngestTx.SetCursor).
func SetCursor(ctx context.Context, d Dialect, tx Querier, c core.CursorRow) error {
	if _, err := tx.Exec(ctx, d.SQL(`INSERT INTO cursors (connector, position, updated, run_id) VALUES ($1, $2, $3, $4)
		ON CONFLICT (connector) DO UPDATE SET position = excluded.position, updated = excluded.updated, run_id = excluded.run_id`),
		c.Connector, c.Position, Micros(c.Updated), c.RunID); err != nil {
		return fmt.Errorf("store position of %s: %w", c.Connector, err)
	}
	return nil
}

// CountRun stores a run's counts in tx, the ingest transaction of the
// batch they count (IngestTx.CountRun).
func CountRun(ctx context.Context, d Dialect, tx Querier, r core.Run) error {
	if _, err := tx.Exec(ctx, d.SQL(`UPDATE runs SET batches = $1, records = $2, events = $3, unchanged = $4, quarantined = $5, skips = $6 WHERE id = $7`),
		r.Batches, r.Records, r.Events, r.Unchanged, r.Quarant, core.EncodeSkips(r.Skips), r.ID); err != nil {
		return fmt.Errorf("count run %d: %w", r.ID, err)
	}
	return nil
}

func (x *Queries) Cursor(ctx context.Context, connector string) (core.CursorRow, error) {
	c := core.CursorRow{Connector: connector}
	var updated int64
	err := x.queryRow(ctx, x.db, `SELECT position, updated, run_id FROM cursors WHERE connector = $1`, connector).
		Scan(&c.Position, &updated, &c.RunID)
	if errors.Is(err, sql.ErrNoRows) {
		return c, core.Errorf(core.ENOTFOUND, "connector %s has no stored position: its next sync starts at the beginning of the source", connector)
	}
	if err != nil {
		return c, fmt.Errorf("read position of %s: %w", connector, err)
	}
	c.Updated = FromMicros(updated)
	return c, nil
}

func (x *Queries) StartRun(ctx context.Context, r core.Run) (int64, error) {
	var id int64
	err := x.hooks.Write(ctx, func(q Querier) error {
		return x.queryRow(ctx, q, `INSERT INTO runs (connector, trigger, started, status) VALUES ($1, $2, $3, $4) RETURNING id`,
			r.Connector, r.Trigger, Micros(r.Started), core.RunRunning).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("record run in %s: %w", x.name, err)
	}
	return id, nil
}

func (x *Queries) FinishRun(ctx context.Context, r core.Run) error {
	_, err := x.write(ctx, "record end of run", `UPDATE runs SET ended = $1, status = $2, batches = $3, records = $4, events = $5,
		unchanged = $6, quarantined = $7, skips = $8, error = $9 WHERE id = $10`,
		Micros(r.Ended), r.Status, r.Batches, r.Records, r.Events, r.Unchanged, r.Quarant, core.EncodeSkips(r.Skips), x.d.Text(r.Error), r.ID)
	return err
}

func (x *Queries) Runs(ctx context.Context, f core.RunFilter) ([]core.Run, error) {
	rows, err := x.query(ctx, x.db, `SELECT id, connector, trigger, started, coalesce(ended, 0), status, batches, records, events,
		unchanged, quarantined, skips, error FROM runs WHERE $1::text = '' OR connector = $1 ORDER BY id DESC LIMIT $2`, f.Connector, x.d.Limit(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("read runs in %s: %w", x.name, err)
	}
	return collect(rows, "read runs in "+x.name, func(row Row) (core.Run, error) {
		var r core.Run
		var started, ended int64
		var skips string
		if err := row.Scan(&r.ID, &r.Connector, &r.Trigger, &started, &ended, &r.Status, &r.Batches, &r.Records, &r.Events,
			&r.Unchanged, &r.Quarant, &skips, &r.Error); err != nil {
			return r, err
		}
		if err := r.DecodeSkips(skips); err != nil {
			return r, err
		}
		r.Started, r.Ended = FromMicros(started), OptTime(ended)
		return r, nil
	})
}
