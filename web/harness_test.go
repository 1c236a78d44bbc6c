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

	"github.com/lothub/lothub/access"
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

// testAuth is who is signed in for the tests that run the web handler
// alone, without the server (benchmarks, a handler with small limits):
// the user is named in a cookie as NAME:ROLE. Every test through the
// server signs in for real (users and sessions in the store, /login).
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
	// "Run now" runs here, as in hub serve.
	srv.Runner = &runner.Runner{Store: s, Config: cfg, Plugins: plugins, Logger: log}
	t.Cleanup(srv.Close)
	<-srv.EvaluateGaps("test start") // the exceptions of what is stored
	ts := httptest.NewServer(srv.Handler())
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

// testPassword is every test user's password.
const testPassword = "correct horse battery staple"

// user makes the user NAME:ROLE in the hub's store, once.
func (h *hub) user(t *testing.T, user string) core.User {
	t.Helper()
	name, role, _ := strings.Cut(user, ":")
	rl, err := core.ParseRole(role)
	if err != nil {
		t.Fatal(err)
	}
	us := &access.Users{Store: h.Store}
	u, err := us.Add(context.Background(), name, name, rl, testPassword)
	if core.ErrorCode(err) == core.ECONFLICT {
		if u, err = h.Store.User(context.Background(), name); err == nil && u.Role != rl {
			t.Fatalf("user %s exists with role %s, not %s", name, u.Role, rl)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// session signs NAME:ROLE in: the session cookie's value and the CSRF
// token of its forms.
func (h *hub) session(t *testing.T, user string) (id, csrf string) {
	t.Helper()
	u := h.user(t, user)
	id, sess, err := (&access.Users{Store: h.Store}).StartSession(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return id, sess.CSRF
}
