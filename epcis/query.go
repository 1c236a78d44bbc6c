package epcis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
)

// Query is an EPCIS 2.0 SimpleEventQuery of the REST binding's
// GET /epcis/events, restricted to the parameters lothub answers
// (docs/epcis.md, "Query"). An empty list matches everything.
type Query struct {
	EventTypes []string  // eventType
	GETime     time.Time // GE_eventTime (zero: unset)
	LTTime     time.Time // LT_eventTime (zero: unset)
	BizSteps   []string  // EQ_bizStep, bare words
	AnyEPC     []string  // MATCH_anyEPC
	AnyClass   []string  // MATCH_anyEPCClass
	// EQ_bizLocation, EQ_readPoint, EQ_action, EQ_disposition,
	// EQ_transformationID: the field equals one of the values (CBV values
	// in any form).
	BizLocations, ReadPoints, Actions, Dispositions, TransformationIDs []string
	// MATCH_epc (epcList, childEPCs), MATCH_parentID, MATCH_inputEPC,
	// MATCH_outputEPC: one of the EPCs, in any form of the same key.
	EPCs, ParentIDs, InputEPCs, OutputEPCs []string
	PerPage                                int
	PageToken                              string // nextPageToken as the client sent it
}

// MaxPerPage bounds perPage.
const MaxPerPage = 1000

// ParseQuery reads the query parameters. An unknown parameter is an error
// (EPCIS says QueryParameterException), as is a malformed value; each
// names the parameter and what it wants. A list is comma-separated or the
// parameter repeated.
func ParseQuery(v url.Values) (*Query, error) {
	q := &Query{PerPage: 30}
	list := func(k string) []string {
		var out []string
		for _, s := range v[k] {
			for _, p := range strings.Split(s, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
		return out
	}
	for k := range v {
		switch k {
		case "eventType":
			q.EventTypes = list(k)
			for _, t := range q.EventTypes {
				if !eventTypes[t] {
					return nil, core.Errorf(core.EINVALID, "eventType %q: want ObjectEvent, AggregationEvent, TransformationEvent, TransactionEvent or AssociationEvent", t)
				}
			}
		case "GE_eventTime", "LT_eventTime":
			t, err := time.Parse(time.RFC3339Nano, v.Get(k))
			if err != nil {
				return nil, core.Errorf(core.EINVALID, "%s %q: want an ISO 8601 date-time with an offset, e.g. 2026-03-01T00:00:00Z", k, v.Get(k))
			}
			if k == "GE_eventTime" {
				q.GETime = t
			} else {
				q.LTTime = t
			}
		case "EQ_bizStep":
			for _, s := range list(k) {
				q.BizSteps = append(q.BizSteps, Bare(s))
			}
		case "MATCH_anyEPC":
			q.AnyEPC = list(k)
		case "EQ_bizLocation":
			q.BizLocations = list(k)
		case "EQ_readPoint":
			q.ReadPoints = list(k)
		case "EQ_action":
			q.Actions = list(k)
			for _, a := range q.Actions {
				if a != "ADD" && a != "OBSERVE" && a != "DELETE" {
					return nil, core.Errorf(core.EINVALID, "EQ_action %q: want ADD, OBSERVE or DELETE", a)
				}
			}
		case "EQ_disposition":
			for _, s := range list(k) {
				q.Dispositions = append(q.Dispositions, Bare(s))
			}
		case "EQ_transformationID":
			q.TransformationIDs = list(k)
		case "MATCH_epc":
			q.EPCs = list(k)
		case "MATCH_parentID":
			q.ParentIDs = list(k)
		case "MATCH_inputEPC":
			q.InputEPCs = list(k)
		case "MATCH_outputEPC":
			q.OutputEPCs = list(k)
		case "MATCH_anyEPCClass":
			q.AnyClass = list(k)
		case "perPage":
			n, err := strconv.Atoi(v.Get(k))
			if err != nil || n < 1 || n > MaxPerPage {
				return nil, core.Errorf(core.EINVALID, "perPage %q: want a number from 1 to %d", v.Get(k), MaxPerPage)
			}
			q.PerPage = n
		case "nextPageToken":
			q.PageToken = v.Get(k)
		default:
			return nil, core.Errorf(core.EINVALID, "query parameter %q is not supported: lothub answers %s", k, strings.Join(QueryParameters, ", "))
		}
	}
	return q, nil
}

// QueryParameters are the SimpleEventQuery parameters ParseQuery takes.
var QueryParameters = []string{"eventType", "GE_eventTime", "LT_eventTime", "EQ_action", "EQ_bizStep", "EQ_disposition",
	"EQ_readPoint", "EQ_bizLocation", "EQ_transformationID", "MATCH_epc", "MATCH_parentID", "MATCH_inputEPC",
	"MATCH_outputEPC", "MATCH_anyEPC", "MATCH_anyEPCClass", "perPage", "nextPageToken"}

// Match says whether an archived event (its JSON as captured) answers the
// query.
func (q *Query) Match(payload []byte) bool {
	var ev epcisEvent
	if json.Unmarshal(payload, &ev) != nil {
		return false
	}
	if len(q.EventTypes) > 0 && !contains(q.EventTypes, ev.Type) {
		return false
	}
	if !q.GETime.IsZero() || !q.LTTime.IsZero() {
		t, err := time.Parse(time.RFC3339Nano, ev.EventTime)
		if err != nil || (!q.GETime.IsZero() && t.Before(q.GETime)) || (!q.LTTime.IsZero() && !t.Before(q.LTTime)) {
			return false
		}
	}
	if len(q.BizSteps) > 0 && !contains(q.BizSteps, Bare(ev.BizStep)) {
		return false
	}
	if len(q.Dispositions) > 0 && !contains(q.Dispositions, Bare(ev.Disposition)) {
		return false
	}
	if len(q.Actions) > 0 && !contains(q.Actions, ev.Action) {
		return false
	}
	if len(q.TransformationIDs) > 0 && !contains(q.TransformationIDs, ev.TransformationID) {
		return false
	}
	placeIs := func(want []string, p *place) bool {
		if p == nil {
			return false
		}
		g, x, ok := Location(p.ID)
		for _, w := range want {
			if w == p.ID {
				return true
			}
			if wg, wx, wok := Location(w); ok && wok && wg == g && wx == x {
				return true // the same GLN and extension, URN or Digital Link
			}
		}
		return false
	}
	if len(q.BizLocations) > 0 && !placeIs(q.BizLocations, ev.BizLocation) {
		return false
	}
	if len(q.ReadPoints) > 0 && !placeIs(q.ReadPoints, ev.ReadPoint) {
		return false
	}
	if len(q.EPCs) > 0 && !anySame(q.EPCs, append(append([]string{}, ev.EPCList...), ev.ChildEPCs...)) {
		return false
	}
	if len(q.ParentIDs) > 0 && (ev.ParentID == "" || !anySame(q.ParentIDs, []string{ev.ParentID})) {
		return false
	}
	if len(q.InputEPCs) > 0 && !anySame(q.InputEPCs, ev.InputEPCList) {
		return false
	}
	if len(q.OutputEPCs) > 0 && !anySame(q.OutputEPCs, ev.OutputEPCList) {
		return false
	}
	if len(q.AnyEPC) > 0 {
		epcs := append(append(append(append([]string{}, ev.EPCList...), ev.ChildEPCs...), ev.InputEPCList...), ev.OutputEPCList...)
		if ev.ParentID != "" {
			epcs = append(epcs, ev.ParentID)
		}
		if !anySame(q.AnyEPC, epcs) {
			return false
		}
	}
	if len(q.AnyClass) > 0 {
		var classes []string
		for _, l := range [][]quantity{ev.QuantityList, ev.ChildQuantityList, ev.InputQuantityList, ev.OutputQuantityList} {
			for _, c := range l {
				classes = append(classes, c.EPCClass)
			}
		}
		if !anySame(q.AnyClass, classes) {
			return false
		}
	}
	return true
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

// QueryDocument wraps events (archived JSON) in an EPCISQueryDocument.
func QueryDocument(payloads [][]byte, now time.Time) ([]byte, error) {
	events := []json.RawMessage{}
	for _, p := range payloads {
		e, err := JSONEvent(p)
		if err != nil {
			return nil, err
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
