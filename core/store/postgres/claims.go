package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lothub/lothub/core"
)

// Claims are PostgreSQL session advisory locks, each held on a connection
// of its own (not the pool's): PostgreSQL frees a session's advisory locks
// when the session ends, and the session ends when the process holding it
// dies — at once on kill -9, since the kernel closes its socket; within
// the TCP keepalive bound below when its machine vanishes. Nothing has to
// expire or be cleaned up, and no table is written. docs/scaling.md
// explains the choice against a lease table and river.

// claimHeartbeat is how often a holder checks that its claim's session is
// alive; a claim whose session died is reported lost within this time.
const claimHeartbeat = 2 * time.Second

// claimKeepalive asks the server to probe an idle claim session after 10 s
// and drop it after 3 unanswered probes 5 s apart: a holder whose machine
// vanished (no FIN, no RST) frees its claims within about 25 s.
var claimKeepalive = map[string]string{
	"tcp_keepalives_idle":     "10",
	"tcp_keepalives_interval": "5",
	"tcp_keepalives_count":    "3",
}

// claimKey is the advisory lock key of a claim name: 64 bits of FNV-1a of
// the name after a prefix that keeps it apart from the store's other
// advisory locks (migrateLock, ingestLock).
func claimKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("lothub claim\x00" + name))
	return int64(h.Sum64())
}

// processName is how a claim's holder shows in pg_stat_activity and in
// the errors other processes get: at most 63 bytes (NAMEDATALEN).
func processName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown host"
	}
	s := fmt.Sprintf("lothub pid %d on %s", os.Getpid(), host)
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

type pgClaim struct {
	name   string
	key    int64
	holder string
	pid    uint32 // the claim session's backend pid

	mu       sync.Mutex
	conn     *pgx.Conn
	lost     chan struct{}
	lostOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	released bool
}

// Claim takes the named claim on a session of its own, without waiting.
func (s *DB) Claim(ctx context.Context, name string) (core.Claim, error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	holder := processName()
	cfg.RuntimeParams["application_name"] = holder
	for k, v := range claimKeepalive {
		if _, set := cfg.RuntimeParams[k]; !set {
			cfg.RuntimeParams[k] = v
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("claim %q in %s: connect: %w", name, s.name, err)
	}
	key := claimKey(name)
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("claim %q in %s: %w", name, s.name, err)
	}
	if !got {
		other := s.holderOf(ctx, conn, key)
		conn.Close(context.WithoutCancel(ctx))
		return nil, core.Errorf(core.ECONFLICT, "claim %q is held by %s, another hub process on %s", name, other, s.name)
	}
	c := &pgClaim{name: name, key: key, holder: holder, pid: conn.PgConn().PID(), conn: conn,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go c.heartbeat()
	return c, nil
}

// holderOf names the session holding the advisory lock key: its
// application_name (a hub's processName) and backend pid.
func (s *DB) holderOf(ctx context.Context, conn *pgx.Conn, key int64) string {
	var app string
	var pid int
	err := conn.QueryRow(ctx, `SELECT coalesce(a.application_name, ''), l.pid
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND l.classid::bigint = $1 AND l.objid::bigint = $2`,
		int64(uint64(key)>>32), int64(uint64(key)&0xffffffff)).Scan(&app, &pid)
	switch {
	case err != nil:
		return "a process that has just released it or cannot be seen"
	case app == "":
		return fmt.Sprintf("PostgreSQL backend pid %d", pid)
	default:
		return fmt.Sprintf("%s (PostgreSQL backend pid %d)", app, pid)
	}
}

func (c *pgClaim) Holder() string        { return c.holder }
func (c *pgClaim) Lost() <-chan struct{} { return c.lost }

// heartbeat checks the claim's session every claimHeartbeat and reports
// the claim lost when the session stops answering.
func (c *pgClaim) heartbeat() {
	defer close(c.done)
	t := time.NewTicker(claimHeartbeat)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.mu.Lock()
		if c.released {
			c.mu.Unlock()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), claimHeartbeat)
		var held bool
		err := c.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND pid = pg_backend_pid() AND objsubid = 1 AND classid::bigint = $1 AND objid::bigint = $2)`,
			int64(uint64(c.key)>>32), int64(uint64(c.key)&0xffffffff)).Scan(&held)
		cancel()
		c.mu.Unlock()
		if err != nil || !held {
			c.lostOnce.Do(func() { close(c.lost) })
			return
		}
	}
}

// Release unlocks the claim and closes its session.
func (c *pgClaim) Release() {
	c.mu.Lock()
	if c.released {
		c.mu.Unlock()
		return
	}
	c.released = true
	close(c.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Closing the session frees the lock too; unlocking first frees it
	// even when the close is slow.
	c.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, c.key)
	c.conn.Close(ctx)
	c.mu.Unlock()
	<-c.done
}

// CheckClaim checks, inside the ingest transaction, that the claim's
// session still holds its lock (pg_locks by backend pid): a sync whose
// claim was lost commits nothing more.
func (t *ingestTx) CheckClaim(ctx context.Context, c core.Claim) error {
	pc, ok := c.(*pgClaim)
	if !ok {
		return fmt.Errorf("check claim: %T is not a PostgreSQL claim", c)
	}
	var held bool
	err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND pid = $1 AND objsubid = 1 AND classid::bigint = $2 AND objid::bigint = $3)`,
		int64(pc.pid), int64(uint64(pc.key)>>32), int64(uint64(pc.key)&0xffffffff)).Scan(&held)
	if err != nil {
		return fmt.Errorf("check claim %q: %w", pc.name, err)
	}
	if !held {
		return core.Errorf(core.ECONFLICT, "%s was lost (its database session ended): this batch is not committed; the process that holds it now goes on", pc.name)
	}
	return nil
}

var (
	_ core.Claimer    = (*DB)(nil)
	_ core.ClaimFence = (*ingestTx)(nil)
)
