package sqlq

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/lothub/lothub/core"
)

// Gap exceptions and their history (core.GapStore). The facts gaps are
// found from stay in each store: they aggregate with json_group_array in
// SQLite and array_agg in PostgreSQL, and SQLite's need index hints.

const exceptionCols = `id, key, kind, severity, item, lot, ord, site, detail, records, since, opened, updated, status, stage, sending`

// ReadExceptions reads the gap exceptions f selects, through q: the
// database, or an ingest transaction (IngestTx.Exceptions).
func ReadExceptions(ctx context.Context, d Dialect, q Querier, f core.ExceptionFilter) ([]core.Exception, error) {
	if f.Keys != nil && len(f.Keys) == 0 {
		return nil, nil // asked for no keys
	}
	statuses := []string{}
	for _, s := range f.Statuses {
		statuses = append(statuses, string(s))
	}
	rows, err := q.Query(ctx, d.SQL(`SELECT `+exceptionCols+` FROM gap_exceptions
		WHERE ($1::bigint = 0 OR id = $1::bigint)
		  AND (`+d.Empty("$2", "text")+` OR `+d.In("key", "$2", "text")+`)
		  AND (`+d.Empty("$3", "text")+` OR `+d.In("status", "$3", "text")+`)
		  AND (NOT $4::boolean OR status IN ('open', 'alerted', 'acknowledged'))
		  AND ($5::bigint = 0 OR since >= $5::bigint)
		ORDER BY id`), f.ID, List(d, f.Keys), List(d, statuses), f.Open, OptMicros(f.Since))
	if err != nil {
		return nil, fmt.Errorf("read gap exceptions: %w", err)
	}
	return collect(rows, "read gap exceptions", func(row Row) (core.Exception, error) {
		var e core.Exception
		var records, status string
		var since, opened, updated, sending int64
		if err := row.Scan(&e.ID, &e.Key, &e.Kind, &e.Severity, &e.Item, &e.Lot, &e.Order, &e.Site, &e.Detail, &records,
			&since, &opened, &updated, &status, &e.Stage, &sending); err != nil {
			return e, err
		}
		e.Since, e.Opened, e.Updated, e.Status, e.Sending = OptTime(since), FromMicros(opened), FromMicros(updated), core.GapStatus(status), OptTime(sending)
		if err := json.Unmarshal([]byte(records), &e.Records); err != nil {
			return e, fmt.Errorf("gap %s: records: %w", e.GapID(), err)
		}
		return e, nil
	})
}

func (x *Queries) Exceptions(ctx context.Context, f core.ExceptionFilter) ([]core.Exception, error) {
	return ReadExceptions(ctx, x.d, x.db, f)
}

// SaveException inserts e (setting its ID) or, when it has an ID, updates
// it, in tx, an ingest transaction (IngestTx.SaveException).
func SaveException(ctx context.Context, d Dialect, tx Querier, e *core.Exception) error {
	records := e.Records
	if records == nil {
		records = []string{}
	}
	rb, _ := json.Marshal(records) // strings always marshal
	args := []any{d.Text(e.Key), e.Kind, e.Severity, d.Text(e.Item), d.Text(e.Lot), d.Text(e.Order), d.Text(e.Site), d.Text(e.Detail), string(rb),
		OptMicros(e.Since), Micros(e.Opened), Micros(e.Updated), string(e.Status), int32(e.Stage), OptMicros(e.Sending)}
	if e.ID == 0 {
		err := tx.QueryRow(ctx, d.SQL(`INSERT INTO gap_exceptions (key, kind, severity, item, lot, ord, site, detail, records, since, opened, updated, status, stage, sending)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`), args...).Scan(&e.ID)
		if err != nil {
			return fmt.Errorf("store gap %s: %w", e.Key, err)
		}
		return nil
	}
	if _, err := tx.Exec(ctx, d.SQL(`UPDATE gap_exceptions SET key = $1, kind = $2, severity = $3, item = $4, lot = $5, ord = $6, site = $7,
		detail = $8, records = $9, since = $10, opened = $11, updated = $12, status = $13, stage = $14, sending = $15 WHERE id = $16`), append(args, e.ID)...); err != nil {
		return fmt.Errorf("update gap %s: %w", e.GapID(), err)
	}
	return nil
}

// LogException appends ev to its gap's history in tx, an ingest
// transaction (IngestTx.LogException).
func LogException(ctx context.Context, d Dialect, tx Querier, ev core.ExceptionEvent) error {
	if _, err := tx.Exec(ctx, d.SQL(`INSERT INTO gap_history (gap_id, at, action, by_user, note) VALUES ($1, $2, $3, $4, $5)`),
		ev.GapID, Micros(ev.At), ev.Action, d.Text(ev.By), d.Text(ev.Note)); err != nil {
		return fmt.Errorf("record history of gap %s: %w", core.FormatGapID(ev.GapID), err)
	}
	return nil
}

func (x *Queries) ExceptionHistory(ctx context.Context, id int64) ([]core.ExceptionEvent, error) {
	rows, err := x.query(ctx, x.db, `SELECT gap_id, at, action, by_user, note FROM gap_history WHERE gap_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("read history of gap %s: %w", core.FormatGapID(id), err)
	}
	return collect(rows, "read gap history", func(row Row) (core.ExceptionEvent, error) {
		var e core.ExceptionEvent
		var at int64
		err := row.Scan(&e.GapID, &at, &e.Action, &e.By, &e.Note)
		e.At = FromMicros(at)
		return e, err
	})
}

// UnsourcedLots lists the lots used but never received or produced, each
// since its first active event or link.
func (x *Queries) UnsourcedLots(ctx context.Context) ([]core.LotGapRow, error) {
	rows, err := x.query(ctx, x.db, `SELECT l.id, l.item, l.lot,
		  coalesce((SELECT min(ts) FROM events e WHERE e.lot_id = l.id AND e.status = 'active'),
		           (SELECT min(ts) FROM links k WHERE k.lot_id = l.id), 0)
		FROM lots l WHERE l.used > 0 AND l.sourced = 0 ORDER BY l.item, l.lot`)
	if err != nil {
		return nil, fmt.Errorf("find unknown lots: %w", err)
	}
	return collect(rows, "find unknown lots", func(row Row) (core.LotGapRow, error) {
		var g core.LotGapRow
		var since int64
		err := row.Scan(&g.LotID, &g.Ref.Item, &g.Ref.Lot, &since)
		g.Since = FromMicros(since)
		return g, err
	})
}
