package sqlite_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/plantgen"
)

// A trace or recall read with its shipments on a second connection
// (core.Queries.SerialPair, the command line on SQLite) gives the answer
// of the one-connection and the parallel reads, on a trace wide enough
// to take that path.
func TestSerialPairSameAnswer(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	var plant bytes.Buffer
	if err := plantgen.Generate(ctx, &plant, plantgen.Config{Events: 20000, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := (&core.Ingester{Store: db}).IngestJSONL(ctx, &plant, "plant.jsonl"); err != nil {
		t.Fatal(err)
	}
	// A lot whose forward trace reaches 200 lots or more (core's pairAt)
	// and fewer than 4096 (prefetchAt: reads in parts instead).
	ids := make([]int64, 500)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	lots, err := db.Lots(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	var start *core.LotRef
	for _, l := range lots {
		reach, err := (&core.Queries{Store: db}).Reach(ctx, core.Forward, l.Ref)
		if err != nil {
			t.Fatal(err)
		}
		if len(reach) >= 200 && len(reach) < 4096 {
			start = &l.Ref
			break
		}
	}
	if start == nil {
		t.Fatal("no lot of the plant reaches 200 to 4095 lots")
	}
	sel := core.Selector{Lot: start}
	answer := func(q *core.Queries, recall bool) string {
		t.Helper()
		var r *core.TraceResult
		var err error
		if recall {
			r, err = q.Recall(ctx, sel)
		} else {
			r, err = q.Trace(ctx, core.Forward, sel)
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.AppendCompactJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, recall := range []bool{false, true} {
		want := answer(&core.Queries{Store: db, Serial: true}, recall)
		for name, q := range map[string]*core.Queries{
			"serial pair": {Store: db, Serial: true, SerialPair: true},
			"parallel":    {Store: db},
		} {
			if got := answer(q, recall); got != want {
				t.Errorf("recall %v from %s, %s: the answer differs from one connection's", recall, start, name)
			}
		}
	}
}
