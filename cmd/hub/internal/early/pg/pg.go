// Package pg starts opening the PostgreSQL store of a command-line trace
// or recall while the process initialises (postgres.Prestart): imported
// by the hub for its initialiser, which the Go runtime runs as soon as
// the store's package is initialised, before the heavier packages that
// sort after it. When the command line is a trace or recall from one lot
// (early.Trace), the answer itself is read on the early open too, so
// that the server's work (the walk and the reads, 10–20 ms) overlaps the
// rest of the process's start instead of following it; the command takes
// it over with Answer.
package pg

import (
	"context"
	"os"
	"sync"

	"github.com/lothub/lothub/cmd/hub/internal/early"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/postgres"
)

func init() {
	db, ok := early.Store(early.Args(), os.Getenv)
	if !ok || !early.Postgres(db) {
		return
	}
	// As cmd/hub's openPostgres opens it for one command.
	o := postgres.Options{OneShot: true}
	call, ok := early.Trace(early.Args())
	if !ok {
		postgres.Prestart(db, o)
		return
	}
	read.mu.Lock()
	read.key = answerKey{db, call}
	read.mu.Unlock()
	postgres.PrestartThen(db, o, func(ctx context.Context, st *postgres.DB) {
		res, err := Read(ctx, st, call)
		read.mu.Lock()
		defer read.mu.Unlock()
		read.res, read.err, read.done = res, err, true
	})
}

// Read answers call on st as the hub's trace and recall commands do
// (core.Queries, serial reads).
func Read(ctx context.Context, st core.Store, call early.TraceCall) (*core.TraceResult, error) {
	q := core.Queries{Store: st, Serial: true}
	ref := core.LotRef{Item: call.Item, Lot: call.Lot}
	sel := core.Selector{Lot: &ref}
	switch call.Command {
	case "recall":
		return q.Recall(ctx, sel)
	case "forward":
		return q.Trace(ctx, core.Forward, sel)
	default:
		return q.Trace(ctx, core.Backward, sel)
	}
}

type answerKey struct {
	db   string
	call early.TraceCall
}

// read is the answer read on the early open, once.
var read struct {
	mu   sync.Mutex
	key  answerKey
	done bool // res and err are set
	res  *core.TraceResult
	err  error
}

// Answer returns the answer to call on the store at db read on the early
// open, and true, if there is one: once the command has opened that store
// (the open waits for the early read), and once. An answer whose read
// failed for another reason than a lot not found is not given: the
// command reads again and reports its own error.
func Answer(db string, call early.TraceCall) (*core.TraceResult, error, bool) {
	read.mu.Lock()
	defer read.mu.Unlock()
	if !read.done || read.key != (answerKey{db, call}) {
		return nil, nil, false
	}
	res, err := read.res, read.err
	read.done, read.res, read.err = false, nil, nil
	if err != nil && core.ErrorCode(err) != core.ENOTFOUND {
		return nil, nil, false
	}
	return res, err, true
}
