package runner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/internal/testbuild"
	"github.com/lothub/lothub/runner"
)

// examplePlugin returns the plugin folder with the example connector,
// built once as a real plugin executable.
func examplePlugin(t *testing.T) string { return testbuild.PluginDir(t) }

func TestMain(m *testing.M) { testbuild.Main(m) }

// plant writes n orders of scans (2 consumed lots, 1 produced lot each)
// into files of the scan directory, and returns the number of scans.
func plant(t *testing.T, dir string, from, n int) int {
	t.Helper()
	var b strings.Builder
	scans := 0
	for o := from; o < from+n; o++ {
		at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(o) * time.Minute).Format(time.RFC3339)
		for i, lot := range []string{fmt.Sprintf("F-%d", o%7), fmt.Sprintf("S-%d", o%3)} {
			fmt.Fprintf(&b, `{"scan_id":"S%d-%d","time":%q,"station":"MIX-1","order":"WO-%d","direction":"IN","item":"RAW%d","lot":%q,"qty":5,"uom":"KG"}`+"\n", o, i, at, o, i, lot)
			scans++
		}
		fmt.Fprintf(&b, `{"scan_id":"S%d-out","time":%q,"station":"PACK-1","order":"WO-%d","direction":"OUT","item":"FG","lot":"FG-%d","qty":10,"uom":"EA"}`+"\n", o, at, o, o)
		scans++
	}
	name := filepath.Join(dir, fmt.Sprintf("scans-%06d.jsonl", from))
	if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return scans
}

type env struct {
	store core.Store
	r     *runner.Runner
	scans string
}

func newEnv(t *testing.T, batch int) *env {
	t.Helper()
	plugins := examplePlugin(t)
	dir := t.TempDir()
	scans := filepath.Join(dir, "scans")
	if err := os.Mkdir(scans, 0o755); err != nil {
		t.Fatal(err)
	}
	mapping, err := filepath.Abs("../examples/connector-example/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`
plugin_dir: %s
connectors:
  - name: mes
    plugin: scans
    mapping: %s
    batch_size: %d
    timeout: 30s
    max_retry: 1m
    config:
      dir: %s
`, plugins, mapping, batch, scans)
	h, err := config.Parse(filepath.Join(dir, "hub.yaml"), []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := &runner.Runner{Store: s, Config: h, Plugins: &runner.Plugins{Dir: h.PluginDir},
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
	return &env{store: s, r: r, scans: scans}
}

func (e *env) forward(t *testing.T, item, lot string) int {
	t.Helper()
	res, err := (&core.Queries{Store: e.store}).Trace(context.Background(), core.Forward, core.Selector{Lot: &core.LotRef{Item: item, Lot: lot}})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Lots)
}

func TestSyncReadsToTheEndAndResumes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 25)
	n := plant(t, e.scans, 0, 40)
	run, err := e.r.Sync(ctx, "mes", "manual")
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != core.RunOK || run.Records != n || run.Events != n || run.Batches != (n+24)/25 {
		t.Fatalf("first run = %+v, want ok, %d records and events in %d batches", run, n, (n+24)/25)
	}
	// RAW0/F-0 went into orders 0, 7, 14, … 35: six finished lots.
	if got := e.forward(t, "RAW0", "F-0"); got != 6 {
		t.Errorf("forward trace of RAW0/F-0 reaches %d lots, want 6", got)
	}
	c, err := e.store.Cursor(ctx, "mes")
	if err != nil || c.RunID != run.ID {
		t.Fatalf("cursor = %+v, %v; want one committed by run %d", c, err, run.ID)
	}
	// Nothing new: nothing read.
	again, err := e.r.Sync(ctx, "mes", "schedule")
	if err != nil {
		t.Fatal(err)
	}
	if again.Records != 0 || again.Events != 0 {
		t.Errorf("second run read %d records, wrote %d events; want 0 and 0", again.Records, again.Events)
	}
	// New scans: only they are read.
	m := plant(t, e.scans, 40, 10)
	third, err := e.r.Sync(ctx, "mes", "schedule")
	if err != nil {
		t.Fatal(err)
	}
	if third.Records != m || third.Events != m || third.Unchanged != 0 {
		t.Errorf("third run = %+v, want %d new records and events", third, m)
	}
	runs, err := e.store.Runs(ctx, core.RunFilter{Connector: "mes"})
	if err != nil || len(runs) != 3 || runs[0].ID != third.ID || runs[2].Trigger != "manual" {
		t.Errorf("runs = %+v, %v", runs, err)
	}
	// A reset position reads everything again and doubles nothing.
	if err := e.store.ResetCursor(ctx, "mes", "read the source again"); err != nil {
		t.Fatal(err)
	}
	full, err := e.r.Sync(ctx, "mes", "manual")
	if err != nil {
		t.Fatal(err)
	}
	if full.Records != n+m || full.Events != 0 || full.Unchanged != n+m {
		t.Errorf("after reset: %+v, want %d records all unchanged", full, n+m)
	}
}

// children returns the pids of the running processes whose parent is
// this test process and whose command line contains name.
func children(name string) []int {
	var out []int
	self := os.Getpid()
	ms, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+2:])
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		cmd, _ := os.ReadFile(strings.TrimSuffix(m, "stat") + "cmdline")
		if ppid == self && strings.Contains(string(cmd), name) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(m)))
			out = append(out, pid)
		}
	}
	return out
}

func TestPluginCrashMidSyncLosesAndDoublesNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 10)
	n := plant(t, e.scans, 0, 30)
	killed := 0
	e.r.Progress = func(p runner.Progress) {
		if p.Run.Batches == 3 || p.Run.Batches == 6 {
			for _, pid := range children(runner.PluginPrefix + "scans") {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed++
				}
			}
		}
	}
	run, err := e.r.Sync(ctx, "mes", "manual")
	if err != nil {
		t.Fatal(err)
	}
	if killed != 2 {
		t.Fatalf("killed the plugin %d times, want 2", killed)
	}
	if run.Records != n || run.Events != n || run.Unchanged != 0 {
		t.Errorf("run after two crashes = %+v, want exactly %d records and %d events", run, n, n)
	}
	if got := e.forward(t, "RAW1", "S-0"); got != 10 {
		t.Errorf("forward trace of RAW1/S-0 reaches %d lots, want 10", got)
	}
	if left := children(runner.PluginPrefix + "scans"); len(left) != 0 {
		t.Errorf("plugin processes left after the sync: %v", left)
	}
}

func TestSyncFailsCleanly(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 10)
	// A scan directory that does not exist: the connector says so, the run
	// is recorded as failed with that message.
	if err := os.RemoveAll(e.scans); err != nil {
		t.Fatal(err)
	}
	run, err := e.r.Sync(ctx, "mes", "manual")
	if err == nil {
		t.Fatal("sync of a missing directory succeeded")
	}
	if run.Status != core.RunFailed || run.Error == "" || run.Ended.IsZero() {
		t.Errorf("failed run = %+v", run)
	}
	runs, _ := e.store.Runs(ctx, core.RunFilter{})
	if len(runs) != 1 || runs[0].Status != core.RunFailed || runs[0].Error != err.Error() {
		t.Errorf("recorded runs = %+v, want one failed run with error %q", runs, err)
	}
	if _, err := e.r.Sync(ctx, "nope", "manual"); core.ErrorCode(err) != core.ENOTFOUND {
		t.Errorf("unknown connector: err = %v, want ENOTFOUND", err)
	}
}

func TestNoTwoSyncsOfOneConnector(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 5)
	plant(t, e.scans, 0, 20)
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	e.r.Progress = func(runner.Progress) {
		once.Do(func() { close(started); <-release })
	}
	done := make(chan error, 1)
	go func() { _, err := e.r.Sync(ctx, "mes", "schedule"); done <- err }()
	<-started
	_, err := e.r.Sync(ctx, "mes", "manual")
	close(release)
	if core.ErrorCode(err) != core.ECONFLICT {
		t.Errorf("second sync while one runs: err = %v, want ECONFLICT", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestScheduleRunsAndNeverOverlaps(t *testing.T) {
	e := newEnv(t, 50)
	plant(t, e.scans, 0, 10)
	e.r.Config.Connectors[0].Schedule = "@every 1s"
	// Each run takes longer than the schedule's period, so ticks fall
	// while a run is going on: they must be skipped, not overlap.
	e.r.Progress = func(runner.Progress) { time.Sleep(1500 * time.Millisecond) }
	e.r.Sleep = nil
	var mu sync.Mutex
	var ran []core.Run
	s := &runner.Scheduler{Runner: e.r, OnRun: func(r core.Run, err error) {
		if err == nil {
			mu.Lock()
			ran = append(ran, r)
			mu.Unlock()
		}
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := s.Start(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Start = %d, %v; want 1 scheduled connector", n, err)
	}
	// Wait (bounded) for the first run and one more: the first reads the
	// scans, later ones find nothing new.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		k := len(ran)
		mu.Unlock()
		if k >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	s.Stop()
	runs, err := e.store.Runs(context.Background(), core.RunFilter{Connector: "mes"})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) < 2 {
		t.Fatalf("%d scheduled runs, want at least 2", len(runs))
	}
	for i := 0; i+1 < len(runs); i++ { // newest first
		newer, older := runs[i], runs[i+1]
		if newer.Trigger != "schedule" || older.Ended.IsZero() || newer.Started.Before(older.Ended) {
			t.Errorf("runs overlap or were not scheduled: %+v then %+v", older, newer)
		}
	}
	if last := runs[len(runs)-1]; last.Records != 30 {
		t.Errorf("first scheduled run read %d records, want 30", last.Records)
	}
}

// A run's counts commit with each batch: a hub killed mid-sync leaves a
// run whose record shows every batch it committed, and the run that
// closes it as interrupted keeps them.
func TestRunCountsCommitWithTheirBatch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 10)
	plant(t, e.scans, 0, 20) // 60 scans: six batches
	var seen []core.Run
	e.r.Progress = func(p runner.Progress) {
		// What a kill -9 right now would leave in the store.
		runs, err := e.store.Runs(ctx, core.RunFilter{Connector: "mes", Limit: 1})
		if err != nil || len(runs) != 1 {
			t.Fatalf("runs = %v, %v", runs, err)
		}
		r := runs[0]
		if r.Status != core.RunRunning || r.Batches != p.Run.Batches || r.Records != p.Run.Records || r.Events != p.Run.Events {
			t.Errorf("stored run after batch %d = %s, %d batches, %d records, %d events; want running, %d, %d, %d",
				p.Run.Batches, r.Status, r.Batches, r.Records, r.Events, p.Run.Batches, p.Run.Records, p.Run.Events)
		}
		seen = append(seen, r)
	}
	run, err := e.r.Sync(ctx, "mes", "manual")
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != run.Batches || run.Batches != 6 {
		t.Fatalf("%d progress calls, %d batches; want 6 and 6", len(seen), run.Batches)
	}
}
