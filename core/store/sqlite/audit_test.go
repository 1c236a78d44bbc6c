package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/core/store/storetest"
)

func TestAudit(t *testing.T) {
	storetest.ExerciseAudit(t, func(t testing.TB) storetest.Database {
		path := filepath.Join(t.TempDir(), "hub.db")
		open := func(t testing.TB) core.Store {
			db, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		return storetest.Database{Store: open(t), Reopen: open, Exec: func(t testing.TB, query string) {
			t.Helper()
			// Another connection, as someone with the file would edit it.
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(context.Background(), query); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}}
	})
}

// A store that held events before the audit trail existed: after the
// migration its events are named as stored before the trail, and the trail
// verifies from its first entry.
func TestAuditMigrationWithEvents(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hub.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	in := core.Ingester{Store: db}
	if _, err := in.IngestJSONL(ctx, strings.NewReader(`{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG","supplier":{"id":"V","name":"V Co"}}`), "r.jsonl"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// Back to schema 12: the audit trail's tables and those of every
	// later migration go.
	for _, q := range []string{`DELETE FROM schema_migrations WHERE version >= 13`, `DROP TABLE audit_log`, `DROP TABLE audit_head`,
		`DROP TABLE IF EXISTS sessions`, `DROP TABLE IF EXISTS api_tokens`, `DROP TABLE IF EXISTS users`, `DROP TABLE IF EXISTS outbox`,
		`DROP TABLE IF EXISTS order_lots`, `DROP TABLE IF EXISTS returned_inputs`, `DROP TABLE IF EXISTS claims`, `DROP TABLE IF EXISTS genealogy_snapshot`} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Audit(ctx, core.AuditEntry{Action: "test.after_migration"}); err != nil {
		t.Fatal(err)
	}
	v, err := core.VerifyAudit(ctx, db, nil)
	if err != nil || !v.OK || v.EventsBefore != 1 || v.Events != 0 || v.Entries != 2 {
		t.Errorf("verify a migrated store = %+v, %v; want OK, the genesis and one entry, the one event before the trail", v, err)
	}
}
