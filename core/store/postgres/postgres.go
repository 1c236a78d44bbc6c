// Package postgres is the PostgreSQL lothub store (pgx/v5, a connection
// pool, COPY for bulk ingest), for plants that share one hub, several hub
// replicas, or more data than one SQLite file should hold. It mirrors the
// SQLite store: same tables, same semantics, same conformance suite.
package postgres

import (
	"context"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/schema"
	"github.com/lothub/lothub/core/store/sqlq"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Advisory lock keys, per database. Any constant works as long as nothing
// else in the database uses it; these spell "LOTHUB" and a number.
const (
	migrateLock int64 = 0x4c4f544855420001
	ingestLock  int64 = 0x4c4f544855420002
)

// copyThreshold: above this many rows a table is written with COPY, at or
// below with one multi-row INSERT pipelined with the other statements.
const copyThreshold = 50

// DB is a lothub store in a PostgreSQL database.
type DB struct {
	// Queries answers the users, audit trail and outbox methods of
	// core.Store with the SQL this store shares with SQLite
	// (core/store/sqlq; queries.go adapts it).
	*sqlq.Queries
	pool *pgxpool.Pool
	name string // the database's URL without password, for messages
	// writer serialises Ingest in this process so that waiting writers
	// do not each hold a pooled connection; pg_advisory_xact_lock
	// serialises them across processes.
	writer chan struct{}
	// Log receives the store's own messages (statistics refreshed after
	// bulk writes); nil: slog.Default().
	Log *slog.Logger
	// pending counts, per table, the rows this process wrote since it
	// last analysed the table, and unchecked those since the last check
	// (stats.go); statsMu guards both. analyzing is held by the one
	// goroutine refreshing statistics; background counts the refreshes
	// running beside the writers, which Close waits for.
	statsMu    sync.Mutex
	pending    map[string]int64
	unchecked  int64
	analyzing  sync.Mutex
	background sync.WaitGroup
	// wideRead is the number of lots from which a read by lot ids steers
	// the planner to the indexes (tests lower it to take that path on
	// small plants).
	wideRead int
	// oneShot: opened for one command (Options.OneShot).
	oneShot bool
}

// Options are how a store is opened.
type Options struct {
	// OneShot: the store answers one command and closes (every command
	// of the command line but hub serve). Its small reads then run in
	// one round trip each, with pgx's QueryExecModeExec (parameters and
	// results in text), instead of the default's two the first time a
	// connection sees a statement (prepare, then execute): a process
	// that runs each statement once never reuses what it prepared. The
	// typical trace of the 1M plant went from 14 round trips to 7 after
	// the connection's start-up. Reads of many lots (wideRead) and every
	// write keep the default. A long-running process (hub serve) leaves
	// it off: its prepared statements are reused.
	OneShot bool
}

// minConns is the smallest pool the store opens.
const minConns = 8

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string, with pgxpool's pool_* parameters) and applies pending
// migrations. It refuses a database whose schema is newer than it knows.
func Open(ctx context.Context, url string) (*DB, error) {
	return OpenWith(ctx, url, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, url string, o Options) (*DB, error) {
	if s, err := adoptEarly(ctx, url, o); s != nil || err != nil {
		return s, err
	}
	// No early open, or it failed: this one says why, as it always did.
	cfg, name, err := poolConfig(url, o)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", name, err)
	}
	s := newDB(pool, name, o)
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func newDB(pool *pgxpool.Pool, name string, o Options) *DB {
	s := &DB{pool: pool, name: name, writer: make(chan struct{}, 1), wideRead: 1000, pending: map[string]int64{}, oneShot: o.OneShot}
	s.Queries = s.queries()
	return s
}

// poolConfig is the pool configuration OpenWith opens url with, and the
// database's name for messages.
func poolConfig(url string, o Options) (*pgxpool.Config, string, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// Not wrapped: the parser's error may quote the connection
		// string, password included.
		return nil, "", errors.New("open postgres: invalid connection string: " + scrub(err.Error(), url) +
			" (want postgres://user:password@host:port/database?sslmode=...)")
	}
	name := redacted(cfg.ConnConfig)
	// JIT compilation costs seconds and helps only long analytic scans;
	// a trace's queries are index lookups whose row estimates, on a hub
	// that grows fast, can look big enough to trigger it. Off unless the
	// URL says otherwise.
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	// A one-shot store reads its small results in text (Options): every
	// float8 must come back as the number stored, which PostgreSQL's text
	// output gives (the shortest form that reads back exactly) whenever
	// extra_float_digits is above 0, whatever the server, database or
	// role sets.
	if o.OneShot {
		cfg.ConnConfig.RuntimeParams["extra_float_digits"] = "3"
	}
	// A recall reads lots, receipts, shipments, quantities and confirmed
	// links at once, beside a writer: pgxpool's default of four
	// connections (on a small machine) would queue them. Unless the URL
	// says pool_max_conns.
	if !strings.Contains(url, "pool_max_conns") && cfg.MaxConns < minConns {
		cfg.MaxConns = minConns
	}
	return cfg, name, nil
}

// read returns the arguments of a small read, led by the query mode that
// runs it in one round trip when the store is opened for one command
// (Options.OneShot).
func (s *DB) read(args ...any) []any {
	if !s.oneShot {
		return args
	}
	return append([]any{pgx.QueryExecModeExec}, args...)
}

// redacted names a database as a URL without its password.
func redacted(c *pgx.ConnConfig) string {
	host := c.Host
	if !strings.HasPrefix(host, "/") { // not a Unix socket directory
		host = net.JoinHostPort(host, strconv.Itoa(int(c.Port)))
	}
	return fmt.Sprintf("postgres://%s@%s/%s", c.User, host, c.Database)
}

var (
	urlPassword   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#]*)@`) })
	queryPassword = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[?&](?:ssl)?password=([^&#]*)`) })
	kvPassword    = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?:ssl)?password\s*=\s*('(?:[^'\\]|\\.)*'?|[^\s']+)`)
	})
)

// scrub removes from msg every password that connString holds, as written
// and percent-decoded.
func scrub(msg, connString string) string {
	var pws []string
	if m := urlPassword().FindStringSubmatch(connString); m != nil {
		if _, pw, ok := strings.Cut(m[1], ":"); ok {
			pws = append(pws, pw)
		}
	}
	for _, m := range queryPassword().FindAllStringSubmatch(connString, -1) {
		pws = append(pws, m[1])
	}
	for _, m := range kvPassword().FindAllStringSubmatch(connString, -1) {
		pws = append(pws, m[1], strings.Trim(m[1], "'"))
	}
	for _, pw := range pws {
		for _, v := range []string{pw, unescape(pw)} {
			if v != "" {
				msg = strings.ReplaceAll(msg, v, "xxxxx")
			}
		}
	}
	return msg
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Name is the database's URL without its password.
func (s *DB) Name() string { return s.name }

// Close waits for a refresh of planner statistics that is running
// (stats.go), then closes every connection of the pool.
func (s *DB) Close() error {
	s.background.Wait()
	s.pool.Close()
	return nil
}

// SchemaVersion returns the applied schema version.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version of %s: %w", s.name, err)
	}
	return v, nil
}

// SchemaLatest is the schema version this package migrates a database to.
func SchemaLatest() int {
	ms, err := schema.Load(migrationFS, "migrations")
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

func (s *DB) migrate(ctx context.Context) error {
	ms, err := schema.Load(migrationFS, "migrations")
	if err != nil {
		return err
	}
	// Most opens find the schema current: one round trip instead of a
	// transaction, a lock and a CREATE TABLE (five). A missing table or
	// an older version takes the path below.
	if current, err := s.schemaCurrent(ctx); err == nil && current == len(ms) {
		return nil
	}
	return s.applyMigrations(ctx, ms)
}

// schemaCurrent reads the applied schema version: the check of every
// open, one round trip.
func (s *DB) schemaCurrent(ctx context.Context) (int, error) {
	var current int
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`, s.read()...).Scan(&current)
	return current, err
}

// applyMigrations applies the migrations of ms the database lacks, under
// the migration lock.
func (s *DB) applyMigrations(ctx context.Context, ms []schema.Migration) error {
	var current int
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("open postgres %s: %w (is the server running, and the URL right?)", s.name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Two hubs starting at once apply the migrations one after the other.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
		return fmt.Errorf("lock %s for migration: %w", s.name, err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations in %s: %w (may the user create tables in it?)", s.name, err)
	}
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version of %s: %w", s.name, err)
	}
	pending, err := schema.Pending(ms, current, s.name)
	if err != nil {
		return err
	}
	for _, m := range pending {
		if _, err := tx.Exec(ctx, m.SQL); err != nil { // no arguments: simple protocol, several statements
			return fmt.Errorf("apply migration %s to %s: %w", m.Name, s.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, m.Version, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("record migration %s in %s: %w", m.Name, s.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit migrations to %s: %w", s.name, err)
	}
	if len(pending) > 0 && current > 0 {
		// A migration may add columns or fill tables of a store that holds
		// data: their statistics are refreshed now, not when autovacuum
		// gets to them (stats.go). A new database's tables are empty.
		if err := s.analyzeAll(ctx, fmt.Sprintf("migration to schema %d", pending[len(pending)-1].Version)); err != nil {
			s.log().Warn("planner statistics not refreshed after the migration; run ANALYZE", "db", s.name, "err", err)
		}
	}
	return nil
}

// Ingest runs fn in one transaction that holds the database's ingest
// advisory lock, so that no two writers overlap in any process. After the
// commit, and after the next writer may go on, the tables it filled are
// analysed if their statistics are stale (stats.go).
func (s *DB) Ingest(ctx context.Context, fn func(tx core.IngestTx) error) error {
	written, err := s.ingest(ctx, fn)
	if err != nil {
		return err
	}
	s.noteWrites(ctx, written)
	return nil
}

func (s *DB) ingest(ctx context.Context, fn func(tx core.IngestTx) error) (map[string]int, error) {
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to write to %s: %w", s.name, ctx.Err())
	}
	defer func() { <-s.writer }()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin write to %s: %w", s.name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The lock and the largest event seq in one round trip: writers are
	// serialised, so the seq stays the largest until this one writes.
	t := &ingestTx{tx: tx, written: map[string]int{}}
	var b pgx.Batch
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, ingestLock)
	b.Queue(`SELECT coalesce(max(seq), 0) FROM events`).QueryRow(func(r pgx.Row) error { return r.Scan(&t.lastSeq) })
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return nil, fmt.Errorf("wait for other writers to %s: %w", s.name, err)
	}
	if err := fn(t); err != nil {
		return nil, err
	}
	if len(t.pendOrder) > 0 { // lots asked for after (or without) Write
		w := &writer{ctx: ctx, tx: tx}
		if err := t.insertLots(w, nil); err != nil {
			return nil, err
		}
		if err := w.flush(""); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit to %s: %w", s.name, err)
	}
	return t.written, nil
}

type ingestTx struct {
	tx      pgx.Tx
	written map[string]int // rows written per table, for the statistics (stats.go)
	// lastSeq is the largest seq in events: read with the lock, and after
	// each Write that inserts events. A batch's versions are the rows
	// after it (its audit entry names them by that range).
	lastSeq int64
	// New lots get their ids from the lots sequence in LotIDs but are
	// inserted by Write (or before commit), together with their use
	// counters and quantities: one plain insert instead of an insert, an
	// update and an upsert per lot. Writers are serialised, so no other
	// transaction can create the same lot meanwhile.
	pending   map[core.LotRef]int64 // allocated, not inserted yet
	pendOrder []core.LotRef         // in allocation order
	// OrderLots read since the last Write: the (lot, group) pairs asked
	// for and the (lot, group, unit) rows found. A row of Write's
	// OrderLots whose pair was asked and that was not found is new, and
	// is inserted (with COPY when there are many) instead of upserted:
	// writers are serialised and only Write fills order_lots, so nothing
	// can have added it in between.
	olAsked map[core.LotGroup]bool
	olFound map[orderLotKey]bool
	// The reversers of the ids CurrentEvents read, fetched in its round
	// trip for the Reversers call that follows it (nil once used, and
	// after a Write).
	revAsked   map[string]bool
	revFetched map[string][]string
}

type orderLotKey struct {
	lot      int64
	grp, uom string
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// timeScanner scans Unix microseconds into a time.Time.
type timeScanner struct{ t *time.Time }

func (s timeScanner) ScanInt64(v pgtype.Int8) error {
	if !v.Valid {
		return errors.New("time column is NULL")
	}
	*s.t = fromMicros(v.Int64)
	return nil
}

const eventCols = `seq, id, version, hash, type, ts, coalesce(lot_id, 0), coalesce(reverses, ''), status, seen_at, body`

func scanEvent(row pgx.Row) (core.EventRow, error) {
	var r core.EventRow
	var typ, status string
	err := row.Scan(&r.Seq, &r.ID, &r.Version, &r.Hash, &typ, timeScanner{&r.Time}, &r.LotID, &r.Reverses, &status, timeScanner{&r.SeenAt}, &r.Body)
	r.Type, r.Status = core.EventType(typ), core.Status(status)
	return r, err
}

const currentEventsSQL = `SELECT ` + eventCols + ` FROM events
	WHERE id = ANY($1::text[]) AND status <> 'superseded'`

// scanCurrentEvents reads the rows of currentEventsSQL by id.
func scanCurrentEvents(rows pgx.Rows, err error) (map[string]core.EventRow, error) {
	if err != nil {
		return nil, fmt.Errorf("look up events: %w", err)
	}
	defer rows.Close()
	out := map[string]core.EventRow{}
	for rows.Next() {
		r, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("look up events: %w", err)
		}
		out[r.ID] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up events: %w", err)
	}
	return out, nil
}

func (t *ingestTx) CurrentEvents(ctx context.Context, ids []string) (map[string]core.EventRow, error) {
	// Plan asks next for the reversers of the same ids: both reads go in
	// one round trip, and Reversers answers from revFetched.
	var b pgx.Batch
	b.Queue(currentEventsSQL, ids)
	b.Queue(reversersSQL, ids)
	br := t.tx.SendBatch(ctx, &b)
	defer br.Close()
	out, err := scanCurrentEvents(br.Query())
	if err != nil {
		return nil, err
	}
	revs, err := scanReversers(br.Query())
	if err != nil {
		return nil, err
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("look up events: %w", err)
	}
	t.revAsked = make(map[string]bool, len(ids))
	for _, id := range ids {
		t.revAsked[id] = true
	}
	t.revFetched = revs
	return out, nil
}

func (t *ingestTx) OrderLots(ctx context.Context, keys []core.LotGroup) ([]core.OrderLotSums, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	out, err := orderLots(ctx, t.tx, keys)
	if err != nil {
		return nil, err
	}
	if t.olAsked == nil {
		t.olAsked, t.olFound = make(map[core.LotGroup]bool, len(keys)), make(map[orderLotKey]bool, len(out))
	}
	for _, k := range keys {
		t.olAsked[k] = true
	}
	for _, o := range out {
		t.olFound[orderLotKey{o.LotID, o.Group, o.UOM}] = true
	}
	return out, nil
}

func orderLots(ctx context.Context, tx pgx.Tx, keys []core.LotGroup) ([]core.OrderLotSums, error) {
	ids, grps := make([]int64, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		ids[i], grps[i] = k.LotID, k.Group
	}
	rows, err := tx.Query(ctx, `SELECT o.lot_id, o.grp, o.uom, o.consumed, o.consumes, o.produced, o.produces, o.adjusted, o.adjusts
		FROM unnest($1::bigint[], $2::text[]) AS u(lot_id, grp) JOIN order_lots o ON o.lot_id = u.lot_id AND o.grp = u.grp`, ids, grps)
	if err != nil {
		return nil, fmt.Errorf("read lots' quantities on orders: %w", err)
	}
	return collect(rows, "read lots' quantities on orders", func(o *core.OrderLotSums) []any {
		return []any{&o.LotID, &o.Group, &o.UOM, &o.Consumed, &o.Consumes, &o.Produced, &o.Produces, &o.Adjusted, &o.Adjusts}
	})
}

// newOrderLot reports whether order_lots has no row for o yet: its lot
// is new in this transaction, or OrderLots looked for it and found none.
func (t *ingestTx) newOrderLot(o *core.OrderLotSums, pend map[int64]bool) bool {
	if pend[o.LotID] {
		return true
	}
	return t.olAsked[core.LotGroup{LotID: o.LotID, Group: o.Group}] && !t.olFound[orderLotKey{o.LotID, o.Group, o.UOM}]
}

const reversersSQL = `SELECT reverses, id FROM events
	WHERE reverses = ANY($1::text[]) AND status <> 'superseded' ORDER BY seq`

func (t *ingestTx) Reversers(ctx context.Context, targets []string) (map[string][]string, error) {
	if fetched, asked := t.revFetched, t.revAsked; asked != nil {
		t.revFetched, t.revAsked = nil, nil
		all := true
		for _, id := range targets {
			if !asked[id] {
				all = false
				break
			}
		}
		if all {
			out := map[string][]string{}
			for _, id := range targets {
				if rs, ok := fetched[id]; ok {
					out[id] = rs
				}
			}
			return out, nil
		}
	}
	return scanReversers(t.tx.Query(ctx, reversersSQL, targets))
}

func scanReversers(rows pgx.Rows, err error) (map[string][]string, error) {
	if err != nil {
		return nil, fmt.Errorf("look up reversals: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var target, id string
		if err := rows.Scan(&target, &id); err != nil {
			return nil, fmt.Errorf("look up reversals: %w", err)
		}
		out[target] = append(out[target], id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up reversals: %w", err)
	}
	return out, nil
}

func (t *ingestTx) LotIDs(ctx context.Context, refs []core.LotRef) (map[core.LotRef]int64, error) {
	out := make(map[core.LotRef]int64, len(refs))
	items, lots := make([]string, 0, len(refs)), make([]string, 0, len(refs))
	for _, r := range refs {
		if _, dup := out[r]; dup {
			continue
		}
		if id, ok := t.pending[r]; ok {
			out[r] = id
			continue
		}
		out[r] = 0
		items, lots = append(items, r.Item), append(lots, r.Lot)
	}
	if len(items) == 0 {
		return out, nil
	}
	// Known lots keep their id; new ones get the next ids of the sequence,
	// in the order given (the sorted subquery fixes nextval's order).
	rows, err := t.tx.Query(ctx, `SELECT item, lot, id IS NULL, coalesce(id, nextval('lots_id_seq')) FROM (
			SELECT u.n, u.item, u.lot, l.id
			FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(item, lot, n)
			LEFT JOIN lots l ON l.item = u.item AND l.lot = u.lot
			ORDER BY u.n OFFSET 0
		) s`, items, lots)
	if err != nil {
		return nil, fmt.Errorf("look up lots: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r core.LotRef
		var isNew bool
		var id int64
		if err := rows.Scan(&r.Item, &r.Lot, &isNew, &id); err != nil {
			return nil, fmt.Errorf("look up lots: %w", err)
		}
		out[r] = id
		if isNew {
			if t.pending == nil {
				t.pending = map[core.LotRef]int64{}
			}
			t.pending[r] = id
			t.pendOrder = append(t.pendOrder, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up lots: %w", err)
	}
	return out, nil
}

// insertLots inserts the pending lots with their use counters from uses,
// and removes from uses what it applied.
func (t *ingestTx) insertLots(w *writer, uses map[int64]core.LotUse) error {
	refs := t.pendOrder
	t.written["lots"] += len(refs)
	err := w.insert("record lots", "lots", lotColumns, len(refs), func(i int, s sink) {
		id := t.pending[refs[i]]
		u := uses[id]
		s.int64(id)
		s.text(refs[i].Item)
		s.text(refs[i].Lot)
		s.int64(int64(u.Sourced))
		s.int64(int64(u.Used))
	})
	if err != nil {
		return err
	}
	for _, r := range refs {
		delete(uses, t.pending[r])
		delete(t.pending, r)
	}
	t.pendOrder = nil
	return nil
}

// writer applies statements: plain statements are queued and sent
// together in one round trip at the end, after the COPYs, which go at
// once. A statement that must come before the COPYs (a delete of rows a
// COPY adds again) is queued with first: it is sent before the next
// COPY. Each round trip is a wait for the server (and, on a busy machine,
// for a core); statements into different rows need no order.
type writer struct {
	ctx   context.Context
	tx    pgx.Tx
	batch pgx.Batch
	whats []string
	// firsts: queued statements to send before the next COPY.
	firsts bool
}

func (w *writer) queue(what, sql string, args ...any) {
	w.batch.Queue(sql, args...)
	w.whats = append(w.whats, what)
}

// first queues a statement that must precede the COPYs that follow.
func (w *writer) first(what, sql string, args ...any) {
	w.queue(what, sql, args...)
	w.firsts = true
}

// flush sends the queued statements; then, if dest is not empty, the
// query q in the same round trip, whose one row is scanned into dest.
func (w *writer) flush(q string, dest ...any) error {
	if len(w.whats) == 0 && len(dest) == 0 {
		return nil
	}
	batch, whats := w.batch, w.whats
	w.batch, w.whats, w.firsts = pgx.Batch{}, nil, false
	if len(dest) > 0 {
		batch.Queue(q)
	}
	br := w.tx.SendBatch(w.ctx, &batch)
	for _, what := range whats {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if len(dest) > 0 {
		if err := br.QueryRow().Scan(dest...); err != nil {
			br.Close()
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(whats, ", "), err)
	}
	return nil
}

// insert writes n rows into table: with COPY when there are many, with one
// multi-row INSERT otherwise. row writes row i's values, one per column in
// order, to a sink.
func (w *writer) insert(what, table string, cols []string, n int, row func(i int, s sink)) error {
	if n == 0 {
		return nil
	}
	if n > copyThreshold {
		if w.firsts {
			if err := w.flush(""); err != nil {
				return err
			}
		}
		if err := w.copyRows(table, cols, n, row); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	args := &argSink{args: make([]any, 0, n*len(cols))}
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("$" + strconv.Itoa(len(args.args)+j+1))
		}
		b.WriteByte(')')
		row(i, args)
	}
	w.queue(what, b.String(), args.args...)
	return nil
}

// copyChunk is how many bytes of COPY data are encoded before they are
// handed to the connection.
const copyChunk = 256 << 10

// copyRows writes n rows into table with one binary COPY. The rows are
// encoded by a goroutine while the connection sends what is ready, so the
// server inserts the first rows while the hub encodes the next.
func (w *writer) copyRows(table string, cols []string, n int, row func(i int, s sink)) error {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := newCopyBuf(copyChunk + 64<<10)
		for i := range n {
			c.row(len(cols))
			row(i, c)
			if len(c.b) >= copyChunk {
				if _, err := pw.Write(c.b); err != nil {
					return // the COPY failed; CopyFrom returns why
				}
				c.b = c.b[:0]
			}
		}
		if _, err := pw.Write(c.end()); err != nil {
			return
		}
		pw.Close()
	}()
	sql := "COPY " + table + " (" + strings.Join(cols, ", ") + ") FROM STDIN (FORMAT binary)"
	_, err := w.tx.Conn().PgConn().CopyFrom(w.ctx, pr, sql)
	pr.CloseWithError(errCopyDone) // unblocks the encoder if the COPY stopped early
	<-done
	return err
}

var errCopyDone = errors.New("copy ended")

// sink receives the values of a row, in column order.
type sink interface {
	int64(v int64)
	int32(v int32)
	float64(v float64)
	bool(v bool)
	text(v string)
	null()
}

// argSink collects values as query arguments.
type argSink struct{ args []any }

func (a *argSink) int64(v int64)     { a.args = append(a.args, v) }
func (a *argSink) int32(v int32)     { a.args = append(a.args, v) }
func (a *argSink) float64(v float64) { a.args = append(a.args, v) }
func (a *argSink) bool(v bool)       { a.args = append(a.args, v) }
func (a *argSink) text(v string)     { a.args = append(a.args, v) }
func (a *argSink) null()             { a.args = append(a.args, nil) }

// copyBuf encodes rows in PostgreSQL's binary COPY format: cheaper than
// pgx's general encoder, and the values need no boxing.
type copyBuf struct{ b []byte }

func newCopyBuf(size int) *copyBuf {
	c := &copyBuf{b: make([]byte, 0, size)}
	c.b = append(c.b, "PGCOPY\n\xff\r\n\x00"...)
	c.b = binary.BigEndian.AppendUint32(c.b, 0) // flags
	c.b = binary.BigEndian.AppendUint32(c.b, 0) // header extension length
	return c
}

func (c *copyBuf) row(fields int) { c.b = binary.BigEndian.AppendUint16(c.b, uint16(fields)) }

func (c *copyBuf) end() []byte { return binary.BigEndian.AppendUint16(c.b, 0xffff) }

func (c *copyBuf) int64(v int64) {
	c.b = binary.BigEndian.AppendUint32(c.b, 8)
	c.b = binary.BigEndian.AppendUint64(c.b, uint64(v))
}

func (c *copyBuf) int32(v int32) {
	c.b = binary.BigEndian.AppendUint32(c.b, 4)
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(v))
}

func (c *copyBuf) float64(v float64) {
	c.b = binary.BigEndian.AppendUint32(c.b, 8)
	c.b = binary.BigEndian.AppendUint64(c.b, math.Float64bits(v))
}

func (c *copyBuf) bool(v bool) {
	c.b = binary.BigEndian.AppendUint32(c.b, 1)
	if v {
		c.b = append(c.b, 1)
	} else {
		c.b = append(c.b, 0)
	}
}

func (c *copyBuf) text(v string) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(v)))
	c.b = append(c.b, v...)
}

func (c *copyBuf) null() { c.b = binary.BigEndian.AppendUint32(c.b, 0xffffffff) }

// nullInt writes 0 as NULL.
func nullInt(s sink, v int64) {
	if v == 0 {
		s.null()
	} else {
		s.int64(v)
	}
}

// nullText writes "" as NULL.
func nullText(s sink, v string) {
	if v == "" {
		s.null()
	} else {
		s.text(v)
	}
}

// text makes s storable in a text column, which refuses NUL and invalid
// UTF-8. Only quarantine entries need it: they describe bad input.
func text(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

var (
	lotColumns      = []string{"id", "item", "lot", "sourced", "used"}
	lotQtyColumns   = []string{"lot_id", "uom", "received", "produced", "consumed", "shipped", "adjusted"}
	eventColumns    = []string{"id", "version", "hash", "type", "ts", "lot_id", "reverses", "status", "seen_at", "body"}
	linkColumns     = []string{"event_id", "lot_id", "grp", "out", "ts"}
	receiptColumns  = []string{"event_id", "lot_id", "supplier_id", "supplier_name", "supplier_lot", "po", "qty", "uom", "ts"}
	orderLotColumns = []string{"lot_id", "grp", "uom", "consumed", "consumes", "produced", "produces", "adjusted", "adjusts"}
	shipmentColumns = []string{"event_id", "lot_id", "customer_id", "customer_name", "sales_order", "delivery", "qty", "uom", "ts"}
)

// Write applies c with the effect of the order documented on
// core.Changes.
func (t *ingestTx) Write(ctx context.Context, c *core.Changes) error {
	for table, n := range map[string]int{
		"events": len(c.NewVersions) + len(c.StatusUpdates), "links": len(c.Links), "receipts": len(c.Receipts),
		"shipments": len(c.Shipments), "orders": len(c.OrderDeltas),
		"raw_records": len(c.Raw), "quarantine": len(c.Quarantine),
	} {
		t.written[table] += n
	}
	t.revAsked, t.revFetched = nil, nil
	// Round trips: the deletes of effects, then one COPY per table with
	// many rows, then every other statement at once. Only the deletes
	// need to come before a COPY: they remove rows of the event ids whose
	// new rows the COPYs add. Every other statement writes rows no other
	// one of the batch touches, or comes after those it depends on in the
	// last round trip.
	w := &writer{ctx: ctx, tx: t.tx}
	if n := len(c.StatusUpdates); n > 0 {
		seqs, statuses := make([]int64, n), make([]string, n)
		for i, u := range c.StatusUpdates {
			seqs[i], statuses[i] = u.Seq, string(u.Status)
		}
		w.queue("update event status", `UPDATE events e SET status = u.status
			FROM unnest($1::bigint[], $2::text[]) AS u(seq, status) WHERE e.seq = u.seq`, seqs, statuses)
	}
	if len(c.RemoveEffects) > 0 {
		w.first("remove effects from links", removeLinksSQL, c.RemoveEffects)
		for _, table := range []string{"receipts", "shipments"} {
			w.first("remove effects from "+table, `DELETE FROM `+table+` WHERE event_id = ANY($1::text[])`, c.RemoveEffects)
		}
	}
	err := w.insert("insert events", "events", eventColumns, len(c.NewVersions), func(i int, s sink) {
		r := &c.NewVersions[i]
		s.text(r.ID)
		s.int32(int32(r.Version))
		s.text(r.Hash)
		s.text(string(r.Type))
		s.int64(micros(r.Time))
		nullInt(s, r.LotID)
		nullText(s, r.Reverses)
		s.text(string(r.Status))
		s.int64(micros(r.SeenAt))
		s.text(string(r.Body))
	})
	if err != nil {
		return err
	}
	if c.GenealogyChanged {
		w.queue("raise the genealogy version", `UPDATE genealogy_version SET version = version + 1`)
	}
	if c.ChangesData() {
		w.queue("raise the data version", `UPDATE evaluation_mark SET version = version + 1`)
	}
	for _, step := range []func() error{
		func() error {
			return w.insert("insert links", "links", linkColumns, len(c.Links), func(i int, s sink) {
				l := &c.Links[i]
				s.text(l.EventID)
				s.int64(l.LotID)
				s.text(l.Group)
				s.bool(l.Out)
				s.int64(micros(l.Time))
			})
		},
		func() error {
			return w.insert("insert receipts", "receipts", receiptColumns, len(c.Receipts), func(i int, s sink) {
				r := &c.Receipts[i]
				s.text(r.EventID)
				s.int64(r.LotID)
				s.text(r.Supplier.ID)
				s.text(r.Supplier.Name)
				s.text(r.SupplierLot)
				s.text(r.PO)
				s.float64(r.Qty)
				s.text(r.UOM)
				s.int64(micros(r.Time))
			})
		},
		func() error {
			return w.insert("insert shipments", "shipments", shipmentColumns, len(c.Shipments), func(i int, s sink) {
				r := &c.Shipments[i]
				s.text(r.EventID)
				s.int64(r.LotID)
				s.text(r.Customer.ID)
				s.text(r.Customer.Name)
				s.text(r.SalesOrder)
				s.text(r.Delivery)
				s.float64(r.Qty)
				s.text(r.UOM)
				s.int64(micros(r.Time))
			})
		},
	} {
		if err := step(); err != nil {
			return err
		}
	}
	// Lots new in this transaction and not inserted yet: inserted whole,
	// with their counters and quantities. The others are updated.
	pend := make(map[int64]bool, len(t.pendOrder))
	for _, r := range t.pendOrder {
		pend[t.pending[r]] = true
	}
	uses := make(map[int64]core.LotUse, len(pend))
	var oldUses []core.LotUse
	for _, u := range c.LotUses {
		if pend[u.LotID] {
			uses[u.LotID] = u
		} else {
			oldUses = append(oldUses, u)
		}
	}
	if err := t.insertLots(w, uses); err != nil {
		return err
	}
	var newQty, oldQty []core.LotDelta
	for _, d := range c.LotDeltas {
		if pend[d.LotID] {
			newQty = append(newQty, d)
		} else {
			oldQty = append(oldQty, d)
		}
	}
	t.written["lot_qty"] += len(newQty) // inserts: stats.go counterTables
	err = w.insert("record lot quantities", "lot_qty", lotQtyColumns, len(newQty), func(i int, s sink) {
		d := &newQty[i]
		s.int64(d.LotID)
		s.text(d.UOM)
		s.float64(d.Received)
		s.float64(d.Produced)
		s.float64(d.Consumed)
		s.float64(d.Shipped)
		s.float64(d.Adjusted)
	})
	if err != nil {
		return err
	}
	if n := len(oldQty); n > 0 {
		ids, uoms := make([]int64, n), make([]string, n)
		rec, pro, con, shp, adj := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		for i, d := range oldQty {
			ids[i], uoms[i], rec[i], pro[i], con[i], shp[i], adj[i] = d.LotID, d.UOM, d.Received, d.Produced, d.Consumed, d.Shipped, d.Adjusted
		}
		w.queue("update lot quantities", `INSERT INTO lot_qty (lot_id, uom, received, produced, consumed, shipped, adjusted)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[])
			ON CONFLICT (lot_id, uom) DO UPDATE SET
				received = lot_qty.received + excluded.received, produced = lot_qty.produced + excluded.produced,
				consumed = lot_qty.consumed + excluded.consumed, shipped = lot_qty.shipped + excluded.shipped,
				adjusted = lot_qty.adjusted + excluded.adjusted`,
			ids, uoms, rec, pro, con, shp, adj)
	}
	if n := len(oldUses); n > 0 {
		ids, sourced, used := make([]int64, n), make([]int64, n), make([]int64, n)
		for i, u := range oldUses {
			ids[i], sourced[i], used[i] = u.LotID, int64(u.Sourced), int64(u.Used)
		}
		w.queue("update lot use", `UPDATE lots l SET sourced = l.sourced + u.sourced, used = l.used + u.used
			FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(id, sourced, used) WHERE l.id = u.id`,
			ids, sourced, used)
	}
	if n := len(c.OrderDeltas); n > 0 {
		ords, ins, outs := make([]string, n), make([]int64, n), make([]int64, n)
		for i, d := range c.OrderDeltas {
			ords[i], ins[i], outs[i] = d.Order, int64(d.Ins), int64(d.Outs)
		}
		w.queue("update orders", `INSERT INTO orders (ord, ins, outs)
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
			ON CONFLICT (ord) DO UPDATE SET ins = orders.ins + excluded.ins, outs = orders.outs + excluded.outs`,
			ords, ins, outs)
	}
	var newOL, oldOL []core.OrderLotSums
	for i := range c.OrderLots {
		if t.newOrderLot(&c.OrderLots[i], pend) {
			newOL = append(newOL, c.OrderLots[i])
		} else {
			oldOL = append(oldOL, c.OrderLots[i])
		}
	}
	t.olAsked, t.olFound = nil, nil // the rows below change what was read
	err = w.insert("record order lot quantities", "order_lots", orderLotColumns, len(newOL), func(i int, s sink) {
		d := &newOL[i]
		s.int64(d.LotID)
		s.text(d.Group)
		s.text(d.UOM)
		s.float64(d.Consumed)
		s.int64(int64(d.Consumes))
		s.float64(d.Produced)
		s.int64(int64(d.Produces))
		s.float64(d.Adjusted)
		s.int64(int64(d.Adjusts))
	})
	if err != nil {
		return err
	}
	if n := len(oldOL); n > 0 {
		ids, grps, uoms := make([]int64, n), make([]string, n), make([]string, n)
		con, pro, adj := make([]float64, n), make([]float64, n), make([]float64, n)
		cons, pros, adjs := make([]int64, n), make([]int64, n), make([]int64, n)
		for i, d := range oldOL {
			ids[i], grps[i], uoms[i] = d.LotID, d.Group, d.UOM
			con[i], pro[i], adj[i] = d.Consumed, d.Produced, d.Adjusted
			cons[i], pros[i], adjs[i] = int64(d.Consumes), int64(d.Produces), int64(d.Adjusts)
		}
		w.queue("update order lot quantities", `INSERT INTO order_lots (lot_id, grp, uom, consumed, consumes, produced, produces, adjusted, adjusts)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::float8[], $5::bigint[], $6::float8[], $7::bigint[], $8::float8[], $9::bigint[])
			ON CONFLICT (lot_id, grp, uom) DO UPDATE SET
				consumed = order_lots.consumed + excluded.consumed, consumes = order_lots.consumes + excluded.consumes,
				produced = order_lots.produced + excluded.produced, produces = order_lots.produces + excluded.produces,
				adjusted = order_lots.adjusted + excluded.adjusted, adjusts = order_lots.adjusts + excluded.adjusts`,
			ids, grps, uoms, con, cons, pro, pros, adj, adjs)
	}
	lotGroups := func(ks []core.LotGroup) ([]int64, []string) {
		ids, grps := make([]int64, len(ks)), make([]string, len(ks))
		for i, k := range ks {
			ids[i], grps[i] = k.LotID, k.Group
		}
		return ids, grps
	}
	if len(c.Restored) > 0 {
		ids, grps := lotGroups(c.Restored)
		w.queue("restore returned inputs", `DELETE FROM returned_inputs r USING unnest($1::bigint[], $2::text[]) AS u(lot_id, grp)
			WHERE r.lot_id = u.lot_id AND r.grp = u.grp`, ids, grps)
	}
	if len(c.Returned) > 0 {
		ids, grps := lotGroups(c.Returned)
		w.queue("record returned inputs", `INSERT INTO returned_inputs (lot_id, grp) SELECT * FROM unnest($1::bigint[], $2::text[])
			ON CONFLICT DO NOTHING`, ids, grps)
	}
	if n := len(c.Quarantine); n > 0 {
		keys, sources, eventIDs, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		lines, at, raws := make([]int32, n), make([]int64, n), make([][]byte, n)
		for i, q := range c.Quarantine {
			keys[i], sources[i], eventIDs[i], reasons[i] = text(q.Key), text(q.Source), text(q.EventID), text(q.Reason)
			lines[i], at[i], raws[i] = int32(q.Line), micros(q.At), []byte(q.Raw)
		}
		w.queue("quarantine", `INSERT INTO quarantine (key, source, line, event_id, reason, raw, at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::bytea[], $7::bigint[])
			ON CONFLICT (key) DO UPDATE SET resolved = false, resolve_reason = '', reason = excluded.reason,
			  at = CASE WHEN NOT quarantine.resolved THEN quarantine.at ELSE excluded.at END
			WHERE quarantine.key LIKE 'raw:%'`,
			keys, sources, lines, eventIDs, reasons, raws, at)
	}
	if len(c.Resolved) > 0 {
		w.queue("resolve quarantine", `UPDATE quarantine SET resolved = true
			WHERE NOT resolved AND event_id = ANY($1::text[])`, c.Resolved)
	}
	if len(c.ResolvedKeys) > 0 {
		w.queue("resolve quarantine", `UPDATE quarantine SET resolved = true
			WHERE NOT resolved AND key = ANY($1::text[])`, c.ResolvedKeys)
	}
	if n := len(c.Raw); n > 0 {
		// A new content of a record becomes its current version; a known
		// content is made current again and takes the new mapping and
		// events. Rows are one per record id in a batch of one source
		// read, but a batch may carry two contents of one record: the
		// last wins.
		sources, kinds, ids, hashes, mappings := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		payloads, positions := make([][]byte, n), make([][]byte, n)
		received, ords := make([]int64, n), make([]int64, n)
		events := make([]string, n)
		for i, r := range c.Raw {
			sources[i], kinds[i], ids[i], hashes[i], mappings[i] = r.Source, r.Kind, r.RecordID, r.Hash, r.Mapping
			payloads[i], positions[i], received[i], ords[i] = r.Payload, r.Position, micros(r.ReceivedAt), int64(i)
			events[i] = pgTextArray(r.Events)
		}
		w.queue("archive records", `UPDATE raw_records r SET current = false
			FROM unnest($1::text[], $2::text[], $3::text[]) AS u(source, record_id, hash)
			WHERE r.current AND r.source = u.source AND r.record_id = u.record_id AND r.hash <> u.hash`,
			sources, ids, hashes)
		w.queue("archive records", `INSERT INTO raw_records AS r (source, kind, record_id, hash, payload, position, received_at, mapping, events)
			SELECT DISTINCT ON (source, record_id, hash) source, kind, record_id, hash, payload, position, received_at, mapping, events::text[]
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::bytea[], $7::bigint[], $8::text[], $9::text[], $10::bigint[])
				AS u(source, kind, record_id, hash, payload, position, received_at, mapping, events, ord)
			ORDER BY source, record_id, hash, ord DESC
			ON CONFLICT (source, record_id, hash) DO UPDATE SET current = true, kind = excluded.kind,
				position = coalesce(excluded.position, r.position), mapping = excluded.mapping, events = excluded.events`,
			sources, kinds, ids, hashes, payloads, positions, received, mappings, events, ords)
	}
	queueOutbox(w, c.Outbox)
	if len(c.NewVersions) == 0 {
		return w.flush("")
	}
	// The batch's versions are the rows after the largest seq before it
	// (writers are serialised): the batch's audit entry names them by
	// that range, whose end is read again after the insert, as the
	// sequence may have skipped values.
	before := t.lastSeq
	if err := w.flush(`SELECT max(seq) FROM events`, &t.lastSeq); err != nil {
		return err
	}
	c.Written = core.WrittenEvents{First: before + 1, Last: t.lastSeq}
	return nil
}

// removeLinksSQL deletes the links of the event ids $1. Links carry no
// index by event id (migration 22): an event's links are in its group, an
// order's ('o:' || order, from the stored body of a consume or produce)
// or its own transform's ('t:' || id), which links_grp finds. Every
// stored version of an id is asked, so the links of whichever version is
// in effect are found.
const removeLinksSQL = `DELETE FROM links l USING (
		SELECT DISTINCT e.id, CASE WHEN e.type = 'transform' THEN 't:' || e.id ELSE 'o:' || (e.body::jsonb ->> 'order') END AS grp
		FROM events e WHERE e.id = ANY($1::text[]) AND e.type IN ('consume', 'produce', 'transform')
	) r
	WHERE l.grp = r.grp AND l.event_id = r.id`

// pgTextArray writes ids as a PostgreSQL array literal, so that a batch of
// records' event lists travels as one text[] parameter.
func pgTextArray(ids []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for _, r := range text(id) {
			if r == '"' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// --- queries ---

// collect scans every row into a T.
func collect[T any](rows pgx.Rows, what string, dest func(*T) []any) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(dest(&v)...); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

func (s *DB) FindLot(ctx context.Context, ref core.LotRef) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM lots WHERE item = $1 AND lot = $2`, s.read(ref.Item, ref.Lot)...).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, core.Errorf(core.ENOTFOUND, "lot %s not found", ref)
	}
	if err != nil {
		return 0, fmt.Errorf("find lot %s: %w", ref, err)
	}
	return id, nil
}

const lotsSQL = `SELECT id, item, lot FROM lots WHERE id = ANY($1::bigint[])`

func lotDest(r *core.LotRow) []any { return []any{&r.ID, &r.Ref.Item, &r.Ref.Lot} }

func (s *DB) Lots(ctx context.Context, ids []int64) ([]core.LotRow, error) {
	return readLots(ctx, s, len(ids), "read lots", lotsSQL, []any{ids}, lotDest)
}

func (s *DB) Hops(ctx context.Context, p core.HopsParams) ([]core.Hop, error) {
	from, to := false, true // forward: from inputs to outputs
	if p.Direction == core.Backward {
		from, to = true, false
	}
	// An input returned in full to its order is no input of it: on the
	// input side (a going forward, b going back), returned_inputs.
	in := "a"
	if p.Direction == core.Backward {
		in = "b"
	}
	return readLots(ctx, s, len(p.LotIDs), "read genealogy", `SELECT a.lot_id, b.lot_id, a.grp
		FROM links a JOIN links b ON b.grp = a.grp AND b.out = $3
		WHERE a.lot_id = ANY($1::bigint[]) AND a.out = $2
		  AND NOT EXISTS (SELECT 1 FROM returned_inputs r WHERE r.lot_id = `+in+`.lot_id AND r.grp = `+in+`.grp)`, []any{p.LotIDs, from, to},
		func(h *core.Hop) []any { return []any{&h.From, &h.To, &h.Group} })
}

func (s *DB) ReachHops(ctx context.Context, p core.HopsParams) ([]core.Hop, error) {
	from, to := false, true // forward: from inputs to outputs
	in := "a"               // the input side, where returned_inputs applies
	if p.Direction == core.Backward {
		from, to, in = true, false, "b"
	}
	// The recursive part yields each step's edge twice, through the two
	// rows of k: as the lot it reaches (id, NULL, NULL), which the next
	// step walks on from, and as the edge (id, f, g), which is listed and
	// not walked on. UNION keeps each row once (NULLs compare equal
	// there), so each lot is walked once and cycles end. It used to walk
	// the lots and then join them to the links again for their edges, the
	// same index reads twice (the typical trace of the 1M plant, 564
	// lots: 10,466 pages, now 5,857). Walking edges instead of lots (UNION
	// on edges) read 5 times more pages for the widest lot: a lot reached
	// by k edges was walked k times. g is COLLATE "C" as links.grp is:
	// both parts of the UNION must agree.
	var limit *int // NULL: no limit
	if p.Limit > 0 {
		n := p.Limit + 1
		limit = &n
	}
	rows, err := s.pool.Query(ctx, `WITH RECURSIVE r(id, f, g) AS (
		SELECT unnest($1::bigint[]), NULL::bigint, NULL::text COLLATE "C"
		UNION
		SELECT b.lot_id, CASE WHEN k.edge THEN a.lot_id END, CASE WHEN k.edge THEN a.grp END
		FROM r JOIN links a ON a.lot_id = r.id AND a.out = $2
		JOIN links b ON b.grp = a.grp AND b.out = $3
		CROSS JOIN (VALUES (false), (true)) k(edge)
		WHERE r.f IS NULL
		  AND NOT EXISTS (SELECT 1 FROM returned_inputs x WHERE x.lot_id = `+in+`.lot_id AND x.grp = `+in+`.grp))
		SELECT f, id, g FROM r WHERE f IS NOT NULL LIMIT $4`, s.read(p.LotIDs, from, to, limit)...)
	if err != nil {
		return nil, fmt.Errorf("walk the genealogy: %w", err)
	}
	defer rows.Close()
	var out []core.Hop
	for rows.Next() {
		var h core.Hop
		if err := rows.Scan(&h.From, &h.To, &h.Group); err != nil {
			return nil, fmt.Errorf("walk the genealogy: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("walk the genealogy: %w", err)
	}
	return out, nil
}

// readLots runs a read of the rows of many lots. From wideRead lots on it
// runs in a read-only transaction that keeps the planner on the indexes:
// misled by the few lots consumed by thousands of orders, it planned a
// walk level of 24,000 lots as hash joins over all 2.5M links of the 5M
// plant, and on-hand reads as sequential scans (three times slower).
//
// Every row is scanned into one T through one list of destinations
// (dest is called once; its destinations are scalars in the T), then
// copied out: building both per row cost an allocation or two a row.
func readLots[T any](ctx context.Context, s *DB, lots int, what, query string, args []any, dest func(*T) []any) ([]T, error) {
	var out []T
	err := streamLots(ctx, s, lots, query, args, func(rows pgx.Rows) error {
		v := new(T)
		d := dest(v)
		for rows.Next() {
			if err := rows.Scan(d...); err != nil {
				return err
			}
			out = append(out, *v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// streamLots runs a read of the rows of many lots as readLots does and
// hands its rows to fn, which reads them (and closes them) before it
// returns.
func streamLots(ctx context.Context, s *DB, lots int, query string, args []any, fn func(pgx.Rows) error) error {
	if lots < s.wideRead {
		rows, err := s.pool.Query(ctx, query, s.read(args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return fn(rows)
	}
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true),
			set_config('enable_seqscan', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return fn(rows)
	})
}

func (s *DB) GenealogyVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, `SELECT version FROM genealogy_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read the genealogy version: %w", err)
	}
	return v, nil
}

func (s *DB) EvaluationMark(ctx context.Context) (core.EvaluationMark, error) {
	var m core.EvaluationMark
	if err := s.pool.QueryRow(ctx, `SELECT version, evaluated FROM evaluation_mark`).Scan(&m.Version, &m.Evaluated); err != nil {
		return m, fmt.Errorf("read the evaluation mark of %s: %w", s.name, err)
	}
	return m, nil
}

func (t *ingestTx) MarkEvaluated(ctx context.Context, v int64) error {
	if _, err := t.tx.Exec(ctx, `UPDATE evaluation_mark SET evaluated = greatest(evaluated, $1)`, v); err != nil {
		return fmt.Errorf("mark the gap rules evaluated at data version %d: %w", v, err)
	}
	return nil
}

func (s *DB) ReadGenealogy(ctx context.Context, fn func(core.GenealogyLink) error) (int64, error) {
	// One snapshot: the links and the version are of one moment.
	var version int64
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT version FROM genealogy_version`).Scan(&version); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT DISTINCT grp, out, lot_id FROM links k
			WHERE out OR NOT EXISTS (SELECT 1 FROM returned_inputs r WHERE r.lot_id = k.lot_id AND r.grp = k.grp)
			ORDER BY grp, out, lot_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		var l core.GenealogyLink
		var grp pgtype.DriverBytes // a group's rows are consecutive: one string per group
		for rows.Next() {
			if err := rows.Scan(&grp, &l.Out, &l.LotID); err != nil {
				return err
			}
			if string(grp) != l.Group {
				l.Group = string(grp)
			}
			if err := fn(l); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("read the genealogy: %w", err)
	}
	return version, nil
}

func (s *DB) OnHand(ctx context.Context, lotIDs []int64) ([]core.LotQtyRow, error) {
	return readLots(ctx, s, len(lotIDs), "read on hand", `SELECT lot_id, uom, received + produced - consumed - shipped + adjusted FROM lot_qty
		WHERE lot_id = ANY($1::bigint[]) ORDER BY lot_id, uom`, []any{lotIDs},
		func(q *core.LotQtyRow) []any { return []any{&q.LotID, &q.UOM, &q.Qty} })
}

func (s *DB) Receipts(ctx context.Context, f core.ReceiptFilter) ([]core.ReceiptRow, error) {
	where, arg, lots := `lot_id = ANY($1::bigint[])`, any(f.LotIDs), len(f.LotIDs)
	if f.SupplierLot != "" {
		where, arg, lots = `supplier_lot = $1`, f.SupplierLot, 0
	}
	return readLots(ctx, s, lots, "read receipts", receiptsSQL+where, []any{arg}, receiptDest)
}

const receiptsSQL = `SELECT event_id, lot_id, supplier_id, supplier_name, supplier_lot, po, qty, uom, ts
		FROM receipts WHERE `

func receiptDest(r *core.ReceiptRow) []any {
	return []any{&r.EventID, &r.LotID, &r.Supplier.ID, &r.Supplier.Name, &r.SupplierLot, &r.PO, &r.Qty, &r.UOM, timeScanner{&r.Time}}
}

func (s *DB) Shipments(ctx context.Context, f core.ShipmentFilter) ([]core.ShipmentRow, error) {
	where, arg, lots := `lot_id = ANY($1::bigint[])`, any(f.LotIDs), len(f.LotIDs)
	switch {
	case f.SalesOrder != "":
		where, arg, lots = `sales_order = $1`, f.SalesOrder, 0
	case f.CustomerID != "":
		where, arg, lots = `customer_id = $1`, f.CustomerID, 0
	}
	return readLots(ctx, s, lots, "read shipments", shipmentsSQL+where, []any{arg}, shipmentDest)
}

const shipmentsSQL = `SELECT event_id, lot_id, customer_id, customer_name, sales_order, delivery, qty, uom, ts
		FROM shipments WHERE `

func shipmentDest(r *core.ShipmentRow) []any {
	return []any{&r.EventID, &r.LotID, &r.Customer.ID, &r.Customer.Name, &r.SalesOrder, &r.Delivery, &r.Qty, &r.UOM, timeScanner{&r.Time}}
}

func (s *DB) Originated(ctx context.Context, f core.OriginFilter) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT l.id FROM lots l JOIN receipts r ON r.lot_id = l.id WHERE l.item = $1 AND r.ts >= $2 AND r.ts < $3
		UNION
		SELECT l.id FROM lots l JOIN links k ON k.lot_id = l.id AND k.out WHERE l.item = $1 AND k.ts >= $2 AND k.ts < $3
		ORDER BY 1`, f.Item, micros(f.From), micros(f.To))
	if err != nil {
		return nil, fmt.Errorf("find lots of %s: %w", f.Item, err)
	}
	return collect(rows, "find lots of "+f.Item, func(id *int64) []any { return []any{id} })
}

func (s *DB) LotEvents(ctx context.Context, lotID int64) ([]core.EventRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventCols+` FROM events WHERE seq IN (
			SELECT seq FROM events WHERE lot_id = $1
			UNION
			SELECT seq FROM events WHERE type = 'transform' AND id IN (SELECT event_id FROM links WHERE lot_id = $1)
			UNION
			SELECT seq FROM events WHERE reverses IN (SELECT id FROM events WHERE lot_id = $1)
		) ORDER BY ts, id, version`, lotID) // the same order whatever order events came in
	if err != nil {
		return nil, fmt.Errorf("read events of lot: %w", err)
	}
	defer rows.Close()
	var out []core.EventRow
	for rows.Next() {
		r, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("read events of lot: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events of lot: %w", err)
	}
	return out, nil
}

func (s *DB) OrdersWithoutInputs(ctx context.Context) ([]core.OrderGapRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT o.ord, min(k.ts),
		  array_agg(l.item ORDER BY l.item, l.lot), array_agg(l.lot ORDER BY l.item, l.lot)
		FROM orders o JOIN links k ON k.grp = o.ord AND k.out JOIN lots l ON l.id = k.lot_id
		WHERE o.outs > 0 AND o.ins = 0 GROUP BY o.ord ORDER BY o.ord`)
	if err != nil {
		return nil, fmt.Errorf("find orders without inputs: %w", err)
	}
	defer rows.Close()
	var out []core.OrderGapRow
	for rows.Next() {
		var g core.OrderGapRow
		var items, lots []string
		if err := rows.Scan(&g.Order, timeScanner{&g.Since}, &items, &lots); err != nil {
			return nil, fmt.Errorf("find orders without inputs: %w", err)
		}
		for i := range items {
			g.Lots = append(g.Lots, core.LotRef{Item: items[i], Lot: lots[i]})
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find orders without inputs: %w", err)
	}
	return out, nil
}

var _ core.Store = (*DB)(nil)
