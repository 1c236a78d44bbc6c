package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/lothub/lothub/core/store/sqlite"
)

// A store opened early (sqlite.PrestartReads) is the store OpenReads
// gives; a file that does not exist is not created by the early open,
// and one whose schema is behind is migrated by OpenReads as always.
func TestPrestartReads(t *testing.T) {
	ctx := context.Background()
	ref, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ref.db"))
	if err != nil {
		t.Fatal(err)
	}
	latest, err := ref.SchemaVersion(ctx)
	ref.Close()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, path string) // before PrestartReads
	}{
		{"current store", func(t *testing.T, path string) {
			s, err := sqlite.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
		}},
		{"no file yet", func(*testing.T, string) {}},
		{"empty file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hub.db")
			tc.setup(t, path)
			_, statErr := os.Stat(path)
			sqlite.PrestartReads(path)
			if _, err := os.Stat(path); (err == nil) != (statErr == nil) {
				t.Fatalf("the early open changed whether %s exists (before: %v, after: %v)", path, statErr, err)
			}
			s, err := sqlite.OpenReads(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			v, err := s.SchemaVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v != latest {
				t.Errorf("schema version %d, want %d", v, latest)
			}
			sqlite.ClosePrestarted() // taken: nothing to close
		})
	}
}

// An early open no OpenReads asks for is closed by ClosePrestarted: the
// file's write-ahead log is checkpointed and removed, as at any close.
func TestPrestartReadsNotTaken(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	sqlite.PrestartReads(path)
	other, err := sqlite.OpenReads(ctx, filepath.Join(dir, "other.db")) // not the early one
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	sqlite.ClosePrestarted()
	for _, f := range []string{path + "-wal", path + "-shm"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s left after ClosePrestarted: the early open was not closed", f)
		}
	}
}
