//go:build !unix

package sqlite

import (
	"context"

	"github.com/lothub/lothub/core"
)

// Without flock(2) the SQLite store cannot tell another process's claims:
// Claim always succeeds within this process's own bookkeeping (the runner
// never runs two syncs of a connector at once in one process). Run one hub
// per SQLite file.

type noClaim struct{ lost chan struct{} }

func (s *DB) Claim(ctx context.Context, name string) (core.Claim, error) {
	return noClaim{lost: make(chan struct{})}, ctx.Err()
}

func (c noClaim) Holder() string        { return "this process" }
func (c noClaim) Lost() <-chan struct{} { return c.lost }
func (c noClaim) Release()              {}
