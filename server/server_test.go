package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/internal/testbuild"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/server"
)

const token = "test-token-0123456789"
const webhookKey = "whsec-abcdef012345"

func TestMain(m *testing.M) { testbuild.Main(m) }

// examplePlugins returns the plugin folder with the example connector.
func examplePlugins(t *testing.T) string { return testbuild.PluginDir(t) }

type env struct {
	store core.Store
	url   string
	srv   *server.Server
	file  string // the configuration file
	cfg   *config.Hub
}

func newEnv(t *testing.T) *env { return newEnvLog(t, nil) }

// newEnvLog is newEnv with the server logging to log. Its configuration
// has two connectors: mes takes signed webhooks, broken has no webhook
// secret and so takes none.
func newEnvLog(t *testing.T, log *slog.Logger) *env {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("LOTHUB_TEST_TOKEN", token)
	t.Setenv("LOTHUB_TEST_WEBHOOK", webhookKey)
	mapping, _ := filepath.Abs("../examples/connector-example/mapping.yaml")
	scans := filepath.Join(dir, "scans")
	os.Mkdir(scans, 0o755)
	cfg := fmt.Sprintf(`
plugin_dir: %s
connectors:
  - name: mes
    plugin: scans
    mapping: %s
    config:
      dir: %s
      webhook_secret: ${env:LOTHUB_TEST_WEBHOOK}
  - name: broken
    plugin: scans
    mapping: %s
    config:
      dir: %s
intake:
  max_body: 100000
  tokens:
    - name: line-1
      token: ${env:LOTHUB_TEST_TOKEN}
`, examplePlugins(t), mapping, scans, mapping, scans)
	h, err := config.Parse(filepath.Join(dir, "hub.yaml"), []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	srv := server.New(s, h, &runner.Plugins{Dir: h.PluginDir}, log, nil)
	t.Cleanup(srv.Close)
	// Every JSON answer of every test is checked against the OpenAPI
	// document (openapi_test.go).
	ts := httptest.NewServer(validating(t, srv.Handler()))
	t.Cleanup(ts.Close)
	return &env{store: s, url: ts.URL, srv: srv, file: h.File, cfg: h}
}

// noRedirect answers redirects as they are (a page sends a browser
// without a session to /login: the tests see the 303).
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (e *env) do(t *testing.T, method, path, auth string, body []byte, header map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

const events = `{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG","supplier":{"id":"V-MILL","name":"Mill Co"}}
{"id":"c1","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":40,"uom":"KG","order":"WO-1"}
{"id":"p1","type":"produce","time":"2026-03-02T09:00:00Z","lot":{"item":"BREAD","lot":"BR-1"},"qty":100,"uom":"EA","order":"WO-1"}
{"id":"s1","type":"ship","time":"2026-03-03T10:00:00Z","lot":{"item":"BREAD","lot":"BR-1"},"qty":60,"uom":"EA","customer":{"id":"C-ALPHA","name":"Alpha Foods"},"sales_order":"SO-1"}
{"id":"bad","type":"ship","time":"2026-03-03T10:00:00Z"}`

func TestPostEvents(t *testing.T) {
	e := newEnv(t)
	for _, auth := range []string{"", "wrong-token"} {
		code, _ := e.do(t, "POST", "/v1/events", auth, []byte(events), nil)
		if code != http.StatusUnauthorized {
			t.Errorf("POST with token %q: status %d, want 401", auth, code)
		}
	}
	if _, err := e.store.FindLot(context.Background(), core.LotRef{Item: "FLOUR", Lot: "F-A"}); core.ErrorCode(err) != core.ENOTFOUND {
		t.Fatalf("unauthenticated POST stored something: %v", err)
	}
	code, body := e.do(t, "POST", "/v1/events", token, []byte(events), nil)
	if code != http.StatusMultiStatus {
		t.Fatalf("status %d, want 207 (one event quarantined): %s", code, body)
	}
	got := decodeAnswer(t, body)
	want := answer{Read: 5, Stored: 4, Quarantined: 1, Errors: []core.InputError{{Index: 4, Line: 5, ID: "bad"}}}
	if !sameCounts(got, want) {
		t.Errorf("answer = %s\nwant counts and errors of %+v", body, want)
	}
	if !strings.Contains(got.Errors[0].Reason, `"lot" is required`) {
		t.Errorf("quarantine reason %q does not name the missing field", got.Errors[0].Reason)
	}
	if strings.Contains(string(body), `"error":`) {
		t.Errorf("a 207 carries an error object: %s", body)
	}
	// The same events as a JSON array: duplicates.
	var arr []json.RawMessage
	for _, l := range strings.Split(events, "\n")[:2] {
		arr = append(arr, json.RawMessage(l))
	}
	b, _ := json.Marshal(arr)
	code, body = e.do(t, "POST", "/v1/events", token, b, nil)
	if got := decodeAnswer(t, body); code != http.StatusOK || !sameCounts(got, answer{Read: 2, Duplicates: 2, Errors: []core.InputError{}}) {
		t.Errorf("re-POST: status %d, body %s; want 200 and 2 duplicates", code, body)
	}
	// Too big a body is refused, and the answer says the limit.
	code, body = e.do(t, "POST", "/v1/events", token, bytes.Repeat([]byte(" "), 200000), nil)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "larger than 100000 bytes (intake.max_body)") {
		t.Errorf("oversized body: status %d %s, want 413 naming the limit", code, body)
	}
}

func TestQueriesAnswerLikeTheCLI(t *testing.T) {
	e := newEnv(t)
	if code, body := e.do(t, "POST", "/v1/events", token, []byte(events), nil); code != http.StatusMultiStatus {
		t.Fatalf("POST: %d %s", code, body)
	}
	q := &core.Queries{Store: e.store}
	ctx := context.Background()
	ref := core.LotRef{Item: "FLOUR", Lot: "F-A"}
	recall, _ := q.Recall(ctx, core.Selector{Lot: &ref})
	trace, _ := q.Trace(ctx, core.Backward, core.Selector{Lot: &core.LotRef{Item: "BREAD", Lot: "BR-1"}})
	recallSum, _ := q.RecallSummary(ctx, core.Selector{Lot: &ref})
	traceSum, _ := q.TraceSummary(ctx, core.Forward, core.Selector{Lot: &ref})
	if recallSum == nil || recallSum.Lots != len(recall.Lots) || traceSum == nil || traceSum.Lots != len(recall.Lots) {
		t.Fatalf("summaries %+v %+v do not count the recall's %d lots", recallSum, traceSum, len(recall.Lots))
	}
	cases := []struct {
		path string
		want any
	}{
		{"/v1/recall/FLOUR/F-A", recall},
		{"/v1/trace/backward/BREAD/BR-1", trace},
		{"/v1/recall/FLOUR/F-A?summary=1", recallSum},
		{"/v1/trace/forward/FLOUR/F-A?summary=1", traceSum},
	}
	// The first trace finds the server's in-memory genealogy empty and
	// reads the store while it loads; later ones walk it: the same answers.
	deadline := time.Now().Add(10 * time.Second)
	for first := true; first || e.srv.Genealogy.Walks() < 2; first = false {
		if time.Now().After(deadline) {
			t.Fatal("the server never walked its in-memory genealogy")
		}
		for _, c := range cases {
			code, body := e.do(t, "GET", c.path, token, nil, nil)
			want, _ := json.Marshal(c.want)
			if code != http.StatusOK || strings.TrimSpace(string(body)) != string(want) {
				t.Fatalf("GET %s (walks from memory so far: %d): %d\n got  %s\n want %s", c.path, e.srv.Genealogy.Walks(), code, body, want)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, body := e.do(t, "GET", "/v1/lots/FLOUR/F-X", token, nil, nil); code != http.StatusNotFound || !strings.Contains(string(body), "FLOUR/F-X not found") {
		t.Errorf("unknown lot: %d %s", code, body)
	}
	if code, _ := e.do(t, "GET", "/v1/recall/FLOUR/F-A", "", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("recall without token: %d, want 401", code)
	}
	if code, body := e.do(t, "GET", "/v1/gaps", token, nil, nil); code != http.StatusOK || !strings.HasPrefix(string(body), `{"gaps":[`) {
		t.Errorf("gaps: %d %s", code, body)
	}
	if code, body := e.do(t, "GET", "/v1/health", "", nil, nil); code != http.StatusOK || !strings.Contains(string(body), `"status":"ok"`) {
		t.Errorf("health: %d %s", code, body)
	}
	code, body := e.do(t, "GET", "/metrics", "", nil, nil)
	if code != http.StatusOK || !strings.Contains(string(body), "lothub_events_written_total") || !strings.Contains(string(body), "lothub_http_request_duration_seconds") {
		t.Errorf("metrics: %d, missing lothub metrics", code)
	}
	// The events posted above were committed by the group commit, which
	// counts the requests of each transaction.
	if m := regexp.MustCompile(`(?m)^lothub_intake_group_requests_count (\d+)$`).FindStringSubmatch(string(body)); m == nil || m[1] == "0" {
		t.Errorf("metrics: lothub_intake_group_requests_count = %v, want the transactions of the posted events counted", m)
	}
}

func sign(body []byte) string {
	m := hmac.New(sha256.New, []byte(webhookKey))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestWebhook(t *testing.T) {
	e := newEnv(t)
	scan := []byte(`{"scan_id":"W1","time":"2026-03-05T08:00:00Z","station":"MIX-1","order":"WO-7","direction":"IN","item":"SUGAR","lot":"SG-1","qty":5,"uom":"KG"}
{"scan_id":"W2","time":"2026-03-05T09:00:00Z","station":"PACK-1","order":"WO-7","direction":"OUT","item":"CAKE","lot":"CK-1","qty":10,"uom":"EA"}`)
	code, body := e.do(t, "POST", "/v1/webhooks/mes", "", scan, map[string]string{"X-Lothub-Signature": sign([]byte("something else"))})
	if code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d %s, want 401", code, body)
	}
	if raw, _ := e.store.RawRecords(context.Background(), core.RawFilter{}); len(raw) != 0 {
		t.Fatalf("a webhook with a bad signature archived %d records", len(raw))
	}
	code, body = e.do(t, "POST", "/v1/webhooks/mes", "", scan, map[string]string{"X-Lothub-Signature": sign(scan)})
	if code != http.StatusAccepted || !strings.Contains(string(body), `"events":2`) {
		t.Fatalf("signed webhook: %d %s, want 202 with 2 events", code, body)
	}
	res, err := (&core.Queries{Store: e.store}).Trace(context.Background(), core.Forward, core.Selector{Lot: &core.LotRef{Item: "SUGAR", Lot: "SG-1"}})
	if err != nil || len(res.Lots) != 1 || res.Lots[0].Lot != "CK-1" {
		t.Errorf("trace after webhook = %+v, %v; want SUGAR/SG-1 → CAKE/CK-1", res, err)
	}
	if strings.Contains(string(body), webhookKey) {
		t.Errorf("answer shows the webhook secret: %s", body)
	}
}
