package core

import "context"

// Claimer is implemented by stores that several hub processes may share:
// it hands out named, exclusive claims ("scheduler", "sync sap-prod") so
// that exactly one process at a time runs the scheduler and each
// connector's sync. A claim belongs to the process that took it and ends
// with it: when that process dies (even by kill -9) the claim is freed
// without anyone having to clean up (docs/scaling.md, Replicas).
type Claimer interface {
	// Claim takes the named claim without waiting. When another process
	// (or another claim in this one) holds it, it returns an ECONFLICT
	// error that names the holder as its HolderOf says.
	Claim(ctx context.Context, name string) (Claim, error)
}

// Claim is one held claim.
type Claim interface {
	// Lost is closed when the claim has been lost without Release: the
	// store could no longer tell that it holds it (its connection to the
	// database died). Work done under the claim must stop.
	Lost() <-chan struct{}
	// Release gives the claim up. It is safe to call more than once.
	Release()
	// Holder describes the process holding the claim, as others see it
	// ("lothub pid 4242 on host plant-1").
	Holder() string
}

// ClaimFence is implemented by ingest transactions that can check, inside
// the transaction, that a claim is still held: a process that lost its
// claim (a network partition, a paused process) must not commit work
// another process has taken over. CheckClaim returns an ECONFLICT error
// when the claim is no longer held.
type ClaimFence interface {
	CheckClaim(ctx context.Context, c Claim) error
}
