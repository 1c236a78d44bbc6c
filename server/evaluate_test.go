package server_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/notify"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/server"
)

// gatedStore is a real SQLite store whose gap-fact query counts its calls
// and, while the gate is shut, holds the first one: a gap evaluation that
// takes as long as the test wants, as on a plant with millions of events.
type gatedStore struct {
	core.Store
	calls   atomic.Int32
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedStore) GapFacts(ctx context.Context, p core.GapFactsParams) (*core.GapFacts, error) {
	if g.calls.Add(1) == 1 {
		close(g.entered)
		<-g.gate
	}
	return g.Store.GapFacts(ctx, p)
}

// openStore opens a SQLite store in a temporary folder.
func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// serve runs a server over store with one intake token and no connectors.
func serve(t *testing.T, store core.Store) (*server.Server, *env) {
	t.Helper()
	t.Setenv("LOTHUB_TEST_TOKEN", token)
	h, err := config.Parse(filepath.Join(t.TempDir(), "hub.yaml"), []byte("intake:\n  tokens:\n    - name: line-1\n      token: ${env:LOTHUB_TEST_TOKEN}\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(store, h, &runner.Plugins{}, nil, nil)
	t.Cleanup(srv.Close)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return srv, &env{store: store, url: ts.URL}
}

func TestGapEvaluationsDoNotPileUp(t *testing.T) {
	db := openStore(t)
	g := &gatedStore{Store: db, entered: make(chan struct{}), gate: make(chan struct{})}
	_, e := serve(t, g)

	// A first delivery starts an evaluation that does not end yet; its
	// client has its answer all the same.
	code, body := e.do(t, "POST", "/v1/events", token, []byte(`{"id":"p1","type":"produce","time":"2026-03-02T09:00:00Z","lot":{"item":"DOUGH","lot":"D-1"},"qty":40,"uom":"KG","order":"WO-1"}`), nil)
	if code != http.StatusOK {
		t.Fatalf("first post: %d %s", code, body)
	}
	<-g.entered
	// Five more deliveries while it runs: answered at once, and folded
	// into one more evaluation.
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := `{"id":"p` + string(rune('2'+i)) + `","type":"produce","time":"2026-03-02T09:00:00Z","lot":{"item":"DOUGH","lot":"D-` + string(rune('2'+i)) + `"},"qty":40,"uom":"KG","order":"WO-` + string(rune('2'+i)) + `"}`
			if code, body := e.do(t, "POST", "/v1/events", token, []byte(ev), nil); code != http.StatusOK {
				t.Errorf("post during an evaluation: %d %s", code, body)
			}
		}()
	}
	wg.Wait()
	if n := g.calls.Load(); n != 1 {
		t.Fatalf("evaluations started while one ran: %d, want 1", n)
	}
	close(g.gate)
	// Listing gaps waits for the evaluations to end, and sees all six orders.
	code, body = e.do(t, "GET", "/v1/gaps", token, nil, nil)
	if code != http.StatusOK || bytes.Count(body, []byte(`"kind":"output_without_input"`)) != 6 {
		t.Fatalf("gaps after the burst: %d %s\nwant six output_without_input gaps", code, body)
	}
	if n := g.calls.Load(); n != 2 {
		t.Errorf("evaluations for six deliveries = %d, want 2 (one, and one for what came during it)", n)
	}
}

// An alert webhook that does not answer delays nobody: the gap is listed
// as soon as it is stored, and closing the server stops the delivery.
func TestSlowNotifierHoldsNobody(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 10)
	chat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer chat.Close()
	defer close(release)

	db := openStore(t)
	srv, e := serve(t, db)
	srv.Monitor.Alerts = &notify.Router{Targets: []notify.Target{{Name: "chat", Notifier: &notify.Webhook{URL: chat.URL, Format: "json"}}}}

	code, body := e.do(t, "POST", "/v1/events", token, []byte(`{"id":"p1","type":"produce","time":"2026-03-02T09:00:00Z","lot":{"item":"DOUGH","lot":"D-1"},"qty":40,"uom":"KG","order":"WO-1"}`), nil)
	if code != http.StatusOK {
		t.Fatalf("post: %d %s", code, body)
	}
	code, body = e.do(t, "GET", "/v1/gaps", token, nil, nil)
	if code != http.StatusOK || !bytes.Contains(body, []byte(`"kind":"output_without_input"`)) {
		t.Fatalf("gaps while the alert hangs: %d %s\nwant the open gap", code, body)
	}
	<-arrived   // the alert is on its way, and hangs
	srv.Close() // returns: the hanging delivery is cancelled
	// The stage was released, not marked alerted: the next evaluation
	// sends it again.
	gaps, err := db.Exceptions(context.Background(), core.ExceptionFilter{})
	if err != nil || len(gaps) != 1 || gaps[0].Stage != core.StageNone {
		t.Errorf("after close: %+v %v, want one gap not yet alerted", gaps, err)
	}
}
