package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lothub/lothub/core"
)

// A claim whose database session ends (its process died, or the server
// dropped it) is lost: the holder is told, the claim is free for another
// process, and a batch the old holder tries to commit under it fails.
func TestClaimLostWithItsSession(t *testing.T) {
	ctx := context.Background()
	url := NewDatabase(t)
	s := open(t, url)
	other := open(t, url) // another replica
	c, err := s.Claim(ctx, "scheduler")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if _, err := other.Claim(ctx, "scheduler"); core.ErrorCode(err) != core.ECONFLICT {
		t.Fatalf("another replica's claim while held: %v, want a conflict", err)
	}
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// What a kill -9 of the holder does to its session, from the server's side.
	var n int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name LIKE 'lothub pid %'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("end the claim's session: %d sessions, %v", n, err)
	}
	select {
	case <-c.Lost():
	case <-time.After(30 * time.Second): // a bound for a hung test, not a measurement
		t.Fatal("the holder was not told its claim was lost")
	}
	err = s.Ingest(ctx, func(tx core.IngestTx) error { return tx.(core.ClaimFence).CheckClaim(ctx, c) })
	if core.ErrorCode(err) != core.ECONFLICT {
		t.Errorf("a batch under a lost claim: %v, want a conflict", err)
	}
	c2, err := other.Claim(ctx, "scheduler")
	if err != nil {
		t.Fatalf("another replica's claim after the holder's session ended: %v", err)
	}
	c2.Release()
}
