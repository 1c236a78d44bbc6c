//go:build unix

package sdk_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lothub/lothub/sdk"
)

// These tests end plugins that do not play along: stopped (kill -STOP),
// killed (kill -9), or stuck in their start. However a plugin ends, the
// hub's waits on it end within seconds, the process is gone and its Unix
// socket is not left in the temporary directory.

// hangLimit is far beyond what any wait on a plugin may take (a couple of
// seconds of grace, a few more to reap): reaching it means a hang, not a
// slow machine.
const hangLimit = 60 * time.Second

// privateTemp points TMPDIR, for the hub side and for the plugins it
// starts, to an empty folder of the test's, and returns it. The folder's
// path is short: Unix socket paths are limited to about 100 bytes.
func privateTemp(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	return dir
}

// checkEmpty fails the test if dir holds anything, such as a plugin's
// socket file or socket directory.
func checkEmpty(t *testing.T, dir string) {
	t.Helper()
	var left []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if path != dir {
			left = append(left, strings.TrimPrefix(path, dir+"/"))
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("the temporary directory still holds %v after the plugin ended", left)
	}
}

// returns runs f and fails the test if it has not returned within
// hangLimit; then unstuck runs, to let f return before the test ends.
func returns(t *testing.T, what string, f func(), unstuck func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(hangLimit):
		t.Errorf("%s has not returned after %s: it hangs", what, hangLimit)
		unstuck()
		<-done
	}
}

func TestPluginThatStopsAnswering(t *testing.T) {
	bin := buildExample(t, t.TempDir())

	// kill -STOP: the plugin answers nothing, go-plugin's Shutdown call
	// waits forever, and the process never exits by itself.
	t.Run("Stopped", func(t *testing.T) {
		tmp := privateTemp(t)
		logs := &logRecorder{}
		c := launch(t, bin, slog.New(logs))
		pid := c.PID()
		stopProcess(t, pid)
		var err error
		returns(t, "Close of a stopped plugin", func() { err = c.Close() }, func() { syscall.Kill(pid, syscall.SIGKILL) })
		if err != nil {
			t.Errorf("Close of a stopped plugin: %v", err)
		}
		if !gone(pid) {
			t.Errorf("stopped plugin %d is still there after Close", pid)
		}
		if _, ok := logs.find("connector plugin did not exit when asked to, killing it"); !ok {
			t.Errorf("Close did not say it killed the plugin")
		}
		checkEmpty(t, tmp)
	})

	// The plugin is stopped while a call waits on it: the call ends at its
	// deadline, and Kill (what the supervisor does next) ends the plugin.
	t.Run("StoppedMidCall", func(t *testing.T) {
		tmp := privateTemp(t)
		c := launch(t, bin, slog.New(&logRecorder{}))
		pid := c.PID()
		cfg := parse(t, c, map[string]string{"dir": tmp})
		stopProcess(t, pid)
		returns(t, "Check of a stopped plugin", func() {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			if err := c.Check(ctx, cfg); err == nil {
				t.Errorf("Check of a stopped plugin succeeded")
			}
		}, func() { syscall.Kill(pid, syscall.SIGKILL) })
		returns(t, "Kill of a stopped plugin", c.Kill, func() { syscall.Kill(pid, syscall.SIGKILL) })
		if !gone(pid) {
			t.Errorf("stopped plugin %d is still there after Kill", pid)
		}
		checkEmpty(t, tmp)
	})

	// kill -9 leaves the plugin no chance to remove its socket: the hub
	// does.
	t.Run("Killed", func(t *testing.T) {
		tmp := privateTemp(t)
		c := launch(t, bin, slog.New(&logRecorder{}))
		if err := syscall.Kill(c.PID(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		returns(t, "Close of a killed plugin", func() {
			if err := c.Close(); err != nil {
				t.Errorf("Close of a killed plugin: %v", err)
			}
		}, func() {})
		checkEmpty(t, tmp)
	})

	// A plain Close leaves nothing behind either.
	t.Run("Closed", func(t *testing.T) {
		tmp := privateTemp(t)
		c := launch(t, bin, slog.New(&logRecorder{}))
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkEmpty(t, tmp)
	})

	// Launch gives up on a plugin that never completes its handshake when
	// its context is cancelled (a Ctrl-C during a start): the process is
	// gone by the time Launch returns, not a minute later.
	t.Run("CancelledStart", func(t *testing.T) {
		tmp := privateTemp(t)
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHang$")
		cmd.Env = append(os.Environ(), "SDK_TEST_HANG=1")
		go func() {
			for len(helperProcesses()) == 0 {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
		}()
		var err error
		returns(t, "Launch cancelled", func() { _, err = sdk.Launch(ctx, cmd, slog.New(&logRecorder{})) }, func() {})
		if err == nil {
			t.Fatal("Launch of a plugin that never answers succeeded")
		}
		if pids := helperProcesses(); len(pids) > 0 {
			t.Errorf("plugin processes %v outlived their cancelled start", pids)
		}
		checkEmpty(t, tmp)
	})
}

// stopProcess stops pid (kill -STOP) and waits until it is stopped: the
// signal stops each of its threads as it next enters the kernel.
func stopProcess(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(hangLimit); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Skipf("no /proc to see process states in: %v", err)
		}
		if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && b[i+2] == 'T' {
			return
		}
	}
	t.Fatalf("process %d did not stop", pid)
}

// helperProcesses returns the ids of this test binary's children that run
// TestHelperHang and are not zombies.
func helperProcesses() []int {
	var out []int
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
		if len(f) < 2 || f[0] == "Z" || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, _ := os.ReadFile(strings.TrimSuffix(m, "stat") + "cmdline")
		if strings.Contains(string(cmdline), "TestHelperHang") {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(m)))
			out = append(out, pid)
		}
	}
	return out
}
