package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/postgres"
	"github.com/lothub/lothub/core/store/storetest"
	"github.com/lothub/lothub/internal/testpg"
)

// NewDatabase creates an empty database for the test, dropped when the test
// ends, and returns its URL.
func NewDatabase(t testing.TB) string { return testpg.NewDatabase(t) }

// MustOpen opens a store in a new database.
func MustOpen(t testing.TB) *postgres.DB {
	t.Helper()
	return open(t, NewDatabase(t))
}

func open(t testing.TB, dbURL string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Exercise(t, func(t testing.TB) core.Store { return MustOpen(t) })
}

// TestConformanceWideReads runs the suite again with every walk level
// done the way a wide one is (in a read-only transaction that steers the
// planner to the indexes).
func TestConformanceWideReads(t *testing.T) {
	storetest.Exercise(t, func(t testing.TB) core.Store {
		db := MustOpen(t)
		postgres.SetWideRead(db, 1)
		return db
	})
}

// TestConformanceOneShot runs the suite again on a store opened for one
// command, whose small reads run in pgx's exec mode (parameters and
// results in text, no prepared statement).
func TestConformanceOneShot(t *testing.T) {
	storetest.Exercise(t, func(t testing.TB) core.Store {
		db, err := postgres.OpenWith(context.Background(), NewDatabase(t), postgres.Options{OneShot: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(tb testing.TB) core.Store { return MustOpen(tb) })
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	dbURL := NewDatabase(t)
	db := open(t, dbURL)
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	latest := postgres.SchemaLatest()
	if latest < 2 || v != latest {
		t.Fatalf("schema version = %d, want the latest migration %d", v, latest)
	}
	db.Close()
	// Re-opening applies nothing.
	db = open(t, dbURL)
	if v2, err := db.SchemaVersion(ctx); err != nil || v2 != v {
		t.Fatalf("schema version after re-open = %d, %v; want %d", v2, err, v)
	}
	conn := connect(t, dbURL)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != latest {
		t.Fatalf("schema_migrations has %d rows, want %d", n, latest)
	}
}

func connect(t testing.TB, dbURL string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

func TestConcurrentOpen(t *testing.T) {
	// Two hubs starting at once on a new database: the advisory lock makes
	// one wait for the other's migrations.
	dbURL := NewDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			db, err := postgres.Open(context.Background(), dbURL)
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	dbURL := NewDatabase(t)
	open(t, dbURL).Close()
	if _, err := connect(t, dbURL).Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(ctx, dbURL)
	if err == nil {
		db.Close()
		t.Fatal("Open accepted a database at schema version 999")
	}
	if !strings.Contains(err.Error(), "newer") || core.ErrorCode(err) != core.ECONFLICT {
		t.Fatalf("err = %v (code %q), want an ECONFLICT saying the schema is newer", err, core.ErrorCode(err))
	}
	t.Log(err)
}

func TestErrorsHideThePassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, u := range []string{
		"postgres://alice:s3cr%2Ft@127.0.0.1:1/plantdb?sslmode=disable&connect_timeout=2",
		"postgres://alice:s3cr%2Ft@127.0.0.1:notaport/plantdb",
		"postgres://alice:s3cr t@127.0.0.1/plantdb",
		"postgres://alice@127.0.0.1:1/plantdb?password=s3cr%2Ft&sslmode=disable&connect_timeout=2",
		"host=127.0.0.1 port=1 user=alice password=s3cr/t dbname=plantdb sslmode=disable connect_timeout=2",
		"host=127.0.0.1 port=1 user=alice password='s3cr/t' dbname=plantdb sslmode=bogus",
		"host=127.0.0.1 port=1 user=alice password='s3cr/t dbname=plantdb",
	} {
		db, err := postgres.Open(ctx, u)
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", u)
			continue
		}
		msg := err.Error()
		t.Log(msg)
		if strings.Contains(msg, "s3cr") {
			t.Errorf("Open(%q) error shows the password: %s", u, msg)
		}
		if !strings.Contains(msg, "plantdb") {
			t.Errorf("Open(%q) error does not name the database: %s", u, msg)
		}
	}
}

// plant renders a synthetic plant's events as JSONL: per order, two raw
// lots received and consumed, one output lot produced and shipped twice.
func plant(orders int) []byte {
	var b bytes.Buffer
	for i := range orders {
		for j := range 2 {
			fmt.Fprintf(&b, `{"id":"r%d-%d","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"RAW-%d","lot":"R%d"},"qty":100,"uom":"KG","supplier":{"id":"V-%d","name":"Vendor"},"supplier_lot":"S%d-%d","po":"PO-%d"}`+"\n",
				i, j, j, i, i%50, i, j, i)
			fmt.Fprintf(&b, `{"id":"c%d-%d","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"RAW-%d","lot":"R%d"},"qty":40,"uom":"KG","order":"WO-%d"}`+"\n",
				i, j, j, i, i)
		}
		fmt.Fprintf(&b, `{"id":"p%d","type":"produce","time":"2026-03-02T12:00:00Z","lot":{"item":"FG","lot":"F%d"},"qty":80,"uom":"KG","order":"WO-%d"}`+"\n", i, i, i)
		for j := range 2 {
			fmt.Fprintf(&b, `{"id":"s%d-%d","type":"ship","time":"2026-03-03T10:00:00Z","lot":{"item":"FG","lot":"F%d"},"qty":30,"uom":"KG","customer":{"id":"C-%d","name":"Customer"},"sales_order":"SO-%d-%d"}`+"\n",
				i, j, i, (i+j)%20, i, j)
		}
	}
	return b.Bytes()
}

const eventsPerOrder = 7

func TestIngestAndRecall(t *testing.T) {
	ctx := context.Background()
	events := plant(100)
	// One store fed in big batches (COPY), one in small ones (INSERT):
	// same answers.
	var results []string
	for _, size := range []int{5000, 7} {
		db := MustOpen(t)
		in := core.Ingester{Store: db, BatchSize: size}
		st, err := in.IngestJSONL(ctx, bytes.NewReader(events), "plant.jsonl")
		if err != nil {
			t.Fatal(err)
		}
		if st.New != 100*eventsPerOrder || st.Quarantined != 0 {
			t.Fatalf("batch %d: stats %+v", size, st)
		}
		q := core.Queries{Store: db}
		r, err := q.Recall(ctx, core.Selector{Lot: &core.LotRef{Item: "RAW-1", Lot: "R42"}})
		if err != nil {
			t.Fatal(err)
		}
		if r.Root == nil || len(r.Lots) != 1 || r.Lots[0].Item != "FG" || r.Lots[0].Lot != "F42" {
			t.Fatalf("batch %d: recall RAW-1/R42 reached %+v", size, r.Lots)
		}
		if got := fmt.Sprint(*r.Root.OnHand, *r.Lots[0].OnHand); got != "[{60 KG}] [{20 KG}]" {
			t.Errorf("batch %d: on hand %s, want [{60 KG}] [{20 KG}]", size, got)
		}
		if len(r.Links) != 1 || r.Links[0].Order != "WO-42" {
			t.Errorf("batch %d: links %+v", size, r.Links)
		}
		if len(r.Shipments) != 2 || len(*r.Customers) != 2 {
			t.Errorf("batch %d: shipments %+v, customers %+v", size, r.Shipments, *r.Customers)
		}
		b, err := q.Trace(ctx, core.Backward, core.Selector{SalesOrder: "SO-7-1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Lots) != 2 || len(b.Suppliers) != 2 {
			t.Errorf("batch %d: backward from SO-7-1: lots %+v suppliers %+v", size, b.Lots, b.Suppliers)
		}
		gaps, err := q.Gaps(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(gaps) != 0 {
			t.Errorf("batch %d: gaps %+v", size, gaps)
		}
		j, err := json.Marshal([]*core.TraceResult{r, b})
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, string(j))
		// Everything again: nothing changes.
		st, err = in.IngestJSONL(ctx, bytes.NewReader(events), "plant.jsonl")
		if err != nil {
			t.Fatal(err)
		}
		if st.Unchanged != 100*eventsPerOrder {
			t.Errorf("batch %d: re-ingest stats %+v", size, st)
		}
	}
	if results[0] != results[1] {
		t.Errorf("batching changes the answers:\n%s\n%s", results[0], results[1])
	}
}

func TestQuarantineKeepsAnyBytes(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	raw := "{\"id\":\"x\xff\xfe\",\"type\":\x00 latin-1 caf\xe9"
	in := core.Ingester{Store: db}
	st, err := in.IngestJSONL(ctx, strings.NewReader(raw+"\n"), "bad\xff.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if st.Quarantined != 1 {
		t.Fatalf("stats %+v, want 1 quarantined", st)
	}
	q, err := db.Quarantined(ctx, core.QuarantineFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 1 || q[0].Raw != raw || q[0].Line != 1 {
		t.Fatalf("quarantine = %+v, want the raw line as read", q)
	}
}

func TestQuarantineLimit(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	in := core.Ingester{Store: db}
	if _, err := in.IngestJSONL(ctx, strings.NewReader("a\nb\nc\n"), "junk"); err != nil {
		t.Fatal(err)
	}
	q, err := db.Quarantined(ctx, core.QuarantineFilter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 2 || q[0].Line != 1 || q[1].Line != 2 {
		t.Fatalf("quarantine with limit 2 = %+v", q)
	}
}

func TestConcurrentWriters(t *testing.T) {
	// Two hubs on one database ingest the same input at once: writers are
	// serialised, so each event is stored once and counted new once.
	ctx := context.Background()
	dbURL := NewDatabase(t)
	events := plant(300)
	stats := make([]core.IngestStats, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		db := open(t, dbURL)
		wg.Go(func() {
			in := core.Ingester{Store: db, BatchSize: 100}
			stats[i], errs[i] = in.IngestJSONL(ctx, bytes.NewReader(events), "plant.jsonl")
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := stats[0].New + stats[1].New; n != 300*eventsPerOrder {
		t.Errorf("new events = %d, want %d (stats %+v)", n, 300*eventsPerOrder, stats)
	}
	var n int
	if err := connect(t, dbURL).QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 300*eventsPerOrder {
		t.Errorf("events stored = %d, want %d", n, 300*eventsPerOrder)
	}
}

// BenchmarkIngest measures end-to-end ingest (decode, validate, plan,
// write) of a synthetic plant in batches of 5000.
func BenchmarkIngest(b *testing.B) {
	ctx := context.Background()
	const orders = 20000
	events := plant(orders)
	for b.Loop() {
		b.StopTimer()
		db := MustOpen(b)
		b.StartTimer()
		in := core.Ingester{Store: db}
		if _, err := in.IngestJSONL(ctx, bytes.NewReader(events), "plant.jsonl"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(orders*eventsPerOrder*b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestLotDataCacheSeesAnotherReplica: what one replica's trace reports
// from memory follows every write another replica makes (shipments,
// reversals, holds, on hand), byte for byte the store's answer.
func TestLotDataCacheSeesAnotherReplica(t *testing.T) {
	url := NewDatabase(t)
	storetest.CacheFollowsWrites(t, open(t, url), open(t, url))
}

// TestGraphCacheSeesAnotherReplica: two hub replicas on one database, the
// first answering from its in-memory genealogy. Links another replica
// writes reach the first one's traces at once: every walk reads the
// genealogy version, which a write raises in its own transaction.
func TestGraphCacheSeesAnotherReplica(t *testing.T) {
	ctx := context.Background()
	url := NewDatabase(t)
	a, b := open(t, url), open(t, url)
	ingest := func(s core.Store, lines ...string) {
		t.Helper()
		in := core.Ingester{Store: s}
		if _, err := in.IngestJSONL(ctx, strings.NewReader(strings.Join(lines, "\n")), "replica"); err != nil {
			t.Fatal(err)
		}
	}
	ev := func(id, typ, item, lot, order string) string {
		return fmt.Sprintf(`{"id":%q,"type":%q,"time":"2026-03-01T08:00:00Z","lot":{"item":%q,"lot":%q},"qty":1,"uom":"KG","order":%q}`, id, typ, item, lot, order)
	}
	ingest(a, `{"id":"r1","type":"receive","time":"2026-03-01T07:00:00Z","lot":{"item":"FLOUR","lot":"F-1"},"qty":10,"uom":"KG","supplier":{"id":"V1"}}`,
		ev("c1", "consume", "FLOUR", "F-1", "WO-1"), ev("p1", "produce", "DOUGH", "D-1", "WO-1"))
	cache := core.NewGraphCache(a)
	defer cache.Close()
	if err := cache.Load(ctx); err != nil {
		t.Fatal(err)
	}
	q := &core.Queries{Store: a, Graph: cache}
	reached := func() []string {
		t.Helper()
		r, err := q.Trace(ctx, core.Forward, core.Selector{Lot: &core.LotRef{Item: "FLOUR", Lot: "F-1"}})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range r.Lots {
			out = append(out, l.Item+"/"+l.Lot)
		}
		return out
	}
	if got := strings.Join(reached(), " "); got != "DOUGH/D-1" {
		t.Fatalf("before: forward trace reaches %q", got)
	}
	if cache.Walks() != 1 {
		t.Fatalf("the first trace was not answered from memory (walks %d)", cache.Walks())
	}
	// Replica b consumes the dough into bread.
	ingest(b, ev("c2", "consume", "DOUGH", "D-1", "WO-2"), ev("p2", "produce", "BREAD", "B-1", "WO-2"))
	if got := strings.Join(reached(), " "); got != "DOUGH/D-1 BREAD/B-1" {
		t.Fatalf("after another replica's write: forward trace reaches %q, want DOUGH/D-1 BREAD/B-1", got)
	}
	// Once the cache has caught up, it answers from memory again, and
	// still sees b's next write.
	if err := cache.Load(ctx); err != nil {
		t.Fatal(err)
	}
	ingest(b, `{"id":"x2","type":"reverse","time":"2026-03-01T09:00:00Z","reverses":"c2"}`)
	if got := strings.Join(reached(), " "); got != "DOUGH/D-1" {
		t.Fatalf("after another replica's reversal: forward trace reaches %q, want DOUGH/D-1", got)
	}
}

// TestOneShotReadsExactFloats: a one-shot store reads in text, and
// PostgreSQL writes a float8 as text with only 15 significant digits
// when extra_float_digits is 0 (set here on the database, as an
// administrator might): the store asks for exact output itself, so every
// quantity comes back as stored.
func TestOneShotReadsExactFloats(t *testing.T) {
	ctx := context.Background()
	dbURL := NewDatabase(t)
	admin := testpg.ConnectAdmin(t, ctx)
	defer admin.Close(ctx)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+strings.TrimPrefix(u.Path, "/")+` SET extra_float_digits = 0`); err != nil {
		t.Fatal(err)
	}
	const qty = 0.30000000000000004 // 0.1 + 0.2: 17 significant digits
	w := open(t, dbURL)
	events := fmt.Sprintf(`{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"RAW","lot":"R1"},"qty":%v,"uom":"KG","supplier":{"id":"V","name":"Vendor"}}`+"\n", qty)
	if _, err := (&core.Ingester{Store: w}).IngestJSONL(ctx, strings.NewReader(events), "plant.jsonl"); err != nil {
		t.Fatal(err)
	}
	db, err := postgres.OpenWith(ctx, dbURL, postgres.Options{OneShot: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id, err := db.FindLot(ctx, core.LotRef{Item: "RAW", Lot: "R1"})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := db.Receipts(ctx, core.ReceiptFilter{LotIDs: []int64{id}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Qty != qty {
		t.Errorf("receipts = %+v, want one of qty %v", rs, qty)
	}
	oh, err := db.OnHand(ctx, []int64{id})
	if err != nil {
		t.Fatal(err)
	}
	if len(oh) != 1 || oh[0].Qty != qty {
		t.Errorf("on hand = %+v, want %v", oh, qty)
	}
	// A trace's reads in one batch (core.TraceReader) read in text too.
	r, ok, err := db.TraceReads(ctx, []int64{id}, nil, true)
	if err != nil || !ok {
		t.Fatalf("TraceReads = %v, %v", ok, err)
	}
	if len(r.Receipts) != 1 || r.Receipts[0].Qty != qty {
		t.Errorf("batch receipts = %+v, want one of qty %v", r.Receipts, qty)
	}
	if len(r.States) != 1 || len(r.States[0].OnHand) != 1 || r.States[0].OnHand[0].Qty != qty {
		t.Errorf("batch lot states = %+v, want on hand %v", r.States, qty)
	}
}
