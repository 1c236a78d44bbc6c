package postgres_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core/store/postgres"
	"github.com/lothub/lothub/internal/testpg"
)

// backends counts the server's connections to the database at dbURL's
// name, waiting (a bounded number of times) for closed ones to go.
func backends(t *testing.T, name string, want int) int {
	t.Helper()
	ctx := context.Background()
	admin := testpg.ConnectAdmin(t, ctx)
	defer admin.Close(ctx)
	var n int
	for range 100 {
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == want {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

func dbName(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// A store opened early (postgres.Prestart) is the store OpenWith gives:
// a new database is migrated, and the early connection is the one used.
func TestPrestartTakenOver(t *testing.T) {
	ctx := context.Background()
	dbURL := NewDatabase(t)
	o := postgres.Options{OneShot: true}
	postgres.Prestart(dbURL, o)
	s, err := postgres.OpenWith(ctx, dbURL, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v != postgres.SchemaLatest() {
		t.Fatalf("schema version %d after an early open of a new database, want %d", v, postgres.SchemaLatest())
	}
	name := dbName(t, dbURL)
	if n := backends(t, name, 1); n != 1 {
		t.Errorf("%d connections to %s, want 1: the early one, taken over", n, name)
	}
	postgres.ClosePrestarted() // nothing left to close
	// A second open finds the schema current, early or not.
	postgres.Prestart(dbURL, o)
	s2, err := postgres.OpenWith(ctx, dbURL, o)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

// An early open that no OpenWith asks for (other options, or none) is
// closed by ClosePrestarted, and the store opens on its own.
func TestPrestartNotTaken(t *testing.T) {
	ctx := context.Background()
	dbURL := NewDatabase(t)
	first, err := postgres.Open(ctx, dbURL) // migrated
	if err != nil {
		t.Fatal(err)
	}
	name := dbName(t, dbURL)
	first.Close()

	postgres.Prestart(dbURL, postgres.Options{OneShot: true})
	s, err := postgres.OpenWith(ctx, dbURL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SchemaVersion(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	postgres.ClosePrestarted()
	if n := backends(t, name, 0); n != 0 {
		t.Errorf("%d connections to %s left after ClosePrestarted and Close, want 0", n, name)
	}
}

// When the early open fails, OpenWith fails as it does without one.
func TestPrestartFailureReportedAsBefore(t *testing.T) {
	ctx := context.Background()
	dbURL := "postgres://postgres@127.0.0.1:1/nothing?sslmode=disable&connect_timeout=5"
	_, want := postgres.OpenWith(ctx, dbURL, postgres.Options{OneShot: true})
	if want == nil {
		t.Fatal("opened a store on port 1")
	}
	postgres.Prestart(dbURL, postgres.Options{OneShot: true})
	_, got := postgres.OpenWith(ctx, dbURL, postgres.Options{OneShot: true})
	if got == nil || got.Error() != want.Error() {
		t.Errorf("with an early open: %v\nwithout: %v", got, want)
	}
}
