// Command bench reproduces the table of docs/benchmarks.md: it builds hub,
// generates the synthetic plant, and measures on a fresh SQLite file and a
// fresh PostgreSQL database, with the baseline of each figure measured in
// the same run (a raw bulk load of the same rows for ingest; a hand-written
// recursive CTE and an in-memory BFS for traces). It prints the table in
// markdown, and writes it to a file with -out.
//
//	go run ./scripts/bench                    # the 1M plant
//	go run ./scripts/bench -events 5000000    # the 5M plant of the full table
//
// It touches nothing but its own temporary directory and the PostgreSQL
// databases it creates (and drops) on a loopback server; every step has a
// time limit. It is a measuring tool, not a test: it asserts no time, it
// reports what it measured, and it fails only when something could not be
// measured or two answers that must agree do not.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type config struct {
	events   int
	seed     int
	runs     int
	requests int
	out      string
	work     string
	keep     bool
	pgURL    string
	stores   string
	plant    string
	timeout  time.Duration
	step     time.Duration
	// -serve-only: hub serve alone, on databases already loaded.
	serveOnly bool
	sqliteDB  string
	pgDB      string
	hubBin    string
}

func main() {
	if out := os.Getenv(measureEnv); out != "" {
		os.Exit(measureChild(out, os.Args[1:]))
	}
	var c config
	flag.IntVar(&c.events, "events", 1_000_000, "events in the generated plant (hub gen --events); 5000000 for the full table")
	flag.IntVar(&c.seed, "seed", 1, "hub gen --seed")
	flag.IntVar(&c.runs, "runs", 5, "timed runs of each CLI command and baseline query (after one untimed warm-up)")
	flag.IntVar(&c.requests, "requests", 200, "timed HTTP requests of the typical trace to hub serve")
	flag.StringVar(&c.out, "out", "", "also write the report (markdown) to this file")
	flag.StringVar(&c.work, "work", "", "directory for the build, the plant and the SQLite files; a directory given here is left in place (default: a new temporary directory, removed at the end)")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory and the PostgreSQL databases (to look at them after)")
	flag.StringVar(&c.pgURL, "pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server to create the bench databases on (loopback only), as a URL of its maintenance database")
	flag.StringVar(&c.stores, "stores", "sqlite,postgres", "stores to measure: sqlite, postgres or both")
	flag.StringVar(&c.plant, "plant", "", "use this plant file (JSON Lines made by hub gen with -events and -seed) instead of generating one")
	flag.DurationVar(&c.timeout, "timeout", 3*time.Hour, "time limit of the whole run")
	flag.DurationVar(&c.step, "step-timeout", 45*time.Minute, "time limit of one step (an ingest, a bulk load, one command)")
	flag.BoolVar(&c.serveOnly, "serve-only", false, "measure hub serve alone (the lots picked, the in-memory BFS, the typical trace and the widest recall over HTTP) on databases already loaded: -sqlite-db and/or -pg-db; it adds a user and a token to them, so give it copies")
	flag.StringVar(&c.sqliteDB, "sqlite-db", "", "with -serve-only: the SQLite file to serve")
	flag.StringVar(&c.pgDB, "pg-db", "", "with -serve-only: the PostgreSQL database (on the -pg server) to serve")
	flag.StringVar(&c.hubBin, "hub", "", "use this hub binary instead of building one from the repository (to measure another build, e.g. main's)")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := run(ctx, c); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w (the run's -timeout of %s passed)", err, c.timeout)
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	if c.events <= 0 || c.runs <= 0 || c.requests <= 0 {
		return fmt.Errorf("-events, -runs and -requests must be positive")
	}
	var b bench
	b.cfg = c
	if c.serveOnly {
		var stores []string
		if c.sqliteDB != "" {
			stores = append(stores, "sqlite")
		}
		if c.pgDB != "" {
			stores = append(stores, "postgres")
		}
		if len(stores) == 0 {
			return fmt.Errorf("-serve-only needs -sqlite-db, -pg-db or both")
		}
		c.stores = strings.Join(stores, ",")
	}
	for _, s := range strings.Split(c.stores, ",") {
		switch strings.TrimSpace(s) {
		case "sqlite":
			b.sqlite = true
		case "postgres":
			b.postgres = true
		default:
			return fmt.Errorf("-stores %q: want sqlite, postgres or both separated by a comma", c.stores)
		}
	}
	if b.postgres {
		if err := loopbackOnly(c.pgURL); err != nil {
			return err
		}
	}
	root, err := repoRoot(ctx)
	if err != nil {
		return err
	}
	b.root = root
	work := c.work
	if work == "" {
		if work, err = os.MkdirTemp("", "lothub-bench-"); err != nil {
			return fmt.Errorf("make a work directory: %w", err)
		}
		if !c.keep {
			defer os.RemoveAll(work)
		}
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return fmt.Errorf("make the work directory %s: %w", work, err)
	}
	b.work, _ = filepath.Abs(work)
	defer b.cleanup()

	measure, write := b.measure, b.report
	if c.serveOnly {
		measure, write = b.measureServeOnly, b.serveReport
	}
	if err := measure(ctx); err != nil {
		return err
	}
	report := write()
	fmt.Print(report)
	if c.out != "" {
		if err := os.WriteFile(c.out, []byte(report), 0o644); err != nil {
			return fmt.Errorf("write the report to %s: %w", c.out, err)
		}
	}
	return nil
}
