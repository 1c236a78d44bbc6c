package main

import (
	"context"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/postgres"
)

// openPostgres opens the PostgreSQL store at url, applying pending
// migrations; oneShot when it serves one command and closes
// (postgres.Options).
func openPostgres(ctx context.Context, url string, oneShot bool) (core.Store, error) {
	return postgres.OpenWith(ctx, url, postgres.Options{OneShot: oneShot})
}
