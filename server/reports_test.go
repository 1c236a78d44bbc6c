package server_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

func TestReportEndpoints(t *testing.T) {
	e := newEnv(t)
	if code, body := e.do(t, "POST", "/v1/events", token, []byte(events), nil); code != http.StatusMultiStatus { // one line of events is bad on purpose
		t.Fatalf("post events: %d %s", code, body)
	}
	tests := []struct {
		name, path, auth string
		code             int
		want             string // in the body
	}{
		{"LotJSON", "/v1/reports/lot?item=BREAD&lot=BR-1&format=json", token, 200, `"supplier_lot"`},
		{"LotHTML", "/v1/reports/lot?item=BREAD&lot=BR-1&format=html", token, 200, "Alpha Foods"},
		{"LotPDF", "/v1/reports/lot?item=BREAD&lot=BR-1", token, 200, "%PDF-"},
		{"RecallCSV", "/v1/reports/recall?item=FLOUR&lot=F-A&format=csv", token, 200, "C-ALPHA,Alpha Foods"},
		{"RecallBySupplierLotJSON", "/v1/reports/recall?supplier_lot=NONE&format=json", token, 404, "no lot found for supplier lot NONE"},
		{"FSMAJSON", "/v1/reports/fsma204?item=BREAD&from=2026-03-01&to=2026-03-31&format=json", token, 200, `"cte": "Shipping"`},
		{"MissingLot", "/v1/reports/lot?item=BREAD&format=pdf", token, 400, `parameter \"lot\" is missing`},
		{"UnknownLot", "/v1/reports/lot?item=BREAD&lot=NOPE", token, 404, "lot BREAD/NOPE not found"},
		{"BadFormat", "/v1/reports/lot?item=BREAD&lot=BR-1&format=docx", token, 400, `format \"docx\"`},
		{"RecallNothing", "/v1/reports/recall?format=csv", token, 400, "say what to recall"},
		{"FSMAMissingTo", "/v1/reports/fsma204?item=BREAD&from=2026-03-01", token, 400, `parameter \"to\" is missing`},
		{"FSMABadDate", "/v1/reports/fsma204?item=BREAD&from=March&to=2026-03-31", token, 400, `parameter \"from\"`},
		{"NeedsToken", "/v1/reports/lot?item=BREAD&lot=BR-1", "", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.do(t, "GET", tt.path, tt.auth, nil, nil)
			if code != tt.code || !strings.Contains(string(body), tt.want) {
				t.Fatalf("GET %s: %d %.300s\nwant %d containing %s", tt.path, code, body, tt.code, tt.want)
			}
		})
	}
	t.Run("RecallXLSXReadBack", func(t *testing.T) {
		code, body := e.do(t, "GET", "/v1/reports/recall?item=FLOUR&lot=F-A&format=xlsx", token, nil, nil)
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		f, err := excelize.OpenReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got, _ := f.GetCellValue("Deliveries", "B2")
		qty, _ := f.GetCellValue("Deliveries", "I2")
		if got != "Alpha Foods" || qty != "60" {
			t.Errorf("Deliveries B2, I2 = %q, %q; want Alpha Foods, 60", got, qty)
		}
	})
	t.Run("CSVParses", func(t *testing.T) {
		_, body := e.do(t, "GET", "/v1/reports/fsma204?item=BREAD&from=2026-03-01&to=2026-03-31&format=csv", token, nil, nil)
		recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		// Header, the production of BR-1, its shipment.
		if len(recs) != 3 || recs[1][0] != "Transformation" || recs[2][0] != "Shipping" {
			t.Errorf("FSMA CSV = %q", recs)
		}
	})
	t.Run("SameHashAsJSON", func(t *testing.T) {
		_, a := e.do(t, "GET", "/v1/reports/lot?item=BREAD&lot=BR-1&format=json", token, nil, nil)
		_, h := e.do(t, "GET", "/v1/reports/lot?item=BREAD&lot=BR-1&format=html", token, nil, nil)
		var r struct {
			Meta struct {
				SHA256 string `json:"sha256"`
			} `json:"meta"`
		}
		if err := json.Unmarshal(a, &r); err != nil || len(r.Meta.SHA256) != 64 {
			t.Fatalf("meta.sha256 = %q (%v)", r.Meta.SHA256, err)
		}
		if !bytes.Contains(h, []byte(r.Meta.SHA256)) {
			t.Errorf("the HTML does not carry the JSON's hash %s", r.Meta.SHA256)
		}
	})
}
