package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlq"
)

// Gap facts and hold status. The gap facts here aggregate lists, which
// each database does its own way; the other facts, gap exceptions and
// their history are shared with the other store (core/store/sqlq/gaps.go).

func optMicros(t time.Time) int64 { return sqlq.OptMicros(t) }

func (s *DB) GapFacts(ctx context.Context, p core.GapFactsParams) (*core.GapFacts, error) {
	f := &core.GapFacts{}
	rows, err := s.pool.Query(ctx, `SELECT o.ord, o.ins, o.outs, min(k.ts),
		  array_agg(l.item ORDER BY l.item, l.lot), array_agg(l.lot ORDER BY l.item, l.lot), array_agg(k.event_id),
		  coalesce(max((SELECT e.body::jsonb->>'site' FROM events e WHERE e.id = k.event_id AND e.status = 'active')), '')
		FROM orders o JOIN links k ON k.grp = o.ord JOIN lots l ON l.id = k.lot_id
		WHERE (o.ins = 0) <> (o.outs = 0)
		  AND (k.out OR NOT EXISTS (SELECT 1 FROM returned_inputs r WHERE r.lot_id = k.lot_id AND r.grp = k.grp))
		GROUP BY o.ord ORDER BY o.ord`)
	if err != nil {
		return nil, fmt.Errorf("find one-sided orders: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o core.OrderFact
		var ins, outs int64
		var items, lots []string
		if err := rows.Scan(&o.Order, &ins, &outs, timeScanner{&o.Since}, &items, &lots, &o.Events, &o.Site); err != nil {
			return nil, fmt.Errorf("find one-sided orders: %w", err)
		}
		o.Order = strings.TrimPrefix(o.Order, "o:")
		o.Ins, o.Outs = int(ins), int(outs)
		for i := range items {
			o.Lots = append(o.Lots, core.LotRef{Item: items[i], Lot: lots[i]})
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
		rows, err := s.pool.Query(ctx, `SELECT l.item, l.lot, substr(k.grp, 3), (SELECT min(ts) FROM links k2 WHERE k2.grp = k.grp),
			  coalesce((SELECT array_agg(e.body::jsonb->>'step') FROM events e WHERE e.lot_id = l.id AND e.type = 'step' AND e.status = 'active'), '{}'),
			  coalesce((SELECT e.body::jsonb->>'site' FROM events e WHERE e.id = k.event_id AND e.status = 'active' LIMIT 1), '')
			FROM links k JOIN lots l ON l.id = k.lot_id
			WHERE k.out AND k.grp LIKE 'o:%' AND ($1::boolean OR l.item = ANY($2::text[]))
			ORDER BY l.item, l.lot`, p.StepAllItems, items)
		if err != nil {
			return nil, fmt.Errorf("find steps of produced lots: %w", err)
		}
		if f.Produced, err = collect(rows, "find steps of produced lots", func(r *core.ProducedLotRow) []any {
			return []any{&r.Ref.Item, &r.Ref.Lot, &r.Order, timeScanner{&r.OrderStart}, &r.Steps, &r.Site}
		}); err != nil {
			return nil, err
		}
	}
	// The rest is the same SQL in both stores.
	if err := s.FillGapFacts(ctx, p, f); err != nil {
		return nil, err
	}
	return f, nil
}

// latestIsHold holds for an in-effect hold or release event e of a lot
// that is a hold and the lot's latest such event: by event time, and at
// equal times by event id (COLLATE "C": byte order, as in SQLite and Go),
// not by arrival.
const latestIsHold = `e.type = 'hold'
		  AND NOT EXISTS (SELECT 1 FROM events n WHERE n.lot_id = e.lot_id AND n.type IN ('hold', 'release') AND n.status = 'active'
		                  AND (n.ts > e.ts OR n.ts = e.ts AND n.id > e.id))`

func (s *DB) Productions(ctx context.Context, lotIDs []int64) ([]core.LinkRow, error) {
	return readLots(ctx, s, len(lotIDs), "read productions", `SELECT event_id, lot_id, grp, ts FROM links
		WHERE lot_id = ANY($1::bigint[]) AND out`, []any{lotIDs},
		func(l *core.LinkRow) []any {
			l.Out = true
			return []any{&l.EventID, &l.LotID, &l.Group, timeScanner{&l.Time}}
		})
}

func (s *DB) HeldLots(ctx context.Context) ([]core.HeldLotRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT l.id, l.item, l.lot, e.ts, e.id, e.body
		FROM events e JOIN lots l ON l.id = e.lot_id
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
	return readLots(ctx, s, len(lotIDs), "read hold status", `SELECT DISTINCT e.lot_id FROM events e
		WHERE e.lot_id = ANY($1::bigint[]) AND e.status = 'active' AND `+latestIsHold, []any{lotIDs},
		func(id *int64) []any { return []any{id} })
}

func (s *DB) ManualLinks(ctx context.Context, groups []string) ([]core.LinkRow, error) {
	// Confirmed links are few: find them all by their id prefix
	// (through links_event) and keep those of the groups asked for.
	rows, err := s.pool.Query(ctx, manualLinksSQL, s.read()...)
	if err != nil {
		return nil, fmt.Errorf("read confirmed links: %w", err)
	}
	all, err := collect(rows, "read confirmed links", linkDest)
	return core.LinksOfGroups(all, groups), err
}

const manualLinksSQL = `SELECT event_id, lot_id, grp, out FROM links
		WHERE event_id >= 'confirm:' AND event_id < 'confirm;'`

func linkDest(l *core.LinkRow) []any { return []any{&l.EventID, &l.LotID, &l.Group, &l.Out} }

func (s *DB) LotStates(ctx context.Context, lotIDs []int64) ([]core.LotState, error) {
	b := core.NewLotStates(len(lotIDs))
	err := streamLots(ctx, s, len(lotIDs), lotStatesSQL, []any{lotIDs}, func(rows pgx.Rows) error { return scanLotStates(rows, b) })
	if err != nil {
		return nil, fmt.Errorf("read lot states: %w", err)
	}
	return b.States(), nil
}

// lotStatesSQL reads names, on hand and hold status, ordered by lot, then
// unit: a lot's rows are consecutive.
const lotStatesSQL = `SELECT l.id, l.item, l.lot, coalesce(q.uom, ''),
			q.received + q.produced - q.consumed - q.shipped + q.adjusted,
			EXISTS (SELECT 1 FROM events e
				WHERE e.lot_id = l.id AND e.type IN ('hold', 'release') AND e.status = 'active' AND ` + latestIsHold + `)
		FROM lots l LEFT JOIN lot_qty q ON q.lot_id = l.id
		WHERE l.id = ANY($1::bigint[])
		ORDER BY l.id, q.uom`

// scanLotStates adds the rows of lotStatesSQL to b.
func scanLotStates(rows pgx.Rows, b *core.LotStates) error {
	var st core.LotStateRow
	var qty *float64
	for rows.Next() {
		if err := rows.Scan(&st.ID, &st.Ref.Item, &st.Ref.Lot, &st.UOM, &qty, &st.Held); err != nil {
			return err
		}
		st.HasQty = qty != nil
		if qty != nil {
			st.Qty = *qty
		}
		b.Add(st)
	}
	return rows.Err()
}
