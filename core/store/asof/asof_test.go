package asof_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/asof"
	"github.com/lothub/lothub/core/store/sqlite"
)

// The view's behaviour as a store is in the conformance suite
// (core/store/storetest/asof.go, run by both stores); here, what it does
// to the machine: it refuses writes and leaves nothing in TMPDIR.
func TestViewIsReadOnlyAndLeavesNothing(t *testing.T) {
	ctx := context.Background()
	src, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	in := core.Ingester{Store: src, Now: func() time.Time { return time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC) }}
	ev := `{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG","supplier":{"id":"V"}}`
	if _, err := in.IngestJSONL(ctx, strings.NewReader(ev), "t.jsonl"); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	v, err := asof.Open(ctx, src, time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC), asof.Options{Dir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	if v.Versions != 1 {
		t.Errorf("versions replayed = %d, want 1", v.Versions)
	}
	err = v.Ingest(ctx, func(core.IngestTx) error { return nil })
	if core.ErrorCode(err) != core.EINVALID || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("writing to the view: err = %v, want EINVALID saying it is read-only", err)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 1 {
		t.Errorf("while open, %d entries in the scratch directory, want its one folder", len(entries))
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("after Close, %s still holds %d entries", tmp, len(entries))
	}
	// A failed build leaves nothing either.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := asof.Open(cctx, src, time.Now(), asof.Options{Dir: tmp}); err == nil {
		t.Errorf("a cancelled build succeeded")
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("after a failed build, %s still holds %d entries", tmp, len(entries))
	}
}
