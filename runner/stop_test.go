package runner_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/runner"
)

// stopped reports whether pid is stopped (kill -STOP took effect).
func stopped(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := bytes.LastIndexByte(b, ')')
	return err == nil && i > 0 && len(b) > i+2 && b[i+2] == 'T'
}

// A sync whose plugin is stopped (kill -STOP) mid-sync and then cancelled,
// as Ctrl-C does, ends within seconds rather than waiting on the plugin
// (its call timeout here is two minutes, its end never comes): the run is
// failed as interrupted, naming the cause and keeping the batches
// committed before, and the plugin is killed.
func TestSyncCancelledWhileThePluginIsStopped(t *testing.T) {
	e, _, _ := supervised(t, setup{timeout: "2m", maxRetry: "1m"})
	plant(t, e.scans, 0, 30)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var pids []int
	e.r.Progress = func(p runner.Progress) {
		if p.Run.Batches != 2 {
			return
		}
		pids = children(runner.PluginPrefix + "scans")
		for _, pid := range pids {
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Error(err)
			}
			for deadline := time.Now().Add(time.Minute); !stopped(pid) && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
		}
		cancel(errors.New("interrupt signal received"))
	}

	type result struct {
		run core.Run
		err error
	}
	done := make(chan result, 1)
	go func() {
		run, err := e.r.Sync(ctx, "mes", "manual")
		done <- result{run, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(time.Minute):
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		<-done
		t.Fatal("the cancelled sync had not returned after a minute: it hangs on the stopped plugin")
	}
	if len(pids) != 1 {
		t.Fatalf("plugin processes at batch 2: %v, want one", pids)
	}
	run, err := res.run, res.err
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sync: %v, want an error wrapping context.Canceled", err)
	}
	for _, want := range []string{"interrupted", "interrupt signal received", fmt.Sprintf("after %d batches", run.Batches), "kept"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if run.Status != core.RunFailed || run.Error != err.Error() || run.Batches < 2 || run.Ended.IsZero() {
		t.Errorf("run = %+v, want failed with its error after at least 2 batches", run)
	}
	runs, rerr := e.store.Runs(context.Background(), core.RunFilter{Connector: "mes"})
	if rerr != nil || len(runs) != 1 || !reflect.DeepEqual(runs[0], run) {
		t.Errorf("recorded runs = %+v, %v; want the interrupted run %+v", runs, rerr, run)
	}
	if got := len(e.archived(t)); got != run.Records {
		t.Errorf("%d source records stored, want the %d of the committed batches", got, run.Records)
	}
	if left := children(runner.PluginPrefix + "scans"); len(left) != 0 {
		t.Errorf("plugin processes left after the cancelled sync: %v", left)
	}
}
