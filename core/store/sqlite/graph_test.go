package sqlite

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/internal/testlog"
)

// A genealogy (and lot data) that cannot be loaded into memory (a lot id
// beyond the range the arrays index, or ids too sparse to index directly)
// leaves traces answered by the store, and the load is not retried by
// every trace.
func TestGraphCacheLoadFailure(t *testing.T) {
	for _, c := range []struct {
		id  int64
		why string
	}{
		{3_000_000_000, "lot id 3000000000 out of the range"},
		{50_000_000, "lot ids up to 50000000 for 2 links are too sparse"},
	} {
		t.Run(c.why, func(t *testing.T) { graphLoadFailure(t, c.id, c.why) })
	}
}

func graphLoadFailure(t *testing.T, id int64, why string) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := core.Ingester{Store: s}
	events := strings.Join([]string{
		`{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG","supplier":{"id":"V"}}`,
		`{"id":"c1","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":40,"uom":"KG","order":"WO-1"}`,
		`{"id":"p1","type":"produce","time":"2026-03-02T09:00:00Z","lot":{"item":"DOUGH","lot":"D-1"},"qty":40,"uom":"KG","order":"WO-1"}`,
	}, "\n")
	if _, err := in.IngestJSONL(ctx, strings.NewReader(events), "t.jsonl"); err != nil {
		t.Fatal(err)
	}
	// Renumber the dough lot everywhere it is referenced.
	for _, q := range []string{
		`UPDATE lots SET id = ? WHERE lot = 'D-1'`,
		`UPDATE links SET lot_id = ? WHERE event_id = 'p1'`,
		`UPDATE lot_qty SET lot_id = ? WHERE lot_id NOT IN (SELECT lot_id FROM receipts)`,
		`UPDATE events SET lot_id = ? WHERE id = 'p1'`,
	} {
		if _, err := s.db.ExecContext(ctx, q, id); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	logs := &testlog.Buffer{}
	c := core.NewGraphCache(s)
	c.Log = slog.New(slog.NewTextHandler(logs, nil))
	q := &core.Queries{Store: s, Graph: c}
	trace := func() {
		t.Helper()
		r, err := q.Trace(ctx, core.Forward, core.Selector{Lot: &core.LotRef{Item: "FLOUR", Lot: "F-A"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Lots) != 1 || r.Lots[0].Lot != "D-1" {
			t.Fatalf("trace: lots %+v, want DOUGH/D-1", r.Lots)
		}
	}
	trace() // finds the cache empty: starts the loads of both parts
	// Both parts load in the background; wait until each has failed (the
	// genealogy's and the lot data's are logged in either order).
	failed := func() bool {
		l := logs.String()
		return strings.Contains(l, `load failed; traces read the store" part=genealogy`) &&
			strings.Contains(l, `load failed; traces read the store" part="lot data"`)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !failed() {
		if time.Now().After(deadline) {
			t.Fatalf("the failed loads of both parts were not logged:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for range 4 {
		trace()
	}
	c.Close()
	if c.Walks() != 0 || c.Reads() != 0 {
		t.Errorf("walks from memory: %d, lot data read from memory: %d, want 0", c.Walks(), c.Reads())
	}
	// The genealogy and the lot data (whose lot ids are the same) each
	// failed once.
	for _, part := range []string{"part=genealogy", `part="lot data"`} {
		if n := strings.Count(logs.String(), "load failed; traces read the store\" "+part); n != 1 {
			t.Errorf("%d failed loads of %s logged after five traces, want 1 (the next no sooner than a minute):\n%s", n, part, logs.String())
		}
	}
	if !strings.Contains(logs.String(), why) {
		t.Errorf("the log does not say why the load failed:\n%s", logs.String())
	}
}
