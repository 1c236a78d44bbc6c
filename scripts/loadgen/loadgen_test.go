package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lothub/lothub/internal/crashtest"
	"github.com/lothub/lothub/internal/testbuild"
)

func TestMain(m *testing.M) { testbuild.Main(m) }

// loadgen talks to loopback only: a URL elsewhere is refused before any
// request, and so are runs without bounds or a token.
func TestRefuses(t *testing.T) {
	ok := Options{URL: "http://127.0.0.1:1", Token: "t", Clients: 1, Events: 1, Batch: 1, Duration: time.Second}
	for _, c := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"NotLoopback", func(o *Options) { o.URL = "http://192.0.2.10:8080" }, "not a loopback address"},
		{"NotLoopbackV6", func(o *Options) { o.URL = "http://[2001:db8::1]:8080" }, "not a loopback address"},
		{"NotHTTP", func(o *Options) { o.URL = "ftp://127.0.0.1/" }, "want http"},
		{"NoToken", func(o *Options) { o.Token = "" }, "no token"},
		{"TooManyEvents", func(o *Options) { o.Events = maxEvents + 1 }, "-events"},
		{"TooLong", func(o *Options) { o.Duration = maxDuration + time.Second }, "-duration"},
		{"BatchOverServerLimit", func(o *Options) { o.Batch = maxBatch + 1 }, "-batch"},
		{"NegativeRate", func(o *Options) { o.Rate = -1 }, "-rate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := ok
			c.edit(&o)
			rep, err := Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Run = %+v, %v; want an error saying %q", rep, err, c.want)
			}
		})
	}
}

// With -rate, loadgen offers the events on a schedule (an open loop)
// instead of posting again as soon as an answer comes: the run cannot end
// before its last request was due, whatever the server's speed, and
// every event is still posted once. The server here answers at once, as
// POST /v1/events does (its answer's counts), so a closed loop would be
// over in a few milliseconds.
func TestRateSchedulesRequests(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		n := 0
		mu.Lock()
		for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			got[eventID(l)]++
			n++
		}
		mu.Unlock()
		fmt.Fprintf(w, `{"stored":%d}`, n)
	}))
	defer srv.Close()
	const events, rate = 60, 400.0
	rep, err := Run(context.Background(), Options{URL: srv.URL, Token: "t", Clients: 4, Events: events, Batch: 2, Duration: time.Minute, Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	// The last request (events 58 and 59) is due 58/400 s after the start.
	if min := float64(events-2) / rate; rep.Seconds < min {
		t.Errorf("the run took %.3f s; with -rate %g its last request is not due before %.3f s", rep.Seconds, rate, min)
	}
	if rep.EventsAcked != events || rep.Stored != events || rep.OfferedRate != rate || len(got) != events {
		t.Errorf("report %+v, %d distinct ids posted; want all %d events posted once and acknowledged, offered rate %g", rep, len(got), events, rate)
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("event %s posted %d times", id, n)
		}
	}
}

// ackLog collects the acknowledged ids loadgen writes, and counts them.
type ackLog struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines int
}

func (a *ackLog) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lines += bytes.Count(p, []byte("\n"))
	return a.buf.Write(p)
}

func (a *ackLog) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lines
}

// Every event the server acknowledged with a 2xx is in the store after
// the server is killed with SIGKILL in the middle of a load and the store
// is opened again, once: group commit answers only after the commit. On
// a SQLite file and on PostgreSQL, with single events and batches.
func TestAcknowledgedEventsSurviveKill(t *testing.T) {
	bin := testbuild.Hub(t)
	for _, st := range crashtest.Stores {
		for _, batch := range []int{1, 20} {
			t.Run(fmt.Sprintf("%s/batch%d", st.Name, batch), func(t *testing.T) {
				dir := t.TempDir()
				cfg := filepath.Join(dir, "hub.yaml")
				if err := os.WriteFile(cfg, []byte("intake:\n  max_body: 10485760\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				h := crashtest.Hub{Bin: bin, DB: st.DB(t, dir, "load"), Config: cfg}
				h.Run(t, "user", "add", "loader", "--role", "integrator", "--no-password")
				token := strings.TrimSpace(string(h.Run(t, "token", "create", "--user", "loader")))
				srv, addr := startServe(t, h)

				acked := &ackLog{}
				done := make(chan *Report, 1)
				go func() {
					rep, err := Run(context.Background(), Options{
						URL: "http://" + addr, Token: token, Clients: 16, Events: 200_000, Batch: batch,
						Duration: 2 * time.Minute, Timeout: 20 * time.Second, Prefix: "kill", Acked: acked,
					})
					if err != nil {
						t.Error(err)
					}
					done <- rep
				}()
				// Kill once a few hundred events are acknowledged: the
				// load goes on, requests are in every stage.
				for deadline := time.Now().Add(2 * time.Minute); acked.count() < 300; {
					if time.Now().After(deadline) {
						t.Fatalf("only %d events acknowledged in 2 minutes\n%s", acked.count(), srv.output())
					}
					time.Sleep(5 * time.Millisecond)
				}
				srv.kill()
				rep := <-done
				if rep == nil {
					t.FailNow()
				}
				if rep.Errors == 0 || rep.EventsAcked >= rep.EventsSent {
					t.Fatalf("the kill interrupted nothing (%+v): the test tests nothing", rep)
				}

				// Open the store again (and check the audit trail of
				// what committed), then look for every acknowledged id.
				h.Run(t, "audit", "verify")
				versions := map[string]int{}
				for _, row := range crashtest.StoredEvents(t, h.DB) {
					id, _, _ := strings.Cut(row, " ")
					versions[id]++
				}
				missing, n := 0, 0
				sc := bufio.NewScanner(&acked.buf)
				for sc.Scan() {
					n++
					if versions[sc.Text()] == 0 {
						if missing < 5 {
							t.Errorf("event %s was acknowledged but is not in the store", sc.Text())
						}
						missing++
					}
				}
				for id, v := range versions {
					if v != 1 {
						t.Errorf("event %s stored %d times", id, v)
					}
				}
				if missing > 0 {
					t.Errorf("%d of %d acknowledged events are not in the store", missing, n)
				}
				t.Logf("%s, %d events a request: %d acknowledged before the kill, %d in the store, %d requests failed by the kill",
					st.Name, batch, n, len(versions), rep.Errors)

				// The hub serves again on the store, and takes the rest.
				_, addr2 := startServe(t, h)
				rep2, err := Run(context.Background(), Options{
					URL: "http://" + addr2, Token: token, Clients: 4, Events: 200, Batch: batch,
					Duration: time.Minute, Prefix: "after", Acked: io.Discard,
				})
				if err != nil {
					t.Fatal(err)
				}
				if rep2.Errors > 0 || rep2.EventsAcked != 200 {
					t.Errorf("after the restart: %+v", rep2)
				}
			})
		}
	}
}

// server is a hub serve process.
type server struct {
	cmd  *exec.Cmd
	out  *strings.Builder
	mu   *sync.Mutex
	done chan struct{}
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// kill kills it with SIGKILL and waits for its end.
func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// startServe starts hub serve on a free loopback port and returns it and
// its address.
func startServe(t *testing.T, h crashtest.Hub) (*server, string) {
	t.Helper()
	s := &server{cmd: h.Command("serve", "--listen", "127.0.0.1:0", "--genealogy-cache=false"), out: &strings.Builder{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); pw.Close(); close(s.done) }()
	t.Cleanup(s.kill)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if _, after, ok := strings.Cut(sc.Text(), "hub serving on http://"); ok {
				a, _, _ := strings.Cut(after, " ")
				select {
				case addr <- a:
				default:
				}
			}
			s.mu.Lock()
			fmt.Fprintln(s.out, sc.Text())
			s.mu.Unlock()
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("hub serve ended before serving:\n%s", s.output())
		}
		return s, a
	case <-time.After(time.Minute):
		t.Fatalf("hub serve did not start in a minute:\n%s", s.output())
	}
	return nil, ""
}
