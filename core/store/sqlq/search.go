package sqlq

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
)

// SearchLots finds lots by item and lot-number prefix, in byte order of
// item and lot (the same order on both stores).
func (x *Queries) SearchLots(ctx context.Context, f core.LotSearch) ([]core.LotRow, error) {
	item, lot := strings.TrimSpace(f.Item), strings.TrimSpace(f.Lot)
	if item == "" && lot == "" {
		return nil, core.Errorf(core.EINVALID, "search lots: give a lot number, an item, or both")
	}
	rows, err := x.query(ctx, x.db, `SELECT id, item, lot FROM lots
		WHERE ($1 = '' OR item = $1) AND ($2 = '' OR `+x.d.HasPrefix("lot", "$2")+`)
		ORDER BY item`+x.d.Bytewise()+`, lot`+x.d.Bytewise()+` LIMIT $3 OFFSET $4`,
		item, lot, x.d.Limit(f.Limit), max(f.Offset, 0))
	if err != nil {
		return nil, fmt.Errorf("search lots: %w", err)
	}
	return collect(rows, "search lots", func(r Row) (core.LotRow, error) {
		var l core.LotRow
		err := r.Scan(&l.ID, &l.Ref.Item, &l.Ref.Lot)
		return l, err
	})
}

// Activity counts the lots received, produced and shipped in [from, to).
func (x *Queries) Activity(ctx context.Context, from, to time.Time) (core.Activity, error) {
	var a core.Activity
	err := x.queryRow(ctx, x.db, `SELECT
		(SELECT count(DISTINCT lot_id) FROM receipts WHERE ts >= $1 AND ts < $2),
		(SELECT count(DISTINCT lot_id) FROM links WHERE out = `+x.d.Bool(true)+` AND ts >= $1 AND ts < $2),
		(SELECT count(DISTINCT lot_id) FROM shipments WHERE ts >= $1 AND ts < $2)`,
		Micros(from), Micros(to)).Scan(&a.Received, &a.Produced, &a.Shipped)
	if err != nil {
		return a, fmt.Errorf("count lots received, produced and shipped: %w", err)
	}
	return a, nil
}
