package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// GenealogySnapshot reads the snapshot with the genealogy version in one
// statement: a snapshot of another version is never read. read gets pgx's
// buffer (pgtype.DriverBytes), not a copy of it.
func (s *DB) GenealogySnapshot(ctx context.Context, read func([]byte) error) (bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT s.data FROM genealogy_snapshot s JOIN genealogy_version v ON v.version = s.version LIMIT 1`)
	if err != nil {
		return false, fmt.Errorf("read the genealogy snapshot of %s: %w", s.name, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return false, fmt.Errorf("read the genealogy snapshot of %s: %w", s.name, err)
		}
		return false, nil
	}
	var b pgtype.DriverBytes
	if err := rows.Scan(&b); err != nil {
		return false, fmt.Errorf("read the genealogy snapshot of %s: %w", s.name, err)
	}
	if err := read(b); err != nil {
		return true, err
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return true, fmt.Errorf("read the genealogy snapshot of %s: %w", s.name, err)
	}
	return true, nil
}

func (s *DB) HasGenealogySnapshot(ctx context.Context) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM genealogy_snapshot s JOIN genealogy_version v ON v.version = s.version)`).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look for a genealogy snapshot in %s: %w", s.name, err)
	}
	return ok, nil
}

func (s *DB) SaveGenealogySnapshot(ctx context.Context, version int64, data []byte) error {
	// No lock on genealogy_version: a snapshot saved just after an ingest
	// raised the version keeps its own version, which the version never
	// returns to, so it is never read.
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var due bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM genealogy_version WHERE version = $1)
			AND NOT EXISTS (SELECT 1 FROM genealogy_snapshot WHERE version = $1)`, version).Scan(&due); err != nil {
			return err
		}
		if !due {
			return nil
		}
		if _, err := tx.Exec(ctx, `DELETE FROM genealogy_snapshot`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO genealogy_snapshot (version, saved_at, data) VALUES ($1, $2, $3)`, version, micros(time.Now()), data)
		return err
	})
	if err != nil {
		return fmt.Errorf("save the genealogy snapshot to %s: %w", s.name, err)
	}
	return nil
}
