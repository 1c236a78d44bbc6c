package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestOrderBalanceEndpoint(t *testing.T) {
	e := newEnv(t)
	// WO-1 turns 40 KG of flour into 40 KG of dough; WO-2 reports 60 KG of
	// dough from 50 KG of flour (20 % over, beyond the 5 % default).
	events := `{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG"}
{"id":"c1","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":40,"uom":"KG","order":"WO-1"}
{"id":"p1","type":"produce","time":"2026-03-02T09:00:00Z","lot":{"item":"DOUGH","lot":"D-1"},"qty":40,"uom":"KG","order":"WO-1"}
{"id":"c2","type":"consume","time":"2026-03-03T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":50,"uom":"KG","order":"WO-2"}
{"id":"p2","type":"produce","time":"2026-03-03T09:00:00Z","lot":{"item":"DOUGH","lot":"D-2"},"qty":60,"uom":"KG","order":"WO-2"}`
	if code, body := e.do(t, "POST", "/v1/events", token, []byte(events), nil); code != http.StatusOK {
		t.Fatalf("post events: %d %s", code, body)
	}
	type unit struct {
		UOM             string  `json:"uom"`
		In              float64 `json:"in"`
		Out             float64 `json:"out"`
		Difference      float64 `json:"difference"`
		WithinTolerance bool    `json:"within_tolerance"`
	}
	tests := []struct {
		name, path, auth string
		code             int
		want             string
		unit             unit
	}{
		{"Balanced", "/v1/balance/order/WO-1", token, 200, `"inputs":[{"item":"FLOUR","lot":"F-A","qty":40`, unit{"KG", 40, 40, 0, true}},
		{"OutOfTolerance", "/v1/balance/order/WO-2", token, 200, `"within_tolerance":false`, unit{"KG", 50, 60, -10, false}},
		{"UnknownOrder", "/v1/balance/order/WO-404", token, 404, "order WO-404 not found", unit{}},
		{"NeedsToken", "/v1/balance/order/WO-1", "", 401, "", unit{}},
		{"LotBalanceStillAnswers", "/v1/balance/FLOUR/F-A", token, 200, `"consumed":90`, unit{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.do(t, "GET", tt.path, tt.auth, nil, nil)
			if code != tt.code || !strings.Contains(string(body), tt.want) {
				t.Fatalf("GET %s: %d %s\nwant %d containing %s", tt.path, code, body, tt.code, tt.want)
			}
			if tt.unit.UOM == "" {
				return
			}
			var b struct {
				Tolerance float64 `json:"tolerance"`
				Units     []unit  `json:"units"`
			}
			if err := json.Unmarshal(body, &b); err != nil {
				t.Fatal(err)
			}
			if b.Tolerance != 0.05 || len(b.Units) != 1 || b.Units[0] != tt.unit {
				t.Errorf("tolerance %g, units %+v; want 0.05 and [%+v]", b.Tolerance, b.Units, tt.unit)
			}
		})
	}
}
