package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/internal/testbuild"
	"github.com/lothub/lothub/runner"
)

// These tests run hub sync (the real binary) with a connector plugin that
// stops answering (SIGSTOP) and check that the hub still ends, closes its
// run, leaves no plugin process and no plugin socket behind.

// hangLimit is far beyond what ending a sync may take (two seconds of
// grace for the plugin, a few to reap it): reaching it means the hub hangs.
const hangLimit = 60 * time.Second

// hubProcess is a hub command started by a test, with its own TMPDIR.
type hubProcess struct {
	cmd        *exec.Cmd
	tmp        string
	stdout     bytes.Buffer
	lines      chan string   // the hub's stderr, line by line, while the test reads them
	readerDone chan struct{} // closed when stderr is read to its end
	exited     chan struct{} // closed when the hub has exited
	err        error         // cmd.Wait's, once exited is closed

	mu     sync.Mutex
	stderr strings.Builder
}

// startHub starts the hub with args and a TMPDIR of its own, which its
// plugins inherit.
func startHub(t *testing.T, hubBin string, args ...string) *hubProcess {
	t.Helper()
	h := &hubProcess{cmd: exec.Command(hubBin, args...), tmp: t.TempDir(),
		lines: make(chan string, 1000), readerDone: make(chan struct{}), exited: make(chan struct{})}
	h.cmd.Env = append(os.Environ(), "TMPDIR="+h.tmp)
	h.cmd.Stdout = &h.stdout
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	h.cmd.Stderr = w
	err = h.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	go func() {
		defer close(h.readerDone)
		defer r.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			h.mu.Lock()
			h.stderr.WriteString(sc.Text() + "\n")
			h.mu.Unlock()
			select {
			case h.lines <- sc.Text():
			default: // nobody is looking for lines
			}
		}
	}()
	go func() {
		h.err = h.cmd.Wait()
		close(h.exited)
	}()
	t.Cleanup(func() {
		h.cmd.Process.Kill()
		<-h.exited
	})
	return h
}

// errors returns what the hub wrote to stderr so far.
func (h *hubProcess) errors() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stderr.String()
}

// waitLine waits until a line of the hub's stderr contains s.
func (h *hubProcess) waitLine(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(hangLimit)
	for {
		select {
		case line := <-h.lines:
			if strings.Contains(line, s) {
				return
			}
		case <-h.readerDone:
			t.Fatalf("the hub's stderr never said %q:\n%s", s, h.errors())
		case <-timeout:
			t.Fatalf("the hub's stderr has not said %q after %s:\n%s", s, hangLimit, h.errors())
		}
	}
}

// wait waits for the hub to exit and returns cmd.Wait's error. If the hub
// has not exited within hangLimit, it fails the test, killing the hub and
// pluginDir's plugins.
func (h *hubProcess) wait(t *testing.T, pluginDir string) error {
	t.Helper()
	select {
	case <-h.exited:
		<-h.readerDone
		return h.err
	case <-time.After(hangLimit):
		for _, pid := range processesWith(pluginDir) {
			var n int
			fmt.Sscan(pid, &n)
			syscall.Kill(n, syscall.SIGKILL)
		}
		h.cmd.Process.Kill()
		<-h.exited
		t.Fatalf("hub %v had not exited after %s: it hangs\n%s", h.cmd.Args[1:], hangLimit, h.errors())
		return nil
	}
}

// checkNoPlugins fails the test if a process of pluginDir's plugins is
// alive, or if the hub's temporary directory holds anything (a plugin's
// socket, its socket directory).
func (h *hubProcess) checkNoPlugins(t *testing.T, pluginDir string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(processesWith(pluginDir)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if left := processesWith(pluginDir); len(left) > 0 {
		t.Errorf("plugin processes outlived the hub: %v", left)
		for _, pid := range left {
			var n int
			fmt.Sscan(pid, &n)
			syscall.Kill(n, syscall.SIGKILL)
		}
	}
	var left []string
	filepath.WalkDir(h.tmp, func(path string, _ os.DirEntry, _ error) error {
		if path != h.tmp {
			left = append(left, strings.TrimPrefix(path, h.tmp+"/"))
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("the hub's temporary directory still holds %v after the sync", left)
	}
}

// stopProcess stops pid (kill -STOP) and waits until it is stopped.
func stopProcess(t *testing.T, pid string) {
	t.Helper()
	var n int
	fmt.Sscan(pid, &n)
	if err := syscall.Kill(n, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(hangLimit); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && b[i+2] == 'T' {
			return
		}
	}
	t.Fatalf("plugin %s did not stop", pid)
}

// stopperPlugin builds testdata/stopplugin into a plugin folder of its own
// as the plugin "stopper", and returns the folder.
func stopperPlugin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, runner.PluginPrefix+"stopper"), "./testdata/stopplugin").CombinedOutput()
	if err != nil {
		t.Fatalf("go build testdata/stopplugin: %v\n%s", err, out)
	}
	return dir
}

// syncConfig writes a hub.yaml with the one connector "mes" running plugin
// with the example connector's mapping, and returns its path.
func syncConfig(t *testing.T, dir, pluginDir, plugin string, params map[string]string) string {
	t.Helper()
	mapping, _ := filepath.Abs("../../examples/connector-example/mapping.yaml")
	var b strings.Builder
	fmt.Fprintf(&b, "plugin_dir: %s\nconnectors:\n  - name: mes\n    plugin: %s\n    mapping: %s\n    batch_size: 10\n    config:\n", pluginDir, plugin, mapping)
	for k, v := range params {
		fmt.Fprintf(&b, "      %s: %q\n", k, v)
	}
	path := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func storeRuns(t *testing.T, db string) []core.Run {
	t.Helper()
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(context.Background(), core.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// A plugin stopped (kill -STOP) after the sync's last read never answers
// the hub's request to shut down, nor exits: the hub kills it after its
// grace, the sync ends ok with every event committed, and nothing of the
// plugin is left.
func TestSyncEndsWhenThePluginStopsAfterTheLastRead(t *testing.T) {
	hubBin := testbuild.Hub(t)
	pluginDir := stopperPlugin(t)
	dir := t.TempDir()
	cfg := syncConfig(t, dir, pluginDir, "stopper", map[string]string{"orders": "25"})
	db := filepath.Join(dir, "hub.db")

	h := startHub(t, hubBin, "--db", db, "--config", cfg, "sync", "mes")
	if err := h.wait(t, pluginDir); err != nil {
		t.Fatalf("hub sync: %v\n%s", err, h.errors())
	}
	if !strings.Contains(h.errors(), "did not exit when asked to, killing it") {
		t.Errorf("the hub did not say it killed the plugin; the plugin did not stop as the test wants:\n%s", h.errors())
	}
	runs := storeRuns(t, db)
	if len(runs) != 1 || runs[0].Status != core.RunOK || runs[0].Records != 50 || runs[0].Events != 50 || runs[0].Ended.IsZero() {
		t.Errorf("runs = %+v, want one ok run of 50 records and events", runs)
	}
	if got := len(eventRows(t, db)); got != 50 {
		t.Errorf("%d events stored, want 50", got)
	}
	h.checkNoPlugins(t, pluginDir)
}

// Ctrl-C during a sync whose plugin is stopped (here in the middle of a
// read that hangs) ends the hub within seconds: the run is failed as
// interrupted, the plugin killed, its socket removed.
func TestSyncInterruptedWhileThePluginIsStopped(t *testing.T) {
	hubBin, pluginDir := buildBinaries(t)
	dir := t.TempDir()
	scans := filepath.Join(dir, "scans")
	if err := os.MkdirAll(scans, 0o755); err != nil {
		t.Fatal(err)
	}
	scanPlant(t, scans, 20)
	// The example connector's test hook: while .hang exists, Read hangs
	// and ignores cancellation.
	if err := os.WriteFile(filepath.Join(scans, ".hang"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := syncConfig(t, dir, pluginDir, "scans", map[string]string{"dir": scans, "hang_file": ".hang"})
	db := filepath.Join(dir, "hub.db")

	h := startHub(t, hubBin, "--db", db, "--config", cfg, "sync", "mes")
	h.waitLine(t, "hang_file exists")
	plugins := processesWith(pluginDir)
	if len(plugins) != 1 {
		t.Fatalf("plugin processes %v, want one", plugins)
	}
	stopProcess(t, plugins[0])
	if err := h.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := h.wait(t, pluginDir)
	if err == nil {
		t.Errorf("interrupted hub sync exited 0, want a failure:\n%s", h.errors())
	}
	if !strings.Contains(h.errors(), "interrupted") {
		t.Errorf("hub sync's errors do not say it was interrupted:\n%s", h.errors())
	}
	runs := storeRuns(t, db)
	if len(runs) != 1 || runs[0].Status != core.RunFailed || runs[0].Ended.IsZero() ||
		!strings.Contains(runs[0].Error, "interrupted (interrupt signal received)") || !strings.Contains(runs[0].Error, "kept") {
		t.Errorf("runs = %+v, want the run failed as interrupted by the signal, saying its committed batches are kept", runs)
	}
	h.checkNoPlugins(t, pluginDir)
}
