package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/internal/testbuild"
	"github.com/lothub/lothub/runner"
)

// These tests cover the supervisor's failure paths with the example
// connector running as a real plugin process: a Read that hangs, retries
// that run out, and an external plugin that replaces a built-in.

// clock is the runner's clock in these tests: it moves only when the
// runner sleeps between attempts (by the time it sleeps), so that a
// connector's max_retry is spent the same way on every run, however
// loaded the machine is. onSleep, when set, runs at each sleep: after a
// failed attempt, before the next.
type clock struct {
	mu      sync.Mutex
	now     time.Time
	slept   []time.Duration
	onSleep func()
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	hook := c.onSleep
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	return ctx.Err()
}

func (c *clock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.slept)
}

// setup configures the connector "mes" for one test.
type setup struct {
	plugin    string            // plugin name; "scans" (the example connector) when ""
	pluginDir string            // testbuild.PluginDir when ""
	plugins   *runner.Plugins   // Dir is set to pluginDir; a plain plugin directory when nil
	timeout   string            // the connector's call timeout
	maxRetry  string            // the connector's retry budget
	params    map[string]string // example connector parameters besides dir
}

// supervised returns newEnv's runner, store and scan folder (batches of
// 10) with its connector "mes" configured by s instead, and the test
// clock. The configuration is written to hub.yaml beside the scan folder,
// whose path is returned.
func supervised(t *testing.T, s setup) (*env, *clock, string) {
	t.Helper()
	e := newEnv(t, 10)
	if s.plugin == "" {
		s.plugin = "scans"
	}
	if s.pluginDir == "" {
		s.pluginDir = examplePlugin(t)
	}
	var params strings.Builder
	keys := make([]string, 0, len(s.params))
	for k := range s.params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&params, "      %s: %q\n", k, s.params[k])
	}
	cfg := fmt.Sprintf(`
plugin_dir: %s
connectors:
  - name: mes
    plugin: %s
    mapping: %s
    batch_size: 10
    timeout: %s
    max_retry: %s
    config:
      dir: %s
%s`, s.pluginDir, s.plugin, e.r.Config.Connectors[0].Mapping, s.timeout, s.maxRetry, e.scans, params.String())
	file := filepath.Join(filepath.Dir(e.scans), "hub.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	plugins := s.plugins
	if plugins == nil {
		plugins = &runner.Plugins{}
	}
	plugins.Dir = h.PluginDir
	clk := &clock{now: time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)}
	e.r.Config, e.r.Plugins, e.r.Now, e.r.Sleep = h, plugins, clk.Now, clk.Sleep
	return e, clk, file
}

// archived returns the ids of the source records the store holds for mes.
func (e *env) archived(t *testing.T) []string {
	t.Helper()
	recs, err := e.store.RawRecords(context.Background(), core.RawFilter{Source: "mes"})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		ids = append(ids, r.RecordID)
	}
	return ids
}

// checkComplete checks that the store holds the scans of orders 0 to n-1
// planted by plant, each once: every scan archived once, and every order
// with its two consumptions and its production.
func (e *env) checkComplete(t *testing.T, orders int) {
	t.Helper()
	ids := e.archived(t)
	seen := map[string]int{}
	for _, id := range ids {
		seen[id]++
	}
	for o := range orders {
		for _, id := range []string{fmt.Sprintf("scan/S%d-0", o), fmt.Sprintf("scan/S%d-1", o), fmt.Sprintf("scan/S%d-out", o)} {
			if seen[id] != 1 {
				t.Errorf("source record %s archived %d times, want once", id, seen[id])
			}
		}
		evs, err := e.store.OrderEvents(context.Background(), fmt.Sprintf("WO-%d", o))
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 3 {
			t.Errorf("order WO-%d has %d events, want 3 (2 consumed, 1 produced)", o, len(evs))
		}
	}
	if len(ids) != 3*orders {
		t.Errorf("%d source records archived, want %d", len(ids), 3*orders)
	}
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Error(err)
	}
}

// A plugin whose Read never answers (and ignores cancellation) is killed
// when the connector's timeout runs out and restarted; when it keeps
// hanging until max_retry is spent, the run fails saying which connector
// did not answer within which timeout, keeps the batches committed before,
// and leaves no plugin process behind. Once the source answers again, the
// next sync carries on from the committed position.
func TestHungReadIsKilledAndTheRunGivesUp(t *testing.T) {
	ctx := context.Background()
	e, clk, _ := supervised(t, setup{timeout: "2s", maxRetry: "2s", params: map[string]string{"hang_file": ".hang"}})
	n := plant(t, e.scans, 0, 30)
	hangFile := filepath.Join(e.scans, ".hang")
	var hung []int
	e.r.Progress = func(p runner.Progress) {
		if p.Run.Batches == 3 { // the reads started from now on hang
			hung = children(runner.PluginPrefix + "scans")
			touch(t, hangFile)
		}
	}
	// At each sleep the runner has given up on an attempt and not yet
	// started the next: the hung plugin must be gone by then.
	var alive [][]int
	clk.onSleep = func() { alive = append(alive, children(runner.PluginPrefix+"scans")) }

	run, err := e.r.Sync(ctx, "mes", "manual")
	if err == nil {
		t.Fatalf("sync of a hanging connector succeeded: %+v", run)
	}
	for _, want := range []string{"mes", "plugin scans did not answer within 2s", "killed", "giving up"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if len(hung) != 1 {
		t.Fatalf("plugin processes before the hang: %v, want one", hung)
	}
	// max_retry (2s) leaves room for one restart after the first
	// backoff (1s); the restarted plugin hangs too and the run gives up.
	if len(alive) != 1 || len(alive[0]) != 0 {
		t.Errorf("plugin processes alive between attempts: %v, want one restart after the hung plugin was killed", alive)
	}
	if left := children(runner.PluginPrefix + "scans"); len(left) != 0 {
		t.Errorf("plugin processes left after the failed run: %v", left)
	}
	// The runner reads up to two batches ahead of its commits, so 3 to
	// 5 of the 9 batches were read before the hang; all of them commit.
	if run.Status != core.RunFailed || run.Error != err.Error() || run.Batches < 3 || run.Batches > 5 ||
		run.Records != 10*run.Batches || run.Events != run.Records {
		t.Errorf("failed run = %+v, want failed with its error, after 3 to 5 whole batches, one event per record", run)
	}
	runs, rerr := e.store.Runs(ctx, core.RunFilter{Connector: "mes"})
	if rerr != nil || len(runs) != 1 || !reflect.DeepEqual(runs[0], run) {
		t.Errorf("recorded runs = %+v, %v; want the failed run %+v", runs, rerr, run)
	}
	if c, cerr := e.store.Cursor(ctx, "mes"); cerr != nil || c.RunID != run.ID {
		t.Errorf("cursor = %+v, %v; want the position committed by the failed run %d", c, cerr, run.ID)
	}
	if got := len(e.archived(t)); got != run.Records {
		t.Errorf("%d source records stored after the failed run, want the %d of its committed batches", got, run.Records)
	}

	// The source answers again: the next sync starts a new plugin and
	// reads the rest, nothing lost, nothing read twice.
	e.r.Progress = nil
	if err := os.Remove(hangFile); err != nil {
		t.Fatal(err)
	}
	next, err := e.r.Sync(ctx, "mes", "manual")
	if err != nil {
		t.Fatalf("sync after the hang: %v", err)
	}
	if next.Records != n-run.Records || next.Events != next.Records || next.Unchanged != 0 {
		t.Errorf("sync after the hang = %+v, want the remaining %d records and events, none unchanged", next, n-run.Records)
	}
	e.checkComplete(t, 30)
	if left := children(runner.PluginPrefix + "scans"); len(left) != 0 {
		t.Errorf("plugin processes left after the sync: %v", left)
	}
}

// A Read that hangs once is cut off by the timeout, the plugin killed and
// a new one started, and the sync carries on to the end in the same run
// with nothing lost or doubled.
func TestHungReadIsRestartedAndTheSyncCompletes(t *testing.T) {
	ctx := context.Background()
	e, clk, _ := supervised(t, setup{timeout: "2s", maxRetry: "1m", params: map[string]string{"hang_file": ".hang"}})
	n := plant(t, e.scans, 0, 30)
	hangFile := filepath.Join(e.scans, ".hang")
	pids := map[int]bool{}
	e.r.Progress = func(p runner.Progress) {
		for _, pid := range children(runner.PluginPrefix + "scans") {
			pids[pid] = true
		}
		if p.Run.Batches == 4 {
			touch(t, hangFile)
		}
	}
	var alive [][]int
	clk.onSleep = func() {
		alive = append(alive, children(runner.PluginPrefix+"scans"))
		// The source recovers while the runner backs off.
		if err := os.Remove(hangFile); err != nil {
			t.Error(err)
		}
	}
	run, err := e.r.Sync(ctx, "mes", "manual")
	if err != nil {
		t.Fatalf("sync with one hung read: %v", err)
	}
	if len(alive) != 1 || len(alive[0]) != 0 {
		t.Errorf("plugin processes alive between attempts: %v, want one restart after the hung plugin was killed", alive)
	}
	if len(pids) != 2 {
		t.Errorf("the sync ran %d plugin processes (%v), want 2: the one that hung and its replacement", len(pids), pids)
	}
	if run.Status != core.RunOK || run.Records != n || run.Events != n || run.Unchanged != 0 {
		t.Errorf("run = %+v, want ok with exactly %d records and events", run, n)
	}
	e.checkComplete(t, 30)
	if left := children(runner.PluginPrefix + "scans"); len(left) != 0 {
		t.Errorf("plugin processes left after the sync: %v", left)
	}
}

// A source that keeps saying "busy, retry later" is retried as it asks
// (Retry-After) until the connector's max_retry is spent; then the run
// fails with a clear message, the batches committed before stay (events,
// archive and position), and the next sync resumes from there.
func TestRetriesRunOutKeepingCommittedBatches(t *testing.T) {
	ctx := context.Background()
	e, clk, _ := supervised(t, setup{timeout: "30s", maxRetry: "1m", params: map[string]string{"retry_wait": "20s"}})
	n := plant(t, e.scans, 0, 40)
	lock := filepath.Join(e.scans, ".exporting") // the example's default lock_file
	var before []int
	e.r.Progress = func(p runner.Progress) {
		if p.Run.Batches == 2 { // the MES starts an export that never ends
			before = children(runner.PluginPrefix + "scans")
			touch(t, lock)
		}
	}
	var during [][]int
	clk.onSleep = func() { during = append(during, children(runner.PluginPrefix+"scans")) }

	run, err := e.r.Sync(ctx, "mes", "manual")
	if err == nil {
		t.Fatalf("sync while the source stays busy succeeded: %+v", run)
	}
	for _, want := range []string{"mes", "giving up", "the MES is exporting", "stay committed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// The source asked for 20s each time: 20s, 40s, 60s fit in max_retry
	// (1m), a fourth wait would not.
	if got := clk.sleeps(); !slices.Equal(got, []time.Duration{20 * time.Second, 20 * time.Second, 20 * time.Second}) {
		t.Errorf("waits between attempts = %v, want the source's Retry-After (20s) until 1m is spent", got)
	}
	// A busy source is not a broken plugin: the same process answers.
	for i, pids := range during {
		if !slices.Equal(pids, before) {
			t.Errorf("plugin processes at retry %d = %v, want the same one as before (%v)", i+1, pids, before)
		}
	}
	// The runner reads up to two batches ahead of its commits: 2 to 4
	// of the 12 batches were read before the export began.
	if run.Status != core.RunFailed || run.Error != err.Error() || run.Batches < 2 || run.Batches > 4 ||
		run.Records != 10*run.Batches || run.Events != run.Records {
		t.Errorf("failed run = %+v, want failed with its error, after 2 to 4 whole batches, one event per record", run)
	}
	c, cerr := e.store.Cursor(ctx, "mes")
	if cerr != nil || c.RunID != run.ID {
		t.Errorf("cursor = %+v, %v; want the position committed by the failed run %d", c, cerr, run.ID)
	}
	if got := len(e.archived(t)); got != run.Records {
		t.Errorf("%d source records stored after the failed run, want the %d of its committed batches", got, run.Records)
	}
	if left := children(runner.PluginPrefix + "scans"); len(left) != 0 {
		t.Errorf("plugin processes left after the failed run: %v", left)
	}

	// The export ends: the next sync resumes after the committed batches.
	e.r.Progress = nil
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	next, err := e.r.Sync(ctx, "mes", "manual")
	if err != nil {
		t.Fatalf("sync after the export: %v", err)
	}
	if next.Records != n-run.Records || next.Events != next.Records || next.Unchanged != 0 {
		t.Errorf("sync after the export = %+v, want the remaining %d records and events, none unchanged", next, n-run.Records)
	}
	e.checkComplete(t, 40)
	// RAW0/F-0 went into orders 0, 7, 14, … 35: six finished lots, as
	// after an uninterrupted sync.
	if got := e.forward(t, "RAW0", "F-0"); got != 6 {
		t.Errorf("forward trace of RAW0/F-0 reaches %d lots, want 6", got)
	}
	runs, rerr := e.store.Runs(ctx, core.RunFilter{Connector: "mes"})
	if rerr != nil || len(runs) != 2 || runs[0].Status != core.RunOK || runs[1].Status != core.RunFailed || runs[1].Error != run.Error {
		t.Errorf("recorded runs = %+v, %v; want the failed run then the ok one", runs, rerr)
	}
}

// An executable in the plugin directory named after a built-in connector
// replaces the built-in: Find and List return it, a sync runs it (and not
// "hub plugin NAME"), and hub connectors lists it with its own version.
// Without it, the built-in is back.
func TestExternalPluginReplacesBuiltin(t *testing.T) {
	ctx := context.Background()
	hub := testbuild.Hub(t)
	// The example connector installed under the name of the built-in
	// filedrop connector.
	pluginDir := t.TempDir()
	external := filepath.Join(pluginDir, runner.PluginPrefix+"filedrop")
	copyFile(t, filepath.Join(examplePlugin(t), testbuild.ExamplePlugin), external)
	builtins := []string{"dynamics", "filedrop", "netsuite", "sap"}
	e, _, cfg := supervised(t, setup{plugin: "filedrop", pluginDir: pluginDir, timeout: "30s", maxRetry: "1m",
		plugins: &runner.Plugins{Builtins: builtins, Self: hub}})
	ps := e.r.Plugins

	pl, err := ps.Find("filedrop")
	if err != nil || pl.Builtin || pl.Path != external {
		t.Errorf("Find(filedrop) = %+v, %v; want the external plugin %s", pl, err, external)
	}
	if pl, err := ps.Find("sap"); err != nil || !pl.Builtin || pl.Path != hub {
		t.Errorf("Find(sap) = %+v, %v; want the built-in served by %s", pl, err, hub)
	}
	list, err := ps.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list {
		names = append(names, p.Name)
		if p.Name == "filedrop" && (p.Builtin || p.Path != external) {
			t.Errorf("List has filedrop as %+v, want the external plugin %s", p, external)
		}
	}
	if !slices.Equal(names, builtins) {
		t.Errorf("List names = %v, want %v, each once", names, builtins)
	}

	// The sync runs the external plugin: the built-in filedrop would
	// refuse this configuration (it needs "source", knows no "dir").
	n := plant(t, e.scans, 0, 10)
	var ext, builtin []int
	e.r.Progress = func(runner.Progress) {
		ext = append(ext, children(external)...)
		builtin = append(builtin, children(hub)...)
	}
	run, err := e.r.Sync(ctx, "mes", "manual")
	if err != nil {
		t.Fatalf("sync through the external plugin: %v", err)
	}
	if run.Records != n || run.Events != n {
		t.Errorf("run = %+v, want %d records and events", run, n)
	}
	if len(ext) == 0 || len(builtin) != 0 {
		t.Errorf("during the sync: external plugin processes %v, built-in ones %v; want only the external one", ext, builtin)
	}

	// hub connectors says the same to an operator.
	out, err := exec.Command(hub, "--config", cfg, "connectors", "--json").Output()
	if err != nil {
		t.Fatalf("hub connectors --json: %v", err)
	}
	var listed struct {
		Connectors []runner.Plugin `json:"connectors"`
	}
	if err := json.Unmarshal(out, &listed); err != nil {
		t.Fatalf("hub connectors --json: %v\n%s", err, out)
	}
	found := 0
	for _, p := range listed.Connectors {
		if p.Name == "filedrop" {
			found++
			if p.Builtin || p.Path != external || p.Version != "0.1.0" {
				t.Errorf("hub connectors lists filedrop as %+v, want the external plugin %s, version 0.1.0 (the example connector's)", p, external)
			}
		}
	}
	if found != 1 {
		t.Errorf("hub connectors lists filedrop %d times, want once:\n%s", found, out)
	}

	// Removed, the external plugin no longer hides the built-in.
	if err := os.Remove(external); err != nil {
		t.Fatal(err)
	}
	if pl, err := ps.Find("filedrop"); err != nil || !pl.Builtin || pl.Path != hub {
		t.Errorf("Find(filedrop) without the external plugin = %+v, %v; want the built-in", pl, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// A plugin that hung is killed; if it then does not start again at once
// (here its executable is gone for a moment), the restart is retried like
// the crash itself, and the sync completes.
func TestFailedRestartIsRetried(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	exe := filepath.Join(dir, runner.PluginPrefix+"scans")
	src, err := os.ReadFile(filepath.Join(examplePlugin(t), runner.PluginPrefix+"scans"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, src, 0o755); err != nil {
		t.Fatal(err)
	}
	e, clk, _ := supervised(t, setup{pluginDir: dir, timeout: "2s", maxRetry: "1m", params: map[string]string{"hang_file": ".hang"}})
	n := plant(t, e.scans, 0, 20)
	hangFile := filepath.Join(e.scans, ".hang")
	e.r.Progress = func(p runner.Progress) {
		if p.Run.Batches == 2 {
			touch(t, hangFile)
		}
	}
	sleeps := 0
	clk.onSleep = func() {
		sleeps++
		switch sleeps {
		case 1: // the hung plugin was killed: the source recovers, the executable is away
			if err := os.Remove(hangFile); err != nil {
				t.Error(err)
			}
			if err := os.Rename(exe, exe+".away"); err != nil {
				t.Error(err)
			}
		case 2: // the restart failed: the executable is back
			if err := os.Rename(exe+".away", exe); err != nil {
				t.Error(err)
			}
		}
	}
	run, err := e.r.Sync(ctx, "mes", "manual")
	if err != nil {
		t.Fatalf("sync with a failed restart: %v", err)
	}
	if sleeps != 2 {
		t.Errorf("backoffs = %d, want 2: after the hung read, and after the failed restart", sleeps)
	}
	if run.Status != core.RunOK || run.Records != n || run.Events != n || run.Unchanged != 0 {
		t.Errorf("run = %+v, want ok with exactly %d records and events", run, n)
	}
	e.checkComplete(t, 20)
}
