package runner_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
)

// A sync another process runs (it holds the store's claim on the
// connector's sync) is not started a second time, and its run is left
// alone: the hub says who runs it. Once that process lets go, the sync
// runs and closes the run the other left behind as interrupted.
func TestSyncHeldByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 5)
	plant(t, e.scans, 0, 10)
	// The other process: its claim, and the run it is in the middle of.
	other, err := e.store.(core.Claimer).Claim(ctx, "sync mes")
	if err != nil {
		t.Fatal(err)
	}
	runID, err := e.store.StartRun(ctx, core.Run{Connector: "mes", Trigger: "schedule", Started: time.Now().UTC(), Status: core.RunRunning})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.r.Sync(ctx, "mes", "manual")
	if core.ErrorCode(err) != core.ECONFLICT || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("sync while another process runs it: %v, want a conflict naming the holder", err)
	}
	runs, err := e.store.Runs(ctx, core.RunFilter{Connector: "mes"})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].ID != runID || runs[0].Status != core.RunRunning {
		t.Fatalf("runs after the refused sync = %+v, want the other process's run still running", runs)
	}
	other.Release() // the other process ended
	run, err := e.r.Sync(ctx, "mes", "manual")
	if err != nil {
		t.Fatal(err)
	}
	if run.Records == 0 {
		t.Errorf("the sync read nothing")
	}
	runs, _ = e.store.Runs(ctx, core.RunFilter{Connector: "mes"})
	for _, r := range runs {
		if r.ID == runID && (r.Status != core.RunFailed || !strings.Contains(r.Error, "interrupted")) {
			t.Errorf("the run the other process left is %s (%s), want failed as interrupted", r.Status, r.Error)
		}
	}
}
