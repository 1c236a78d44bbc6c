package web_test

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	demoplant "github.com/lothub/lothub/examples/demo-plant"
	"github.com/lothub/lothub/internal/testbuild"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/server"
)

func TestMain(m *testing.M) { testbuild.Main(m) }

var screenshots = flag.Bool("screenshots", false, "write the README's screenshots to docs/img")

// testAuth stands for the hub's sign-in until the server's own is
// merged: the user is named in a cookie as NAME:ROLE, and the CSRF token
// is derived from the name. csrfChecked refuses a POST without it, as
// the server's middleware does, so the tests prove every form carries
// the token.
type testAuth struct{}

const userCookie = "lothub-test-user"

func (testAuth) Actor(r *http.Request) (core.Actor, bool) {
	c, err := r.Cookie(userCookie)
	if err != nil {
		return core.Actor{}, false
	}
	name, role, ok := strings.Cut(c.Value, ":")
	if !ok {
		return core.Actor{}, false
	}
	rl, err := core.ParseRole(role)
	if err != nil {
		return core.Actor{}, false
	}
	return core.Actor{Kind: "user", Name: name, Role: rl}, true
}

func (testAuth) CSRFToken(r *http.Request) string {
	a, _ := testAuth{}.Actor(r)
	return "csrf-of-" + a.Name
}

func csrfChecked(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && !strings.HasPrefix(r.URL.Path, "/v1/") {
			if r.FormValue("csrf") == "" || r.FormValue("csrf") != (testAuth{}).CSRFToken(r) {
				http.Error(w, "CSRF token missing or wrong", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// hub is a hub serving the web application over a store.
type hub struct {
	URL   string
	Store core.Store
	Srv   *server.Server
	Plant *demoplant.Plant
	Dir   string
}

// demoHub runs hub demo (the real binary: the plant synced over SFTP by
// the filedrop plugin process) and serves the web application on its
// database, with the configuration the demo leaves.
func demoHub(t *testing.T) *hub {
	t.Helper()
	hubBin := testbuild.Hub(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "hub.db")
	cmd := exec.Command(hubBin, "demo", "--db", db, "--plant", filepath.Join(dir, "plant"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hub demo: %v\n%s", err, out)
	}
	cfg, err := config.Load(filepath.Join(dir, "hub.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h := serve(t, db, cfg, &runner.Plugins{Builtins: []string{"filedrop"}, Self: hubBin})
	h.Plant = demoplant.Generate(demoplant.Config{})
	h.Dir = dir
	return h
}

// serve opens the SQLite store at db and serves the hub on it.
func serve(t *testing.T, db string, cfg *config.Hub, plugins *runner.Plugins) *hub {
	t.Helper()
	s, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv := server.New(s, cfg, plugins, log, nil)
	srv.WebAuth = testAuth{}
	t.Cleanup(srv.Close)
	<-srv.EvaluateGaps("test start") // the exceptions of what is stored
	ts := httptest.NewServer(csrfChecked(srv.Handler()))
	t.Cleanup(ts.Close)
	return &hub{URL: ts.URL, Store: s, Srv: srv}
}

// emptyHub serves a hub on a new database with the default configuration.
func emptyHub(t *testing.T) *hub {
	t.Helper()
	return serve(t, filepath.Join(t.TempDir(), "hub.db"), config.Defaults(), &runner.Plugins{})
}

// ingest stores canonical events (JSON Lines) and evaluates the gap rules.
func (h *hub) ingest(t *testing.T, lines ...string) {
	t.Helper()
	in := core.Ingester{Store: h.Store}
	st, err := in.IngestJSONL(context.Background(), strings.NewReader(strings.Join(lines, "\n")), "test.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if st.Quarantined > 0 {
		t.Fatalf("ingest: %d events quarantined", st.Quarantined)
	}
	<-h.Srv.EvaluateGaps("test events")
}
