package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/lothub/lothub/core"
)

// Reads in totals for the trace summary (core/summary.go): the database
// adds up, the hub reads a row per customer, item or level instead of a
// row per shipment or lot.

// tsShift makes event times (Unix microseconds, negative before 1970)
// positive, so that their 20-digit decimal forms sort as the times do.
const tsShift = 1 << 62

func (s *DB) ShipmentTotals(ctx context.Context, lotIDs []int64) ([]core.ShipmentTotal, error) {
	type total struct {
		core.ShipmentTotal
		first string
	}
	// The first shipment of each total is the least of "time, event id"
	// written so that byte order is time order, then event id order.
	ts, err := readLots(ctx, s, len(lotIDs), "total shipments", `SELECT customer_id, customer_name, uom, sum(qty), count(*),
			min((lpad((ts + `+strconv.FormatInt(tsShift, 10)+`)::text, 20, '0') || event_id) COLLATE "C")
		FROM shipments WHERE lot_id = ANY($1::bigint[])
		GROUP BY customer_id, customer_name, uom`, []any{lotIDs}, func(t *total) []any {
		return []any{&t.CustomerID, &t.CustomerName, &t.UOM, &t.Qty, &t.Shipments, &t.first}
	})
	if err != nil {
		return nil, err
	}
	out := make([]core.ShipmentTotal, len(ts))
	for i, t := range ts {
		if out[i], err = firstShipment(t.ShipmentTotal, t.first); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// firstShipment sets t's first shipment from its "time, event id" key.
func firstShipment(t core.ShipmentTotal, key string) (core.ShipmentTotal, error) {
	if len(key) < 20 {
		return t, fmt.Errorf("total shipments: first-shipment key %q is too short", key)
	}
	us, err := strconv.ParseInt(key[:20], 10, 64)
	if err != nil {
		return t, fmt.Errorf("total shipments: first-shipment key %q: %w", key, err)
	}
	t.FirstTime, t.FirstEvent = fromMicros(us-tsShift), key[20:]
	return t, nil
}

func (s *DB) LotCounts(ctx context.Context, p core.LotCountParams) ([]core.LevelItemCount, error) {
	if len(p.LotIDs) != len(p.Depths) {
		return nil, fmt.Errorf("count lots: %d lot ids and %d depths", len(p.LotIDs), len(p.Depths))
	}
	depths := make([]int32, len(p.Depths))
	for i, d := range p.Depths {
		depths[i] = int32(d)
	}
	return readLots(ctx, s, len(p.LotIDs), "count lots", `SELECT t.depth, l.item, count(*)
		FROM unnest($1::bigint[], $2::int[]) AS t(id, depth) JOIN lots l ON l.id = t.id
		GROUP BY t.depth, l.item ORDER BY t.depth, l.item`, []any{p.LotIDs, depths},
		func(c *core.LevelItemCount) []any { return []any{&c.Depth, &c.Item, &c.Lots} })
}

func (s *DB) OnHandTotals(ctx context.Context, lotIDs []int64) ([]core.ItemQty, error) {
	return readLots(ctx, s, len(lotIDs), "total on hand", `SELECT l.item, q.uom, sum(q.received + q.produced - q.consumed - q.shipped + q.adjusted)
		FROM lot_qty q JOIN lots l ON l.id = q.lot_id
		WHERE q.lot_id = ANY($1::bigint[])
		GROUP BY l.item, q.uom ORDER BY l.item, q.uom`, []any{lotIDs},
		func(q *core.ItemQty) []any { return []any{&q.Item, &q.UOM, &q.Qty} })
}
