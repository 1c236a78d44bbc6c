// Package report builds the reports a quality manager hands to an auditor,
// a customer or the FDA: the lot audit report (PDF, HTML, JSON), the recall
// list (CSV, XLSX, PDF, HTML, JSON) and the FSMA 204 electronic sortable
// spreadsheet (XLSX, CSV, JSON).
//
// Every interface (hub report, the HTTP API, the web UI) calls this package;
// it reads the genealogy only through core.Queries (and core.Monitor for
// gaps), the same functions hub trace, hub recall, hub lot and hub balance
// call, so a report never says something the CLI does not. What it lists
// of thousands of lots' events (ship-to, location, params) it reads with
// the store's bulk reads (core.Store.FindLots, InEffectEvents) and derives
// as core.Queries.Lot does (events.go). It never writes to the store.
//
// A report is built in two steps: Build* reads the store into a data value
// (LotReport, RecallReport, FSMAReport) whose JSON form is a stable
// interface, and a writer renders that value in one format. The SHA-256
// printed in every page footer is the hash of the data part of the JSON
// form (not of the generation time or hub version), so two copies of a
// report made from the same data carry the same hash whatever their format.
package report

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
)

// Options are what every report takes besides what it is about.
type Options struct {
	// Now is the clock for the generation time (time.Now when nil).
	Now func() time.Time
	// Version is the hub's version, printed in the footer.
	Version string
	// DepthLimit is how many genealogy levels a lot report lists lot by
	// lot; deeper levels are counted (DefaultDepthLimit when 0).
	DepthLimit int
	// Tolerance is the overdrawn rule's tolerance used by the mass balance
	// (0.01 when 0, the rule's default).
	Tolerance float64
	// AsOf, when set, is the time the report was asked as of (hub report
	// --as-of): the caller reads a store as it stood then
	// (core/store/asof); the report says so in Meta.AsOfRequested.
	AsOf time.Time
}

// DefaultDepthLimit is how many levels of a genealogy a lot report lists
// lot by lot unless told otherwise.
const DefaultDepthLimit = 6

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

func (o Options) depthLimit() int {
	if o.DepthLimit > 0 {
		return o.DepthLimit
	}
	return DefaultDepthLimit
}

func (o Options) tolerance() float64 {
	if o.Tolerance > 0 {
		return o.Tolerance
	}
	return 0.01
}

// Meta is what a report says about itself. It is not part of the hash.
type Meta struct {
	Title string `json:"title"`
	// Generated is when the report was made.
	Generated string `json:"generated"`
	// HubVersion is the version of the hub that made it.
	HubVersion string `json:"hub_version"`
	// AsOf is the time the newest event version the report read was
	// stored in the hub, and DataVersion the store's data version (raised
	// by every write of events): together, which state of the store the
	// report shows.
	AsOf        string `json:"as_of"`
	DataVersion int64  `json:"data_version"`
	// AsOfRequested is the time the report was asked as of (--as-of,
	// as_of=): it shows the store as it stood then, computed from the
	// store at DataVersion. Absent for a report of the store now.
	AsOfRequested string `json:"as_of_requested,omitempty"`
	// SHA256 is the hash of the JSON form of the report's data (the
	// member next to "meta").
	SHA256 string `json:"sha256"`
	// Params are what the report was asked about (with AsOfRequested,
	// enough for hub report verify to make it again).
	Params *Params `json:"params,omitempty"`
	// Signatures are the electronic signatures the audit trail holds for
	// SHA256 (hub report approve), oldest first; absent when unsigned or
	// when the report was made without reading them.
	Signatures []Signature `json:"signatures,omitempty"`
}

// hashOf returns the hex SHA-256 of v's JSON form.
func hashOf(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("hash the report's data: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// newMeta fills the meta of a report over data.
func newMeta(ctx context.Context, q *core.Queries, o Options, title string, asOf time.Time, data any) (Meta, error) {
	m := Meta{Title: title, Generated: fmtTime(o.now()), HubVersion: o.Version}
	if m.HubVersion == "" {
		m.HubVersion = "(devel)"
	}
	if !asOf.IsZero() {
		m.AsOf = fmtTime(asOf)
	}
	if !o.AsOf.IsZero() {
		m.AsOfRequested = o.AsOf.UTC().Format(time.RFC3339Nano)
	}
	mark, err := q.Store.EvaluationMark(ctx)
	if err != nil {
		return m, err
	}
	m.DataVersion = mark.Version
	m.SHA256, err = hashOf(data)
	return m, err
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// latest keeps the later of two times.
func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// parseTime reads a time the core formatted (RFC 3339); zero if empty.
func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// param returns the first of the named params of an event that is set, as
// text. Mappings carry the FSMA 204 key data elements and other optional
// facts (product description, GLNs, expiry) in params (docs/reports.md).
func param(e *core.Event, names ...string) string {
	if e == nil || e.Params == nil {
		return ""
	}
	for _, n := range names {
		if v, ok := e.Params[n]; ok && v != nil {
			s := strings.TrimSpace(fmt.Sprint(v))
			if s != "" {
				return s
			}
		}
	}
	return ""
}

// The params a mapping may set for the reports (docs/reports.md).
var (
	paramDescription = []string{"product_description", "description"}
	paramExpiry      = []string{"expiry_date", "expiration_date", "expiry", "best_before", "use_by"}
	paramMade        = []string{"manufacture_date", "manufacturing_date", "manufactured", "production_date"}
	paramGLN         = []string{"location_gln", "gln"}
	paramLocDesc     = []string{"location_description"}
	paramTLCSource   = []string{"tlc_source", "tlc_source_reference"}
	paramSourceLoc   = []string{"supplier_location", "supplier_gln", "ship_from_location"}
	paramShipToGLN   = []string{"ship_to_gln"}
	paramTLC         = []string{"tlc", "traceability_lot_code"}
)

// partyText is "Name (ID)", or what of it is known.
func partyText(p *core.Party) string {
	if p == nil {
		return ""
	}
	switch {
	case p.Name != "" && p.ID != "":
		return p.Name + " (" + p.ID + ")"
	case p.Name != "":
		return p.Name
	}
	return p.ID
}

// joinNonEmpty joins the non-empty parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// paramsText renders params as "k=v, k=v" in key order.
func paramsText(p map[string]any) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, p[k])
	}
	return strings.Join(parts, ", ")
}

// qtyText renders quantities as "100 KG, 5 EA".
func qtyText(qs []core.Qty) string {
	parts := make([]string, len(qs))
	for i, q := range qs {
		parts[i] = num(q.Qty) + " " + q.UOM
	}
	return strings.Join(parts, ", ")
}

// num renders a quantity without needless decimals.
func num(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.4f", f), "0"), ".")
}

// day renders an RFC 3339 time as the date and minute, UTC.
func day(s string) string {
	t := parseTime(s)
	if t.IsZero() {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func coreInvalid(format string, args ...any) error {
	return core.Errorf(core.EINVALID, format, args...)
}
