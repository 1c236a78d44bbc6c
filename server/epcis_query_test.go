package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/epcis/schema"
)

const queryDoc = `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
 "type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-03-03T00:00:00Z",
 "epcisBody":{"eventList":[
  {"type":"ObjectEvent","eventID":"urn:uuid:00000000-0000-4000-8000-000000000001","eventTime":"2026-03-01T10:00:00Z","eventTimeZoneOffset":"+00:00",
   "action":"ADD","bizStep":"receiving","bizLocation":{"id":"urn:epc:id:sgln:9506000.00001.0"},"quantityList":[{"epcClass":"urn:epc:class:lgtin:9506000.013435.F-1","quantity":5,"uom":"KGM"}],
   "sourceList":[{"type":"owning_party","source":"urn:epc:id:pgln:9506000.00002"}]},
  {"type":"ObjectEvent","eventID":"urn:uuid:00000000-0000-4000-8000-000000000002","eventTime":"2026-03-02T10:00:00Z","eventTimeZoneOffset":"+00:00",
   "action":"OBSERVE","bizStep":"urn:epcglobal:cbv:bizstep:shipping","disposition":"in_transit","readPoint":{"id":"urn:epc:id:sgln:9506000.00002.0"},"epcList":["urn:epc:id:sscc:9506000.0000000001"],
   "destinationList":[{"type":"owning_party","destination":"urn:epc:id:pgln:9506000.00001"}]},
  {"type":"TransformationEvent","eventID":"urn:uuid:00000000-0000-4000-8000-000000000003","eventTime":"2026-03-03T10:00:00Z","eventTimeZoneOffset":"+00:00",
   "transformationID":"urn:uuid:22222222-0000-4000-8000-000000000001",
   "inputQuantityList":[{"epcClass":"https://id.gs1.org/01/09506000134352/10/F-1","quantity":5,"uom":"KGM"}],
   "outputQuantityList":[{"epcClass":"https://id.gs1.org/01/09506000134369/10/B-1","quantity":10}]},
  {"type":"ObjectEvent","eventTime":"2026-03-04T10:00:00Z","eventTimeZoneOffset":"+00:00",
   "action":"OBSERVE","bizStep":"inspecting","quantityList":[{"epcClass":"https://id.gs1.org/01/09506000134369/10/B-1"}]}
 ]}}`

// query GETs /epcis/events and returns the eventIDs (or types) listed
// and the next page's link.
func (e *epcisEnv) query(t *testing.T, params string) (ids []string, next string, hdr http.Header) {
	t.Helper()
	code, hdr, body := e.do(t, "GET", "/epcis/events?"+params, "scanner-secret", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /epcis/events?%s: %d %s", params, code, body)
	}
	if probs, err := schema.ValidateJSON(body); err != nil || len(probs) > 0 {
		t.Errorf("query document invalid: %v %v", err, probs)
	}
	var doc struct {
		Body struct {
			QR struct {
				RB struct {
					EventList []struct {
						EventID string `json:"eventID"`
						Type    string `json:"type"`
					} `json:"eventList"`
				} `json:"resultsBody"`
			} `json:"queryResults"`
		} `json:"epcisBody"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, ev := range doc.Body.QR.RB.EventList {
		id := ev.EventID
		if id == "" {
			id = "hash-" + ev.Type
		}
		ids = append(ids, strings.TrimPrefix(id, "urn:uuid:00000000-0000-4000-8000-00000000000"))
	}
	return ids, hdr.Get("Link"), hdr
}

func TestEpcisQueryEndpoint(t *testing.T) {
	e := newEpcisEnv(t)
	if code, _, body := e.do(t, "POST", "/epcis/capture", "scanner-secret", []byte(queryDoc)); code != http.StatusAccepted {
		t.Fatalf("capture: %d %s", code, body)
	}
	if code, _, _ := e.do(t, "GET", "/epcis/events", "", nil); code != http.StatusUnauthorized {
		t.Errorf("without token: %d", code)
	}
	ids, next, hdr := e.query(t, "")
	if strings.Join(ids, " ") != "1 2 3 hash-ObjectEvent" || next != "" {
		t.Errorf("all: %v next %q", ids, next)
	}
	if hdr.Get("GS1-EPCIS-Version") != "2.0.0" || hdr.Get("GS1-CBV-Version") != "2.0.0" {
		t.Errorf("version headers: %v", hdr)
	}
	for _, c := range []struct{ params, want string }{
		{"eventType=TransformationEvent", "3"},
		{"eventType=ObjectEvent,TransformationEvent&LT_eventTime=2026-03-03T10:00:00Z", "1 2"},
		{"GE_eventTime=2026-03-02T10:00:00Z&LT_eventTime=2026-03-04T00:00:00Z", "2 3"},
		// The CBV URN the event was captured with and the Web URI asked
		// for are the same bizStep.
		{"EQ_bizStep=" + url.QueryEscape("https://ref.gs1.org/cbv/BizStep-shipping"), "2"},
		{"EQ_bizStep=receiving&EQ_bizStep=inspecting", "hash-ObjectEvent 1"},
		// An LGTIN URN finds the same lot written as a Digital Link.
		{"MATCH_anyEPCClass=" + url.QueryEscape("urn:epc:class:lgtin:9506000.013435.F-1"), "1 3"},
		{"MATCH_anyEPCClass=" + url.QueryEscape("https://id.gs1.org/01/09506000134369/10/B-1"), "hash-ObjectEvent 3"},
		{"MATCH_anyEPC=" + url.QueryEscape("https://id.gs1.org/00/095060000000000014"), ""},
		{"MATCH_anyEPC=" + url.QueryEscape("urn:epc:id:sscc:9506000.0000000001"), "2"},
		{"MATCH_epc=" + url.QueryEscape("https://id.gs1.org/00/095060000000000015"), "2"},
		{"MATCH_inputEPC=" + url.QueryEscape("urn:epc:id:sscc:9506000.0000000001"), ""},
		{"EQ_action=ADD", "1"},
		{"EQ_action=OBSERVE&EQ_disposition=in_transit", "2"},
		// The SGLN URN the event was captured with, asked as a Digital Link.
		{"EQ_bizLocation=" + url.QueryEscape("https://id.gs1.org/414/9506000000015"), "1"},
		{"EQ_bizLocation=" + url.QueryEscape("urn:epc:id:sgln:9506000.00001.0") + "&eventType=TransformationEvent", ""},
		{"EQ_readPoint=" + url.QueryEscape("urn:epc:id:sgln:9506000.00002.0"), "2"},
		{"EQ_transformationID=" + url.QueryEscape("urn:uuid:22222222-0000-4000-8000-000000000001"), "3"},
	} {
		ids, _, _ := e.query(t, c.params)
		sort.Strings(ids)
		want := strings.Fields(c.want)
		sort.Strings(want)
		if strings.Join(ids, " ") != strings.Join(want, " ") {
			t.Errorf("%s: got %v, want %v", c.params, ids, want)
		}
	}
	// Paging: two per page, the Link header's URL gives the next page.
	var all []string
	params := "perPage=2"
	for i := 0; i < 5 && params != ""; i++ {
		ids, next, hdr := e.query(t, params)
		all = append(all, ids...)
		params = ""
		if next != "" {
			// The standard's header says until when the token is good.
			exp, err := time.Parse(time.RFC3339, hdr.Get("GS1-Next-Page-Token-Expires"))
			if err != nil || !exp.After(time.Now()) {
				t.Errorf("GS1-Next-Page-Token-Expires %q: %v", hdr.Get("GS1-Next-Page-Token-Expires"), err)
			}
			u, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(next, "<"), `>; rel="next"`))
			if err != nil {
				t.Fatal(err)
			}
			params = u.RawQuery
		}
	}
	if strings.Join(all, " ") != "1 2 3 hash-ObjectEvent" {
		t.Errorf("paged: %v", all)
	}
	// A token past its expiry (position 1, expired at the epoch's first
	// second) is refused, saying so.
	if code, _, body := e.do(t, "GET", "/epcis/events?nextPageToken=1.1", "scanner-secret", nil); code != http.StatusBadRequest || !strings.Contains(string(body), "expired") {
		t.Errorf("expired token: %d %s", code, body)
	}
	for _, bad := range []string{"perPage=0", "GE_eventTime=yesterday", "EQ_action=LOOK", "EQ_userID=ana", "nextPageToken=%21%21", "eventType=Thing"} {
		code, _, body := e.do(t, "GET", "/epcis/events?"+bad, "scanner-secret", nil)
		if code != http.StatusBadRequest || !strings.Contains(string(body), strings.SplitN(bad, "=", 2)[0]) {
			t.Errorf("%s: %d %s", bad, code, body)
		}
	}

	// One event by its eventID, percent-escaped.
	code, hdr, body := e.do(t, "GET", "/epcis/events/"+url.PathEscape("urn:uuid:00000000-0000-4000-8000-000000000003"), "scanner-secret", nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"TransformationEvent"`) || hdr.Get("GS1-EPCIS-Version") == "" {
		t.Errorf("get event: %d %s", code, body)
	}
	// Captured with a CBV URN, answered with the bare word.
	_, _, body = e.do(t, "GET", "/epcis/events/"+url.PathEscape("urn:uuid:00000000-0000-4000-8000-000000000002"), "scanner-secret", nil)
	if !strings.Contains(string(body), `"bizStep":"shipping"`) {
		t.Errorf("event 2: %s", body)
	}
	code, _, body = e.do(t, "GET", "/epcis/events/"+url.PathEscape("urn:uuid:nope"), "scanner-secret", nil)
	if code != http.StatusNotFound || !strings.Contains(string(body), "urn:uuid:nope") {
		t.Errorf("unknown event: %d %s", code, body)
	}
	// The event POST /epcis/events answers with is at its Location.
	ev := `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"ObjectEvent","eventTime":"2026-03-05T10:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","bizStep":"inspecting","epcList":["urn:epc:id:sgtin:9506000.013435.7"]}`
	code, hdr, body = e.do(t, "POST", "/epcis/events", "scanner-secret", []byte(ev))
	if code != http.StatusCreated {
		t.Fatalf("POST /epcis/events: %d %s", code, body)
	}
	loc := hdr.Get("Location")
	code, _, body = e.do(t, "GET", loc, "scanner-secret", nil)
	if code != http.StatusOK || !strings.Contains(string(body), "9506000.013435.7") {
		t.Errorf("GET %s: %d %s", loc, code, body)
	}
}

// queryDoc2 is captured after queryDoc: business transactions of two types
// (one in the Web URI form), sources and destinations of the three CBV
// types, and an error declaration.
const queryDoc2 = `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
 "type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-03-07T00:00:00Z",
 "epcisBody":{"eventList":[
  {"type":"ObjectEvent","eventID":"urn:uuid:00000000-0000-4000-8000-000000000005","eventTime":"2026-03-06T10:00:00Z","eventTimeZoneOffset":"+00:00",
   "action":"OBSERVE","bizStep":"shipping","epcList":["urn:epc:id:sscc:9506000.0000000002"],
   "bizTransactionList":[{"type":"po","bizTransaction":"urn:epcglobal:cbv:bt:9506000000015:PO-77"},
     {"type":"https://ref.gs1.org/cbv/BTT-desadv","bizTransaction":"urn:epcglobal:cbv:bt:9506000000015:DL-5"}],
   "sourceList":[{"type":"possessing_party","source":"urn:epc:id:pgln:9506000.00002"}],
   "destinationList":[{"type":"location","destination":"urn:epc:id:sgln:9506000.00001.0"}]},
  {"type":"ObjectEvent","eventID":"urn:uuid:00000000-0000-4000-8000-000000000006","eventTime":"2026-03-07T10:00:00Z","eventTimeZoneOffset":"+00:00",
   "action":"OBSERVE","bizStep":"inspecting","epcList":["urn:epc:id:sscc:9506000.0000000003"],
   "errorDeclaration":{"declarationTime":"2026-03-07T11:00:00Z","reason":"incorrect_data"}}
 ]}}`

func TestEpcisQueryStandardParameters(t *testing.T) {
	e := newEpcisEnv(t)
	if code, _, body := e.do(t, "POST", "/epcis/capture", "scanner-secret", []byte(queryDoc)); code != http.StatusAccepted {
		t.Fatalf("capture: %d %s", code, body)
	}
	between := time.Now().UTC().Format(time.RFC3339Nano)
	if code, _, body := e.do(t, "POST", "/epcis/capture", "scanner-secret", []byte(queryDoc2)); code != http.StatusAccepted {
		t.Fatalf("capture 2: %d %s", code, body)
	}
	esc := url.QueryEscape
	for _, c := range []struct {
		params, want string
		ordered      bool // the answer's order is part of what is checked
	}{
		{params: "EQ_eventID=" + esc("urn:uuid:00000000-0000-4000-8000-000000000003"), want: "3"},
		// The binding's pipe-delimited list.
		{params: "EQ_eventID=" + esc("urn:uuid:00000000-0000-4000-8000-000000000001|urn:uuid:00000000-0000-4000-8000-000000000002"), want: "1 2"},
		{params: "EQ_bizTransaction_po=" + esc("urn:epcglobal:cbv:bt:9506000000015:PO-77"), want: "5"},
		// The type was captured as a Web URI, asked for as the bare word.
		{params: "EQ_bizTransaction_desadv=" + esc("urn:epcglobal:cbv:bt:9506000000015:DL-5"), want: "5"},
		{params: "EQ_bizTransaction_desadv=" + esc("urn:epcglobal:cbv:bt:9506000000015:PO-77"), want: ""},
		{params: "EQ_bizTransaction_inv=" + esc("urn:epcglobal:cbv:bt:9506000000015:PO-77"), want: ""},
		{params: "EQ_source_owning_party=" + esc("urn:epc:id:pgln:9506000.00002"), want: "1"},
		{params: "EQ_source_possessing_party=" + esc("urn:epc:id:pgln:9506000.00002"), want: "5"},
		{params: "EQ_destination_owning_party=" + esc("urn:epc:id:pgln:9506000.00001"), want: "2"},
		// The SGLN URN captured, asked for as a Digital Link.
		{params: "EQ_destination_location=" + esc("https://id.gs1.org/414/9506000000015"), want: "5"},
		{params: "EQ_destination_possessing_party=" + esc("https://id.gs1.org/414/9506000000015"), want: ""},
		// Each class list on its own: quantityList, inputs, outputs.
		{params: "MATCH_epcClass=" + esc("urn:epc:class:lgtin:9506000.013435.F-1"), want: "1"},
		{params: "MATCH_inputEPCClass=" + esc("urn:epc:class:lgtin:9506000.013435.F-1"), want: "3"},
		{params: "MATCH_outputEPCClass=" + esc("https://id.gs1.org/01/09506000134369/10/B-1"), want: "3"},
		{params: "MATCH_epcClass=" + esc("https://id.gs1.org/01/09506000134369/10/B-1"), want: "hash-ObjectEvent"},
		{params: "MATCH_inputEPCClass=" + esc("https://id.gs1.org/01/09506000134369/10/B-1"), want: ""},
		{params: "EXISTS_errorDeclaration", want: "6"},
		{params: "EXISTS_errorDeclaration=false", want: "1 2 3 hash-ObjectEvent 5 6"},
		// recordTime is when the hub received the event.
		{params: "GE_recordTime=" + esc(between), want: "5 6"},
		{params: "LT_recordTime=" + esc(between), want: "1 2 3 hash-ObjectEvent"},
		{params: "LT_recordTime=" + esc(between) + "&eventType=TransformationEvent", want: "3"},
		// orderBy: DESC unless told.
		{params: "orderBy=eventTime", want: "6 5 hash-ObjectEvent 3 2 1", ordered: true},
		{params: "orderBy=eventTime&orderDirection=ASC", want: "1 2 3 hash-ObjectEvent 5 6", ordered: true},
		{params: "orderBy=eventTime&eventCountLimit=1&eventType=ObjectEvent", want: "6", ordered: true},
		// One document's events share a recordTime: then capture order.
		{params: "orderBy=recordTime&orderDirection=ASC&eventCountLimit=2", want: "1 2", ordered: true},
		{params: "orderBy=recordTime&orderDirection=DESC&LT_recordTime=" + esc(between), want: "hash-ObjectEvent 3 2 1", ordered: true},
	} {
		ids, _, _ := e.query(t, c.params)
		want := strings.Fields(c.want)
		if !c.ordered {
			sort.Strings(ids)
			sort.Strings(want)
		}
		if strings.Join(ids, " ") != strings.Join(want, " ") {
			t.Errorf("%s: got %v, want %v", c.params, ids, want)
		}
	}

	// Every answered event has its recordTime.
	_, _, body := e.do(t, "GET", "/epcis/events?EQ_eventID="+esc("urn:uuid:00000000-0000-4000-8000-000000000005"), "scanner-secret", nil)
	var doc struct {
		Body struct {
			QR struct {
				RB struct {
					EventList []struct {
						RecordTime string `json:"recordTime"`
					} `json:"eventList"`
				} `json:"resultsBody"`
			} `json:"queryResults"`
		} `json:"epcisBody"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Body.QR.RB.EventList) != 1 {
		t.Fatalf("event 5: %v %s", err, body)
	}
	if rt, err := time.Parse(time.RFC3339Nano, doc.Body.QR.RB.EventList[0].RecordTime); err != nil || rt.Before(time.Now().Add(-time.Hour)) {
		t.Errorf("recordTime of event 5: %q %v", doc.Body.QR.RB.EventList[0].RecordTime, err)
	}

	// Ordered pages: eventCountLimit counts over all pages; the Link
	// header carries the position in the order.
	var all []string
	params := "orderBy=eventTime&orderDirection=ASC&eventCountLimit=5&perPage=2"
	pages := 0
	for params != "" && pages < 6 {
		ids, next, _ := e.query(t, params)
		pages++
		all = append(all, ids...)
		params = ""
		if next != "" {
			u, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(next, "<"), `>; rel="next"`))
			if err != nil {
				t.Fatal(err)
			}
			params = u.RawQuery
		}
	}
	if strings.Join(all, " ") != "1 2 3 hash-ObjectEvent 5" || pages != 3 {
		t.Errorf("ordered pages: %v in %d pages, want 1 2 3 hash-ObjectEvent 5 in 3", all, pages)
	}
	// An archive-order token is not a position in an order, nor the
	// other way round.
	_, next, _ := e.query(t, "orderBy=eventTime&perPage=1")
	u, _ := url.Parse(strings.TrimSuffix(strings.TrimPrefix(next, "<"), `>; rel="next"`))
	tok := u.Query().Get("nextPageToken")
	if code, _, body := e.do(t, "GET", "/epcis/events?nextPageToken="+esc(tok), "scanner-secret", nil); code != http.StatusBadRequest || !strings.Contains(string(body), "nextPageToken") {
		t.Errorf("ordered token without orderBy: %d %s", code, body)
	}

	// Refusals: the standard's QueryParameterException, as RFC 7807
	// problem+json, naming the parameter; lothub's error object too.
	for _, bad := range []string{"EQ_userID=ana", "eventCountLimit=2", "orderBy=quantity", "orderBy=eventTime&orderDirection=UP",
		"EQ_bizTransaction_PO=x", "EQ_source_=x", "GE_recordTime=today", "EXISTS_errorDeclaration=maybe", "eventCountLimit=0&orderBy=eventTime",
		"maxEventCount=0", "maxEventCount=5&eventCountLimit=2&orderBy=eventTime"} {
		code, hdr, body := e.do(t, "GET", "/epcis/events?"+bad, "scanner-secret", nil)
		var p struct {
			Type, Title, Detail string
			Status              int
			Error               struct{ Code, Message string }
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("%s: %v %s", bad, err, body)
			continue
		}
		name := strings.SplitN(bad, "=", 2)[0]
		if bad == "maxEventCount=5&eventCountLimit=2&orderBy=eventTime" {
			name = "maxEventCount"
		}
		if bad == "eventCountLimit=2" || bad == "orderBy=eventTime&orderDirection=UP" || bad == "eventCountLimit=0&orderBy=eventTime" {
			name = map[string]string{"eventCountLimit=2": "eventCountLimit", "orderBy=eventTime&orderDirection=UP": "orderDirection", "eventCountLimit=0&orderBy=eventTime": "eventCountLimit"}[bad]
		}
		if code != http.StatusBadRequest || hdr.Get("Content-Type") != "application/problem+json" ||
			p.Type != "epcisException:QueryParameterException" || p.Status != 400 || !strings.Contains(p.Title, name) ||
			!strings.Contains(p.Detail, name) || p.Error.Code != "invalid" || p.Error.Message != p.Detail {
			t.Errorf("%s: %d %s %s", bad, code, hdr.Get("Content-Type"), body)
		}
	}

	// maxEventCount: an answer within it is the same as without it; one
	// past it, over all its pages, is the standard's
	// QueryTooLargeException (413, problem+json), not a cut answer.
	objects, _, _ := e.query(t, "eventType=ObjectEvent")
	if len(objects) < 2 {
		t.Fatalf("the archive has %d ObjectEvents: the maxEventCount checks test nothing", len(objects))
	}
	within, _, _ := e.query(t, fmt.Sprintf("eventType=ObjectEvent&maxEventCount=%d&perPage=1", len(objects)))
	if first, _, _ := e.query(t, "eventType=ObjectEvent&perPage=1"); strings.Join(within, " ") != strings.Join(first, " ") {
		t.Errorf("maxEventCount=%d (all of them): got %v, want %v", len(objects), within, first)
	}
	code, hdr, body := e.do(t, "GET", fmt.Sprintf("/epcis/events?eventType=ObjectEvent&maxEventCount=%d", len(objects)-1), "scanner-secret", nil)
	var p struct {
		Type, Detail string
		Status       int
	}
	if err := json.Unmarshal(body, &p); err != nil || code != http.StatusRequestEntityTooLarge || hdr.Get("Content-Type") != "application/problem+json" ||
		p.Type != "epcisException:QueryTooLargeException" || p.Status != 413 || !strings.Contains(p.Detail, "maxEventCount") {
		t.Errorf("maxEventCount=%d of %d: %d %s %s (%v)", len(objects)-1, len(objects), code, hdr.Get("Content-Type"), body, err)
	}
}
