// Command cachemem measures the memory `hub serve` holds for its caches
// (core.GraphCache): the Go heap live after loading the genealogy, then
// the lot data, each after a full collection, and how long each load
// took. It only reads the store.
//
//	go run ./scripts/cachemem -db /tmp/copy-of-1m.db
//	go run ./scripts/cachemem -db 'postgres://postgres@127.0.0.1:5432/NAME?sslmode=disable'
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/postgres"
	"github.com/lothub/lothub/core/store/sqlite"
)

func main() {
	db := flag.String("db", "", "the store: a SQLite file or a postgres:// URL")
	flag.Parse()
	if err := run(context.Background(), *db); err != nil {
		fmt.Fprintln(os.Stderr, "cachemem:", err)
		os.Exit(1)
	}
}

// live is the heap live after a full collection, and the bytes allocated
// so far.
func live() (uint64, uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.TotalAlloc
}

func run(ctx context.Context, dsn string) error {
	var s core.Store
	var err error
	switch {
	case dsn == "":
		return fmt.Errorf("-db is required")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s, err = postgres.Open(ctx, dsn)
	default:
		s, err = sqlite.Open(ctx, dsn)
	}
	if err != nil {
		return err
	}
	defer s.Close()
	base, alloc0 := live()
	t0 := time.Now()
	g, err := core.LoadGraph(ctx, s)
	if err != nil {
		return err
	}
	tg := time.Since(t0)
	withGraph, alloc1 := live()
	t0 = time.Now()
	d, err := core.LoadLotData(ctx, s)
	if err != nil {
		return err
	}
	td := time.Since(t0)
	withData, alloc2 := live()
	m, err := s.EvaluationMark(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("genealogy: %.1f MB live heap, %.1f MB allocated by the load, loaded in %s\n",
		float64(withGraph-base)/1e6, float64(alloc1-alloc0)/1e6, tg.Round(time.Millisecond))
	fmt.Printf("lot data:  %.1f MB live heap (its own estimate %.1f MB), %.1f MB allocated by the load, loaded in %s; data version %d\n",
		float64(withData-withGraph)/1e6, float64(d.Bytes())/1e6, float64(alloc2-alloc1)/1e6, td.Round(time.Millisecond), m.Version)
	runtime.KeepAlive(g)
	runtime.KeepAlive(d)
	return nil
}
