package core

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// More gap kinds (GapUnknownLot and GapOutputWithoutInput are in gaps.go).
const (
	// GapInputWithoutOutput: an order consumed lots but produced nothing
	// within its window: a missed output scan or an unposted production.
	GapInputWithoutOutput = "input_without_output"
	// GapMissedScan: an expected step (MIX, METAL-DETECT, QC-RELEASE…)
	// has no step event on a produced lot when its window closes.
	GapMissedScan = "missed_scan"
	// GapOverdrawn: a lot was consumed or shipped beyond what it had.
	GapOverdrawn = "overdrawn"
	// GapYield: an order's outputs exceed its inputs (same unit) by more
	// than the yield tolerance.
	GapYield = "yield"
	// GapTimeOrder: a lot was consumed or shipped before it was first
	// received or produced.
	GapTimeOrder = "time_order"
	// GapQuarantined: input from a source (a file, a connector) is in
	// quarantine and not yet fixed: what it recorded is missing from
	// every trace (issue 15 §1). One exception per source, however many
	// of its records are quarantined.
	GapQuarantined = "quarantined"
	// GapMixedUnits: an item's lots carry quantities in more than one
	// unit, which on hand and mass balance cannot add up (issue 15 §7).
	// A gap and not a quarantine: which unit came "first" would depend on
	// the order events arrived in.
	GapMixedUnits = "mixed_units"
)

// Rule configures one gap rule.
type Rule struct {
	Off bool
	// Window: how long after the condition began (the order's or lot's
	// first event) the rule waits before raising the gap, so that a late
	// but complete order raises nothing. 0 raises at once.
	Window   time.Duration
	Severity string
	// Tolerance, for overdrawn and yield: the fraction (0.02 = 2 %) of the
	// quantity in by which out may exceed it.
	Tolerance float64
}

// ExpectedStep is a step every lot produced by a matching order must have
// within Window of the order's first event.
type ExpectedStep struct {
	Step        string
	Items       []string // produced items it applies to; empty: all
	OrderPrefix string   // orders it applies to ("WO-"); empty: all
	Window      time.Duration
	Severity    string
}

func (s ExpectedStep) matches(item, order string) bool {
	if len(s.Items) > 0 && !contains(s.Items, item) {
		return false
	}
	return strings.HasPrefix(order, s.OrderPrefix)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// GapRules is the gap-detection configuration (hub.yaml "gaps").
type GapRules struct {
	OutputWithoutInput Rule
	InputWithoutOutput Rule
	UnknownLot         Rule
	Overdrawn          Rule
	Yield              Rule
	TimeOrder          Rule
	Quarantined        Rule
	MixedUnits         Rule
	// UnitsAllowed lists the items allowed to carry quantities in several
	// units, with the units allowed (none: any), for MixedUnits.
	UnitsAllowed map[string][]string
	Steps        []ExpectedStep
	// Escalation: how long a gap may stay open before the quality channel
	// is alerted.
	Escalation time.Duration
}

// DefaultGapRules are the rules when hub.yaml says nothing: a 4 h window
// for missing inputs, outputs and receipts (a backflush or a sync a few
// hours late is normal), 1 % tolerance on overdrawn lots, yield off,
// quarantined input and items in several units raised at once, and
// escalation to quality after 24 h.
func DefaultGapRules() GapRules {
	return GapRules{
		OutputWithoutInput: Rule{Window: 4 * time.Hour, Severity: SeverityHigh},
		InputWithoutOutput: Rule{Window: 24 * time.Hour, Severity: SeverityMedium},
		UnknownLot:         Rule{Window: 4 * time.Hour, Severity: SeverityHigh},
		Overdrawn:          Rule{Tolerance: 0.01, Severity: SeverityMedium},
		Yield:              Rule{Off: true, Tolerance: 0.05, Severity: SeverityMedium},
		TimeOrder:          Rule{Severity: SeverityLow},
		// Quarantined records are missing from every trace until fixed,
		// like an unknown lot's receipt: high.
		Quarantined: Rule{Severity: SeverityHigh},
		MixedUnits:  Rule{Severity: SeverityMedium},
		Escalation:  24 * time.Hour,
	}
}

// Params returns which facts the rules need.
func (r GapRules) Params() GapFactsParams {
	p := GapFactsParams{Overdrawn: !r.Overdrawn.Off, TimeOrder: !r.TimeOrder.Off, Yield: !r.Yield.Off,
		Quarantine: !r.Quarantined.Off, MixedUnits: !r.MixedUnits.Off, AllowedUnits: r.UnitsAllowed}
	for _, s := range r.Steps {
		if len(s.Items) == 0 {
			p.StepAllItems = true
		}
		p.StepItems = append(p.StepItems, s.Items...)
	}
	return p
}

// due reports whether a condition that began at since has outlasted the
// window at now.
func due(window time.Duration, since, now time.Time) bool {
	return window <= 0 || !now.Before(since.Add(window))
}

func sev(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// DetectGaps applies the rules to the facts at now and returns the gaps
// that exist, as exceptions not yet stored (no id, no status), sorted by
// key. It is pure: the same facts, rules and time give the same gaps.
func DetectGaps(f *GapFacts, r GapRules, now time.Time) []Exception {
	var out []Exception
	add := func(e Exception) { out = append(out, e) }
	for _, o := range f.Orders {
		names := refNames(uniqueRefs(append([]LotRef(nil), o.Lots...)))
		first := LotRef{}
		if len(o.Lots) > 0 {
			first = uniqueRefs(append([]LotRef(nil), o.Lots...))[0]
		}
		switch {
		case o.Ins == 0 && o.Outs > 0 && !r.OutputWithoutInput.Off && due(r.OutputWithoutInput.Window, o.Since, now):
			add(Exception{
				Key: GapOutputWithoutInput + ":" + o.Order, Kind: GapOutputWithoutInput, Severity: sev(r.OutputWithoutInput.Severity, SeverityHigh),
				Item: first.Item, Lot: first.Lot, Order: o.Order, Site: o.Site, Since: o.Since, Records: o.Events,
				Detail: fmt.Sprintf("order %s produced %s but no consumption is recorded: record the issued lots (a missed scan or backflush?), or confirm them with hub confirm", o.Order, names),
			})
		case o.Outs == 0 && o.Ins > 0 && !r.InputWithoutOutput.Off && due(r.InputWithoutOutput.Window, o.Since, now):
			add(Exception{
				Key: GapInputWithoutOutput + ":" + o.Order, Kind: GapInputWithoutOutput, Severity: sev(r.InputWithoutOutput.Severity, SeverityMedium),
				Item: first.Item, Lot: first.Lot, Order: o.Order, Site: o.Site, Since: o.Since, Records: o.Events,
				Detail: fmt.Sprintf("order %s consumed %s but produced nothing within %s: record its output (a missed output scan?), or confirm it with hub confirm --produced", o.Order, names, r.InputWithoutOutput.Window),
			})
		}
	}
	if !r.UnknownLot.Off {
		for _, l := range f.Unsourced {
			if due(r.UnknownLot.Window, l.Since, now) {
				add(Exception{
					Key: GapUnknownLot + ":" + l.Ref.String(), Kind: GapUnknownLot, Severity: sev(r.UnknownLot.Severity, SeverityHigh),
					Item: l.Ref.Item, Lot: l.Ref.Lot, Since: l.Since,
					Detail: fmt.Sprintf("lot %s was consumed or shipped but never received or produced: record its receipt or output, or correct the lot number", l.Ref),
				})
			}
		}
	}
	if !r.Overdrawn.Off {
		for _, o := range f.Overdrawn {
			if o.Out-o.In <= o.In*r.Overdrawn.Tolerance+1e-9 || o.In == 0 {
				continue // within tolerance; a lot with nothing in is an unknown lot
			}
			add(Exception{
				Key: GapOverdrawn + ":" + o.Ref.String() + ":" + o.UOM, Kind: GapOverdrawn, Severity: sev(r.Overdrawn.Severity, SeverityMedium),
				Item: o.Ref.Item, Lot: o.Ref.Lot,
				Detail: fmt.Sprintf("lot %s used %g %s but only %g %s came in (tolerance %g %%): a receipt or output is missing, or a quantity is wrong", o.Ref, round(o.Out), o.UOM, round(o.In), o.UOM, r.Overdrawn.Tolerance*100),
			})
		}
	}
	if !r.Yield.Off {
		for _, y := range f.Yields {
			if y.In <= 0 || y.Out-y.In <= y.In*r.Yield.Tolerance+1e-9 {
				continue
			}
			add(Exception{
				Key: GapYield + ":" + y.Order + ":" + y.UOM, Kind: GapYield, Severity: sev(r.Yield.Severity, SeverityMedium), Order: y.Order, Since: y.Since,
				Detail: fmt.Sprintf("order %s produced %g %s from %g %s in: %.1f %% more than its inputs (tolerance %g %%): an input is missing", y.Order, round(y.Out), y.UOM, round(y.In), y.UOM, (y.Out/y.In-1)*100, r.Yield.Tolerance*100),
			})
		}
	}
	if !r.TimeOrder.Off {
		for _, u := range f.EarlyUses {
			if !due(r.TimeOrder.Window, u.FirstUse, now) {
				continue
			}
			add(Exception{
				Key: GapTimeOrder + ":" + u.Ref.String(), Kind: GapTimeOrder, Severity: sev(r.TimeOrder.Severity, SeverityLow),
				Item: u.Ref.Item, Lot: u.Ref.Lot, Since: u.FirstUse,
				Detail: fmt.Sprintf("lot %s was used at %s, before it was first received or produced at %s: check the event times (a backdated receipt, a clock off, a wrong lot)", u.Ref, fmtTime(u.FirstUse), fmtTime(u.FirstSource)),
			})
		}
	}
	for _, p := range f.Produced {
		for _, s := range r.Steps {
			if !s.matches(p.Ref.Item, p.Order) || contains(p.Steps, s.Step) || !due(s.Window, p.OrderStart, now) {
				continue
			}
			add(Exception{
				Key: GapMissedScan + ":" + p.Ref.String() + ":" + s.Step, Kind: GapMissedScan, Severity: sev(s.Severity, SeverityHigh),
				Item: p.Ref.Item, Lot: p.Ref.Lot, Order: p.Order, Site: p.Site, Since: p.OrderStart,
				Detail: fmt.Sprintf("lot %s of order %s has no %s step within %s of the order's start: record the step (a missed scan?), or waive with a reason", p.Ref, p.Order, s.Step, s.Window),
			})
		}
	}
	if !r.Quarantined.Off {
		for _, q := range f.Quarantine {
			if due(r.Quarantined.Window, q.Since, now) {
				add(quarantineGap(q, sev(r.Quarantined.Severity, SeverityHigh)))
			}
		}
	}
	if !r.MixedUnits.Off {
		for _, g := range mixedUnitGaps(f, r.UnitsAllowed, sev(r.MixedUnits.Severity, SeverityMedium)) {
			if due(r.MixedUnits.Window, g.Since, now) {
				add(g)
			}
		}
	}
	// By key, and among facts with the same key (a lot produced by two
	// orders, two expected steps with the same name) the earliest first,
	// whatever order the store read them in.
	slices.SortFunc(out, func(a, b Exception) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), a.Since.Compare(b.Since), strings.Compare(a.Order, b.Order),
			strings.Compare(a.Site, b.Site), strings.Compare(a.Detail, b.Detail))
	})
	// One exception per key.
	dedup := out[:0]
	for i, e := range out {
		if i == 0 || e.Key != out[i-1].Key {
			dedup = append(dedup, e)
		}
	}
	return dedup
}

func refNames(refs []LotRef) string {
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.String()
	}
	return strings.Join(names, ", ")
}
