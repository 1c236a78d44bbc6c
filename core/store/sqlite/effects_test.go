package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
)

// Links, receipts and shipments have no index by event id (migration 21):
// a superseded or reversed event's rows are deleted through the lots its
// versions name (removeEffects). Every kind of row goes, on every lot,
// also when the new version names other lots, and nothing else goes.
func TestRemoveEffectsByLot(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := core.Ingester{Store: s}
	ingest := func(lines ...string) {
		t.Helper()
		if _, err := in.IngestJSONL(ctx, strings.NewReader(strings.Join(lines, "\n")), "t.jsonl"); err != nil {
			t.Fatal(err)
		}
	}
	ingest(
		`{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG","supplier":{"id":"V","name":"V Co"}}`,
		`{"id":"r2","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-B"},"qty":100,"uom":"KG","supplier":{"id":"V","name":"V Co"}}`,
		`{"id":"c1","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":10,"uom":"KG","order":"WO-1"}`,
		`{"id":"c2","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"FLOUR","lot":"F-B"},"qty":10,"uom":"KG","order":"WO-1"}`,
		`{"id":"p1","type":"produce","time":"2026-03-02T09:00:00Z","lot":{"item":"DOUGH","lot":"D-1"},"qty":20,"uom":"KG","order":"WO-1"}`,
		`{"id":"t1","type":"transform","time":"2026-03-03T08:00:00Z","inputs":[{"item":"DOUGH","lot":"D-1","qty":20,"uom":"KG"}],"outputs":[{"item":"BREAD","lot":"B-1","qty":40,"uom":"EA"}]}`,
		`{"id":"s1","type":"ship","time":"2026-03-04T08:00:00Z","lot":{"item":"BREAD","lot":"B-1"},"qty":10,"uom":"EA","customer":{"id":"C","name":"C Co"}}`,
		`{"id":"s2","type":"ship","time":"2026-03-04T09:00:00Z","lot":{"item":"BREAD","lot":"B-1"},"qty":5,"uom":"EA","customer":{"id":"C","name":"C Co"}}`,
	)
	// A new version of c1 on another lot, of t1 with other lots, of s1
	// with another quantity; r2 and s2 reversed.
	ingest(
		`{"id":"c1","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"FLOUR","lot":"F-B"},"qty":10,"uom":"KG","order":"WO-1"}`,
		`{"id":"t1","type":"transform","time":"2026-03-03T08:00:00Z","inputs":[{"item":"DOUGH","lot":"D-1","qty":20,"uom":"KG"}],"outputs":[{"item":"BREAD","lot":"B-2","qty":40,"uom":"EA"}]}`,
		`{"id":"s1","type":"ship","time":"2026-03-04T08:00:00Z","lot":{"item":"BREAD","lot":"B-1"},"qty":8,"uom":"EA","customer":{"id":"C","name":"C Co"}}`,
		`{"id":"x1","type":"reverse","time":"2026-03-05T08:00:00Z","reverses":"r2"}`,
		`{"id":"x2","type":"reverse","time":"2026-03-05T08:00:00Z","reverses":"s2"}`,
	)
	rows := func(q string) []string {
		t.Helper()
		r, err := s.db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := collect(r, q, func(v *string) []any { return []any{v} })
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{`SELECT k.event_id || ' ' || l.item || '/' || l.lot || ' ' || k.grp || ' ' || k.out FROM links k JOIN lots l ON l.id = k.lot_id`,
			[]string{"c1 FLOUR/F-B o:WO-1 0", "c2 FLOUR/F-B o:WO-1 0", "p1 DOUGH/D-1 o:WO-1 1", "t1 BREAD/B-2 t:t1 1", "t1 DOUGH/D-1 t:t1 0"}},
		{`SELECT r.event_id || ' ' || l.lot FROM receipts r JOIN lots l ON l.id = r.lot_id`, []string{"r1 F-A"}},
		{`SELECT s.event_id || ' ' || l.lot || ' ' || s.qty FROM shipments s JOIN lots l ON l.id = s.lot_id`, []string{"s1 B-1 8.0"}},
	} {
		if got := rows(c.query); !slices.Equal(got, c.want) {
			t.Errorf("%s:\ngot  %q\nwant %q", c.query, got, c.want)
		}
	}
}

// The deletions seek by primary key, and the confirmed links are found
// through their partial index, not by a scan of every link.
func TestEffectsPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct{ query, want string }{
		{`DELETE FROM links WHERE lot_id = 1 AND event_id = 'e'`, "USING PRIMARY KEY (lot_id=?)"},
		{`DELETE FROM receipts WHERE lot_id = 1 AND event_id = 'e'`, "USING PRIMARY KEY (lot_id=? AND event_id=?)"},
		{`DELETE FROM shipments WHERE lot_id = 1 AND event_id = 'e'`, "USING PRIMARY KEY (lot_id=? AND event_id=?)"},
		{`SELECT event_id, lot_id, grp, out FROM links WHERE event_id >= 'confirm:' AND event_id < 'confirm;'`, "USING COVERING INDEX links_confirmed"},
	} {
		r, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+c.query)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := collect(r, "plan", func(d *string) []any { var id, parent, unused int; return []any{&id, &parent, &unused, d} })
		if err != nil {
			t.Fatal(err)
		}
		if p := strings.Join(plan, "\n"); !strings.Contains(p, c.want) {
			t.Errorf("%s: plan\n%s\nwant %s", c.query, p, c.want)
		}
	}
}
