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

// FillGapFacts reads the gap facts whose SQL the stores share into f:
// the unsourced lots always, and overdrawn lots, lots used before their
// source, order yields, quarantine groups and mixed units as p asks. The
// store reads the rest (one-sided orders, the steps of produced lots),
// which aggregate into lists differently in each database.
func (x *Queries) FillGapFacts(ctx context.Context, p core.GapFactsParams, f *core.GapFacts) error {
	d := x.d
	var err error
	if f.Unsourced, err = x.UnsourcedLots(ctx); err != nil {
		return err
	}
	if p.Overdrawn {
		rows, err := x.query(ctx, x.db, `SELECT q.lot_id, l.item, l.lot, q.uom,
			  q.received + q.produced + `+d.Greatest("q.adjusted", "0")+`, q.consumed + q.shipped + `+d.Greatest("-q.adjusted", "0")+`
			FROM lot_qty q JOIN lots l ON l.id = q.lot_id
			WHERE q.received + q.produced - q.consumed - q.shipped + q.adjusted < -1e-9 ORDER BY l.item, l.lot, q.uom`)
		if err != nil {
			return fmt.Errorf("find overdrawn lots: %w", err)
		}
		if f.Overdrawn, err = collect(rows, "find overdrawn lots", func(row Row) (core.OverdrawRow, error) {
			var o core.OverdrawRow
			err := row.Scan(&o.LotID, &o.Ref.Item, &o.Ref.Lot, &o.UOM, &o.In, &o.Out)
			return o, err
		}); err != nil {
			return err
		}
	}
	if p.TimeOrder {
		rows, err := x.query(ctx, x.db, `WITH
			src AS (SELECT lot_id, min(ts) AS t FROM (SELECT lot_id, ts FROM receipts UNION ALL SELECT lot_id, ts FROM links WHERE out = `+d.Bool(true)+`) x GROUP BY lot_id),
			use AS (SELECT lot_id, min(ts) AS t FROM (SELECT lot_id, ts FROM shipments UNION ALL SELECT lot_id, ts FROM links WHERE out = `+d.Bool(false)+`) x GROUP BY lot_id)
			SELECT l.item, l.lot, use.t, src.t FROM src JOIN use ON use.lot_id = src.lot_id JOIN lots l ON l.id = src.lot_id
			WHERE use.t < src.t ORDER BY l.item, l.lot`)
		if err != nil {
			return fmt.Errorf("find lots used before received: %w", err)
		}
		if f.EarlyUses, err = collect(rows, "find lots used before received", func(row Row) (core.EarlyUseRow, error) {
			var u core.EarlyUseRow
			var use, src int64
			err := row.Scan(&u.Ref.Item, &u.Ref.Lot, &use, &src)
			u.FirstUse, u.FirstSource = FromMicros(use), FromMicros(src)
			return u, err
		}); err != nil {
			return err
		}
	}
	if p.Yield {
		// Net of returns (core.OrderMassBalance): an adjustment naming
		// the order of a lot it consumed in that unit changes its input,
		// of a lot it only produced its output.
		rows, err := x.query(ctx, x.db, `WITH q AS (
			  SELECT grp, uom,
			    `+d.Total("CASE WHEN consumes > 0 THEN consumed - adjusted END")+` AS qin,
			    `+d.Total("produced + CASE WHEN consumes = 0 AND produces > 0 THEN adjusted ELSE 0 END")+` AS qout
			  FROM order_lots WHERE consumes > 0 OR produces > 0 GROUP BY grp, uom)
			SELECT substr(q.grp, 3), q.uom, q.qin, q.qout,
			  (SELECT min(k.ts) FROM links k JOIN order_lots o ON o.lot_id = k.lot_id AND o.grp = k.grp AND o.uom = q.uom AND (o.consumes > 0 OR o.produces > 0)
			   WHERE k.grp = q.grp)
			FROM q ORDER BY 1, 2`)
		if err != nil {
			return fmt.Errorf("sum order quantities: %w", err)
		}
		if f.Yields, err = collect(rows, "sum order quantities", func(row Row) (core.OrderQtyRow, error) {
			var y core.OrderQtyRow
			var since int64
			err := row.Scan(&y.Order, &y.UOM, &y.In, &y.Out, &since)
			y.Since = FromMicros(since)
			return y, err
		}); err != nil {
			return err
		}
	}
	if p.Quarantine {
		if f.Quarantine, err = x.quarantineGroups(ctx); err != nil {
			return err
		}
	}
	if p.MixedUnits {
		if f.Units, f.UnitUses, err = x.mixedUnits(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// quarantineGroups returns the open quarantine entries per source: how
// many, since when, and the earliest (by quarantine time, then key: not
// by arrival).
func (x *Queries) quarantineGroups(ctx context.Context) ([]core.QuarantineGroupRow, error) {
	rows, err := x.query(ctx, x.db, `SELECT source, n, since, key, line, event_id, reason, raw, at FROM (
		  SELECT q.*, count(*) OVER w AS n, min(at) OVER w AS since, row_number() OVER (PARTITION BY source ORDER BY at, key) AS rn
		  FROM quarantine q`+x.d.IndexedBy("quarantine_open")+` WHERE resolved = `+x.d.Bool(false)+` WINDOW w AS (PARTITION BY source)) x
		WHERE rn = 1 ORDER BY source`)
	if err != nil {
		return nil, fmt.Errorf("find quarantined input: %w", err)
	}
	return collect(rows, "find quarantined input", func(row Row) (core.QuarantineGroupRow, error) {
		var g core.QuarantineGroupRow
		var since, at int64
		var raw []byte // PostgreSQL keeps bytea: quarantined input may be any bytes
		err := row.Scan(&g.Source, &g.Entries, &since, &g.First.Key, &g.First.Line, &g.First.EventID, &g.First.Reason, &raw, &at)
		g.Since, g.First.At, g.First.Raw, g.First.Source = FromMicros(since), FromMicros(at), string(raw), g.Source
		return g, err
	})
}

// mixedUnits returns the units of the items whose lots carry a quantity
// in more than one unit (lot_qty: the in-effect quantities), less the
// items hub.yaml allows, and those items' in-effect events with a unit.
func (x *Queries) mixedUnits(ctx context.Context, p core.GapFactsParams) ([]core.ItemUnitRow, []core.UnitUseRow, error) {
	rows, err := x.query(ctx, x.db, `WITH u AS (
		  SELECT l.item, q.uom, count(*) AS n FROM lot_qty q JOIN lots l ON l.id = q.lot_id
		  WHERE abs(q.received) + abs(q.produced) + abs(q.consumed) + abs(q.shipped) + abs(q.adjusted) > 1e-9
		  GROUP BY l.item, q.uom)
		SELECT item, uom, n FROM u WHERE item IN (SELECT item FROM u GROUP BY item HAVING count(*) > 1) ORDER BY item, uom`)
	if err != nil {
		return nil, nil, fmt.Errorf("find items in several units: %w", err)
	}
	all, err := collect(rows, "find items in several units", func(row Row) (core.ItemUnitRow, error) {
		var u core.ItemUnitRow
		err := row.Scan(&u.Item, &u.UOM, &u.Lots)
		return u, err
	})
	if err != nil {
		return nil, nil, err
	}
	var units []core.ItemUnitRow
	var uses []core.UnitUseRow
	for _, item := range core.MixedUnitItems(all, p) {
		for _, u := range all {
			if u.Item == item {
				units = append(units, u)
			}
		}
		rows, err := x.query(ctx, x.db, `SELECT l.item, l.lot, coalesce(`+x.d.JSONText("e.body", "uom")+`, ''), e.id, e.ts
			FROM lots l JOIN events e ON e.lot_id = l.id
			WHERE l.item = $1 AND e.status = 'active' AND e.type IN ('receive', 'consume', 'produce', 'ship', 'adjust')`, item)
		if err != nil {
			return nil, nil, fmt.Errorf("find the units of %s: %w", item, err)
		}
		got, err := collect(rows, "find the units of "+item, func(row Row) (core.UnitUseRow, error) {
			var u core.UnitUseRow
			var ts int64
			err := row.Scan(&u.Ref.Item, &u.Ref.Lot, &u.UOM, &u.EventID, &ts)
			u.Time = FromMicros(ts)
			return u, err
		})
		if err != nil {
			return nil, nil, err
		}
		uses = append(uses, got...)
		// Transforms have no lot of their own: their inputs and outputs
		// are in the body.
		rows, err = x.query(ctx, x.db, `SELECT DISTINCT e.id, e.ts, e.body
			FROM lots l JOIN links k ON k.lot_id = l.id JOIN events e ON e.id = k.event_id AND e.status = 'active'
			WHERE l.item = $1 AND k.grp LIKE 't:%' AND e.type = 'transform'`, item)
		if err != nil {
			return nil, nil, fmt.Errorf("find the units of %s in transforms: %w", item, err)
		}
		type transform struct {
			id   string
			ts   int64
			body []byte
		}
		trs, err := collect(rows, "find the units of "+item+" in transforms", func(row Row) (transform, error) {
			var t transform
			err := row.Scan(&t.id, &t.ts, &t.body)
			return t, err
		})
		if err != nil {
			return nil, nil, err
		}
		for _, t := range trs {
			got, err := core.TransformUnitUses(t.id, FromMicros(t.ts), t.body, item)
			if err != nil {
				return nil, nil, err
			}
			uses = append(uses, got...)
		}
	}
	return units, uses, nil
}
