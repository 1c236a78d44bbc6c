package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/outbox"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/server"
)

// A scan at the dock records its action in the scan's transaction; the
// operator lists, shows, cancels and retries it over HTTP.
func TestOutboxRoutes(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LOTHUB_TEST_SCAN_TOKEN", scanToken)
	t.Setenv("LOTHUB_TEST_QMS", "qms-token")
	h, err := config.Parse(filepath.Join(dir, "hub.yaml"), []byte(`intake:
  tokens:
    - name: readers
      token: ${env:LOTHUB_TEST_SCAN_TOKEN}
epcis:
  gtin_items:
    "09506000134352": FLOUR
scan_points:
  - name: DOCK-1
    makes: receive
    site: P1
actions:
  - name: qms-inspection
    enabled: true
    kind: http
    url: https://qms.invalid/api/inspections
    trigger: {event: receive, source: scan}
    credentials: {token: "${env:LOTHUB_TEST_QMS}"}
    fields: {material: lot.item, lot: lot.lot, quantity: qty}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	srv := server.New(s, h, &runner.Plugins{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	t.Cleanup(srv.Close)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	do := func(method, path, auth, body string) (int, []byte) {
		req, _ := http.NewRequest(method, ts.URL+path, bytes.NewReader([]byte(body)))
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, b := do("POST", "/v1/scans", scanToken, `{"scan": "(01)09506000134352(10)F-A(37)5", "point": "DOCK-1", "document": "PO-1"}`); code != http.StatusCreated {
		t.Fatalf("scan: %d %s", code, b)
	}
	if code, _ := do("GET", "/v1/outbox", "", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/outbox without a token: %d", code)
	}
	list := func(query string) []outbox.View {
		t.Helper()
		code, b := do("GET", "/v1/outbox"+query, scanToken, "")
		if code != http.StatusOK {
			t.Fatalf("GET /v1/outbox%s: %d %s", query, code, b)
		}
		var v struct{ Actions []outbox.View }
		json.Unmarshal(b, &v)
		return v.Actions
	}
	as := list("")
	if len(as) != 1 || as[0].State != "pending" || as[0].Action != "qms-inspection" || as[0].Lot.Lot != "F-A" {
		t.Fatalf("outbox after the scan: %+v", as)
	}
	id := strconv.FormatInt(as[0].ID, 10)
	code, b := do("GET", "/v1/outbox/"+id, scanToken, "")
	var d outbox.Detail
	json.Unmarshal(b, &d)
	if code != http.StatusOK || d.Fields["material"] != "FLOUR" || d.Fields["quantity"] != 5.0 {
		t.Errorf("GET /v1/outbox/%s: %d %s", id, code, b)
	}
	if code, b := do("POST", "/v1/outbox/"+id+"/cancel", scanToken, ""); code != http.StatusBadRequest {
		t.Errorf("cancel without a reason: %d %s", code, b)
	}
	if code, b := do("POST", "/v1/outbox/"+id+"/cancel", scanToken, `{"reason": "received by hand in the QMS"}`); code != http.StatusOK || !strings.Contains(string(b), `"state":"cancelled"`) ||
		!strings.Contains(string(b), "cancelled by token:readers: received by hand in the QMS") {
		t.Errorf("cancel: %d %s", code, b)
	}
	if got := list("?state=cancelled"); len(got) != 1 {
		t.Errorf("cancelled: %+v", got)
	}
	if got := list("?state=pending"); len(got) != 0 {
		t.Errorf("pending after the cancel: %+v", got)
	}
	if code, b := do("POST", "/v1/outbox/"+id+"/retry", scanToken, ""); code != http.StatusOK || !strings.Contains(string(b), `"state":"pending"`) {
		t.Errorf("retry: %d %s", code, b)
	}
	if code, _ := do("POST", "/v1/outbox/999/retry", scanToken, ""); code != http.StatusNotFound {
		t.Errorf("retry of no action: %d", code)
	}
	if code, _ := do("GET", "/v1/outbox?state=stuck", scanToken, ""); code != http.StatusBadRequest {
		t.Errorf("unknown state: %d", code)
	}
	// The same scan again is a duplicate: no second action.
	do("POST", "/v1/scans", scanToken, `{"scan": "(01)09506000134352(10)F-A(37)5", "point": "DOCK-1", "document": "PO-1"}`)
	if got := list(""); len(got) != 1 {
		t.Errorf("%d actions after a duplicate scan", len(got))
	}
}
