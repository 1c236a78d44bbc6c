package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/lothub/lothub/core"
)

// Reads in totals for the trace summary (core/summary.go): the database
// adds up, the hub reads a row per customer, item or level instead of a
// row per shipment or lot.

// tsShift makes event times (Unix microseconds, negative before 1970)
// positive and 19 digits long, so that their decimal forms, written by
// SQLite without printf (a tenth of the query's CPU), sort as the times
// do: an event time is of the years 0 to 9999 (RFC 3339), within about
// ±2.6e17 µs of 1970, and ts + 2^62 stays between 1e18 and 1e19 for any
// ts from -3.6e18 to 4.6e18.
const tsShift = 1 << 62

// tsDigits is the length of the decimal form of ts + tsShift.
const tsDigits = 19

func (s *DB) ShipmentTotals(ctx context.Context, lotIDs []int64) ([]core.ShipmentTotal, error) {
	// The first shipment of each total is the least of "time, event id"
	// written so that byte order is time order, then event id order.
	rows, err := s.query(ctx, `SELECT customer_id, customer_name, uom, sum(qty), count(*),
			min((ts + `+strconv.FormatInt(tsShift, 10)+`) || event_id)
		FROM json_each(?) j CROSS JOIN shipments s ON s.lot_id = j.value
		GROUP BY customer_id, customer_name, uom`, sortedIDs(lotIDs))
	if err != nil {
		return nil, fmt.Errorf("total shipments: %w", err)
	}
	type total struct {
		core.ShipmentTotal
		first string
	}
	ts, err := collect(rows, "total shipments", func(t *total) []any {
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
	if len(key) < tsDigits {
		return t, fmt.Errorf("total shipments: first-shipment key %q is too short", key)
	}
	us, err := strconv.ParseInt(key[:tsDigits], 10, 64)
	if err != nil {
		return t, fmt.Errorf("total shipments: first-shipment key %q: %w", key, err)
	}
	t.FirstTime, t.FirstEvent = fromMicros(us-tsShift), key[tsDigits:]
	return t, nil
}

func (s *DB) LotCounts(ctx context.Context, p core.LotCountParams) ([]core.LevelItemCount, error) {
	if len(p.LotIDs) != len(p.Depths) {
		return nil, fmt.Errorf("count lots: %d lot ids and %d depths", len(p.LotIDs), len(p.Depths))
	}
	// One read per depth (a walk has a few): SQLite joins two json_each
	// lists by position only by scanning one for each row of the other.
	byDepth := map[int][]int64{}
	var depths []int
	for i, id := range p.LotIDs {
		d := p.Depths[i]
		if _, ok := byDepth[d]; !ok {
			depths = append(depths, d)
		}
		byDepth[d] = append(byDepth[d], id)
	}
	slices.Sort(depths)
	var out []core.LevelItemCount
	for _, d := range depths {
		rows, err := s.query(ctx, `SELECT l.item, count(*) FROM json_each(?) j CROSS JOIN lots l ON l.id = j.value GROUP BY l.item ORDER BY l.item`, sortedIDs(byDepth[d]))
		if err != nil {
			return nil, fmt.Errorf("count lots at depth %d: %w", d, err)
		}
		cs, err := collect(rows, "count lots", func(c *core.LevelItemCount) []any { return []any{&c.Item, &c.Lots} })
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			c.Depth = d
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *DB) OnHandTotals(ctx context.Context, lotIDs []int64) ([]core.ItemQty, error) {
	rows, err := s.query(ctx, `SELECT l.item, q.uom, sum(q.received + q.produced - q.consumed - q.shipped + q.adjusted)
		FROM json_each(?) j CROSS JOIN lot_qty q ON q.lot_id = j.value JOIN lots l ON l.id = q.lot_id
		GROUP BY l.item, q.uom ORDER BY l.item, q.uom`, sortedIDs(lotIDs))
	if err != nil {
		return nil, fmt.Errorf("total on hand: %w", err)
	}
	return collect(rows, "total on hand", func(q *core.ItemQty) []any { return []any{&q.Item, &q.UOM, &q.Qty} })
}
