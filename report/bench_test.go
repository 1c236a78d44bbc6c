package report_test

import (
	"io"
	"os"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/report"
)

// The report benchmarks run on a hub gen plant (docs/benchmarks.md,
// "Reports"): LOTHUB_BENCH_DB is its SQLite file, LOTHUB_BENCH_ITEM the
// item of the FSMA 204 export (a year from the plant's start) and
// LOTHUB_BENCH_LOT the widest raw lot (ITEM/LOT) for the recall list.
func benchStore(b *testing.B) *core.Queries {
	db := os.Getenv("LOTHUB_BENCH_DB")
	if db == "" {
		b.Skip("LOTHUB_BENCH_DB not set: see docs/benchmarks.md, Reports")
	}
	st, err := sqlite.Open(b.Context(), db)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return &core.Queries{Store: st}
}

func BenchmarkFSMA204Year(b *testing.B) {
	q := benchStore(b)
	from := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	p := report.FSMAParams{Item: os.Getenv("LOTHUB_BENCH_ITEM"), From: from, To: from.AddDate(1, 0, 0)}
	for b.Loop() {
		rep, err := report.FSMA204(b.Context(), q, p, opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := report.WriteFSMAXLSX(io.Discard, rep); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(rep.FSMA.Rows)), "rows")
	}
}

func BenchmarkRecallListWidest(b *testing.B) {
	q := benchStore(b)
	item, lot, _ := cut(os.Getenv("LOTHUB_BENCH_LOT"))
	ref := core.LotRef{Item: item, Lot: lot}
	for b.Loop() {
		rep, err := report.Recall(b.Context(), q, core.Selector{Lot: &ref}, opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := report.WriteRecallXLSX(io.Discard, rep); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(rep.Recall.Deliveries)), "deliveries")
	}
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
