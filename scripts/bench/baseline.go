package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"
)

// plantRows are the rows of the events table that the plant's events make,
// prepared in memory before a bulk load is timed: one row per event id
// (the plant's duplicate lines are identical, and ingest stores them
// once), the columns the store fills (body: the event's JSON line; hash:
// the first 16 bytes of its SHA-256, as the store's; lot_id: one id per
// (item, lot), numbered here).
type plantRows struct {
	rows []eventRow
}

type eventRow struct {
	id, hash, typ string
	ts, lotID     int64 // lotID 0: no lot (a transform)
	reverses      string
	seenAt        int64
	body          string
}

func readPlant(path string) (*plantRows, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open the plant: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	seen := map[string]bool{}
	lots := map[[2]string]int64{}
	now := time.Now().UnixMicro()
	p := &plantRows{}
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Bytes()
		if len(raw) == 0 {
			continue
		}
		var e struct {
			ID       string `json:"id"`
			Type     string `json:"type"`
			Time     string `json:"time"`
			Reverses string `json:"reverses"`
			Lot      *struct {
				Item string `json:"item"`
				Lot  string `json:"lot"`
			} `json:"lot"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		ts, err := time.Parse(time.RFC3339Nano, e.Time)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: time: %w", path, line, err)
		}
		r := eventRow{id: e.ID, typ: e.Type, ts: ts.UnixMicro(), reverses: e.Reverses, seenAt: now, body: string(raw)}
		sum := sha256.Sum256(raw)
		r.hash = hex.EncodeToString(sum[:16])
		if e.Lot != nil {
			k := [2]string{e.Lot.Item, e.Lot.Lot}
			if lots[k] == 0 {
				lots[k] = int64(len(lots) + 1)
			}
			r.lotID = lots[k]
		}
		p.rows = append(p.rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the plant %s: %w", path, err)
	}
	return p, nil
}

// bulkResult is one bulk load: the rows written, its wall time.
type bulkResult struct {
	rows int
	wall time.Duration
}

func nullable(lotID int64, reverses string) (any, any) {
	var l, r any
	if lotID != 0 {
		l = lotID
	}
	if reverses != "" {
		r = reverses
	}
	return l, r
}

// bulkSQLite is the SQLite baseline: every row INSERTed into the events
// table of a freshly migrated store (its indexes included), in one
// transaction through modernc.org/sqlite, with the store's durability
// settings (WAL, synchronous NORMAL). Timed from BEGIN to COMMIT.
func (b *bench) bulkSQLite(ctx context.Context, p *plantRows) (bulkResult, error) {
	path := filepath.Join(b.work, "baseline.db")
	defer removeSQLite(path)
	if _, err := runProc(ctx, b.cfg.step, nil, b.work, b.hub, "--db", path, "migrate"); err != nil {
		return bulkResult{}, fmt.Errorf("create the baseline's schema: %w", err)
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(30000)", "cache_size(-65536)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return bulkResult{}, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(ctx, b.cfg.step)
	defer cancel()
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return bulkResult{}, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO events (id, version, hash, type, ts, lot_id, reverses, status, seen_at, body) VALUES (?, 1, ?, ?, ?, ?, ?, 'active', ?, ?)`)
	if err != nil {
		return bulkResult{}, fmt.Errorf("prepare the insert: %w", err)
	}
	for _, r := range p.rows {
		l, rev := nullable(r.lotID, r.reverses)
		if _, err := st.ExecContext(ctx, r.id, r.hash, r.typ, r.ts, l, rev, r.seenAt, r.body); err != nil {
			return bulkResult{}, fmt.Errorf("insert event %s: %w", r.id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return bulkResult{}, fmt.Errorf("commit: %w", err)
	}
	return bulkResult{rows: len(p.rows), wall: time.Since(start)}, nil
}

func removeSQLite(path string) {
	for _, s := range []string{"", "-wal", "-shm"} {
		os.Remove(path + s)
	}
}

// bulkPostgres is the PostgreSQL baseline: every row COPYed (pgx
// CopyFrom, one statement) into the events table of a freshly migrated
// database, indexes included.
func (b *bench) bulkPostgres(ctx context.Context, p *plantRows) (bulkResult, error) {
	name := b.pgName("baseline")
	if err := b.createDB(ctx, name); err != nil {
		return bulkResult{}, err
	}
	defer b.dropDB(context.WithoutCancel(ctx), name)
	u := dbURL(b.cfg.pgURL, name)
	if _, err := runProc(ctx, b.cfg.step, nil, b.work, b.hub, "--db", u, "migrate"); err != nil {
		return bulkResult{}, fmt.Errorf("create the baseline's schema: %w", err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return bulkResult{}, fmt.Errorf("connect to %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ctx, cancel := context.WithTimeout(ctx, b.cfg.step)
	defer cancel()
	start := time.Now()
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"events"},
		[]string{"id", "version", "hash", "type", "ts", "lot_id", "reverses", "status", "seen_at", "body"},
		pgx.CopyFromSlice(len(p.rows), func(i int) ([]any, error) {
			r := p.rows[i]
			l, rev := nullable(r.lotID, r.reverses)
			return []any{r.id, int32(1), r.hash, r.typ, r.ts, l, rev, "active", r.seenAt, r.body}, nil
		}))
	if err != nil {
		return bulkResult{}, fmt.Errorf("copy the events: %w", err)
	}
	return bulkResult{rows: int(n), wall: time.Since(start)}, nil
}

// createDB creates a database on the -pg server (dropping a leftover of
// the same name) and remembers to drop it.
func (b *bench) createDB(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, b.cfg.pgURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL at %s (is it running? pg_ctlcluster --skip-systemctl-redirect 15 main start): %w", redact(b.cfg.pgURL), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop a leftover database %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	b.pgDBs = append(b.pgDBs, name)
	return nil
}

func (b *bench) dropDB(ctx context.Context, name string) {
	if b.cfg.keep {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, b.cfg.pgURL)
	if err != nil {
		slog.Error("drop database: cannot connect; drop it by hand", "db", name, "err", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		slog.Error("drop database: failed; drop it by hand", "db", name, "err", err)
		return
	}
	for i, n := range b.pgDBs {
		if n == name {
			b.pgDBs = append(b.pgDBs[:i], b.pgDBs[i+1:]...)
			break
		}
	}
}

// cleanup drops the databases the run created (the work directory is
// removed by run).
func (b *bench) cleanup() {
	for _, n := range append([]string(nil), b.pgDBs...) {
		b.dropDB(context.Background(), n)
	}
	if b.cfg.keep {
		slog.Info("kept", "work", b.work, "databases", b.pgDBs)
	}
}

// redact hides a password in a URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(the -pg URL)"
	}
	return u.Redacted()
}

// --- the recursive CTE baselines ---

// cteSQL is a hand-written recursive CTE of a trace that returns what
// the trace lists: a forward trace's shipments, a backward trace's
// receipts (its suppliers). The walk follows the links as the store's
// Hops does: inputs returned in full to their order are no inputs.
func cteSQL(store string, forward bool) string {
	zero, one, p1, p2 := "0", "1", "?1", "?2"
	if store == storePostgres {
		zero, one, p1, p2 = "false", "true", "$1", "$2"
	}
	from, to, in := zero, one, "a"
	if !forward {
		from, to, in = one, zero, "b"
	}
	// SQLite's planner (3.54) would scan every shipment and look each up
	// in the lots reached; CROSS JOIN makes it read the lots reached first
	// and seek their shipments, as anyone writing the query by hand means.
	join := "JOIN"
	if store == storeSQLite {
		join = "CROSS JOIN"
	}
	tail := `SELECT s.event_id, s.lot_id, s.customer_id, s.customer_name, s.sales_order, s.delivery, s.qty, s.uom, s.ts
FROM reach r ` + join + ` shipments s ON s.lot_id = r.lot_id`
	if !forward {
		tail = `SELECT s.event_id, s.lot_id, s.supplier_id, s.supplier_name, s.supplier_lot, s.po, s.qty, s.uom, s.ts
FROM reach r ` + join + ` receipts s ON s.lot_id = r.lot_id`
	}
	return `WITH RECURSIVE reach(lot_id) AS (
  SELECT id FROM lots WHERE item = ` + p1 + ` AND lot = ` + p2 + `
  UNION
  SELECT b.lot_id FROM reach r
    JOIN links a ON a.lot_id = r.lot_id AND a.out = ` + from + `
    JOIN links b ON b.grp = a.grp AND b.out = ` + to + `
  WHERE NOT EXISTS (SELECT 1 FROM returned_inputs x WHERE x.lot_id = ` + in + `.lot_id AND x.grp = ` + in + `.grp)
)
` + tail
}

// scanned is one row of a CTE's answer, read into Go values as a store
// reads it.
type scanned struct {
	eventID, lotPart, partyID, partyName, doc, doc2, uom string
	lotID, ts                                            int64
	qty                                                  float64
}

func (s *scanned) dest() []any {
	return []any{&s.eventID, &s.lotID, &s.partyID, &s.partyName, &s.doc, &s.doc2, &s.qty, &s.uom, &s.ts}
}

// measureCTE times the CTE of each traced lot on one store, in process
// (no process start), after one untimed run.
func (b *bench) measureCTE(ctx context.Context, store string) error {
	type q struct {
		key     string
		lot     pick
		forward bool
	}
	qs := []q{{"widest", b.widest, true}, {"typical", b.typical, true}, {"backward", b.finished, false}}
	b.cte[store] = map[string]*queryResult{}
	var query func(ctx context.Context, sql string, lot pick) (int, error)
	if store == storeSQLite {
		db, err := sql.Open("sqlite", "file:"+b.dsn(store)+"?_pragma=busy_timeout(30000)&_pragma=cache_size(-65536)&mode=ro")
		if err != nil {
			return fmt.Errorf("open %s: %w", b.dsn(store), err)
		}
		defer db.Close()
		query = func(ctx context.Context, sql string, lot pick) (int, error) {
			rows, err := db.QueryContext(ctx, sql, lot.item, lot.lot)
			if err != nil {
				return 0, err
			}
			defer rows.Close()
			n := 0
			var s scanned
			for rows.Next() {
				if err := rows.Scan(s.dest()...); err != nil {
					return 0, err
				}
				n++
			}
			return n, rows.Err()
		}
	} else {
		conn, err := pgx.Connect(ctx, b.dsn(store))
		if err != nil {
			return fmt.Errorf("connect to the bench database: %w", err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		query = func(ctx context.Context, sql string, lot pick) (int, error) {
			rows, err := conn.Query(ctx, sql, lot.item, lot.lot)
			if err != nil {
				return 0, err
			}
			defer rows.Close()
			n := 0
			var s scanned
			for rows.Next() {
				if err := rows.Scan(s.dest()...); err != nil {
					return 0, err
				}
				n++
			}
			return n, rows.Err()
		}
	}
	for _, x := range qs {
		sqlText := cteSQL(store, x.forward)
		slog.Info("recursive CTE", "store", store, "lot", x.lot, "forward", x.forward)
		r := &queryResult{}
		qctx, cancel := context.WithTimeout(ctx, b.cfg.step)
		var err error
		if r.rows, err = query(qctx, sqlText, x.lot); err != nil {
			cancel()
			return fmt.Errorf("recursive CTE of %s on %s: %w", x.lot, store, err)
		}
		for range b.cfg.runs {
			start := time.Now()
			if _, err := query(qctx, sqlText, x.lot); err != nil {
				cancel()
				return fmt.Errorf("recursive CTE of %s on %s: %w", x.lot, store, err)
			}
			r.walls = append(r.walls, time.Since(start))
		}
		cancel()
		b.cte[store][x.key] = r
	}
	return nil
}
