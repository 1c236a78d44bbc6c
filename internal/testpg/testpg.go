// Package testpg gives tests an empty PostgreSQL database of their own on
// the server scripts/test starts: $LOTHUB_TEST_POSTGRES, by default
// postgres://postgres@127.0.0.1:5432/postgres. A test that needs
// PostgreSQL fails, never skips, when the server cannot be reached.
package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// DefaultAdminURL is the server used when LOTHUB_TEST_POSTGRES is unset.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL is the server the tests create their databases on.
func AdminURL() string {
	if u := os.Getenv("LOTHUB_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// ConnectAdmin connects to the server's administrative database.
func ConnectAdmin(t testing.TB, ctx context.Context) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		where := "LOTHUB_TEST_POSTGRES"
		if os.Getenv("LOTHUB_TEST_POSTGRES") == "" {
			where = "default " + DefaultAdminURL + " (set LOTHUB_TEST_POSTGRES to use another)"
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is required in CI and unreachable at %s: %v", where, err)
		}
		t.Fatalf("PostgreSQL unreachable at %s: %v\nstart it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", where, err)
	}
	return conn
}

// NewDatabase creates an empty database for the test, dropped when the test
// ends, and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	var b [6]byte
	rand.Read(b[:])
	name := "lothub_test_" + hex.EncodeToString(b[:])
	admin := ConnectAdmin(t, ctx)
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create test database %s: %v", name, err)
	}
	t.Cleanup(func() {
		admin := ConnectAdmin(t, ctx)
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return DatabaseURL(t, name)
}

// DatabaseURL is the admin URL pointing at database name.
func DatabaseURL(t testing.TB, name string) string {
	a := AdminURL()
	if !strings.Contains(a, "://") { // key=value form
		return a + " dbname=" + name
	}
	u, err := url.Parse(a)
	if err != nil {
		t.Fatalf("LOTHUB_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
