package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/core/store/storetest"
)

// MustOpen opens a store in a new file under t.TempDir().
func MustOpen(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Exercise(t, func(t testing.TB) core.Store { return MustOpen(t) })
}

// TestLotDataCacheSeesAnotherHandle: what `hub serve` reports from
// memory follows the writes another process (hub ingest, a sync) makes
// to the same file.
func TestLotDataCacheSeesAnotherHandle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	open := func() *sqlite.DB {
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	storetest.CacheFollowsWrites(t, open(), open())
}

func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(tb testing.TB) core.Store { return MustOpen(tb) })
}
