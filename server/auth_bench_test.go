package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/lothub/lothub/access"
	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/server"
)

// BenchmarkAuth is what finding out who a request is costs, over real
// HTTP on loopback (SQLite): GET /v1/health (no credentials: the
// baseline) against GET /v1/whoami with an intake token, a user's token
// and a session cookie.
func BenchmarkAuth(b *testing.B) {
	dir := b.TempDir()
	b.Setenv("LOTHUB_BENCH_TOKEN", token)
	h, err := config.Parse(filepath.Join(dir, "hub.yaml"), []byte("intake:\n  tokens:\n    - name: line-1\n      token: ${env:LOTHUB_BENCH_TOKEN}\n"))
	if err != nil {
		b.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "hub.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	srv := server.New(s, h, &runner.Plugins{}, nil, nil)
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	u := &access.Users{Store: s}
	ctx := context.Background()
	usr, err := u.Add(ctx, "ana", "", core.RoleViewer, "")
	if err != nil {
		b.Fatal(err)
	}
	userToken, _, err := u.CreateToken(ctx, "ana", "", time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	sid, _, err := u.StartSession(ctx, usr)
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name, path string
		set        func(*http.Request)
	}{
		{"none/health", "/v1/health", func(*http.Request) {}},
		{"intake-token/whoami", "/v1/whoami", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }},
		{"user-token/whoami", "/v1/whoami", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+userToken) }},
		{"session/whoami", "/v1/whoami", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: server.SessionCookie, Value: sid}) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				req, _ := http.NewRequest("GET", ts.URL+c.path, nil)
				c.set(req)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s: %s", c.path, resp.Status)
				}
			}
		})
	}
}
