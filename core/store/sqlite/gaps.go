package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlq"
)

// Gap facts and hold status. The gap facts here aggregate lists, which
// each database does its own way; the other facts, gap exceptions and
// their history are shared with the other store (core/store/sqlq/gaps.go).

func optMicros(t time.Time) int64 { return sqlq.OptMicros(t) }

func (s *DB) GapFacts(ctx context.Context, p core.GapFactsParams) (*core.GapFacts, error) {
	f := &core.GapFacts{}
	// CROSS JOIN: the orders outermost, the one-sided ones (few) found
	// first and only their links read. Without it SQLite read every link
	// through links_grp and looked up its order: 2.6 s of CPU (11 s wall)
	// on the 5M plant, 1-2 s after a 1M-event EPCIS capture, in every
	// gap evaluation; 0.03 s now. Same rows in the same order (a group's
	// links still come through links_grp, by out and lot).
	rows, err := s.db.QueryContext(ctx, `SELECT o.ord, o.ins, o.outs, min(k.ts),
		  json_group_array(json_array(l.item, l.lot)), json_group_array(k.event_id),
		  coalesce(max((SELECT json_extract(e.body, '$.site') FROM events e WHERE e.id = k.event_id AND e.status = 'active')), '')
		FROM orders o CROSS JOIN links k ON k.grp = o.ord JOIN lots l ON l.id = k.lot_id
		WHERE (o.ins = 0) <> (o.outs = 0)
		  AND (k.out = 1 OR NOT EXISTS (SELECT 1 FROM returned_inputs r WHERE r.lot_id = k.lot_id AND r.grp = k.grp))
		GROUP BY o.ord ORDER BY o.ord`)
	if err != nil {
		return nil, fmt.Errorf("find one-sided orders: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o core.OrderFact
		var ts int64
		var lots, events string
		if err := rows.Scan(&o.Order, &o.Ins, &o.Outs, &ts, &lots, &events, &o.Site); err != nil {
			return nil, fmt.Errorf("find one-sided orders: %w", err)
		}
		o.Order = o.Order[2:] // "o:"
		o.Since = fromMicros(ts)
		var pairs [][2]string
		if err := json.Unmarshal([]byte(lots), &pairs); err != nil {
			return nil, fmt.Errorf("find one-sided orders: %w", err)
		}
		for _, p := range pairs {
			o.Lots = append(o.Lots, core.LotRef{Item: p[0], Lot: p[1]})
		}
		if err := json.Unmarshal([]byte(events), &o.Events); err != nil {
			return nil, fmt.Errorf("find one-sided orders: %w", err)
		}
		slices.Sort(o.Events)
		o.Events = slices.Compact(o.Events)
		f.Orders = append(f.Orders, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find one-sided orders: %w", err)
	}
	if p.StepAllItems || len(p.StepItems) > 0 {
		items := p.StepItems
		if items == nil {
			items = []string{}
		}
		rows, err := s.db.QueryContext(ctx, `SELECT l.item, l.lot, substr(k.grp, 3), (SELECT min(ts) FROM links k2 WHERE k2.grp = k.grp),
			  (SELECT json_group_array(json_extract(e.body, '$.step')) FROM events e WHERE e.lot_id = l.id AND e.type = 'step' AND e.status = 'active'),
			  coalesce((SELECT json_extract(e.body, '$.site') FROM events e WHERE e.id = k.event_id AND e.status = 'active'), '')
			FROM links k JOIN lots l ON l.id = k.lot_id
			WHERE k.out = 1 AND k.grp LIKE 'o:%' AND (? OR l.item IN (SELECT value FROM json_each(?)))
			ORDER BY l.item, l.lot`, p.StepAllItems, jsonList(items))
		if err != nil {
			return nil, fmt.Errorf("find steps of produced lots: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var r core.ProducedLotRow
			var steps string
			if err := rows.Scan(&r.Ref.Item, &r.Ref.Lot, &r.Order, timeScanner{&r.OrderStart}, &steps, &r.Site); err != nil {
				return nil, fmt.Errorf("find steps of produced lots: %w", err)
			}
			if err := json.Unmarshal([]byte(steps), &r.Steps); err != nil {
				return nil, fmt.Errorf("find steps of produced lots: %w", err)
			}
			f.Produced = append(f.Produced, r)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("find steps of produced lots: %w", err)
		}
	}
	// The rest is the same SQL in both stores.
	if err := s.FillGapFacts(ctx, p, f); err != nil {
		return nil, err
	}
	return f, nil
}

// latestIsHold holds for an in-effect hold or release event e of a lot
// (from events_holds) that is a hold and the lot's latest such event: by
// event time, and at equal times by event id (not by arrival, so that the
// answer does not depend on the order events came in).
const latestIsHold = `e.type = 'hold'
		  AND NOT EXISTS (SELECT 1 FROM events n INDEXED BY events_holds WHERE n.lot_id = e.lot_id AND n.type IN ('hold', 'release') AND n.status = 'active'
		                  AND (n.ts > e.ts OR n.ts = e.ts AND n.id > e.id))`

func (s *DB) Productions(ctx context.Context, lotIDs []int64) ([]core.LinkRow, error) {
	rows, err := s.query(ctx, `SELECT event_id, lot_id, grp, ts FROM links
		WHERE lot_id IN (SELECT value FROM json_each(?)) AND out = 1`, jsonList(lotIDs))
	if err != nil {
		return nil, fmt.Errorf("read productions: %w", err)
	}
	return collect(rows, "read productions", func(l *core.LinkRow) []any {
		l.Out = true
		return []any{&l.EventID, &l.LotID, &l.Group, timeScanner{&l.Time}}
	})
}

func (s *DB) HeldLots(ctx context.Context) ([]core.HeldLotRow, error) {
	// INDEXED BY: without statistics SQLite scans every event through
	// events_lot instead of the few holds through events_holds (1.5 s
	// instead of milliseconds on a 1M-event plant, in every recall).
	rows, err := s.db.QueryContext(ctx, `SELECT l.id, l.item, l.lot, e.ts, e.id, e.body
		FROM events e INDEXED BY events_holds JOIN lots l ON l.id = e.lot_id
		WHERE e.type IN ('hold', 'release') AND e.status = 'active'
		  AND `+latestIsHold+`
		ORDER BY l.item, l.lot`)
	if err != nil {
		return nil, fmt.Errorf("find held lots: %w", err)
	}
	return collect(rows, "find held lots", func(h *core.HeldLotRow) []any {
		return []any{&h.LotID, &h.Ref.Item, &h.Ref.Lot, timeScanner{&h.Since}, &h.EventID, &h.Body}
	})
}

func (s *DB) HeldAmong(ctx context.Context, lotIDs []int64) ([]int64, error) {
	rows, err := s.query(ctx, `SELECT DISTINCT e.lot_id FROM json_each(?) j
		JOIN events e INDEXED BY events_holds ON e.lot_id = j.value AND e.type IN ('hold', 'release') AND e.status = 'active'
		WHERE `+latestIsHold, jsonList(lotIDs))
	if err != nil {
		return nil, fmt.Errorf("read hold status: %w", err)
	}
	return collect(rows, "read hold status", func(id *int64) []any { return []any{id} })
}

func (s *DB) ManualLinks(ctx context.Context, groups []string) ([]core.LinkRow, error) {
	// Confirmed links are few: find them all by their id prefix
	// (through links_confirmed) and keep those of the groups asked for. A
	// lookup per group costs seconds for the widest recall.
	rows, err := s.query(ctx, `SELECT event_id, lot_id, grp, out FROM links
		WHERE event_id >= 'confirm:' AND event_id < 'confirm;'`)
	if err != nil {
		return nil, fmt.Errorf("read confirmed links: %w", err)
	}
	all, err := collect(rows, "read confirmed links", func(l *core.LinkRow) []any { return []any{&l.EventID, &l.LotID, &l.Group, &l.Out} })
	return core.LinksOfGroups(all, groups), err
}

func (s *DB) LotStates(ctx context.Context, lotIDs []int64) ([]core.LotState, error) {
	// In the order of the sorted list of ids, each lot's units in the
	// order of lot_qty's key: the CROSS JOIN fixes the loops (the list
	// outermost), so a lot's rows are consecutive, as LotStates.Add
	// needs, with no sort and no temporary b-tree of the list. The hold
	// status is looked up once per row, through events_holds, as
	// HeldAmong does.
	rows, err := s.query(ctx, `SELECT l.id, l.item, l.lot, coalesce(q.uom, ''),
			q.received + q.produced - q.consumed - q.shipped + q.adjusted,
			EXISTS (SELECT 1 FROM events e INDEXED BY events_holds
				WHERE e.lot_id = l.id AND e.type IN ('hold', 'release') AND e.status = 'active' AND `+latestIsHold+`)
		FROM json_each(?) j CROSS JOIN lots l ON l.id = j.value LEFT JOIN lot_qty q ON q.lot_id = l.id`, sortedIDs(lotIDs))
	if err != nil {
		return nil, fmt.Errorf("read lot states: %w", err)
	}
	defer rows.Close()
	var st core.LotStateRow
	var qty sql.NullFloat64
	b := core.NewLotStates(len(lotIDs))
	for rows.Next() {
		if err := rows.Scan(&st.ID, &st.Ref.Item, &st.Ref.Lot, &st.UOM, &qty, &st.Held); err != nil {
			return nil, fmt.Errorf("read lot states: %w", err)
		}
		st.Qty, st.HasQty = qty.Float64, qty.Valid
		b.Add(st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read lot states: %w", err)
	}
	return b.States(), nil
}
