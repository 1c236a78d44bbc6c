package postgres_test

import (
	"context"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/storetest"
)

// TestMigrationNetsReturns: a store with returns of material to orders
// ingested before migration 16 is netted by it.
func TestMigrationNetsReturns(t *testing.T) {
	dbURL := NewDatabase(t)
	storetest.MigrationNetsReturns(t, func(t *testing.T) core.Store { return open(t, dbURL) }, func(t *testing.T) {
		conn := connect(t, dbURL)
		for _, q := range []string{
			`DELETE FROM schema_migrations WHERE version >= 16`,
			`DROP TABLE order_lots`,
			`DROP TABLE returned_inputs`,
			`DROP TABLE genealogy_snapshot`,                                            // 0020
			`DROP INDEX links_confirm`, `CREATE INDEX links_event ON links (event_id)`, // 0022
			`UPDATE orders SET ins = (SELECT count(*) FROM links k WHERE k.grp = orders.ord AND NOT k.out)`,
		} {
			if _, err := conn.Exec(context.Background(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	})
}
