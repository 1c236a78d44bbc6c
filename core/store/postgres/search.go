package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
)

func (s *DB) SearchLots(ctx context.Context, f core.LotSearch) ([]core.LotRow, error) {
	item, lot := strings.TrimSpace(f.Item), strings.TrimSpace(f.Lot)
	if item == "" && lot == "" {
		return nil, core.Errorf(core.EINVALID, "search lots: give a lot number, an item, or both")
	}
	var limit *int
	if f.Limit > 0 {
		limit = &f.Limit
	}
	rows, err := s.pool.Query(ctx, `SELECT id, item, lot FROM lots
		WHERE ($1 = '' OR item = $1) AND ($2 = '' OR starts_with(lot, $2))
		ORDER BY item COLLATE "C", lot COLLATE "C" LIMIT $3 OFFSET $4`, item, lot, limit, max(f.Offset, 0))
	if err != nil {
		return nil, fmt.Errorf("search lots: %w", err)
	}
	return collect(rows, "search lots", func(r *core.LotRow) []any { return []any{&r.ID, &r.Ref.Item, &r.Ref.Lot} })
}

func (s *DB) Activity(ctx context.Context, from, to time.Time) (core.Activity, error) {
	var a core.Activity
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT count(DISTINCT lot_id) FROM receipts WHERE ts >= $1 AND ts < $2),
		(SELECT count(DISTINCT lot_id) FROM links WHERE out AND ts >= $1 AND ts < $2),
		(SELECT count(DISTINCT lot_id) FROM shipments WHERE ts >= $1 AND ts < $2)`,
		micros(from), micros(to)).Scan(&a.Received, &a.Produced, &a.Shipped)
	if err != nil {
		return a, fmt.Errorf("count lots received, produced and shipped: %w", err)
	}
	return a, nil
}
