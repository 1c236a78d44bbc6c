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

func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(tb testing.TB) core.Store { return MustOpen(tb) })
}
