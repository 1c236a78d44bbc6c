package core

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Gap kinds.
const (
	// GapUnknownLot: a lot was consumed or shipped but never received or
	// produced: a missed receipt or output scan, or a mistyped lot number.
	GapUnknownLot = "unknown_lot"
	// GapOutputWithoutInput: an order produced lots but no consumption is
	// recorded for it: a missed issue scan or backflush.
	GapOutputWithoutInput = "output_without_input"
)

// Gaps lists where the genealogy is broken now, computed on the fly with
// no windows. Stored exceptions, with windows and a lifecycle, are the
// Monitor's (monitor.go).
func (q *Queries) Gaps(ctx context.Context) ([]Gap, error) {
	gaps := []Gap{}
	lots, err := q.Store.UnsourcedLots(ctx)
	if err != nil {
		return nil, err
	}
	for _, l := range lots {
		gaps = append(gaps, Gap{
			Kind: GapUnknownLot, Item: l.Ref.Item, Lot: l.Ref.Lot, Since: fmtTime(l.Since),
			Detail: fmt.Sprintf("lot %s was consumed or shipped but never received or produced: record its receipt or output, or correct the lot number", l.Ref),
		})
	}
	orders, err := q.Store.OrdersWithoutInputs(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range orders {
		order := strings.TrimPrefix(o.Order, "o:")
		refs := uniqueRefs(o.Lots)
		names := make([]string, len(refs))
		for i, r := range refs {
			names[i] = r.String()
		}
		g := Gap{
			Kind: GapOutputWithoutInput, Order: order, Since: fmtTime(o.Since),
			Detail: fmt.Sprintf("order %s produced %s but no consumption is recorded: record the issued lots (a missed scan or backflush?)", order, strings.Join(names, ", ")),
		}
		if len(refs) > 0 {
			g.Item, g.Lot = refs[0].Item, refs[0].Lot
		}
		gaps = append(gaps, g)
	}
	sort.SliceStable(gaps, func(i, j int) bool { return gaps[i].Since < gaps[j].Since })
	return gaps, nil
}

func uniqueRefs(refs []LotRef) []LotRef {
	slices.SortFunc(refs, cmpRef)
	out := refs[:0]
	for i, r := range refs {
		if i == 0 || r != refs[i-1] {
			out = append(out, r)
		}
	}
	return out
}
