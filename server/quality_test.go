package server_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestGapAndHoldEndpoints(t *testing.T) {
	e := newEnv(t)
	events := `{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG"}
{"id":"p1","type":"produce","time":"2026-03-02T09:00:00Z","lot":{"item":"DOUGH","lot":"D-1"},"qty":40,"uom":"KG","order":"WO-1"}`
	if code, body := e.do(t, "POST", "/v1/events", token, []byte(events), nil); code != http.StatusOK {
		t.Fatalf("post events: %d %s", code, body)
	}
	tests := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"GapsAfterIntake", "GET", "/v1/gaps", "", 200, `"id":"GAP-1"`},
		{"Show", "GET", "/v1/gaps/GAP-1", "", 200, `"action":"opened"`},
		{"ShowSources", "GET", "/v1/gaps/GAP-1", "", 200, `"sources":[{"event":"p1","type":"produce"`},
		{"WaiveNeedsReason", "POST", "/v1/gaps/GAP-1/waive", `{"by":"sam"}`, 400, "a reason is required"},
		{"UnknownField", "POST", "/v1/gaps/GAP-1/ack", `{"who":"sam"}`, 400, "unknown field"},
		{"ConfirmWrongKind", "POST", "/v1/gaps/GAP-1/confirm", `{"by":"ana","supplier":"V-MILL"}`, 400, "do not apply"},
		{"Ack", "POST", "/v1/gaps/GAP-1/ack", `{"by":"sam"}`, 200, `"status":"acknowledged"`},
		{"Confirm", "POST", "/v1/gaps/GAP-1/confirm", `{"by":"ana","consumed":["FLOUR/F-A:40:KG"],"note":"paper record"}`, 200, `"status":"confirmed"`},
		{"ConfirmAgain", "POST", "/v1/gaps/GAP-1/confirm", `{"by":"ana","consumed":["FLOUR/F-A"]}`, 409, "already confirmed"},
		{"UnknownGap", "GET", "/v1/gaps/GAP-7", "", 404, "not found"},
		{"Confirmed", "GET", "/v1/gaps?status=confirmed", "", 200, `"GAP-1"`},
		{"Hold", "POST", "/v1/holds", `{"item":"FLOUR","lot":"F-A","reason":"recall","by":"qa","propagate":true}`, 200, `{"item":"DOUGH","lot":"D-1"}`},
		{"Holds", "GET", "/v1/holds", "", 200, `"lot":"D-1"`},
		{"Release", "POST", "/v1/holds/release", `{"item":"FLOUR","lot":"F-A","reason":"cleared","by":"qa","propagate":true}`, 200, `"type":"release"`},
		{"Balance", "GET", "/v1/balance/FLOUR/F-A", "", 200, `"consumed":40`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			code, got := e.do(t, tt.method, tt.path, token, body, nil)
			if code != tt.code || !strings.Contains(string(got), tt.want) {
				t.Errorf("%s %s: %d %s\nwant %d containing %s", tt.method, tt.path, code, got, tt.code, tt.want)
			}
		})
	}
}
