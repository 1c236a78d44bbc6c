package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	storeSQLite   = "sqlite"
	storePostgres = "postgres"
)

// a command of the trace table, run through the CLI.
type cliCmd struct {
	key  string // recall-widest, summary-widest, recall-typical, forward-typical, backward-typical
	args []string
}

// cliResult is the timed runs of one CLI command on one store.
type cliResult struct {
	walls  series
	maxRSS int64 // KB, the largest of the runs
	cpu    series
	answer answer
	bytes  int64 // size of the --json output
}

// answer is what a trace or recall answered, counted.
type answer struct {
	Lots, Links, Shipments, Suppliers int
}

// queryResult is the timed runs of one baseline query.
type queryResult struct {
	walls series
	rows  int
}

type serveResult struct {
	typical  series        // the typical forward trace, one request each
	widest   series        // the widest recall
	graph    string        // the genealogy load line of the log
	peakRSS  int64         // KB, VmHWM of the server
	cpu      time.Duration // the server's user + system time over the typical requests
	loads    []string      // the cache's load lines of the log
	lots     int
	shipment int
}

type bench struct {
	cfg              config
	root, work       string
	sqlite, postgres bool

	hub, plant          string
	commit, date, mach  string
	loadBefore, loadMid string
	loadAfter           string
	events              int64 // lines of the plant

	pgDBs []string // created; dropped by cleanup

	ingest map[string]usage
	gaps   map[string]usage
	bulk   map[string]bulkResult

	widest, typical, finished pick
	raws                      int // raw lots with a reach
	graphLinks                int

	cli   map[string]map[string]*cliResult
	cte   map[string]map[string]*queryResult
	bfs   map[string]*queryResult
	serve map[string]*serveResult
	notes []string
}

// pick is a lot chosen for the trace table and how far its trace reaches.
type pick struct {
	item, lot string
	reach     int // lots reached, the lot itself not counted
}

func (p pick) String() string { return p.item + "/" + p.lot }

func (b *bench) dsn(store string) string {
	switch {
	case store == storeSQLite && b.cfg.sqliteDB != "":
		return b.cfg.sqliteDB
	case store == storePostgres && b.cfg.pgDB != "":
		return dbURL(b.cfg.pgURL, b.cfg.pgDB)
	}
	if store == storeSQLite {
		return filepath.Join(b.work, "bench.db")
	}
	return dbURL(b.cfg.pgURL, b.pgName("ingest"))
}

func (b *bench) pgName(what string) string {
	return fmt.Sprintf("lothub_bench_%d_%s", os.Getpid(), what)
}

func (b *bench) stores() []string {
	var s []string
	if b.sqlite {
		s = append(s, storeSQLite)
	}
	if b.postgres {
		s = append(s, storePostgres)
	}
	return s
}

func (b *bench) notef(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	slog.Warn(n)
	b.notes = append(b.notes, n)
}

// hubRun runs hub with the given arguments on a store.
// (stdout nil: discarded; a nil *os.File must not become a non-nil
// io.Writer).
func (b *bench) hubRun(ctx context.Context, store string, stdout *os.File, args ...string) (usage, error) {
	full := append([]string{"--db", b.dsn(store)}, args...)
	if stdout == nil {
		return runProc(ctx, b.cfg.step, nil, b.work, b.hub, full...)
	}
	return runProc(ctx, b.cfg.step, stdout, b.work, b.hub, full...)
}

func (b *bench) measure(ctx context.Context) error {
	c := b.cfg
	b.date = time.Now().UTC().Format("2006-01-02 15:04 MST")
	b.mach = machine()
	commit, err := output(ctx, b.root, "git", "rev-parse", "--short=12", "HEAD")
	if err != nil {
		return fmt.Errorf("read the commit: %w", err)
	}
	if st, err := output(ctx, b.root, "git", "status", "--porcelain", "--untracked-files=no"); err == nil && st != "" {
		commit += " (with uncommitted changes)"
	}
	b.commit = commit

	if err := b.buildHub(ctx); err != nil {
		return err
	}
	b.plant = c.plant
	if b.plant == "" {
		b.plant = filepath.Join(b.work, "plant.jsonl")
		slog.Info("generating the plant", "events", c.events, "seed", c.seed)
		if _, err := runProc(ctx, b.cfg.step, nil, b.work, b.hub, "gen", "--events", fmt.Sprint(c.events), "--seed", fmt.Sprint(c.seed), "--out", b.plant); err != nil {
			return fmt.Errorf("generate the plant: %w", err)
		}
	} else if b.plant, err = filepath.Abs(b.plant); err != nil {
		return err
	}
	if b.events, err = countLines(b.plant); err != nil {
		return err
	}
	b.loadBefore = loadAvg()

	// The baselines' rows, read and decoded before anything is timed.
	slog.Info("reading the plant for the bulk-load baselines", "file", b.plant)
	rows, err := readPlant(b.plant)
	if err != nil {
		return err
	}
	b.ingest, b.gaps, b.bulk = map[string]usage{}, map[string]usage{}, map[string]bulkResult{}
	for _, store := range b.stores() {
		if err := b.measureIngest(ctx, store, rows); err != nil {
			return err
		}
	}
	rows = nil
	b.loadMid = loadAvg()

	if err := b.pickLots(ctx); err != nil {
		return err
	}
	b.cli, b.cte, b.serve = map[string]map[string]*cliResult{}, map[string]map[string]*queryResult{}, map[string]*serveResult{}
	for _, store := range b.stores() {
		if err := b.measureCLI(ctx, store); err != nil {
			return err
		}
		if err := b.measureCTE(ctx, store); err != nil {
			return err
		}
		if err := b.measureServe(ctx, store); err != nil {
			return err
		}
	}
	b.check()
	b.loadAfter = loadAvg()
	return nil
}

// buildHub builds hub from the repository, or takes the -hub binary.
func (b *bench) buildHub(ctx context.Context) error {
	if b.cfg.hubBin != "" {
		var err error
		b.hub, err = filepath.Abs(b.cfg.hubBin)
		return err
	}
	slog.Info("building hub", "dir", b.root)
	b.hub = filepath.Join(b.work, "hub")
	if _, err := runProc(ctx, 15*time.Minute, nil, b.root, "go", "build", "-o", b.hub, "./cmd/hub"); err != nil {
		return fmt.Errorf("build hub: %w", err)
	}
	return nil
}

func (b *bench) measureIngest(ctx context.Context, store string, rows *plantRows) error {
	if store == storePostgres {
		if err := b.createDB(ctx, b.pgName("ingest")); err != nil {
			return err
		}
	} else {
		removeSQLite(b.dsn(store)) // a new file, also in a reused -work directory
	}
	slog.Info("ingest", "store", store, "events", b.events, "load", loadAvg())
	u, err := b.hubRun(ctx, store, nil, "ingest", "--evaluate=false", "--events", b.plant)
	if err != nil {
		return fmt.Errorf("ingest into %s: %w", store, err)
	}
	b.ingest[store] = u
	slog.Info("ingested", "store", store, "wall", u.wall, "events/s", rate(b.events, u.wall))
	// The gap rules once, so that hub serve below does not run them at
	// its start while it is being timed.
	if b.gaps[store], err = b.hubRun(ctx, store, nil, "gaps", "--evaluate", "--json"); err != nil {
		return fmt.Errorf("evaluate the gap rules on %s: %w", store, err)
	}
	slog.Info("bulk-load baseline", "store", store, "rows", len(rows.rows), "load", loadAvg())
	var r bulkResult
	if store == storeSQLite {
		r, err = b.bulkSQLite(ctx, rows)
	} else {
		r, err = b.bulkPostgres(ctx, rows)
	}
	if err != nil {
		return fmt.Errorf("bulk-load baseline on %s: %w", store, err)
	}
	b.bulk[store] = r
	slog.Info("bulk-loaded", "store", store, "wall", r.wall, "rows/s", rate(int64(r.rows), r.wall))
	return nil
}

func (b *bench) commands() []cliCmd {
	w, t, f := b.widest, b.typical, b.finished
	return []cliCmd{
		{"recall-widest", []string{"recall", w.item, w.lot, "--json"}},
		{"summary-widest", []string{"recall", w.item, w.lot, "--summary", "--json"}},
		{"recall-typical", []string{"recall", t.item, t.lot, "--json"}},
		{"forward-typical", []string{"trace", "forward", t.item, t.lot, "--json"}},
		{"backward-typical", []string{"trace", "backward", f.item, f.lot, "--json"}},
	}
}

// measureCLI runs each command once untimed (warming the caches; its
// answer is kept to check against the baselines), then -runs times.
func (b *bench) measureCLI(ctx context.Context, store string) error {
	b.cli[store] = map[string]*cliResult{}
	for _, cmd := range b.commands() {
		slog.Info("CLI", "store", store, "cmd", strings.Join(cmd.args, " "), "load", loadAvg())
		out := filepath.Join(b.work, "answer.json")
		f, err := os.Create(out)
		if err != nil {
			return fmt.Errorf("create %s: %w", out, err)
		}
		_, err = b.hubRun(ctx, store, f, cmd.args...)
		f.Close()
		if err != nil {
			return err
		}
		r := &cliResult{}
		if r.answer, r.bytes, err = readAnswer(out, cmd.key == "summary-widest"); err != nil {
			return fmt.Errorf("hub %s on %s: %w", strings.Join(cmd.args, " "), store, err)
		}
		os.Remove(out)
		for range b.cfg.runs {
			u, err := b.hubRun(ctx, store, nil, cmd.args...)
			if err != nil {
				return err
			}
			r.walls = append(r.walls, u.wall)
			r.cpu = append(r.cpu, u.cpu())
			r.maxRSS = max(r.maxRSS, u.maxRSSKB)
		}
		b.cli[store][cmd.key] = r
	}
	return nil
}

// readAnswer counts a --json answer: a trace or recall's arrays, or a
// summary's counts.
func readAnswer(path string, summary bool) (answer, int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return answer{}, 0, fmt.Errorf("read the answer: %w", err)
	}
	if summary {
		var s struct{ Lots, Links, Shipments, Suppliers int }
		if err := json.Unmarshal(data, &s); err != nil {
			return answer{}, 0, fmt.Errorf("decode the summary: %w", err)
		}
		return answer(s), int64(len(data)), nil
	}
	var t struct {
		Lots      []json.RawMessage `json:"lots"`
		Links     []json.RawMessage `json:"links"`
		Shipments []json.RawMessage `json:"shipments"`
		Suppliers []json.RawMessage `json:"suppliers"`
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return answer{}, 0, fmt.Errorf("decode the answer: %w", err)
	}
	return answer{len(t.Lots), len(t.Links), len(t.Shipments), len(t.Suppliers)}, int64(len(data)), nil
}

func countLines(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open the plant: %w", err)
	}
	defer f.Close()
	var n int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read the plant %s: %w", path, err)
	}
	return n, nil
}
