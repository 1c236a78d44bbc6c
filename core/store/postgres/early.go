package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lothub/lothub/core/store/prestart"
	"github.com/lothub/lothub/core/store/schema"
)

// A command-line process spends its first milliseconds initialising
// packages on one core while the other waits; connecting to PostgreSQL
// (a new server process, authentication, the schema check) waits on the
// server. Prestart starts that open in the background as early as the
// process knows its store, and the OpenWith that asks for the same URL
// with the same options takes it over: the two overlap. Nothing else
// changes: the early open reads only (it connects and reads the schema
// version; migrations, when due, are applied by OpenWith as always), and
// when it fails, OpenWith opens again and reports the failure as it
// always did.

// earlyKey says which open an early one is: OpenWith takes it over only
// for the same URL and options.
type earlyKey struct {
	url string
	o   Options
}

// early is what Prestart opened: a pool, and whether its schema is the
// latest this package knows.
type early struct {
	pool    *pgxpool.Pool
	name    string
	current bool
}

var earlyOpen prestart.Slot[earlyKey, early]

// earlyTimeout bounds the early open's wait for the server: past it,
// OpenWith opens on its own, with the caller's context.
const earlyTimeout = 30 * time.Second

// Prestart begins opening the store at url with options o in the
// background, for the OpenWith of the same url and options to take over
// (the first such call takes it; there is one at a time). A process
// that ends without opening it calls ClosePrestarted.
func Prestart(url string, o Options) {
	PrestartThen(url, o, nil)
}

// PrestartThen is Prestart that, once the store is open and its schema
// the latest, runs then on it before the open is handed over: the
// command's first reads, when the process can tell what they are, run on
// the server while the rest of the process initialises (a command-line
// trace, cmd/hub/internal/early/pg). The OpenWith that takes the open
// over waits for then to return; then must leave the store as it found
// it (it only reads).
func PrestartThen(url string, o Options, then func(context.Context, *DB)) {
	earlyOpen.Start(earlyKey{url, o}, func() (early, bool) {
		e, ok := openEarly(url, o)
		if ok && e.current && then != nil {
			ctx, cancel := context.WithTimeout(context.Background(), earlyTimeout)
			then(ctx, newDB(e.pool, e.name, o))
			cancel()
		}
		return e, ok
	}, func(e early) { e.pool.Close() })
}

// openEarly connects and reads the schema's version; false when it could
// not connect (OpenWith then opens again and says why).
func openEarly(url string, o Options) (early, bool) {
	cfg, name, err := poolConfig(url, o)
	if err != nil {
		return early{}, false
	}
	ms, err := schema.Load(migrationFS, "migrations")
	if err != nil {
		return early{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), earlyTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return early{}, false
	}
	v, err := newDB(pool, name, o).schemaCurrent(ctx)
	if err != nil {
		// A new database has no schema_migrations yet: OpenWith
		// creates it.
		v = -1
	}
	return early{pool: pool, name: name, current: v == len(ms)}, true
}

// adoptEarly returns the store on the pool Prestart opened for url and o,
// migrated if it was not current; nil and no error when there is none or
// it failed (the caller opens anew).
func adoptEarly(ctx context.Context, url string, o Options) (*DB, error) {
	e, ok := earlyOpen.Take(ctx, earlyKey{url, o})
	if !ok {
		return nil, nil
	}
	s := newDB(e.pool, e.name, o)
	if !e.current {
		if err := s.migrate(ctx); err != nil {
			e.pool.Close()
			return nil, err
		}
	}
	return s, nil
}

// ClosePrestarted closes the open Prestart started if no OpenWith took
// it (the command ended before opening its store), so that the server
// sees the connection end cleanly.
func ClosePrestarted() { earlyOpen.Close() }
