package core

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
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

// quarantineGap is the exception for the open quarantine entries of one
// source. One per source, not per entry: a bad file of 10,000 rows is one
// alert that says how many, not 10,000. Since is when the first of them
// was quarantined (a stored time; quarantined input has no event time to
// trust).
func quarantineGap(q QuarantineGroupRow, severity string) Exception {
	e := Exception{Key: GapQuarantined + ":" + q.Source, Kind: GapQuarantined, Severity: severity, Since: q.Since}
	first := clipLine(q.First.Reason, 300)
	if q.First.EventID != "" && !strings.Contains(first, q.First.EventID) {
		first = "event " + q.First.EventID + ": " + first
	}
	if q.Entries == 1 {
		if ref, ok := quarantinedLot(q.First); ok {
			e.Item, e.Lot = ref.Item, ref.Lot
		}
		if q.First.EventID != "" {
			e.Records = []string{q.First.EventID}
		}
		e.Detail = fmt.Sprintf("1 record from %s is in quarantine, missing from every trace until it is fixed (%s): hub errors shows it; fix it at the source and ingest it again, or fix the mapping and run hub remap; the gap then resolves itself", q.Source, first)
		return e
	}
	e.Detail = fmt.Sprintf("%d records from %s are in quarantine, missing from every trace until they are fixed (the first: %s): hub errors lists them with their reasons; fix them at the source and ingest them again, or fix the mapping and run hub remap; the gap resolves itself when none is left", q.Entries, q.Source, first)
	return e
}

// quarantinedLot reads the lot a quarantined canonical event names, if it
// could be read. A source record's payload (key "raw:…") is the ERP's own
// shape: no lot is read from it.
func quarantinedLot(q QuarantineRow) (LotRef, bool) {
	if strings.HasPrefix(q.Key, "raw:") {
		return LotRef{}, false
	}
	var v struct {
		Lot *struct {
			Item any `json:"item"`
			Lot  any `json:"lot"`
		} `json:"lot"`
	}
	if json.Unmarshal([]byte(q.Raw), &v) != nil || v.Lot == nil {
		return LotRef{}, false
	}
	item, _ := v.Lot.Item.(string)
	lot, _ := v.Lot.Lot.(string)
	if strings.TrimSpace(item) == "" || strings.TrimSpace(lot) == "" {
		return LotRef{}, false
	}
	return LotRef{Item: item, Lot: lot}, true
}

// clipLine puts s on one line and cuts it to at most n runes.
func clipLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// itemUnit is one unit of an item in several units, with its uses.
type itemUnit struct {
	uom   string
	lots  int
	first time.Time // its earliest in-effect event
	uses  []UnitUseRow
}

// mixedUnitGaps are the exceptions for items whose lots carry quantities
// in more than one unit, less those hub.yaml allows. Everything in them is
// a function of the in-effect events: the unit named first (the "main"
// one) is the one with the most lots, not the one that arrived first.
func mixedUnitGaps(f *GapFacts, allow map[string][]string, severity string) []Exception {
	byItem := map[string][]*itemUnit{}
	for _, u := range f.Units {
		byItem[u.Item] = append(byItem[u.Item], &itemUnit{uom: u.UOM, lots: u.Lots})
	}
	for _, x := range f.UnitUses {
		for _, u := range byItem[x.Ref.Item] {
			if u.uom == x.UOM {
				u.uses = append(u.uses, x)
			}
		}
	}
	items := slices.Sorted(maps.Keys(byItem))
	var out []Exception
	for _, item := range items {
		units := byItem[item]
		names := make([]string, len(units))
		for i, u := range units {
			names[i] = u.uom
		}
		if len(units) < 2 || unitsAllowed(allow, item, names) {
			continue
		}
		for _, u := range units {
			slices.SortFunc(u.uses, func(a, b UnitUseRow) int {
				return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.EventID, b.EventID), strings.Compare(a.Ref.Lot, b.Ref.Lot))
			})
			if len(u.uses) > 0 {
				u.first = u.uses[0].Time
			}
		}
		// The main unit: the most lots, then the earliest, then by name.
		slices.SortFunc(units, func(a, b *itemUnit) int {
			return cmp.Or(cmp.Compare(b.lots, a.lots), a.first.Compare(b.first), strings.Compare(a.uom, b.uom))
		})
		// The condition began when the item first had quantities in two
		// units: the second earliest of the units' first events.
		firsts := make([]time.Time, 0, len(units))
		for _, u := range units {
			if !u.first.IsZero() {
				firsts = append(firsts, u.first)
			}
		}
		slices.SortFunc(firsts, time.Time.Compare)
		e := Exception{Key: GapMixedUnits + ":" + item, Kind: GapMixedUnits, Severity: severity, Item: item}
		if len(firsts) >= 2 {
			e.Since = firsts[1]
		}
		var others []UnitUseRow
		parts := make([]string, len(units))
		for i, u := range units {
			parts[i] = u.describe()
			if i > 0 {
				others = append(others, u.uses...)
			}
		}
		slices.SortFunc(others, func(a, b UnitUseRow) int {
			return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.EventID, b.EventID), strings.Compare(a.Ref.Lot, b.Ref.Lot))
		})
		if len(others) > 0 {
			e.Lot = others[0].Ref.Lot
		}
		for _, x := range others {
			if len(e.Records) < maxGapRecords && !slices.Contains(e.Records, x.EventID) {
				e.Records = append(e.Records, x.EventID)
			}
		}
		slices.Sort(e.Records)
		main, odd := units[0].uom, units[1].uom
		e.Detail = fmt.Sprintf("item %s carries quantities in %d units: %s. On hand and mass balance are kept per unit, so its quantities in %s are not added to those in %s: add a conversion to the mapping's units: table (e.g. %s: {%s: FACTOR}), convert() the quantity in its rule and run hub remap (canonical events sent as such: correct their unit at the source); or, if the item really is kept in several units, allow them under gaps.rules.mixed_units.allow in hub.yaml",
			item, len(units), strings.Join(parts, "; "), odd, main, odd, main)
		out = append(out, e)
	}
	return out
}

// maxGapRecords bounds the event ids an exception keeps.
const maxGapRecords = 10

// describe says how much of an item is in the unit: "LBR: 1 lot (F-X),
// first in event r9 at 2026-03-01T08:00:00Z".
func (u *itemUnit) describe() string {
	var lots []string
	for _, x := range u.uses {
		if !slices.Contains(lots, x.Ref.Lot) {
			lots = append(lots, x.Ref.Lot)
		}
	}
	slices.Sort(lots)
	eg := ""
	if len(lots) > 0 {
		if len(lots) > 3 {
			lots = append(lots[:3], "…")
		}
		eg = " (" + strings.Join(lots, ", ") + ")"
	}
	s := fmt.Sprintf("%s: %d lot%s%s", u.uom, u.lots, plural(u.lots), eg)
	if len(u.uses) > 0 {
		s += fmt.Sprintf(", first in event %s at %s", u.uses[0].EventID, fmtTime(u.uses[0].Time))
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
