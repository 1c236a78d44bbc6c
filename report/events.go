package report

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/lothub/lothub/core"
)

// The reports list thousands of lots with facts the trace rows lack
// (ship-to, carrier, location, params, source record). They read the
// in-effect events of all those lots in one store read
// (core.Store.InEffectEvents), not each lot's whole history through
// core.Queries.Lot: that was a query per lot, and every stored version
// decoded, which made a wide recall list take minutes.

// lotEvent is an in-effect event of a lot a report reads.
type lotEvent struct {
	row core.EventRow // its Body dropped once decoded into ev
	ev  *core.Event
}

// lotIDs looks the lots up, all at once. Lots the hub does not know are
// left out.
func lotIDs(ctx context.Context, q *core.Queries, refs []core.LotRef) (map[core.LotRef]int64, error) {
	rows, err := q.Store.FindLots(ctx, refs)
	if err != nil {
		return nil, err
	}
	ids := make(map[core.LotRef]int64, len(rows))
	for _, r := range rows {
		ids[r.Ref] = r.ID
	}
	return ids, nil
}

// readEvents calls fn with the in-effect events of the lots (those in
// ids) matching p's types and times, in no particular order, each
// decoded into a T (core.Event, or a struct of the few fields a report
// needs). When want is set, only the rows it wants are decoded and
// passed on. The row's Body is dropped once decoded.
func readEvents[T any](ctx context.Context, q *core.Queries, ids map[core.LotRef]int64, lots []core.LotRef, p core.InEffectParams,
	want func(*core.EventRow) bool, fn func(core.LotRef, *core.EventRow, *T) error) error {
	refs := make(map[int64]core.LotRef, len(lots))
	p.LotIDs = make([]int64, 0, len(lots))
	for _, lr := range lots {
		if id, ok := ids[lr]; ok {
			refs[id] = lr
			p.LotIDs = append(p.LotIDs, id)
		}
	}
	if len(p.LotIDs) == 0 {
		return nil
	}
	return q.Store.InEffectEvents(ctx, p, func(id int64, r core.EventRow) error {
		if want != nil && !want(&r) {
			return nil
		}
		e := new(T)
		if err := json.Unmarshal(r.Body, e); err != nil {
			return fmt.Errorf("stored event %s version %d is unreadable: %w", r.ID, r.Version, err)
		}
		r.Body = nil
		return fn(refs[id], &r, e)
	})
}

// sortEvents puts a lot's events in the order hub lot lists them: event
// time, then id (in bytes).
func sortEvents(es []*lotEvent) { slices.SortFunc(es, cmpEvents) }

func cmpEvents(a, b *lotEvent) int {
	if c := a.row.Time.Compare(b.row.Time); c != 0 {
		return c
	}
	return strings.Compare(a.row.ID, b.row.ID)
}
