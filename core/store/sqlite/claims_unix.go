//go:build unix

package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/lothub/lothub/core"
)

// Claims on a SQLite store are flock(2) locks on small files beside the
// database, named like SQLite's own (hub.db-serve.lock, hub.db-sync-fd.lock
// beside hub.db-wal). The kernel frees a process's flock locks when it
// dies, kill -9 included, so a claim cannot outlive its holder and never
// needs cleaning up; the files stay, empty of meaning, and are reused.
// Each file holds its holder's description for the error another process
// gets.

type fileClaim struct {
	f      *os.File
	holder string
	lost   chan struct{} // never closed: a file lock is not lost while its process lives
}

// ClaimPath is the lock file of the named claim on the store at path.
func ClaimPath(path, name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return path + "-" + b.String() + ".lock"
}

// Claim takes the named claim, without waiting.
func (s *DB) Claim(ctx context.Context, name string) (core.Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := ClaimPath(s.path, name)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("claim %q of %s: %w (the lock file must be writable beside the database)", name, s.path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b, _ := io.ReadAll(io.LimitReader(f, 512))
			other := strings.TrimSpace(string(b))
			if other == "" {
				other = "another process"
			}
			return nil, core.Errorf(core.ECONFLICT, "claim %q is held by %s (lock file %s)", name, other, p)
		}
		return nil, fmt.Errorf("claim %q of %s: lock %s: %w", name, s.path, p, err)
	}
	host, _ := os.Hostname()
	holder := fmt.Sprintf("lothub pid %d on %s", os.Getpid(), host)
	// Who holds it, for the error the next process gets; best effort.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(holder+" since "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0)
	}
	return &fileClaim{f: f, holder: holder, lost: make(chan struct{})}, nil
}

func (c *fileClaim) Holder() string        { return c.holder }
func (c *fileClaim) Lost() <-chan struct{} { return c.lost }

// Release unlocks and closes the lock file (closing alone would unlock).
func (c *fileClaim) Release() {
	if c.f == nil {
		return
	}
	syscall.Flock(int(c.f.Fd()), syscall.LOCK_UN)
	c.f.Close()
	c.f = nil
}

var _ core.Claimer = (*DB)(nil)
