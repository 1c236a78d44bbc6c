package core

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// GapStatus is where a gap exception is in its lifecycle:
//
//	open → alerted → acknowledged → resolved | confirmed | waived
//
// resolved: a later event closed the gap by itself (the late consumption
// arrived); confirmed: an operator supplied the missing link (hub confirm);
// waived: a named user accepted the gap, with a reason. Nothing is deleted:
// every change is in the exception's history.
type GapStatus string

const (
	GapOpen         GapStatus = "open"
	GapAlerted      GapStatus = "alerted"
	GapAcknowledged GapStatus = "acknowledged"
	GapResolved     GapStatus = "resolved"
	GapConfirmed    GapStatus = "confirmed"
	GapWaived       GapStatus = "waived"
)

// Closed reports whether the status ends the lifecycle.
func (s GapStatus) Closed() bool {
	return s == GapResolved || s == GapConfirmed || s == GapWaived
}

var gapStatuses = []GapStatus{GapOpen, GapAlerted, GapAcknowledged, GapResolved, GapConfirmed, GapWaived}

// ParseGapStatus checks a status given by a user.
func ParseGapStatus(s string) (GapStatus, error) {
	for _, v := range gapStatuses {
		if string(v) == s {
			return v, nil
		}
	}
	return "", Errorf(EINVALID, "gap status %q: want one of open, alerted, acknowledged, resolved, confirmed, waived", s)
}

// Severities of gaps.
const (
	SeverityLow    = "low"
	SeverityMedium = "medium"
	SeverityHigh   = "high"
)

// Escalation stages: which channel a gap was last alerted to.
const (
	StageNone       = 0
	StageSupervisor = 1 // the supervisor channel of the gap's site
	StageQuality    = 2 // the quality channel, after the escalation delay
)

// Exception is a stored gap: a place where the genealogy chain is broken,
// worked to closure. Key identifies the condition (kind and subject), so
// the same broken chain is one exception however often it is evaluated.
type Exception struct {
	ID       int64
	Key      string
	Kind     string
	Severity string
	Item     string
	Lot      string
	Order    string
	Site     string
	Detail   string
	Records  []string  // ids of the events involved
	Since    time.Time // when the condition began (event time)
	Opened   time.Time // when the hub detected it
	Updated  time.Time
	Status   GapStatus
	Stage    int // highest escalation stage alerted (claimed)
	// Sending is when the alert of Stage was claimed and its delivery
	// began; zero once delivered (or released). One left set long after
	// means the hub died mid-delivery: the stage is sent again.
	Sending time.Time
}

// GapID is the exception's public id, e.g. GAP-12.
func (e *Exception) GapID() string { return FormatGapID(e.ID) }

// FormatGapID renders an exception id as users see it.
func FormatGapID(id int64) string { return "GAP-" + strconv.FormatInt(id, 10) }

// ParseGapID accepts GAP-12, gap-12 or 12.
func ParseGapID(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if len(t) > 4 && strings.EqualFold(t[:4], "GAP-") {
		t = t[4:]
	}
	id, err := strconv.ParseInt(t, 10, 64)
	if err != nil || id <= 0 {
		return 0, Errorf(EINVALID, "gap id %q: want GAP-<number> as hub gaps lists it", s)
	}
	return id, nil
}

// ExceptionEvent is one entry of an exception's history: who did what
// when, and why.
type ExceptionEvent struct {
	GapID  int64
	At     time.Time
	Action string // opened, reopened, alerted, alert_failed, acknowledged, resolved, confirmed, waived
	By     string // a user, or "hub" for automatic actions
	Note   string
}

// ExceptionFilter selects exceptions. Zero fields do not filter.
type ExceptionFilter struct {
	ID       int64
	Keys     []string
	Statuses []GapStatus
	Open     bool      // only those not closed
	Since    time.Time // only those whose condition began at or after
}

// GapFactsParams says which facts GapFacts computes beyond the always
// needed ones (one-sided orders, unsourced lots).
type GapFactsParams struct {
	Overdrawn bool // lots consumed or shipped beyond what they had
	TimeOrder bool // lots used before they were first sourced
	Yield     bool // quantities in and out per order and unit
	// StepItems selects the produced lots whose steps are returned (for
	// expected-step rules); StepAllItems returns every produced lot.
	StepItems    []string
	StepAllItems bool
	// Quarantine: the open quarantine entries, grouped by source.
	Quarantine bool
	// MixedUnits: the items whose lots carry quantities in more than one
	// unit, and their in-effect events with a quantity. Items that
	// AllowedUnits allows (UnitsAllowed) may be left out.
	MixedUnits   bool
	AllowedUnits map[string][]string
}

// UnitsAllowed reports whether hub.yaml allows item to carry quantities in
// all of units (gaps.rules.mixed_units.allow): the item is listed, with no
// units (any) or with every one of them.
func (p GapFactsParams) UnitsAllowed(item string, units []string) bool {
	return unitsAllowed(p.AllowedUnits, item, units)
}

func unitsAllowed(allow map[string][]string, item string, units []string) bool {
	list, ok := allow[item]
	if !ok {
		return false
	}
	if len(list) == 0 {
		return true
	}
	for _, u := range units {
		if !contains(list, u) {
			return false
		}
	}
	return true
}

// GapFacts is what the gap rules look at.
type GapFacts struct {
	Orders    []OrderFact
	Unsourced []LotGapRow
	Overdrawn []OverdrawRow
	EarlyUses []EarlyUseRow
	Yields    []OrderQtyRow
	Produced  []ProducedLotRow
	// Quarantine: open quarantine entries, one row per source.
	Quarantine []QuarantineGroupRow
	// Units: per item with more than one unit and unit, how many lots
	// carry a quantity in it; UnitUses: those items' in-effect events
	// with a quantity, one row per event, lot and unit.
	Units    []ItemUnitRow
	UnitUses []UnitUseRow
}

// QuarantineGroupRow is the open (not resolved) quarantine entries of one
// source: a file, or a connector.
type QuarantineGroupRow struct {
	Source  string
	Entries int
	Since   time.Time     // the earliest entry's quarantine time (QuarantineRow.At)
	First   QuarantineRow // the earliest entry: by At, then by Key
}

// ItemUnitRow is one unit of an item whose lots carry quantities in more
// than one unit (lot_qty rows with a non-zero quantity).
type ItemUnitRow struct {
	Item string
	UOM  string
	Lots int
}

// UnitUseRow is an in-effect event that carries a quantity of a lot in a
// unit (a transform gives one row per input and output).
type UnitUseRow struct {
	Ref     LotRef
	UOM     string
	EventID string
	Time    time.Time
}

// TransformUnitUses returns the inputs and outputs of item, with a unit,
// of a stored transform event (body as stored): the stores read transforms'
// units with it.
func TransformUnitUses(id string, t time.Time, body []byte, item string) ([]UnitUseRow, error) {
	e, err := DecodeEvent(body)
	if err != nil {
		return nil, fmt.Errorf("read transform %s: %w", id, err)
	}
	var out []UnitUseRow
	for _, q := range append(append([]LotQty(nil), e.Inputs...), e.Outputs...) {
		if q.Item == item && q.UOM != "" && q.Qty != nil {
			out = append(out, UnitUseRow{Ref: q.Ref(), UOM: q.UOM, EventID: id, Time: t})
		}
	}
	return out, nil
}

// OrderFact is an order with outputs and no inputs, or inputs and no
// outputs.
type OrderFact struct {
	Order  string // the order, without the link group's "o:"
	Ins    int
	Outs   int
	Since  time.Time // its first link
	Lots   []LotRef  // the lots on the side that exists
	Events []string
	Site   string
}

// OverdrawRow is a lot and unit with more out than in.
type OverdrawRow struct {
	LotID int64
	Ref   LotRef
	UOM   string
	In    float64 // received + produced
	Out   float64 // consumed + shipped
}

// EarlyUseRow is a lot consumed or shipped before it was first received
// or produced.
type EarlyUseRow struct {
	Ref         LotRef
	FirstUse    time.Time
	FirstSource time.Time
}

// OrderQtyRow is an order's in-effect input and output quantities in one
// unit.
type OrderQtyRow struct {
	Order string // without "o:"
	UOM   string
	In    float64
	Out   float64
	Since time.Time
}

// ProducedLotRow is a lot produced by an order, with the order's first
// event time and the steps recorded on the lot.
type ProducedLotRow struct {
	Ref        LotRef
	Order      string // without "o:"
	OrderStart time.Time
	Steps      []string
	Site       string
}

// HeldLotRow is a lot on hold: its latest in-effect hold/release event
// is a hold.
type HeldLotRow struct {
	LotID   int64
	Ref     LotRef
	Since   time.Time
	EventID string
	Body    []byte
}

func (e *Exception) String() string {
	return fmt.Sprintf("%s %s %s", e.GapID(), e.Kind, e.Status)
}

// MixedUnitItems returns the items of units (ordered by item) that have
// more than one unit and that p does not allow: the items a store reads
// the events of for the mixed-units rule.
func MixedUnitItems(units []ItemUnitRow, p GapFactsParams) []string {
	byItem := map[string][]string{}
	var items []string
	for _, u := range units {
		if _, ok := byItem[u.Item]; !ok {
			items = append(items, u.Item)
		}
		byItem[u.Item] = append(byItem[u.Item], u.UOM)
	}
	out := items[:0]
	for _, item := range items {
		if len(byItem[item]) > 1 && !p.UnitsAllowed(item, byItem[item]) {
			out = append(out, item)
		}
	}
	return out
}
