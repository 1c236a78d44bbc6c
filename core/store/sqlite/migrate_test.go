package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/core/store/storetest"
)

// TestMigrationNetsReturns: a store with returns of material to orders
// ingested before migration 16 is netted by it.
func TestMigrationNetsReturns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	storetest.MigrationNetsReturns(t, func(t *testing.T) core.Store {
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}, func(t *testing.T) {
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range []string{
			`DELETE FROM schema_migrations WHERE version >= 16`,
			`DROP TABLE order_lots`,
			`DROP TABLE returned_inputs`,
			`DROP TABLE genealogy_snapshot`, // 0020
			`UPDATE orders SET ins = (SELECT count(*) FROM links k WHERE k.grp = orders.ord AND k.out = 0)`,
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	})
}
