package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// GenealogySnapshot reads the snapshot with the genealogy version in one
// statement: a snapshot of another version is never read. read gets the
// driver's buffer (sql.RawBytes), not a copy of it.
func (s *DB) GenealogySnapshot(ctx context.Context, read func([]byte) error) (bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT s.data FROM genealogy_snapshot s JOIN genealogy_version v ON v.version = s.version`)
	if err != nil {
		return false, fmt.Errorf("read the genealogy snapshot of %s: %w", s.path, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return false, fmt.Errorf("read the genealogy snapshot of %s: %w", s.path, err)
		}
		return false, nil
	}
	var b sql.RawBytes
	if err := rows.Scan(&b); err != nil {
		return false, fmt.Errorf("read the genealogy snapshot of %s: %w", s.path, err)
	}
	if err := read(b); err != nil {
		return true, err
	}
	if err := rows.Close(); err != nil {
		return true, fmt.Errorf("read the genealogy snapshot of %s: %w", s.path, err)
	}
	return true, nil
}

func (s *DB) HasGenealogySnapshot(ctx context.Context) (bool, error) {
	var ok bool
	err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM genealogy_snapshot s JOIN genealogy_version v ON v.version = s.version)`).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look for a genealogy snapshot in %s: %w", s.path, err)
	}
	return ok, nil
}

func (s *DB) SaveGenealogySnapshot(ctx context.Context, version int64, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("save the genealogy snapshot to %s: %w", s.path, err)
	}
	defer tx.Rollback()
	// In the write transaction: no ingest can raise the version between
	// this check and the commit.
	var current, saved int64
	if err := tx.QueryRowContext(ctx, `SELECT g.version, (SELECT count(*) FROM genealogy_snapshot WHERE version = g.version)
		FROM genealogy_version g`).Scan(&current, &saved); err != nil {
		return fmt.Errorf("save the genealogy snapshot to %s: %w", s.path, err)
	}
	if current != version || saved > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM genealogy_snapshot`); err != nil {
		return fmt.Errorf("save the genealogy snapshot to %s: %w", s.path, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO genealogy_snapshot (version, saved_at, data) VALUES (?, ?, ?)`,
		version, micros(time.Now()), data); err != nil {
		return fmt.Errorf("save the genealogy snapshot to %s: %w", s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save the genealogy snapshot to %s: %w", s.path, err)
	}
	select {
	case s.checkpoint <- struct{}{}:
	default: // one is pending already
	}
	return nil
}
