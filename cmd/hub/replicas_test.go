package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lothub/lothub/internal/crashtest"
	"github.com/lothub/lothub/internal/testbuild"
	"github.com/lothub/lothub/internal/testpg"
)

// replica is one 'hub serve' process of the replica tests.
type replica struct {
	cmd  *exec.Cmd
	addr string
	out  *strings.Builder // what it printed
	done chan struct{}    // closed when it has ended, with err
	err  error
}

// startReplica starts 'hub serve' on h's store and waits for its address.
func startReplica(t *testing.T, h crashtest.Hub) *replica {
	t.Helper()
	r := &replica{cmd: h.Command("serve", "--listen", "127.0.0.1:0"), out: &strings.Builder{}, done: make(chan struct{})}
	pr, pw := io.Pipe()
	r.cmd.Stdout, r.cmd.Stderr = pw, pw
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Process.Kill(); <-r.done })
	go func() { r.err = r.cmd.Wait(); pw.Close(); close(r.done) }()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "hub serving on http://"); ok {
			r.addr, _, _ = strings.Cut(after, " ")
			break
		}
		fmt.Fprintln(r.out, sc.Text())
	}
	if r.addr == "" {
		t.Fatalf("hub serve (pid %d) did not start:\n%s", r.cmd.Process.Pid, r.out)
	}
	go func() { // keep draining, so that its logging never blocks
		for sc.Scan() {
			fmt.Fprintln(r.out, sc.Text())
		}
	}()
	return r
}

// claimHolderPID returns the pid of the hub process holding the named
// claim on the PostgreSQL database at url, or 0. The key is the store's
// (core/store/postgres/claims.go); the process shows in pg_stat_activity
// as "lothub pid N on HOST".
func claimHolderPID(t *testing.T, conn *pgx.Conn, name string) int {
	t.Helper()
	h := fnv.New64a()
	h.Write([]byte("lothub claim\x00" + name))
	key := h.Sum64()
	var app string
	err := conn.QueryRow(context.Background(), `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.classid::bigint = $1 AND l.objid::bigint = $2`,
		int64(key>>32), int64(key&0xffffffff)).Scan(&app)
	if err == pgx.ErrNoRows {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(app) // lothub pid N on HOST
	if len(f) < 3 {
		t.Fatalf("claim %q held by %q, not a hub", name, app)
	}
	pid, err := strconv.Atoi(f[2])
	if err != nil {
		t.Fatalf("claim %q held by %q: %v", name, app, err)
	}
	return pid
}

type runRow struct {
	ID                       int64
	Trigger, Status, Error   string
	Started, Ended           time.Time
	Batches, Records, Events int
}

func lastRuns(t *testing.T, conn *pgx.Conn) []runRow {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT id, trigger, status, coalesce(error, ''), started, coalesce(ended, 0), batches, records, events FROM runs WHERE connector = 'fd' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []runRow
	for rows.Next() {
		var r runRow
		var started, ended int64
		if err := rows.Scan(&r.ID, &r.Trigger, &r.Status, &r.Error, &started, &ended, &r.Batches, &r.Records, &r.Events); err != nil {
			t.Fatal(err)
		}
		r.Started = time.UnixMicro(started)
		if ended != 0 {
			r.Ended = time.UnixMicro(ended)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Three 'hub serve' replicas on one PostgreSQL database, a filedrop
// connector on a schedule: one replica runs the schedule; killed with
// kill -9 in the middle of a sync, another takes the sync over and
// finishes it; the store then equals one clean sync's, no two runs of the
// connector overlapped, and every replica accepts events and queries.
func TestReplicas(t *testing.T) {
	hubBin := testbuild.Hub(t)
	t.Setenv("LOTHUB_TEST_TOKEN", "replica-token-0123456789")
	dir := t.TempDir()
	cleanDir := filepath.Join(dir, "clean")
	crashPlant(t, filepath.Join(cleanDir, "in"), 40, 60)
	clean := crashtest.Hub{Bin: hubBin, DB: testpg.NewDatabase(t), Config: filedropConfig(t, cleanDir, filepath.Join(cleanDir, "in"), "leave", 20)}
	began := time.Now()
	clean.Run(t, "sync", "fd")
	t.Logf("a clean sync took %v", time.Since(began).Round(time.Millisecond))
	want := clean.State(t)
	var wantRecords, wantEvents int
	for _, r := range lastRunsOf(t, clean) {
		wantRecords, wantEvents = wantRecords+r.Records, wantEvents+r.Events
	}

	sub := filepath.Join(dir, "replicas")
	in := filepath.Join(sub, "in")
	crashPlant(t, in, 40, 60)
	cfg := filedropConfig(t, sub, in, "leave", 20)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), "    plugin: filedrop\n", "    plugin: filedrop\n    schedule: \"@every 1s\"\n", 1))
	b = append(b, "intake:\n  tokens:\n    - name: test\n      token: ${env:LOTHUB_TEST_TOKEN}\n"...)
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	h := crashtest.Hub{Bin: hubBin, DB: testpg.NewDatabase(t), Config: cfg}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, h.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	replicas := map[int]*replica{}
	for range 3 {
		h.Run(t, "migrate") // the first start migrates; the others find it done
		r := startReplica(t, h)
		replicas[r.cmd.Process.Pid] = r
	}

	// Wait for the scheduled sync to have committed a batch, then kill
	// the replica that runs it.
	deadline := time.Now().Add(2 * time.Minute) // a bound for a hung test, not a measurement
	var holder int
	for holder == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no sync started: runs %+v", lastRuns(t, conn))
		}
		runs := lastRuns(t, conn)
		if n := len(runs); n > 0 && runs[n-1].Status == "running" && runs[n-1].Batches > 0 {
			holder = claimHolderPID(t, conn, "sync fd")
		}
		if holder == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	victim := replicas[holder]
	if victim == nil {
		t.Fatalf("the sync's claim is held by pid %d, none of the replicas", holder)
	}
	if s := claimHolderPID(t, conn, "scheduler"); s != holder {
		t.Errorf("the sync runs in pid %d, the schedules in %d: the scheduling replica should run it", holder, s)
	}
	victim.cmd.Process.Signal(syscall.SIGKILL)
	<-victim.done
	killed := time.Now()
	delete(replicas, holder)

	// Another replica finishes the run.
	var resumed runRow
	for resumed.ID == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no replica finished the killed sync: runs %+v", lastRuns(t, conn))
		}
		runs := lastRuns(t, conn)
		for _, r := range runs {
			if r.Started.After(killed) && r.Status == "ok" && r.Records > 0 {
				resumed = r
			}
		}
		if resumed.ID == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("killed pid %d mid-sync; run %d (%s) started %v after the kill and finished it",
		holder, resumed.ID, resumed.Trigger, resumed.Started.Sub(killed).Round(time.Millisecond))
	if by := claimHolderPID(t, conn, "scheduler"); replicas[by] == nil {
		t.Errorf("after the kill the schedules are run by pid %d, not a live replica", by)
	}

	// Any replica accepts events and answers queries.
	pids := slices.Sorted(func(yield func(int) bool) {
		for p := range replicas {
			if !yield(p) {
				return
			}
		}
	})
	post := replicas[pids[0]]
	ask := replicas[pids[1]]
	req, _ := http.NewRequest("POST", "http://"+post.addr+"/v1/events", strings.NewReader(
		`{"id":"replica-1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"REPLICA","lot":"R-1"},"qty":1,"uom":"KG","supplier":{"id":"V","name":"V"}}`))
	req.Header.Set("Authorization", "Bearer replica-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST /v1/events to a replica that does not schedule: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("GET", "http://"+ask.addr+"/v1/lots/REPLICA/R-1", nil)
	req.Header.Set("Authorization", "Bearer replica-token-0123456789")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/lots of the event posted to another replica: %d", resp.StatusCode)
	}

	// Stop the rest (SIGTERM: running syncs and evaluations finish), and
	// compare with the clean sync, without the event posted above.
	for _, r := range replicas {
		r.cmd.Process.Signal(syscall.SIGTERM)
	}
	for pid, r := range replicas {
		if <-r.done; r.err != nil {
			t.Errorf("replica %d ended with %v:\n%s", pid, r.err, r.out)
		}
	}
	got := h.State(t)
	got.Events = slices.DeleteFunc(got.Events, func(e string) bool { return strings.HasPrefix(e, "replica-1 ") })
	crashtest.Compare(t, got, want)

	runs := lastRuns(t, conn)
	var records, events, interrupted int
	for i, r := range runs {
		records, events = records+r.Records, events+r.Events
		switch {
		case r.Status == "failed" && strings.Contains(r.Error, "interrupted"):
			if r.Batches > 0 {
				interrupted++
			}
		case r.Status != "ok":
			t.Errorf("run %d is %s: %s", r.ID, r.Status, r.Error)
		}
		// Exactly one sync at a time: each run starts after the one
		// before it ended (a killed run ends when the next closes it).
		if i > 0 && r.Started.Before(runs[i-1].Ended) {
			t.Errorf("run %d started at %v, before run %d ended at %v: two syncs of one connector overlapped",
				r.ID, r.Started, runs[i-1].ID, runs[i-1].Ended)
		}
	}
	if interrupted != 1 {
		t.Errorf("%d runs interrupted after committing batches, want the killed one", interrupted)
	}
	if records != wantRecords || events != wantEvents {
		t.Errorf("runs count %d records and %d events in all, want the clean sync's %d and %d", records, events, wantRecords, wantEvents)
	}
}

func lastRunsOf(t *testing.T, h crashtest.Hub) []runRow {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), h.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	return lastRuns(t, conn)
}

// A SQLite file is served by one process: a second 'hub serve' on it
// fails at once naming the first; once the first is killed, a new one
// starts.
func TestSecondServeOnSQLiteRefused(t *testing.T) {
	hubBin := testbuild.Hub(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(cfg, []byte("connectors: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := crashtest.Hub{Bin: hubBin, DB: filepath.Join(dir, "hub.db"), Config: cfg}
	first := startReplica(t, h)
	out, err := h.Command("serve", "--listen", "127.0.0.1:0").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("a second hub serve on the same SQLite file: %v, want it to fail\n%s", err, out)
	}
	for _, w := range []string{"another hub serve is running on " + h.DB, fmt.Sprintf("lothub pid %d", first.cmd.Process.Pid), "PostgreSQL"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("the second hub serve's error does not say %q:\n%s", w, out)
		}
	}
	// Other commands still work beside it.
	h.Run(t, "gaps", "--json")
	first.cmd.Process.Signal(syscall.SIGKILL)
	<-first.done
	second := startReplica(t, h)
	second.cmd.Process.Signal(syscall.SIGTERM)
	if <-second.done; second.err != nil {
		t.Errorf("hub serve after the first was killed: %v\n%s", second.err, second.out)
	}
}
