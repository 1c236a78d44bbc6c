// Package sqlite starts opening the SQLite store of a command-line trace
// or recall while the process initialises (sqlite.PrestartReads):
// imported by the hub for its initialiser, which the Go runtime runs as
// soon as the store's package is initialised, before the packages that
// sort after it.
package sqlite

import (
	"os"

	"github.com/lothub/lothub/cmd/hub/internal/early"
	"github.com/lothub/lothub/core/store/sqlite"
)

func init() {
	if db, ok := early.Store(early.Args(), os.Getenv); ok && !early.Postgres(db) {
		// As cmd/hub's openStoreFor opens it for a trace or a recall.
		sqlite.PrestartReads(db)
	}
}
