package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/report"
	"github.com/lothub/lothub/web"
)

// The page benchmarks run on a hub gen plant (docs/benchmarks.md, "Web
// application"): LOTHUB_BENCH_DB is its SQLite file, LOTHUB_BENCH_TYPICAL
// a typical lot and LOTHUB_BENCH_LOT the widest raw lot (ITEM/LOT). They
// time the server's work for one page, as hub serve does it: the
// genealogy in memory, the page rendered in full.
func benchUI(b *testing.B) http.Handler {
	db := os.Getenv("LOTHUB_BENCH_DB")
	if db == "" {
		b.Skip("LOTHUB_BENCH_DB not set: see docs/benchmarks.md, Web application")
	}
	st, err := sqlite.Open(b.Context(), db)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	graph := core.NewGraphCache(st)
	b.Cleanup(graph.Close)
	if err := graph.Load(b.Context()); err != nil {
		b.Fatal(err)
	}
	mon := &core.Monitor{Store: st, Rules: core.DefaultGapRules()}
	ui, err := web.New(web.Options{Auth: testAuth{}, Store: st, Config: config.Defaults(),
		Queries: func() *core.Queries { return &core.Queries{Store: st, Graph: graph} },
		Monitor: func() *core.Monitor { return mon },
		Report:  func() report.Options { return report.Options{} },
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	return ui
}

func benchPage(b *testing.B, page, env string) {
	ui := benchUI(b)
	item, lot, _ := strings.Cut(os.Getenv(env), "/")
	if lot == "" {
		b.Skipf("%s not set (ITEM/LOT)", env)
	}
	path := lotPath(page, item, lot)
	get := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(&http.Cookie{Name: userCookie, Value: "bench:viewer"})
		rec := httptest.NewRecorder()
		ui.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d\n%s", path, rec.Code, rec.Body.String())
		}
		return rec
	}
	rec := get() // the genealogy loaded, the first page's caches warm
	b.ReportMetric(float64(rec.Body.Len())/1024, "KB/page")
	if strings.Contains(rec.Body.String(), "Too many lots to draw") {
		b.Logf("%s: summarised", path)
	}
	for b.Loop() {
		get()
	}
}

func BenchmarkLotPageTypical(b *testing.B)   { benchPage(b, "/lot", "LOTHUB_BENCH_TYPICAL") }
func BenchmarkGraphPageTypical(b *testing.B) { benchPage(b, "/graph", "LOTHUB_BENCH_TYPICAL") }
func BenchmarkLotPageWidest(b *testing.B)    { benchPage(b, "/lot", "LOTHUB_BENCH_LOT") }
func BenchmarkGraphPageWidest(b *testing.B)  { benchPage(b, "/graph", "LOTHUB_BENCH_LOT") }
func BenchmarkRecallPageTypical(b *testing.B) {
	benchPage(b, "/recall", "LOTHUB_BENCH_TYPICAL")
}

// The baselines, measured in the same run: the queries a page makes,
// without the page (what the JSON API and the CLI pay too).
func benchQueries(b *testing.B, env string, graph bool) {
	db := os.Getenv("LOTHUB_BENCH_DB")
	if db == "" {
		b.Skip("LOTHUB_BENCH_DB not set: see docs/benchmarks.md, Web application")
	}
	item, lot, _ := strings.Cut(os.Getenv(env), "/")
	if lot == "" {
		b.Skipf("%s not set (ITEM/LOT)", env)
	}
	st, err := sqlite.Open(b.Context(), db)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	g := core.NewGraphCache(st)
	defer g.Close()
	if err := g.Load(b.Context()); err != nil {
		b.Fatal(err)
	}
	q := &core.Queries{Store: st, Graph: g}
	ref := core.LotRef{Item: item, Lot: lot}
	for b.Loop() {
		if graph {
			for _, dir := range []core.Direction{core.Backward, core.Forward} {
				if _, err := q.Trace(b.Context(), dir, core.Selector{Lot: &ref}); err != nil {
					b.Fatal(err)
				}
			}
			continue
		}
		if _, err := q.Lot(b.Context(), ref); err != nil {
			b.Fatal(err)
		}
		if _, err := q.Balance(b.Context(), ref, 0.01); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQueriesLotTypical(b *testing.B)   { benchQueries(b, "LOTHUB_BENCH_TYPICAL", false) }
func BenchmarkQueriesGraphTypical(b *testing.B) { benchQueries(b, "LOTHUB_BENCH_TYPICAL", true) }
func BenchmarkQueriesLotWidest(b *testing.B)    { benchQueries(b, "LOTHUB_BENCH_LOT", false) }
func BenchmarkQueriesGraphWidest(b *testing.B)  { benchQueries(b, "LOTHUB_BENCH_LOT", true) }
