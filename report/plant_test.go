package report_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	demoplant "github.com/lothub/lothub/examples/demo-plant"
	"github.com/lothub/lothub/intake"
	"github.com/lothub/lothub/mapping"
	"github.com/lothub/lothub/report"
)

// clock is the fixed time the test plant is ingested and reported at.
var clock = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

// opts are the report options of the tests: a fixed clock and version,
// so that files can be compared with golden copies.
var opts = report.Options{Now: func() time.Time { return clock }, Version: "test"}

// plant is the demo plant ingested into a real SQLite store the way hub
// demo ingests it (the filedrop connector's default mapping), plus a few
// events that give the reports something to show: a lot and names in
// scripts the core PDF fonts cannot print, and an input lot that was never
// received (an unknown_lot gap) in the order of the complaint lot's dough.
type plant struct {
	*demoplant.Plant
	q       *core.Queries
	unicode core.LotRef // a raw lot with a Unicode name
	gapLot  core.LotRef // the lot whose input is unknown
}

func openPlant(t testing.TB) *plant {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m, err := mapping.Load(filepath.Join("..", "connectors", "filedrop", "mapping.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := demoplant.Generate(demoplant.Config{})
	ing := &core.Ingester{Store: st, Now: func() time.Time { return clock }}
	pipe := &intake.Pipeline{Ingester: ing, Mapping: m, Source: "filedrop"}
	for _, name := range p.Names() {
		var batch []intake.Input
		kind := strings.TrimSuffix(name, ".csv")
		err := mapping.ReadRecords(ctx, bytes.NewReader(p.Files[name]), name, kind, func(r mapping.Record, line int) error {
			batch = append(batch, intake.Input{Record: r, Line: line})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pipe.Ingest(ctx, batch, nil); err != nil {
			t.Fatalf("ingest %s: %v", name, err)
		}
	}
	pl := &plant{Plant: p, q: &core.Queries{Store: st}}
	// The order that made the complaint lot's dough: find it backward.
	back, err := pl.q.Trace(ctx, core.Backward, core.Selector{Lot: &core.LotRef{Item: p.ComplaintLot.Item, Lot: p.ComplaintLot.Lot}})
	if err != nil {
		t.Fatal(err)
	}
	var doughOrder string
	var dough core.LotRef
	for _, l := range back.Links {
		if l.Parent == (core.LotRef{Item: p.Contaminated.Item, Lot: p.Contaminated.Lot}) {
			doughOrder, dough = l.Order, l.Child
		}
	}
	if doughOrder == "" {
		for _, l := range back.Links {
			if strings.HasPrefix(l.Parent.Item, "FLOUR") {
				doughOrder, dough = l.Order, l.Child
			}
		}
	}
	if doughOrder == "" {
		t.Fatalf("no flour went into %v: %+v", p.ComplaintLot, back.Links)
	}
	pl.unicode = core.LotRef{Item: "SESAME", Lot: "Müller-Öl-ß-é-7"}
	pl.gapLot = dough
	extra := `{"id":"t:r-unicode","type":"receive","time":"2026-03-01T07:00:00Z","lot":{"item":"SESAME","lot":"Müller-Öl-ß-é-7"},"qty":20,"uom":"KG","supplier":{"id":"V-GROSS","name":"Großmühle Zürich"},"supplier_lot":"GM-Ü-19","po":"PO-ß1","location":"DRY-3","params":{"product_description":"Sesamsaat geschält"}}
{"id":"t:c-unicode","type":"consume","time":"2026-03-01T07:00:00Z","lot":{"item":"SESAME","lot":"Müller-Öl-ß-é-7"},"qty":2,"uom":"KG","order":"` + doughOrder + `"}
{"id":"t:c-unknown","type":"consume","time":"2026-03-01T07:00:00Z","lot":{"item":"SALT","lot":"SA-NEVER-RECEIVED"},"qty":1,"uom":"KG","order":"` + doughOrder + `"}
{"id":"t:s-unicode","type":"ship","time":"2026-03-20T07:00:00Z","lot":{"item":"` + p.ComplaintLot.Item + `","lot":"` + p.ComplaintLot.Lot + `"},"qty":1,"uom":"EA","customer":{"id":"C-CAFE","name":"Café Zürich Süß"},"sales_order":"SO-É1","ship_to":"Bahnhofstraße 1, Zürich"}
`
	if _, err := ing.IngestJSONL(ctx, strings.NewReader(extra), "extra.jsonl"); err != nil {
		t.Fatal(err)
	}
	mon := &core.Monitor{Store: st, Rules: core.DefaultGapRules(), Now: func() time.Time { return clock }}
	if _, err := mon.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	return pl
}

func (p *plant) contaminated() core.LotRef {
	return core.LotRef{Item: p.Contaminated.Item, Lot: p.Contaminated.Lot}
}

func (p *plant) complaint() core.LotRef {
	return core.LotRef{Item: p.ComplaintLot.Item, Lot: p.ComplaintLot.Lot}
}
