package sqlite

import (
	"context"
	"os"

	"github.com/lothub/lothub/core/store/prestart"
	"github.com/lothub/lothub/core/store/schema"
)

// A command-line trace or recall spends its first milliseconds
// initialising packages on one core while the other waits. PrestartReads
// opens its store meanwhile (the first connection, its pragmas, SQLite's
// reading of the schema, the schema check), and the OpenReads of the
// same path takes it over. The early open reads only: a file that does
// not exist yet, or whose schema is not the latest, is left to OpenReads
// (which creates or migrates it as always), and so is any failure.

var earlyOpen prestart.Slot[string, *DB]

// PrestartReads begins opening the existing store at path as OpenReads
// opens it, in the background, for the OpenReads of the same path to
// take over (one at a time). A process that ends without opening it
// calls ClosePrestarted.
func PrestartReads(path string) {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return
	}
	earlyOpen.Start(path, func() (*DB, bool) { return openEarly(path) }, func(s *DB) { s.Close() })
}

// openEarly opens the store at path for reads when its schema is the
// latest; false otherwise, and then OpenReads opens it as always.
func openEarly(path string) (*DB, bool) {
	ms, err := schema.Load(migrationFS, "migrations")
	if err != nil {
		return nil, false
	}
	s, err := newDB(path, readCache, readDurability...)
	if err != nil {
		return nil, false
	}
	ctx := context.Background()
	if !s.schemaCurrent(ctx, ms) {
		s.db.Close()
		return nil, false
	}
	go s.checkpointer()
	return s, true
}

// ClosePrestarted closes the store PrestartReads opened if no OpenReads
// took it (the command ended before opening its store).
func ClosePrestarted() { earlyOpen.Close() }
