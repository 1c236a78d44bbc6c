package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lothub/lothub/core"
)

// Reads of many lots at once, for the reports: a recall list or an FSMA
// 204 export reads thousands of lots' events, and a query per lot
// (LotEvents, every stored version) made them take minutes.

func (s *DB) FindLots(ctx context.Context, refs []core.LotRef) ([]core.LotRow, error) {
	items, lots := make([]string, 0, len(refs)), make([]string, 0, len(refs))
	seen := make(map[core.LotRef]bool, len(refs))
	for _, r := range refs {
		if !seen[r] {
			seen[r] = true
			items, lots = append(items, r.Item), append(lots, r.Lot)
		}
	}
	return readLots(ctx, s, len(items), "look up lots", `SELECT l.id, l.item, l.lot
		FROM unnest($1::text[], $2::text[]) AS u(item, lot) JOIN lots l ON l.item = u.item AND l.lot = u.lot`,
		[]any{items, lots}, func(r *core.LotRow) []any { return []any{&r.ID, &r.Ref.Item, &r.Ref.Lot} })
}

// eventColsE are eventCols of the events table aliased e.
const eventColsE = `e.seq, e.id, e.version, e.hash, e.type, e.ts, coalesce(e.lot_id, 0), coalesce(e.reverses, ''), e.status, e.seen_at, e.body`

func (s *DB) InEffectEvents(ctx context.Context, p core.InEffectParams, fn func(lotID int64, e core.EventRow) error) error {
	ids := slices.Clone(p.LotIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if !p.From.IsZero() {
		from = micros(p.From)
	}
	if !p.To.IsZero() {
		to = micros(p.To)
	}
	own, transforms := len(p.Types) == 0, len(p.Types) == 0
	types := make([]string, 0, len(p.Types))
	for _, t := range p.Types {
		types = append(types, string(t))
		if t == core.Transform {
			transforms = true
		} else {
			own = true
		}
	}
	if len(ids) == 0 || !own && !transforms || from >= to {
		return nil
	}
	// The events of the lots through events_lot, and the transforms
	// through their links ("t:" groups only: a raw lot consumed by
	// thousands of orders has thousands of order links, none of them a
	// transform's).
	var parts []string
	args := []any{ids, from, to}
	withParams := ""
	if len(p.WithParams) > 0 {
		args = append(args, p.WithParams)
		withParams = fmt.Sprintf(` AND (e.body::jsonb -> 'params') ?| $%d::text[]`, len(args))
	}
	if own {
		q := `SELECT ` + eventColsE + `, e.lot_id FROM events e
			WHERE e.lot_id = ANY($1::bigint[]) AND e.status = 'active' AND e.ts >= $2 AND e.ts < $3`
		if len(types) > 0 {
			args = append(args, types)
			q += fmt.Sprintf(` AND e.type = ANY($%d::text[])`, len(args))
		}
		parts = append(parts, q+withParams)
	}
	if transforms {
		parts = append(parts, `SELECT `+eventColsE+`, k.lot_id FROM (
				SELECT DISTINCT lot_id, event_id FROM links
				WHERE lot_id = ANY($1::bigint[]) AND grp >= 't:' AND grp < 't;'
			) k JOIN events e ON e.id = k.event_id
			WHERE e.type = 'transform' AND e.status = 'active' AND e.ts >= $2 AND e.ts < $3`+withParams)
	}
	err := streamLots(ctx, s, len(ids), strings.Join(parts, "\nUNION ALL\n"), args, func(rows pgx.Rows) error {
		var lot int64
		scan := lotScanner{rows, &lot}
		for rows.Next() {
			r, err := scanEvent(scan)
			if err != nil {
				return err
			}
			if err := fn(lot, r); err != nil {
				return callbackError{err}
			}
		}
		return rows.Err()
	})
	if cb := (callbackError{}); errors.As(err, &cb) {
		return cb.err
	}
	if err != nil {
		return fmt.Errorf("read events of lots: %w", err)
	}
	return nil
}

// callbackError carries an error of InEffectEvents' fn out of the read
// unwrapped.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// lotScanner scans a row of eventCols followed by a lot id.
type lotScanner struct {
	rows pgx.Rows
	lot  *int64
}

func (s lotScanner) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.lot)...) }

func (s *DB) EventVersions(ctx context.Context, p core.EventVersionsParams) ([]core.EventRow, error) {
	through := int64(math.MaxInt64)
	if !p.SeenThrough.IsZero() {
		through = micros(p.SeenThrough)
	}
	var limit *int64 // LIMIT NULL: every row
	if p.Limit > 0 {
		n := int64(p.Limit)
		limit = &n
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventCols+` FROM events WHERE seq > $1 AND seen_at <= $2 ORDER BY seq LIMIT $3::bigint`, p.AfterSeq, through, limit)
	if err != nil {
		return nil, fmt.Errorf("read event versions recorded by %s: %w", p.SeenThrough.Format(time.RFC3339Nano), err)
	}
	defer rows.Close()
	var out []core.EventRow
	for rows.Next() {
		r, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("read event versions: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read event versions: %w", err)
	}
	return out, nil
}
