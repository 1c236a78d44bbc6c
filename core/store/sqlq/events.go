package sqlq

import (
	"context"
	"fmt"
	"slices"

	"github.com/lothub/lothub/core"
)

// Reads of whole events outside the ingest write path and the trace: the
// audit trail's verification, holds, and orders' events for mass balance
// and exports. The stores keep their own scans for the hot paths.

// eventCols are the columns scanEvent reads, as in the stores.
const eventCols = `seq, id, version, hash, type, ts, coalesce(lot_id, 0), coalesce(reverses, ''), status, seen_at, body`

func scanEvent(row Row) (core.EventRow, error) {
	var r core.EventRow
	var ts, seen int64
	var typ, status string
	err := row.Scan(&r.Seq, &r.ID, &r.Version, &r.Hash, &typ, &ts, &r.LotID, &r.Reverses, &status, &seen, &r.Body)
	r.Type, r.Status = core.EventType(typ), core.Status(status)
	r.Time, r.SeenAt = FromMicros(ts), FromMicros(seen)
	return r, err
}

// events reads the events query q selects; what names the read in errors.
func (x *Queries) events(ctx context.Context, what, q string, args ...any) ([]core.EventRow, error) {
	rows, err := x.query(ctx, x.db, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return collect(rows, what, scanEvent)
}

func (x *Queries) ReadEvents(ctx context.Context, after int64, fn func(core.EventRow) error) error {
	rows, err := x.query(ctx, x.db, `SELECT `+eventCols+` FROM events WHERE seq > $1 ORDER BY seq`, after)
	if err != nil {
		return fmt.Errorf("read events in %s: %w", x.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanEvent(rows)
		if err != nil {
			return fmt.Errorf("read events in %s: %w", x.name, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (x *Queries) HoldEvents(ctx context.Context) ([]core.EventRow, error) {
	return x.events(ctx, "read holds and releases", `SELECT `+eventCols+` FROM events`+x.d.IndexedBy("events_holds")+`
		WHERE type IN ('hold', 'release') AND status = 'active' ORDER BY lot_id, ts, id`)
}

func (x *Queries) OrderEvents(ctx context.Context, order string) ([]core.EventRow, error) {
	return x.events(ctx, "read events of order "+order, `SELECT `+eventCols+` FROM events
		WHERE id IN (SELECT event_id FROM links WHERE grp = $1) AND status = 'active' AND type IN ('consume', 'produce')
		ORDER BY ts, seq`, "o:"+order)
}

func (x *Queries) OrdersEvents(ctx context.Context, orders []string, fn func(core.EventRow) error) error {
	groups := make([]string, 0, len(orders))
	for _, o := range orders {
		groups = append(groups, "o:"+o)
	}
	slices.Sort(groups)
	groups = slices.Compact(groups)
	if len(groups) == 0 {
		return nil
	}
	// The orders' links (links_grp) give their events; an event linked
	// twice to one order (a line of two lots) is read once.
	what := fmt.Sprintf("read events of %d orders", len(groups))
	rows, err := x.query(ctx, x.db, `SELECT `+eventCols+` FROM events
		WHERE id IN (SELECT event_id FROM links WHERE `+x.d.In("grp", "$1", "text")+`)
		  AND status = 'active' AND type IN ('consume', 'produce')`, List(x.d, groups))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanEvent(rows)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (x *Queries) OrderAdjusts(ctx context.Context, order string) ([]core.EventRow, error) {
	// Through the order's links (links_grp) to its lots' events
	// (events_lot): as cheap as the order's lots' histories, whatever the
	// size of the store.
	return x.events(ctx, "read adjustments of order "+order, `SELECT `+eventCols+` FROM events
		WHERE lot_id IN (SELECT lot_id FROM links WHERE grp = $1) AND type = 'adjust' AND status = 'active'
		  AND `+x.d.JSONText("body", "order")+` = $2
		ORDER BY ts, id`, "o:"+order, order)
}
