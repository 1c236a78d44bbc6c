package main

import (
	"context"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/postgres"
)

// openPostgres opens the PostgreSQL store at url, applying pending
// migrations.
func openPostgres(ctx context.Context, url string) (core.Store, error) {
	return postgres.Open(ctx, url)
}
