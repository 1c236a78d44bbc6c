package sqlite

import (
	"context"
	"os"
	"sync"

	"github.com/lothub/lothub/core/store/schema"
)

// A command-line trace or recall spends its first milliseconds
// initialising packages on one core while the other waits. PrestartReads
// opens its store meanwhile (the first connection, its pragmas, SQLite's
// reading of the schema, the schema check), and the OpenReads of the
// same path takes it over. The early open reads only: a file that does
// not exist yet, or whose schema is not the latest, is left to OpenReads
// (which creates or migrates it as always), and so is any failure.

type early struct {
	path string
	done chan struct{}
	s    *DB // set before done is closed when the store is open and current
}

var earlyOpen struct {
	mu sync.Mutex
	e  *early
}

// PrestartReads begins opening the existing store at path as OpenReads
// opens it, in the background, for the OpenReads of the same path to
// take over (one at a time). A process that ends without opening it
// calls ClosePrestarted.
func PrestartReads(path string) {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return
	}
	e := &early{path: path, done: make(chan struct{})}
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
	ms, err := schema.Load(migrationFS, "migrations")
	if err != nil {
		return
	}
	s, err := newDB(e.path, readCache, readDurability...)
	if err != nil {
		return
	}
	ctx := context.Background()
	if !s.schemaCurrent(ctx, ms) {
		s.db.Close()
		return
	}
	go s.checkpointer()
	e.s = s
}

func takeEarly(path string) *early {
	earlyOpen.mu.Lock()
	defer earlyOpen.mu.Unlock()
	e := earlyOpen.e
	if e == nil || e.path != path {
		return nil
	}
	earlyOpen.e = nil
	return e
}

// adopt waits for the early open and returns its store; nil when it did
// not open one (the caller opens anew).
func (e *early) adopt(ctx context.Context) *DB {
	select {
	case <-e.done:
		return e.s
	case <-ctx.Done():
		go e.discard()
		return nil
	}
}

func (e *early) discard() {
	<-e.done
	if e.s != nil {
		e.s.Close()
	}
}

// ClosePrestarted closes the store PrestartReads opened if no OpenReads
// took it (the command ended before opening its store).
func ClosePrestarted() {
	earlyOpen.mu.Lock()
	e := earlyOpen.e
	earlyOpen.e = nil
	earlyOpen.mu.Unlock()
	if e != nil {
		e.discard()
	}
}
