package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

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

// early is one open started by Prestart.
type early struct {
	url  string
	o    Options
	done chan struct{}
	// Set before done is closed.
	pool    *pgxpool.Pool
	name    string
	current bool // the schema is the latest this package knows
	err     error
}

var earlyOpen struct {
	mu sync.Mutex
	e  *early
}

// earlyTimeout bounds the early open's wait for the server: past it,
// OpenWith opens on its own, with the caller's context.
const earlyTimeout = 30 * time.Second

// Prestart begins opening the store at url with options o in the
// background, for the OpenWith of the same url and options to take over
// (the first such call takes it; there is one at a time). A process
// that ends without opening it calls ClosePrestarted.
func Prestart(url string, o Options) {
	e := &early{url: url, o: o, done: make(chan struct{})}
	earlyOpen.mu.Lock()
	if earlyOpen.e != nil {
		earlyOpen.mu.Unlock()
		return
	}
	earlyOpen.e = e
	earlyOpen.mu.Unlock()
	go e.open()
}

func (e *early) open() {
	defer close(e.done)
	cfg, name, err := poolConfig(e.url, e.o)
	if err != nil {
		e.err = err
		return
	}
	ms, err := schema.Load(migrationFS, "migrations")
	if err != nil {
		e.err = err
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), earlyTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		e.err = err
		return
	}
	s := newDB(pool, name, e.o)
	v, err := s.schemaCurrent(ctx)
	if err != nil {
		// A new database has no schema_migrations yet: OpenWith
		// creates it.
		v = -1
	}
	e.pool, e.name, e.current = pool, name, v == len(ms)
}

// takeEarly returns the open Prestart started for url and o, if any, and
// forgets it.
func takeEarly(url string, o Options) *early {
	earlyOpen.mu.Lock()
	defer earlyOpen.mu.Unlock()
	e := earlyOpen.e
	if e == nil || e.url != url || e.o != o {
		return nil
	}
	earlyOpen.e = nil
	return e
}

// adopt waits for the early open and returns the store on its pool,
// migrated if it was not current; nil and no error when the early open
// failed (the caller opens anew).
func (e *early) adopt(ctx context.Context) (*DB, error) {
	select {
	case <-e.done:
	case <-ctx.Done():
		go e.discard()
		return nil, nil
	}
	if e.err != nil || e.pool == nil {
		e.discard()
		return nil, nil
	}
	s := newDB(e.pool, e.name, e.o)
	if !e.current {
		if err := s.migrate(ctx); err != nil {
			e.pool.Close()
			return nil, err
		}
	}
	return s, nil
}

// discard closes what the early open opened, once it is done.
func (e *early) discard() {
	<-e.done
	if e.pool != nil {
		e.pool.Close()
	}
}

// ClosePrestarted closes the open Prestart started if no OpenWith took
// it (the command ended before opening its store), so that the server
// sees the connection end cleanly.
func ClosePrestarted() {
	earlyOpen.mu.Lock()
	e := earlyOpen.e
	earlyOpen.e = nil
	earlyOpen.mu.Unlock()
	if e != nil {
		e.discard()
	}
}
