package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
)

// Every write of a process goes through one connection (sqlite.go: DB.writer).
// A write cancelled half-way — a sync stopped by its deadline, a client gone
// — must leave that connection usable: the next batch commits, and the
// cancelled one left nothing behind.
func TestCancelledWriteLeavesStoreWritable(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	batch := func(prefix string, n int) []core.Input {
		var in []core.Input
		for i := range n {
			raw := fmt.Sprintf(`{"id":"%s-%d","type":"receive","time":"2026-01-02T10:00:00Z","lot":{"item":"FLOUR","lot":"%s-%d"},"qty":1,"uom":"kg"}`, prefix, i, prefix, i)
			in = append(in, core.Input{Source: "t", Line: i + 1, Raw: []byte(raw)})
		}
		return in
	}
	for round := range 3 {
		cctx, cancel := context.WithCancel(ctx)
		err := db.Ingest(cctx, func(tx core.IngestTx) error {
			cancel()
			_, err := tx.CurrentEvents(cctx, []string{"anything"})
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: cancelled write: got %v, want context.Canceled", round, err)
		}
		in := &core.Ingester{Store: db}
		st, err := in.IngestBatch(ctx, batch(fmt.Sprintf("r%d", round), 20))
		if err != nil {
			t.Fatalf("round %d: write after a cancelled one: %v", round, err)
		}
		if st.New != 20 {
			t.Fatalf("round %d: stored %d new events, want 20 (stats %+v)", round, st.New, st)
		}
	}
	for round := range 3 {
		id, err := db.FindLot(ctx, core.LotRef{Item: "FLOUR", Lot: fmt.Sprintf("r%d-19", round)})
		if err != nil {
			t.Fatalf("lot FLOUR/r%d-19: %v", round, err)
		}
		ev, err := db.LotEvents(ctx, id)
		if err != nil || len(ev) != 1 || ev[0].ID != fmt.Sprintf("r%d-19", round) {
			t.Fatalf("lot FLOUR/r%d-19: events %+v, err %v; want its one receipt", round, ev, err)
		}
	}
}

// Commits that follow each other closely share a background checkpoint
// (sqlite.go: checkpointSpacing), so after the last of them some of the
// WAL may not be in the database file yet. Close must still leave every
// committed event in the file itself: the WAL is gone, and a copy of the
// file alone holds them all.
func TestCloseLeavesEveryCommitInTheFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	in := &core.Ingester{Store: db}
	const batches = 40
	for i := range batches {
		raw := fmt.Sprintf(`{"id":"c-%d","type":"receive","time":"2026-01-02T10:00:00Z","lot":{"item":"FLOUR","lot":"c-%d"},"qty":1,"uom":"kg"}`, i, i)
		st, err := in.IngestBatch(ctx, []core.Input{{Source: "t", Line: 1, Raw: []byte(raw)}})
		if err != nil || st.New != 1 {
			t.Fatalf("batch %d: stats %+v, err %v; want one new event", i, st, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("after Close the WAL holds %d bytes: want it checkpointed into the file and removed", fi.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := os.WriteFile(copyPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cp, err := sqlite.Open(ctx, copyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	for i := range batches {
		id, err := cp.FindLot(ctx, core.LotRef{Item: "FLOUR", Lot: fmt.Sprintf("c-%d", i)})
		if err != nil {
			t.Fatalf("copy of the file alone: lot FLOUR/c-%d: %v", i, err)
		}
		ev, err := cp.LotEvents(ctx, id)
		if err != nil || len(ev) != 1 {
			t.Fatalf("copy of the file alone: lot FLOUR/c-%d: events %+v, err %v; want its receipt", i, ev, err)
		}
	}
}
