package main

import (
	"context"

	"github.com/lothub/lothub/core"
)

func openPostgres(ctx context.Context, url string) (core.Store, error) {
	return nil, core.Errorf(core.EINVALID, "PostgreSQL support is not built in yet")
}
