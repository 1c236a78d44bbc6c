package postgres_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/postgres"
	"github.com/lothub/lothub/plantgen"
)

// analyzed returns, for each table, how often it was analysed by hand
// (ANALYZE: the hub) and by autovacuum.
func analyzed(t *testing.T, dbURL string, tables ...string) map[string][2]int64 {
	t.Helper()
	rows, err := connect(t, dbURL).Query(context.Background(), `SELECT relname, analyze_count, autoanalyze_count
		FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY($1)`, tables)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]int64{}
	for rows.Next() {
		var name string
		var n [2]int64
		if err := rows.Scan(&name, &n[0], &n[1]); err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// noAutovacuum turns autovacuum off for every table of the store, as an
// operator may for a bulk load: only the hub can analyse them then.
func noAutovacuum(t *testing.T, dbURL string) {
	t.Helper()
	ctx := context.Background()
	conn := connect(t, dbURL)
	rows, err := conn.Query(ctx, `SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	for _, name := range tables {
		if _, err := conn.Exec(ctx, `ALTER TABLE `+name+` SET (autovacuum_enabled = false)`); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBulkIngestAnalysesTheTablesItFilled(t *testing.T) {
	ctx := context.Background()
	dbURL := NewDatabase(t)
	db := open(t, dbURL)
	noAutovacuum(t, dbURL)
	var plant bytes.Buffer
	if err := plantgen.Generate(ctx, &plant, plantgen.Config{Events: 20000, Seed: 11}); err != nil {
		t.Fatal(err)
	}
	in := core.Ingester{Store: db}
	if _, err := in.IngestJSONL(ctx, &plant, "plant.jsonl"); err != nil {
		t.Fatal(err)
	}
	// Refreshes after a table's first run beside the next writer; Close
	// waits for the last.
	db.Close()
	filled := []string{"events", "links", "shipments", "lot_qty", "lots", "orders"}
	got := analyzed(t, dbURL, filled...)
	for _, name := range filled {
		if n := got[name]; n[0] == 0 || n[1] != 0 {
			t.Errorf("%s after a 20,000-event ingest with autovacuum off: analysed %d times by the hub, %d by autovacuum; want ≥ 1 and 0", name, n[0], n[1])
		}
	}
}

func TestSmallIngestDoesNotAnalyse(t *testing.T) {
	ctx := context.Background()
	dbURL := NewDatabase(t)
	db := open(t, dbURL)
	noAutovacuum(t, dbURL)
	var plant bytes.Buffer
	if err := plantgen.Generate(ctx, &plant, plantgen.Config{Events: 200, Seed: 11}); err != nil {
		t.Fatal(err)
	}
	in := core.Ingester{Store: db}
	if _, err := in.IngestJSONL(ctx, &plant, "plant.jsonl"); err != nil {
		t.Fatal(err)
	}
	if n := analyzed(t, dbURL, "events")["events"]; n[0] != 0 {
		t.Errorf("events analysed %d times after a 200-event ingest, want none (autovacuum's job)", n[0])
	}
}

// TestMigrationAnalysesAStoreWithData: a store that holds events and is
// migrated has its tables analysed, and its events (from before the
// evaluation mark existed) are due for evaluation.
func TestMigrationAnalysesAStoreWithData(t *testing.T) {
	ctx := context.Background()
	dbURL := NewDatabase(t)
	db := open(t, dbURL)
	noAutovacuum(t, dbURL)
	in := core.Ingester{Store: db}
	if _, err := in.IngestJSONL(ctx, bytes.NewReader([]byte(`{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG","supplier":{"id":"V","name":"V Co"}}`)), "r.jsonl"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Back to schema 8.
	conn := connect(t, dbURL)
	for _, q := range []string{
		`DELETE FROM schema_migrations WHERE version >= 9`,
		`ALTER TABLE runs DROP COLUMN skips`,
		`DROP TABLE evaluation_mark`,
		`ALTER TABLE events ALTER COLUMN body SET STATISTICS -1`,
		`DROP INDEX quarantine_open`,
		`ALTER TABLE quarantine DROP COLUMN resolve_reason`,
		`DROP TABLE audit_log`,
		`DROP TABLE audit_head`,
		`DROP TABLE sessions, api_tokens, users`, // 0014
		`DROP TABLE outbox`,                      // 0015
		`DROP TABLE order_lots`,
		`DROP TABLE returned_inputs`,
		`DROP TABLE genealogy_snapshot`,                                            // 0020
		`DROP INDEX links_confirm`, `CREATE INDEX links_event ON links (event_id)`, // 0022
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if n := analyzed(t, dbURL, "events")["events"]; n[0] != 0 {
		t.Fatalf("events analysed %d times before the migration, want none", n[0])
	}
	db = open(t, dbURL)
	for _, name := range []string{"events", "lots", "receipts", "lot_qty"} {
		if n := analyzed(t, dbURL, name)[name]; n[0] == 0 {
			t.Errorf("%s not analysed after the migration", name)
		}
	}
	m, err := db.EvaluationMark(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Due() {
		t.Errorf("evaluation mark of a migrated store with events = %+v, want due", m)
	}
	// Its event from before the audit trail is named as such, and the
	// trail verifies from the first write after.
	if _, err := db.Audit(ctx, core.AuditEntry{Action: "test.after_migration"}); err != nil {
		t.Fatal(err)
	}
	v, err := core.VerifyAudit(ctx, db, nil)
	if err != nil || !v.OK || v.EventsBefore != 1 || v.Events != 0 {
		t.Errorf("verify a migrated store = %+v, %v; want OK with the one event before the trail", v, err)
	}
}

func TestStatisticsGrowth(t *testing.T) {
	for _, c := range []struct {
		name      string
		reltuples float64
		want      float64
	}{
		{"NeverAnalysed", -1, 0},
		{"Empty", 0, 0},
		{"SmallDoubles", 50_000, 50_000},
		{"JustBelowLarge", 99_999, 99_999},
		{"LargeQuadruples", 100_000, 300_000},
		{"Million", 1_000_000, 3_000_000},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := postgres.Growth(c.reltuples); got != c.want {
				t.Errorf("Growth(%v) = %v, want %v", c.reltuples, got, c.want)
			}
		})
	}
}
