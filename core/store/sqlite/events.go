package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
)

// Reads of many lots at once, for the reports: a recall list or an FSMA
// 204 export reads thousands of lots' events, and a query per lot
// (LotEvents, every stored version) made them take minutes.

func (s *DB) FindLots(ctx context.Context, refs []core.LotRef) ([]core.LotRow, error) {
	pairs := make([][2]string, 0, len(refs))
	seen := make(map[core.LotRef]bool, len(refs))
	for _, r := range refs {
		if !seen[r] {
			seen[r] = true
			pairs = append(pairs, [2]string{r.Item, r.Lot})
		}
	}
	rows, err := s.query(ctx, `SELECT l.id, l.item, l.lot FROM json_each(?) j
		JOIN lots l ON l.item = j.value->>0 AND l.lot = j.value->>1`, jsonList(pairs))
	if err != nil {
		return nil, fmt.Errorf("look up lots: %w", err)
	}
	return collect(rows, "look up lots", func(r *core.LotRow) []any { return []any{&r.ID, &r.Ref.Item, &r.Ref.Lot} })
}

// eventColsE are eventCols of the events table aliased e.
const eventColsE = `e.seq, e.id, e.version, e.hash, e.type, e.ts, coalesce(e.lot_id, 0), coalesce(e.reverses, ''), e.status, e.seen_at, e.body`

func (s *DB) InEffectEvents(ctx context.Context, p core.InEffectParams, fn func(lotID int64, e core.EventRow) error) error {
	query, args := inEffectQuery(p)
	if query == "" {
		return nil
	}
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("read events of lots: %w", err)
	}
	defer rows.Close()
	var lot int64
	scan := lotScanner{rows, &lot}
	for rows.Next() {
		r, err := scanEvent(scan)
		if err != nil {
			return fmt.Errorf("read events of lots: %w", err)
		}
		if err := fn(lot, r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read events of lots: %w", err)
	}
	return nil
}

// inEffectQuery is the read of InEffectEvents ("" when it can find
// nothing). The lots are one json_each list joined to the events by
// events_lot, and to the transforms through their links ("t:" groups
// only: a raw lot consumed by thousands of orders has thousands of order
// links, none of them a transform's).
func inEffectQuery(p core.InEffectParams) (string, []any) {
	ids := slices.Clone(p.LotIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids) // json_each joins once per element
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if !p.From.IsZero() {
		from = micros(p.From)
	}
	if !p.To.IsZero() {
		to = micros(p.To)
	}
	own, transforms := len(p.Types) == 0, len(p.Types) == 0
	for _, t := range p.Types {
		if t == core.Transform {
			transforms = true
		} else {
			own = true
		}
	}
	if len(ids) == 0 || !own && !transforms || from >= to {
		return "", nil
	}
	// Params the events must have one of: their names among the keys of
	// the body's params object.
	withParams := ""
	if len(p.WithParams) > 0 {
		withParams = ` AND EXISTS (SELECT 1 FROM json_each(e.body, '$.params') p WHERE p.key IN (SELECT value FROM json_each(?5)))`
	}
	var parts []string
	if own {
		q := `SELECT ` + eventColsE + `, e.lot_id FROM json_each(?1) j JOIN events e ON e.lot_id = j.value
			WHERE e.status = 'active' AND e.ts >= ?2 AND e.ts < ?3`
		if len(p.Types) > 0 {
			q += ` AND e.type IN (SELECT value FROM json_each(?4))`
		}
		parts = append(parts, q+withParams)
	}
	if transforms {
		parts = append(parts, `SELECT `+eventColsE+`, k.lot_id FROM (
				SELECT DISTINCT k.lot_id, k.event_id FROM json_each(?1) j JOIN links k ON k.lot_id = j.value
				WHERE k.grp >= 't:' AND k.grp < 't;'
			) k JOIN events e ON e.id = k.event_id
			WHERE e.type = 'transform' AND e.status = 'active' AND e.ts >= ?2 AND e.ts < ?3`+withParams)
	}
	// As many arguments as the highest parameter number used.
	args := []any{jsonList(ids), from, to}
	switch {
	case withParams != "":
		args = append(args, jsonList(p.Types), jsonList(p.WithParams))
	case own && len(p.Types) > 0:
		args = append(args, jsonList(p.Types))
	}
	return strings.Join(parts, "\nUNION ALL\n"), args
}

// lotScanner scans a row of eventCols followed by a lot id.
type lotScanner struct {
	rows *sql.Rows
	lot  *int64
}

func (s lotScanner) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.lot)...) }

func (s *DB) EventVersions(ctx context.Context, p core.EventVersionsParams) ([]core.EventRow, error) {
	through, limit := int64(math.MaxInt64), int64(-1)
	if !p.SeenThrough.IsZero() {
		through = micros(p.SeenThrough)
	}
	if p.Limit > 0 {
		limit = int64(p.Limit)
	}
	rows, err := s.query(ctx, `SELECT `+eventCols+` FROM events WHERE seq > ? AND seen_at <= ? ORDER BY seq LIMIT ?`, p.AfterSeq, through, limit)
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
