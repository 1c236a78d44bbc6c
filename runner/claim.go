package runner

import (
	"context"
	"errors"

	"github.com/lothub/lothub/core"
)

// Several hub processes may share one store (replicas of 'hub serve' on
// one PostgreSQL, or a hand 'hub sync' beside 'hub serve'). A store that
// can tell them apart (core.Claimer) hands out claims: the scheduler's
// ("scheduler", one replica runs the schedules) and one per connector
// ("sync NAME", one process runs its sync). A claim dies with its process,
// so a replica killed mid-sync frees the connector for another to finish.
// docs/scaling.md has the design and its time bounds.

// errClaimLost is the cause of a sync's end when its claim was lost.
var errClaimLost = errors.New("this hub lost its claim on the sync (its database session ended); another hub may go on with it")

// claimSync takes the store's claim on the connector's sync: nil when the
// store hands out none, ECONFLICT naming the holder when another process
// runs the sync.
func (r *Runner) claimSync(ctx context.Context, name string) (core.Claim, error) {
	cl, ok := r.Store.(core.Claimer)
	if !ok {
		return nil, nil
	}
	c, err := cl.Claim(ctx, "sync "+name)
	if core.ErrorCode(err) == core.ECONFLICT {
		return nil, core.Errorf(core.ECONFLICT, "a sync of %s is already running in another hub process (%v): wait for it to end (hub runs)", name, err)
	}
	return c, err
}

// whileHeld returns a context that ends when ctx does or when the claim
// is lost, with errClaimLost as its cause.
func whileHeld(ctx context.Context, c core.Claim) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	go func() {
		select {
		case <-c.Lost():
			cancel(errClaimLost)
		case <-stop:
		}
	}()
	return ctx, func() { close(stop); cancel(nil) }
}

// fence checks, inside a batch's transaction, that the sync's claim is
// still held, when the store can tell.
func fence(ctx context.Context, tx core.IngestTx, c core.Claim) error {
	if c == nil {
		return nil
	}
	if f, ok := tx.(core.ClaimFence); ok {
		return f.CheckClaim(ctx, c)
	}
	return nil
}
