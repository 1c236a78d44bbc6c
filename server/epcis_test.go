package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/epcis"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/server"
)

type epcisEnv struct {
	store core.Store
	url   string
}

func newEpcisEnv(t *testing.T) *epcisEnv {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("LOTHUB_TEST_EPCIS_TOKEN", "scanner-secret")
	h, err := config.Parse(filepath.Join(dir, "hub.yaml"), []byte(`intake:
  tokens:
    - name: dock-1
      token: ${env:LOTHUB_TEST_EPCIS_TOKEN}
epcis:
  gtin_items:
    "09506000134352": BREAD
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
	return &epcisEnv{store: s, url: ts.URL}
}

func (e *epcisEnv) do(t *testing.T, method, path, auth string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

type job struct {
	CaptureID string `json:"captureID"`
	Running   bool   `json:"running"`
	Success   bool   `json:"success"`
	Errors    []struct {
		Pointer string `json:"pointer"`
		Reason  string `json:"reason"`
	} `json:"errors"`
	Counts map[string]int `json:"counts"`
}

func TestEpcisCaptureEndpoint(t *testing.T) {
	e := newEpcisEnv(t)
	doc, err := os.ReadFile("../epcis/testdata/gs1/Example_9.6.2-ObjectEvent.jsonld")
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := e.do(t, "POST", "/epcis/capture", "", doc); code != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", code)
	}
	code, hdr, body := e.do(t, "POST", "/epcis/capture", "scanner-secret", doc)
	if code != http.StatusAccepted || !strings.HasPrefix(hdr.Get("Location"), "/epcis/capture/") {
		t.Fatalf("status %d, Location %q: %s", code, hdr.Get("Location"), body)
	}
	code, _, body = e.do(t, "GET", hdr.Get("Location"), "scanner-secret", nil)
	var j job
	if err := json.Unmarshal(body, &j); err != nil || code != http.StatusOK {
		t.Fatalf("job: %d %s", code, body)
	}
	if j.Running || !j.Success || j.Counts["new"] != 1 {
		t.Errorf("job %+v", j)
	}

	bad := bytes.Replace(doc, []byte(`"action": "OBSERVE"`), []byte(`"action": "LOOK"`), 1)
	bad = bytes.Replace(bad, []byte(`998877`), []byte(`555`), 1)
	_, hdr, _ = e.do(t, "POST", "/epcis/capture", "scanner-secret", bad)
	_, _, body = e.do(t, "GET", hdr.Get("Location"), "scanner-secret", nil)
	j = job{}
	if err := json.Unmarshal(body, &j); err != nil {
		t.Fatal(err)
	}
	if j.Success || len(j.Errors) == 0 || j.Errors[0].Pointer != "/epcisBody/eventList/0/action" {
		t.Errorf("invalid document's job %s", body)
	}
	if _, err := e.store.FindLot(context.Background(), core.LotRef{Item: epcis.ParseID("urn:epc:class:lgtin:4012345.012345.555").GTIN, Lot: "555"}); core.ErrorCode(err) != core.ENOTFOUND {
		t.Errorf("refused document stored its lot: %v", err)
	}
	if code, _, _ := e.do(t, "GET", "/epcis/capture/999", "scanner-secret", nil); code != http.StatusNotFound {
		t.Errorf("unknown job: %d", code)
	}
}

func TestEpcisEventsEndpoint(t *testing.T) {
	e := newEpcisEnv(t)
	ev := `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
 "type":"ObjectEvent","eventID":"urn:uuid:00000000-0000-4000-8000-0000000000aa","eventTime":"2026-03-03T10:00:00Z","eventTimeZoneOffset":"+00:00",
 "action":"OBSERVE","bizStep":"shipping","quantityList":[{"epcClass":"https://id.gs1.org/01/09506000134352/10/BR-1","quantity":5}],
 "destinationList":[{"type":"owning_party","destination":"urn:epc:id:pgln:9506000.00001"}]}`
	code, hdr, body := e.do(t, "POST", "/epcis/events", "scanner-secret", []byte(ev))
	if code != http.StatusCreated || hdr.Get("Location") != "/epcis/events/urn:uuid:00000000-0000-4000-8000-0000000000aa" {
		t.Fatalf("status %d, Location %q: %s", code, hdr.Get("Location"), body)
	}
	q := &core.Queries{Store: e.store}
	tr, err := q.Trace(context.Background(), core.Forward, core.Selector{Lot: &core.LotRef{Item: "BREAD", Lot: "BR-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Shipments) != 1 || tr.Shipments[0].Customer.ID != "urn:epc:id:pgln:9506000.00001" {
		t.Errorf("shipments %+v", tr.Shipments)
	}
	code, _, body = e.do(t, "POST", "/epcis/events", "scanner-secret", []byte(strings.Replace(ev, `"quantity":5`, `"quantity":"five"`, 1)))
	if code != http.StatusBadRequest || !strings.Contains(string(body), "/quantityList/0/quantity") {
		t.Errorf("invalid event: %d %s", code, body)
	}
}

// An EPCIS 2.0 XML document is captured as its JSON-LD twin is; an XML one
// with a bad value is refused with the element's line and column.
func TestEpcisCaptureEndpointXML(t *testing.T) {
	e := newEpcisEnv(t)
	doc, err := os.ReadFile("../epcis/testdata/xml/Example_9.6.2-ObjectEvent.xml")
	if err != nil {
		t.Fatal(err)
	}
	code, hdr, body := e.do(t, "POST", "/epcis/capture", "scanner-secret", doc)
	if code != http.StatusAccepted {
		t.Fatalf("status %d: %s", code, body)
	}
	_, _, body = e.do(t, "GET", hdr.Get("Location"), "scanner-secret", nil)
	var j job
	if err := json.Unmarshal(body, &j); err != nil || !j.Success || j.Counts["new"] != 1 {
		t.Fatalf("job %s", body)
	}
	lot := core.LotRef{Item: epcis.ParseID("urn:epc:class:lgtin:4012345.012345.998877").GTIN, Lot: "998877"}
	if _, err := e.store.FindLot(context.Background(), lot); err != nil {
		t.Errorf("captured XML lot: %v", err)
	}
	bad := bytes.Replace(doc, []byte("<quantity>200</quantity>"), []byte("<quantity>2OO</quantity>"), 1)
	_, hdr, _ = e.do(t, "POST", "/epcis/capture", "scanner-secret", bad)
	_, _, body = e.do(t, "GET", hdr.Get("Location"), "scanner-secret", nil)
	var refused struct {
		Success bool `json:"success"`
		Errors  []struct {
			Pointer string `json:"pointer"`
			Line    int    `json:"line"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &refused); err != nil {
		t.Fatal(err)
	}
	if refused.Success || len(refused.Errors) != 1 || refused.Errors[0].Pointer != "/epcisBody/eventList/0/quantityList/0/quantity" || refused.Errors[0].Line != 19 {
		t.Errorf("refused XML's job %s", body)
	}
}
