package dynamics_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/server"
)

// TestHubWebhook runs Business Central's webhook through the hub itself:
// the hub's HTTP server (POST /v1/webhooks/{connector}) with the dynamics
// connector as a plugin process of the hub binary, a SQLite store and the
// fake BC. A sync creates the subscription, and BC's validation request
// reaches the connector through the hub; a notification with the right
// clientState brings the changed entry into the store at once, and one
// with a wrong clientState is refused with nothing stored.
func TestHubWebhook(t *testing.T) {
	hub := hubBinary(t)
	ctx := context.Background()
	f := newFake(t)
	f.put(bcILE, plantBC()...)
	dir := t.TempDir()
	t.Setenv("LOTHUB_TEST_DYNAMICS_SECRET", testSecret)
	t.Setenv("LOTHUB_TEST_DYNAMICS_HOOK_SECRET", hookSecret)
	mappingFile, err := filepath.Abs("dynamics-bc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(ctx, filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	// The hub's own URL is in its configuration (bc_webhook_url): listen
	// first, serve once the server is made.
	ts := httptest.NewUnstartedServer(nil)
	var srv *server.Server
	t.Cleanup(func() {
		ts.Close()
		if srv != nil {
			srv.Close()
		}
	})
	hookURL := "http://" + ts.Listener.Addr().String() + "/v1/webhooks/erp"
	yaml := fmt.Sprintf(`
connectors:
  - name: erp
    plugin: dynamics
    mapping: %s
    timeout: 30s
    config:
      system: bc
      tenant_id: %s
      client_id: %s
      client_secret: ${env:LOTHUB_TEST_DYNAMICS_SECRET}
      base_url: %s
      authority_url: %s
      bc_company_id: %s
      bc_webhook_url: %s
      bc_webhook_secret: ${env:LOTHUB_TEST_DYNAMICS_HOOK_SECRET}
`, mappingFile, testTenant, testClientID, f.srv.URL, f.srv.URL, testCompany, hookURL)
	h, err := config.Parse(filepath.Join(dir, "hub.yaml"), []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	plugins := &runner.Plugins{Builtins: []string{"dynamics"}, Self: hub}
	srv = server.New(s, h, plugins, nil, nil)
	ts.Config.Handler = srv.Handler()
	ts.Start()

	// The first sync reads the plant and creates the subscription. BC
	// creates it only once the hub has echoed its validation token.
	r := &runner.Runner{Store: s, Config: h, Plugins: plugins}
	run, err := r.Sync(ctx, "erp", "manual")
	if err != nil || run.Status != core.RunOK || run.Records != 11 {
		t.Fatalf("sync = %+v, %v; want ok with 11 records", run, err)
	}
	notifyURL := subscribedURL(t, f)
	if got := notifyURL.Scheme + "://" + notifyURL.Host + notifyURL.Path; got != hookURL {
		t.Fatalf("BC notifies %s, want the hub's %s", got, hookURL)
	}

	entry := func(n int) string { return "item-ledger-entry/" + testCompany + "/" + fmt.Sprint(n) }
	stored := func() []string {
		t.Helper()
		raw, err := s.RawRecords(ctx, core.RawFilter{Source: "erp"})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, rr := range raw {
			ids = append(ids, rr.RecordID)
		}
		return ids
	}
	customers := func(item, lot string) []string {
		t.Helper()
		res, err := (&core.Queries{Store: s}).Recall(ctx, core.Selector{Lot: &core.LotRef{Item: item, Lot: lot}})
		if err != nil {
			t.Fatalf("recall %s/%s: %v", item, lot, err)
		}
		var out []string
		if res.Customers != nil {
			for _, c := range *res.Customers {
				out = append(out, c.ID+" "+c.Name)
			}
		}
		slices.Sort(out)
		return out
	}
	if n := len(stored()); n != 11 {
		t.Fatalf("%d records stored after the sync, want 11", n)
	}

	// (1) The handshake, as BC sends it when it creates or renews the
	// subscription: the token comes back as plain text with 200.
	q := notifyURL.Query()
	q.Set("validationToken", "abc")
	u := *notifyURL
	u.RawQuery = q.Encode()
	resp, err := http.Post(u.String(), "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "abc" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("handshake: %d %q (%s), want 200 with the token abc as text/plain", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	// Without the URL's key the handshake is refused: the token is not
	// echoed to whoever asks.
	resp, err = http.Post(hookURL+"?validationToken=abc", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || bytes.Contains(body, []byte("abc")) {
		t.Errorf("handshake without the key: %d %s, want 401 without the token", resp.StatusCode, body)
	}

	// (2) A shipment posted in BC after the sync; BC notifies with the
	// subscription's clientState, the hub reads the entry and stores it:
	// the recall has the customer before the next scheduled read.
	shipped := ile{n: 112, item: "BREAD", lot: "BR-2", typ: "Sale", qty: -20, doc: "SSHP-4", party: "C-DELTA",
		partyName: "Delta Diner", so: "SO-4", date: "2026-03-05", mod: "2026-03-05T10:00:00Z"}
	f.put(bcILE, shipped.row())
	if status := f.notify(bcILE, shipped.id(), "created", ""); status != http.StatusAccepted {
		t.Fatalf("notification with the right clientState: the hub answered %d, want 202", status)
	}
	if got := stored(); len(got) != 12 || !slices.Contains(got, entry(112)) {
		t.Errorf("stored after the notification: %v, want the 11 read and %s", got, entry(112))
	}
	if got, want := customers("FLOUR", "F-B"), []string{"C-DELTA Delta Diner", "C-GAMMA Gamma Mart"}; !slices.Equal(got, want) {
		t.Errorf("recall of FLOUR/F-B reaches %v, want %v", got, want)
	}

	// (3) A notification with a wrong clientState is refused, and the hub
	// neither reads what it names nor stores anything.
	forged := ile{n: 113, item: "BREAD", lot: "BR-1", typ: "Sale", qty: -10, doc: "SSHP-5", party: "C-EPSILON",
		partyName: "Epsilon Eats", so: "SO-5", date: "2026-03-05", mod: "2026-03-05T10:30:00Z"}
	f.put(bcILE, forged.row())
	if status := f.notify(bcILE, forged.id(), "updated", "guessed-client-state-0000"); status < 400 || status > 499 {
		t.Errorf("notification with a wrong clientState: the hub answered %d, want a 4xx", status)
	}
	if got := stored(); len(got) != 12 || slices.Contains(got, entry(113)) {
		t.Errorf("stored after the refused notification: %v, want only the 12 before", got)
	}
	if got, want := customers("FLOUR", "F-A"), []string{"C-ALPHA Alpha Foods", "C-BETA Beta Bakeries"}; !slices.Equal(got, want) {
		t.Errorf("recall of FLOUR/F-A reaches %v after a refused notification, want %v", got, want)
	}
	for _, req := range f.dataRequests() {
		if strings.Contains(req, forged.id()) {
			t.Errorf("the hub read %s for a notification it refused", req)
		}
	}
}
