package intake_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/intake"
	"github.com/lothub/lothub/mapping"
)

// BenchmarkPipeline measures archive → map → ingest of MES scan records
// into SQLite, in batches of 1,000: the hub's side of a sync, without the
// plugin.
func BenchmarkPipeline(b *testing.B) {
	ctx := context.Background()
	m, err := mapping.Load("../examples/connector-example/mapping.yaml")
	if err != nil {
		b.Fatal(err)
	}
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "hub.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p := &intake.Pipeline{Ingester: &core.Ingester{Store: s}, Mapping: m, Source: "mes"}
	n := 0
	batch := make([]intake.Input, 0, 1000)
	for b.Loop() {
		batch = batch[:0]
		for range 1000 {
			o := n / 2
			dir, item, lot := "IN", "RAW", fmt.Sprintf("R-%d", o%97)
			if n%2 == 1 {
				dir, item, lot = "OUT", "FG", fmt.Sprintf("FG-%d", o)
			}
			fields := map[string]any{"scan_id": fmt.Sprintf("S%d", n), "time": "2026-03-01T08:00:00Z", "order": fmt.Sprintf("WO-%d", o),
				"direction": dir, "item": item, "lot": lot, "qty": 5.0, "uom": "KG"}
			batch = append(batch, intake.Input{Record: mapping.Record{Kind: "scan", ID: fmt.Sprintf("scan/%d", n), Fields: fields}})
			n++
		}
		if _, err := p.Ingest(ctx, batch, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
