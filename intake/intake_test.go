package intake_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/intake"
	"github.com/lothub/lothub/mapping"
)

const docs = `mapping: docs
version: "1"
kinds: [line, deleted]
rules:
  - name: deleted document
    when: kind == 'deleted'
    skip: true
  - name: receipt line
    emit:
      - id: id('doc', record_id)
        type: receive
        time: "'2026-03-01T08:00:00Z'"
        lot: {item: item, lot: lot}
        qty: 1
        uom: "'EA'"
        supplier: {id: "'V1'"}
`

// A record that deletes a document reverses the events its lines made,
// and only those; reading it again changes nothing.
func TestDeletesReverseTheDeletedDocumentsEvents(t *testing.T) {
	ctx := context.Background()
	m, err := mapping.Compile("docs.yaml", []byte(docs))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Every batch a second and a half after the last: the deletion read
	// again comes at another second than the first time.
	clock := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	tick := func() time.Time { clock = clock.Add(1500 * time.Millisecond); return clock }
	p := &intake.Pipeline{Ingester: &core.Ingester{Store: s, Now: tick}, Mapping: m, Source: "erp"}
	line := func(id, lot string) intake.Input {
		return intake.Input{Record: mapping.Record{Kind: "line", ID: id, Fields: map[string]any{"item": "FLOUR", "lot": lot}}}
	}
	if _, err := p.Ingest(ctx, []intake.Input{line("R:1:1", "A"), line("R:1:2", "B"), line("R:10:1", "C")}, nil); err != nil {
		t.Fatal(err)
	}
	del := intake.Input{Record: mapping.Record{Kind: "deleted", ID: "deleted:R:1", Fields: map[string]any{}}, Deletes: []string{"R:1:"}}
	st, err := p.Ingest(ctx, []intake.Input{del}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Reversed != 2 || st.Quarantined != 0 {
		t.Errorf("deleting record: %+v, want 2 reversed and nothing quarantined", st)
	}
	q := &core.Queries{Store: s}
	for lot, want := range map[string]string{"A": "reversed", "B": "reversed", "C": "active"} {
		l, err := q.Lot(ctx, core.LotRef{Item: "FLOUR", Lot: lot})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(l.Events[0].Status); got != want {
			t.Errorf("receipt of FLOUR/%s is %s, want %s", lot, got, want)
		}
		if lot != "C" && (len(l.Events) != 2 || !strings.HasPrefix(l.Events[1].ID, "deleted:R:1/")) {
			t.Errorf("history of FLOUR/%s = %+v, want the receipt and its reversal by the deletion", lot, l.Events)
		}
	}
	st, err = p.Ingest(ctx, []intake.Input{del}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.New != 0 || st.Superseded != 0 {
		t.Errorf("the deletion read again wrote %d new and %d superseded events, want none", st.New, st.Superseded)
	}
}
