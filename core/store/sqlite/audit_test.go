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
