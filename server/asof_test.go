package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
)

// TestAsOf: the query routes and reports answer as of as_of=. The plant
// is recorded at a fixed time (the store's clock set for it), its
// shipment reversed later through POST /v1/events.
func TestAsOf(t *testing.T) {
	e := newEnv(t)
	recorded := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	in := core.Ingester{Store: e.store, Now: func() time.Time { return recorded }}
	if _, err := in.IngestJSONL(context.Background(), strings.NewReader(events), "plant.jsonl"); err != nil {
		t.Fatal(err)
	}
	rev := `{"id":"x1","type":"reverse","time":"2026-03-04T08:00:00Z","reverses":"s1"}`
	if code, body := e.do(t, "POST", "/v1/events", token, []byte(rev), nil); code != http.StatusOK {
		t.Fatalf("post the reversal: %d %s", code, body)
	}
	hold := `{"item":"BREAD","lot":"BR-1","reason":"foreign body complaint","by":"qa"}`
	if code, body := e.do(t, "POST", "/v1/holds", token, []byte(hold), nil); code != http.StatusOK {
		t.Fatalf("hold: %d %s", code, body)
	}
	then := "2026-01-05T12:00:00Z"
	recall := func(query string) core.TraceResult {
		t.Helper()
		code, body := e.do(t, "GET", "/v1/recall/FLOUR/F-A"+query, token, nil, nil)
		var r core.TraceResult
		if code != http.StatusOK || json.Unmarshal(body, &r) != nil {
			t.Fatalf("recall%s: %d %.300s", query, code, body)
		}
		return r
	}
	if r := recall(""); len(r.Shipments) != 0 {
		t.Errorf("recall now: %d shipments, want the reversed one gone", len(r.Shipments))
	}
	if r := recall("?as_of=" + then); len(r.Shipments) != 1 || r.Shipments[0].Customer.ID != "C-ALPHA" {
		t.Errorf("recall as of %s: shipments %+v, want the one to C-ALPHA", then, r.Shipments)
	}
	// A date is its end, in UTC.
	if r := recall("?as_of=2026-01-05"); len(r.Shipments) != 1 {
		t.Errorf("recall as of 2026-01-05: %d shipments, want 1", len(r.Shipments))
	}

	tests := []struct {
		name, path string
		code       int
		want       string
	}{
		{"Trace", "/v1/trace/forward/FLOUR/F-A?as_of=" + then, 200, `"sales_order":"SO-1"`},
		{"TraceNow", "/v1/trace/forward/FLOUR/F-A", 200, `"shipments":[]`},
		{"Lot", "/v1/lots/BREAD/BR-1?as_of=" + then, 200, `"id":"s1"`},
		{"LotBeforeAnything", "/v1/lots/BREAD/BR-1?as_of=2026-01-04", 404, `as of 2026-01-04T23:59:59.999999Z: lot BREAD/BR-1 not found`},
		{"ReportRecall", "/v1/reports/recall?item=FLOUR&lot=F-A&format=json&as_of=" + then, 200, `"as_of_requested": "2026-01-05T12:00:00Z"`},
		{"ReportRecallDelivery", "/v1/reports/recall?item=FLOUR&lot=F-A&format=csv&as_of=" + then, 200, "C-ALPHA,Alpha Foods"},
		{"ReportLot", "/v1/reports/lot?item=BREAD&lot=BR-1&format=json&as_of=" + then, 200, `"as_of_requested"`},
		{"ReportFSMA", "/v1/reports/fsma204?item=BREAD&from=2026-03-01&to=2026-03-31&format=json&as_of=" + then, 200, `"cte": "Shipping"`},
		{"ReportFSMANow", "/v1/reports/fsma204?item=BREAD&from=2026-03-01&to=2026-03-31&format=json", 200, `"data_version"`},
		{"HoldsThen", "/v1/holds?as_of=" + then, 200, `{"holds":[]}`},
		{"HoldsNow", "/v1/holds", 200, `"reason":"foreign body complaint"`},
		{"Balance", "/v1/balance/BREAD/BR-1?as_of=" + then, 200, `"shipped":60`},
		{"BalanceNow", "/v1/balance/BREAD/BR-1", 200, `"shipped":0`},
		{"OrderBalance", "/v1/balance/order/WO-1?as_of=" + then, 200, `"order":"WO-1"`},
		{"BadHolds", "/v1/holds?as_of=later", 400, `parameter \"as_of\" \"later\"`},
		{"BadTrace", "/v1/trace/forward/FLOUR/F-A?as_of=yesterday", 400, `parameter \"as_of\" \"yesterday\"`},
		{"BadRecall", "/v1/recall/FLOUR/F-A?as_of=%2B24h", 400, `parameter \"as_of\" \"+24h\"`},
		{"BadLot", "/v1/lots/BREAD/BR-1?as_of=2026-02-30", 400, `parameter \"as_of\"`},
		{"BadReport", "/v1/reports/lot?item=BREAD&lot=BR-1&as_of=soon", 400, `parameter \"as_of\" \"soon\"`},
		{"BadFSMA", "/v1/reports/fsma204?item=BREAD&from=2026-03-01&to=2026-03-31&as_of=x", 400, `parameter \"as_of\"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.do(t, "GET", tt.path, token, nil, nil)
			if code != tt.code || !strings.Contains(string(body), tt.want) {
				t.Fatalf("GET %s: %d %.400s\nwant %d containing %s", tt.path, code, body, tt.code, tt.want)
			}
		})
	}
	// Asked at once, as-of questions wait their turn and each gets its
	// own answer.
	type answer struct {
		code      int
		shipments int
	}
	answers := make(chan answer, 4)
	for _, q := range []string{"?as_of=" + then, "", "?as_of=" + then, "?as_of=2100-01-01"} {
		go func() { // no t.Fatal off the test's goroutine: a failure is a code 0
			req, _ := http.NewRequest("GET", e.url+"/v1/recall/FLOUR/F-A"+q, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- answer{}
				return
			}
			defer resp.Body.Close()
			var r core.TraceResult
			json.NewDecoder(resp.Body).Decode(&r)
			answers <- answer{resp.StatusCode, len(r.Shipments)}
		}()
	}
	got := map[answer]int{}
	for range 4 {
		got[<-answers]++
	}
	if got[answer{200, 1}] != 2 || got[answer{200, 0}] != 2 {
		t.Errorf("concurrent recalls: %v; want two as of %s with the shipment, two without", got, then)
	}
	// The FSMA spreadsheet now has no shipping row: the reversal applies.
	if _, body := e.do(t, "GET", "/v1/reports/fsma204?item=BREAD&from=2026-03-01&to=2026-03-31&format=json", token, nil, nil); strings.Contains(string(body), `"cte": "Shipping"`) {
		t.Errorf("FSMA now still lists the reversed shipment")
	}
}
