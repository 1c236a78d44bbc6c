// Package pg starts opening the PostgreSQL store of a command-line trace
// or recall while the process initialises (postgres.Prestart): imported
// by the hub for its initialiser, which the Go runtime runs as soon as
// the store's package is initialised, before the heavier packages that
// sort after it.
package pg

import (
	"os"

	"github.com/lothub/lothub/cmd/hub/internal/early"
	"github.com/lothub/lothub/core/store/postgres"
)

func init() {
	if db, ok := early.Store(early.Args(), os.Getenv); ok && early.Postgres(db) {
		// As cmd/hub's openPostgres opens it for one command.
		postgres.Prestart(db, postgres.Options{OneShot: true})
	}
}
