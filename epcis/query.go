package epcis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/core"
)

// The query parameters of GET /epcis/events are those of the EPCIS 2.0
// SimpleEventQuery (ISO/IEC 19987:2024 §8.2.7.1) as the REST binding
// passes them in the URI query string: the names and meanings are those
// of GS1's "REST Bindings/openapi.yaml" (components/parameters) and
// "REST Bindings/query-schema.json" (properties and patternProperties:
// EQ_bizTransaction_{type}, EQ_source_{type}, EQ_destination_{type}) in
// the gs1/EPCIS repository (commit 2b888befbc071e1c2d388e027b30149b3f51dcef).
// lothub answers the subset listed in docs/epcis.md, "Query"; any other
// parameter is a QueryParameterException, as the standard requires of a
// parameter an implementation does not recognise.

// Query is a parsed SimpleEventQuery. Its filters are combined with AND,
// the values of one parameter with OR.
type Query struct {
	// EventTypes (eventType) is also given to the archive read, which
	// stores the event type as the record's kind.
	EventTypes []string
	// GERecordTime, LTRecordTime (GE_recordTime, LT_recordTime): the
	// event's recordTime is when the hub first received it (the raw
	// archive's received_at), so the archive read answers them.
	GERecordTime, LTRecordTime time.Time
	// OrderBy is "" (capture order), "eventTime" or "recordTime";
	// Descending is orderDirection (DESC when orderBy is given without it,
	// as the standard says).
	OrderBy    string
	Descending bool
	// EventCountLimit (eventCountLimit, 0: none) bounds the events of the
	// whole answer, over all its pages; it needs orderBy.
	EventCountLimit int
	// MaxEventCount (maxEventCount, 0: none): an answer of more events
	// than this, over all its pages, is refused (QueryTooLargeException)
	// instead of given.
	MaxEventCount int
	PerPage       int
	PageToken     string // nextPageToken as the client sent it

	matchers []matcher
}

// Record is an archived event as the query sees it.
type Record struct {
	ID         string    // the archive's record id: eventID, or the hash ID
	RecordTime time.Time // when the hub received it
	Payload    []byte    // the event's JSON as captured
}

// candidate is an event being matched: its record and its fields.
type candidate struct {
	rec Record
	ev  epcisEvent
}

// matcher is one parameter's filter: it accepts an event or not.
type matcher struct {
	param string
	match func(c *candidate) bool
}

// MaxPerPage bounds perPage.
const MaxPerPage = 1000

// QueryParameterError is a query parameter the query cannot answer: the
// standard's QueryParameterException (an unknown parameter, a malformed
// value, parameters that exclude each other).
type QueryParameterError struct {
	Param   string
	Message string
}

func (e *QueryParameterError) Error() string { return e.Message }

// Unwrap makes it a core EINVALID, so that any caller maps it to a 400.
func (e *QueryParameterError) Unwrap() error { return core.Errorf(core.EINVALID, "%s", e.Message) }

func qpe(param, format string, a ...any) error {
	return &QueryParameterError{Param: param, Message: fmt.Sprintf(format, a...)}
}

// paramKind builds the matcher of a parameter from its values (already
// split). The table below (params, paramPrefixes) is every filter
// ParseQuery knows.
type paramKind func(name string, vals []string) (func(*candidate) bool, error)

// anyOf is the common shape: the event has a value (field) that is the
// same (same) as one of the parameter's values. norm checks and
// normalises each parameter value first (nil: taken as given).
func anyOf(field func(c *candidate) []string, same func(want, have string) bool, norm func(name, v string) (string, error)) paramKind {
	return func(name string, vals []string) (func(*candidate) bool, error) {
		if len(vals) == 0 {
			return nil, nil // an empty list: no constraint
		}
		want := vals
		if norm != nil {
			want = make([]string, len(vals))
			for i, v := range vals {
				n, err := norm(name, v)
				if err != nil {
					return nil, err
				}
				want[i] = n
			}
		}
		return func(c *candidate) bool {
			for _, h := range field(c) {
				if h == "" {
					continue
				}
				for _, w := range want {
					if same(w, h) {
						return true
					}
				}
			}
			return false
		}, nil
	}
}

// Sameness of a parameter value and an event's value.
var (
	// equal: the same string (eventID, transformationID, action).
	equal = func(w, h string) bool { return w == h }
	// sameVocab: the same CBV value in any of its three forms.
	sameVocab = func(w, h string) bool { return Bare(w) == Bare(h) }
	// samePlace: the same string, or the same GLN and extension as an
	// SGLN URN or a Digital Link.
	samePlace = func(w, h string) bool {
		if w == h {
			return true
		}
		g, x, ok := Location(h)
		wg, wx, wok := Location(w)
		return ok && wok && wg == g && wx == x
	}
	// sameKey: the same string, or the same GS1 key in another form (an
	// LGTIN URN and its Digital Link, an SSCC URN and /00/).
	sameKey = func(w, h string) bool { return anySame([]string{w}, []string{h}) }
	// sameParty: parties and places of sourceList/destinationList: a
	// key, a place, or a value lothub wrote (urn:lothub:party:V-1) asked
	// for by the value itself.
	sameParty = func(w, h string) bool {
		return samePlace(w, h) || sameKey(w, h) || URIValue(w) == URIValue(h)
	}
	// sameTx: a business transaction: the same URI, or lothub's
	// urn:lothub:po:PO-1 asked for as PO-1.
	sameTx = func(w, h string) bool { return w == h || URIValue(w) == URIValue(h) }
)

func one(s string) []string { return []string{s} }

func classes(ls ...[]quantity) []string {
	var out []string
	for _, l := range ls {
		for _, q := range l {
			out = append(out, q.EPCClass)
		}
	}
	return out
}

func joined(ls ...[]string) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l...)
	}
	return out
}

// timeBound is GE_… (ge) or LT_… of a time field.
func timeBound(field func(c *candidate) (time.Time, bool), ge bool) paramKind {
	return func(name string, vals []string) (func(*candidate) bool, error) {
		if len(vals) != 1 {
			return nil, qpe(name, "%s takes one date-time, not %d", name, len(vals))
		}
		t, err := time.Parse(time.RFC3339Nano, vals[0])
		if err != nil {
			return nil, qpe(name, "%s %q: want an ISO 8601 date-time with an offset, e.g. 2026-03-01T00:00:00Z", name, vals[0])
		}
		return func(c *candidate) bool {
			v, ok := field(c)
			if !ok {
				return false
			}
			if ge {
				return !v.Before(t)
			}
			return v.Before(t)
		}, nil
	}
}

func eventTime(c *candidate) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, c.ev.EventTime)
	return t, err == nil
}

func recordTime(c *candidate) (time.Time, bool) { return c.rec.RecordTime, !c.rec.RecordTime.IsZero() }

// params is the table of the fixed-name parameters that filter events.
var params = map[string]paramKind{
	"eventType": anyOf(func(c *candidate) []string { return one(c.ev.Type) }, equal, func(name, v string) (string, error) {
		if !eventTypes[v] {
			return "", qpe(name, "eventType %q: want ObjectEvent, AggregationEvent, TransformationEvent, TransactionEvent or AssociationEvent", v)
		}
		return v, nil
	}),
	"GE_eventTime":  timeBound(eventTime, true),
	"LT_eventTime":  timeBound(eventTime, false),
	"GE_recordTime": timeBound(recordTime, true),
	"LT_recordTime": timeBound(recordTime, false),
	"EQ_action": anyOf(func(c *candidate) []string { return one(c.ev.Action) }, equal, func(name, v string) (string, error) {
		if v != "ADD" && v != "OBSERVE" && v != "DELETE" {
			return "", qpe(name, "EQ_action %q: want ADD, OBSERVE or DELETE", v)
		}
		return v, nil
	}),
	"EQ_bizStep":          anyOf(func(c *candidate) []string { return one(c.ev.BizStep) }, sameVocab, nil),
	"EQ_disposition":      anyOf(func(c *candidate) []string { return one(c.ev.Disposition) }, sameVocab, nil),
	"EQ_readPoint":        anyOf(func(c *candidate) []string { return placeID(c.ev.ReadPoint) }, samePlace, nil),
	"EQ_bizLocation":      anyOf(func(c *candidate) []string { return placeID(c.ev.BizLocation) }, samePlace, nil),
	"EQ_transformationID": anyOf(func(c *candidate) []string { return one(c.ev.TransformationID) }, equal, nil),
	// EQ_eventID: "events that have a non-null eventID equal to one of
	// the values"; an event captured without one is asked for by the
	// hash ID lothub computed for it (its id in the archive).
	"EQ_eventID":      anyOf(func(c *candidate) []string { return []string{c.ev.EventID, c.rec.ID} }, equal, nil),
	"MATCH_epc":       anyOf(func(c *candidate) []string { return joined(c.ev.EPCList, c.ev.ChildEPCs) }, sameKey, nil),
	"MATCH_parentID":  anyOf(func(c *candidate) []string { return one(c.ev.ParentID) }, sameKey, nil),
	"MATCH_inputEPC":  anyOf(func(c *candidate) []string { return c.ev.InputEPCList }, sameKey, nil),
	"MATCH_outputEPC": anyOf(func(c *candidate) []string { return c.ev.OutputEPCList }, sameKey, nil),
	"MATCH_anyEPC": anyOf(func(c *candidate) []string {
		return joined(c.ev.EPCList, c.ev.ChildEPCs, c.ev.InputEPCList, c.ev.OutputEPCList, one(c.ev.ParentID))
	}, sameKey, nil),
	// MATCH_epcClass: quantityList and childQuantityList (the standard:
	// "an epcClass subfield of a quantityList or childQuantityList").
	"MATCH_epcClass": anyOf(func(c *candidate) []string {
		return classes(c.ev.QuantityList, c.ev.ChildQuantityList)
	}, sameKey, nil),
	"MATCH_inputEPCClass":  anyOf(func(c *candidate) []string { return classes(c.ev.InputQuantityList) }, sameKey, nil),
	"MATCH_outputEPCClass": anyOf(func(c *candidate) []string { return classes(c.ev.OutputQuantityList) }, sameKey, nil),
	"MATCH_anyEPCClass": anyOf(func(c *candidate) []string {
		return classes(c.ev.QuantityList, c.ev.ChildQuantityList, c.ev.InputQuantityList, c.ev.OutputQuantityList)
	}, sameKey, nil),
	// EXISTS_errorDeclaration: true keeps only events with an
	// errorDeclaration; false (or empty) is no constraint, as the
	// binding's description says.
	"EXISTS_errorDeclaration": func(name string, vals []string) (func(*candidate) bool, error) {
		on := true
		if len(vals) > 1 {
			return nil, qpe(name, "%s takes one value, true or false", name)
		}
		if len(vals) == 1 {
			switch vals[0] {
			case "true", "1":
			case "false", "0":
				on = false
			default:
				return nil, qpe(name, "%s %q: want true or false (or no value, which means true)", name, vals[0])
			}
		}
		if !on {
			return nil, nil
		}
		return func(c *candidate) bool { return c.ev.ErrorDeclaration != nil }, nil
	},
}

// paramPrefixes are the parameters whose name carries a type
// (query-schema.json's patternProperties, type ^[a-z][a-zA-Z0-9_]+$):
// EQ_bizTransaction_{type} matches a business transaction of that type
// (po, desadv, prodorder, inv, … in any of the three CBV forms, or a
// company's own type word) whose id is one of the values;
// EQ_source_{type} and EQ_destination_{type} likewise of sourceList and
// destinationList (owning_party, possessing_party, location).
var paramPrefixes = []struct {
	prefix string
	kind   func(typ string) paramKind
}{
	{"EQ_bizTransaction_", func(typ string) paramKind {
		return anyOf(func(c *candidate) []string {
			var out []string
			for _, b := range c.ev.BizTransactionList {
				if Bare(b.Type) == typ {
					out = append(out, b.BizTransaction)
				}
			}
			return out
		}, sameTx, nil)
	}},
	{"EQ_source_", func(typ string) paramKind {
		return anyOf(func(c *candidate) []string {
			var out []string
			for _, s := range c.ev.SourceList {
				if Bare(s.Type) == typ {
					out = append(out, s.Source)
				}
			}
			return out
		}, sameParty, nil)
	}},
	{"EQ_destination_", func(typ string) paramKind {
		return anyOf(func(c *candidate) []string {
			var out []string
			for _, d := range c.ev.DestinationList {
				if Bare(d.Type) == typ {
					out = append(out, d.Destination)
				}
			}
			return out
		}, sameParty, nil)
	}},
}

var typeWord = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-zA-Z0-9_]+$`) })

func placeID(p *place) []string {
	if p == nil {
		return nil
	}
	return one(p.ID)
}

// ParseQuery reads the query parameters. An unknown parameter is a
// QueryParameterError (EPCIS's QueryParameterException), as is a
// malformed value; each names the parameter and what it wants. A list is
// pipe-separated (the binding's style: pipeDelimited), comma-separated
// or the parameter repeated.
func ParseQuery(v url.Values) (*Query, error) {
	q := &Query{PerPage: 30}
	list := func(k string) []string {
		var out []string
		for _, s := range v[k] {
			for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == ',' }) {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
		return out
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same error for the same query
	direction := ""
	for _, k := range keys {
		kind, ok := params[k]
		if !ok {
			for _, p := range paramPrefixes {
				if typ, found := strings.CutPrefix(k, p.prefix); found {
					if !typeWord().MatchString(typ) {
						return nil, qpe(k, "query parameter %q: the type after %s is a word such as po, owning_party or location (%s)", k, p.prefix, typeWord())
					}
					kind, ok = p.kind(typ), true
					break
				}
			}
		}
		if ok {
			vals := list(k)
			m, err := kind(k, vals)
			if err != nil {
				return nil, err
			}
			if m != nil {
				q.matchers = append(q.matchers, matcher{param: k, match: m})
			}
			switch k {
			case "eventType":
				q.EventTypes = vals
			case "GE_recordTime", "LT_recordTime":
				t, _ := time.Parse(time.RFC3339Nano, vals[0]) // checked by the matcher
				if k == "GE_recordTime" {
					q.GERecordTime = t
				} else {
					q.LTRecordTime = t
				}
			}
			continue
		}
		switch k {
		case "perPage", "eventCountLimit", "maxEventCount":
			n, err := strconv.Atoi(v.Get(k))
			if err != nil || n < 1 || (k == "perPage" && n > MaxPerPage) {
				if k == "perPage" {
					return nil, qpe(k, "perPage %q: want a number from 1 to %d", v.Get(k), MaxPerPage)
				}
				return nil, qpe(k, "%s %q: want a positive number", k, v.Get(k))
			}
			switch k {
			case "perPage":
				q.PerPage = n
			case "eventCountLimit":
				q.EventCountLimit = n
			default:
				q.MaxEventCount = n
			}
		case "orderBy":
			switch o := v.Get(k); o {
			case "eventTime", "recordTime":
				q.OrderBy = o
			default:
				return nil, qpe(k, "orderBy %q: lothub orders by eventTime or recordTime (not by extension fields)", o)
			}
		case "orderDirection":
			direction = v.Get(k)
			if direction != "ASC" && direction != "DESC" {
				return nil, qpe(k, "orderDirection %q: want ASC or DESC", direction)
			}
		case "nextPageToken":
			q.PageToken = v.Get(k)
		default:
			return nil, qpe(k, "query parameter %q is not supported: lothub answers %s", k, strings.Join(QueryParameters, ", "))
		}
	}
	// "If omitted, defaults to DESC" (orderDirection); it means nothing
	// without orderBy.
	q.Descending = q.OrderBy != "" && direction != "ASC"
	if q.EventCountLimit > 0 && q.MaxEventCount > 0 {
		// "This parameter and eventCountLimit are mutually exclusive; if
		// both are specified, a QueryParameterException SHALL be raised"
		// (maxEventCount, openapi.yaml).
		return nil, qpe("maxEventCount", "maxEventCount and eventCountLimit exclude each other: maxEventCount refuses an answer of more events, eventCountLimit cuts it to the first N")
	}
	if q.EventCountLimit > 0 && q.OrderBy == "" {
		// "if orderBy is omitted and eventCountLimit is specified, a
		// QueryParameterException SHALL be raised" (eventCountLimit).
		return nil, qpe("eventCountLimit", "eventCountLimit needs orderBy (eventTime or recordTime): it keeps the first N events of that order")
	}
	return q, nil
}

// QueryParameters are the SimpleEventQuery parameters ParseQuery takes.
var QueryParameters = []string{"eventType", "GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime",
	"EQ_action", "EQ_bizStep", "EQ_disposition", "EQ_readPoint", "EQ_bizLocation", "EQ_transformationID",
	"EQ_eventID", "EQ_bizTransaction_{type}", "EQ_source_{type}", "EQ_destination_{type}",
	"MATCH_epc", "MATCH_parentID", "MATCH_inputEPC", "MATCH_outputEPC", "MATCH_anyEPC",
	"MATCH_epcClass", "MATCH_inputEPCClass", "MATCH_outputEPCClass", "MATCH_anyEPCClass",
	"EXISTS_errorDeclaration", "orderBy", "orderDirection", "eventCountLimit", "maxEventCount", "perPage", "nextPageToken"}

// Match says whether an archived event answers the query: every
// parameter's filter accepts it.
func (q *Query) Match(rec Record) bool {
	c := &candidate{rec: rec}
	if json.Unmarshal(rec.Payload, &c.ev) != nil {
		return false
	}
	for _, m := range q.matchers {
		if !m.match(c) {
			return false
		}
	}
	return true
}

// SortKey is where an event stands in the query's order (orderBy): its
// eventTime or recordTime; zero without orderBy. An eventTime that does
// not parse (the schema makes it impossible) sorts as the zero time.
func (q *Query) SortKey(rec Record) time.Time {
	switch q.OrderBy {
	case "recordTime":
		return rec.RecordTime
	case "eventTime":
		var ev struct {
			EventTime string `json:"eventTime"`
		}
		if json.Unmarshal(rec.Payload, &ev) == nil {
			if t, err := time.Parse(time.RFC3339Nano, ev.EventTime); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// anySame says whether one of want names the same thing as one of have:
// the same string, or the same GS1 key in another form (an LGTIN URN and
// its Digital Link, an SSCC URN and /00/).
func anySame(want, have []string) bool {
	for _, w := range want {
		wi := ParseID(w)
		for _, h := range have {
			if w == h {
				return true
			}
			if wi.Kind != "" && wi == ParseID(h) {
				return true
			}
		}
	}
	return false
}

// JSONEvent is an archived event as a query answers it: as captured, but
// CBV URNs (accepted on capture, as XML has them) written as bare words,
// which JSON requires (errata to issue 19).
func JSONEvent(payload []byte) (json.RawMessage, error) {
	if !bytes.Contains(payload, []byte("urn:epcglobal:cbv:")) {
		return payload, nil
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("archived EPCIS event is unreadable: %w", err)
	}
	urnsToBare(tree, "")
	return json.Marshal(tree)
}

// withRecordTime sets an event's recordTime: after its opening brace
// when it has none (the event's members keep their order), else by
// rewriting it.
func withRecordTime(e json.RawMessage, t time.Time) (json.RawMessage, error) {
	rt := t.UTC().Format("2006-01-02T15:04:05.000Z")
	if !bytes.Contains(e, []byte(`"recordTime"`)) {
		i := bytes.IndexByte(e, '{')
		if i < 0 {
			return nil, fmt.Errorf("archived EPCIS event is not an object")
		}
		rest := bytes.TrimSpace(e[i+1:])
		out := append([]byte{}, e[:i+1]...)
		out = append(out, `"recordTime":"`+rt+`"`...)
		if len(rest) > 0 && rest[0] != '}' {
			out = append(out, ',')
		}
		return append(out, rest...), nil
	}
	dec := json.NewDecoder(bytes.NewReader(e))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("archived EPCIS event is unreadable: %w", err)
	}
	m["recordTime"] = rt
	return json.Marshal(m)
}

// QueryDocument wraps archived events in an EPCISQueryDocument. Each
// event is given its recordTime (when the hub received it), as a query
// answer has it (the standard: "the time at which this event was
// recorded by an EPCIS Repository"); a recordTime the sender put in the
// event is replaced, as capture ignores it.
func QueryDocument(recs []Record, now time.Time) ([]byte, error) {
	events := []json.RawMessage{}
	for _, r := range recs {
		e, err := JSONEvent(r.Payload)
		if err != nil {
			return nil, err
		}
		if !r.RecordTime.IsZero() {
			if e, err = withRecordTime(e, r.RecordTime); err != nil {
				return nil, err
			}
		}
		events = append(events, e)
	}
	doc := map[string]any{
		"@context":      []string{ContextURL},
		"type":          "EPCISQueryDocument",
		"schemaVersion": "2.0",
		"creationDate":  now.UTC().Format("2006-01-02T15:04:05.000Z"),
		"epcisBody": map[string]any{"queryResults": map[string]any{
			"queryName":   "SimpleEventQuery",
			"resultsBody": map[string]any{"eventList": events},
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("EPCIS query document: %w", err)
	}
	return b, nil
}
