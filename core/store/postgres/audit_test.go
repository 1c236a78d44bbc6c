package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/storetest"
)

func TestAudit(t *testing.T) {
	storetest.ExerciseAudit(t, func(t testing.TB) storetest.Database {
		url := NewDatabase(t)
		return storetest.Database{
			Store:  open(t, url),
			Reopen: func(t testing.TB) core.Store { return open(t, url) }, // a second hub on the same database
			Exec: func(t testing.TB, query string) {
				t.Helper()
				ctx := context.Background()
				conn, err := pgx.Connect(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(ctx)
				if _, err := conn.Exec(ctx, query); err != nil {
					t.Fatalf("%s: %v", query, err)
				}
			},
		}
	})
}
