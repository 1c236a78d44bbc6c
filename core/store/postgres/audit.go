package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lothub/lothub/core"
)

// The audit trail (core/audit.go). Two hubs on one database append to one
// chain: every append runs in a write transaction, which holds ingestLock
// (pg_advisory_xact_lock) from its start, and reads the chain's head with
// FOR UPDATE, so that a writer that did not take the advisory lock would
// still wait for the head row. The time is PostgreSQL's clock at the
// append (clock_timestamp(), not the transaction's start, so that times
// follow the order of the chain).

const nowMicros = `(extract(epoch FROM clock_timestamp()) * 1000000)::bigint`

const auditCols = `seq, at, actor_kind, actor_name, actor_role, action, object, reason, details, ev_first, ev_last, ev_count, ev_digest, prev_hash, hash`

func scanAudit(row pgx.Row) (core.AuditEntry, error) {
	var e core.AuditEntry
	var at int64
	var role, details string
	var ev core.AuditEvents
	var count int64
	if err := row.Scan(&e.Seq, &at, &e.Actor.Kind, &e.Actor.Name, &role, &e.Action, &e.Object, &e.Reason, &details,
		&ev.First, &ev.Last, &count, &ev.Digest, &e.PrevHash, &e.Hash); err != nil {
		return e, err
	}
	ev.Count = int(count)
	e.Time, e.Actor.Role = fromMicros(at), core.Role(role)
	if details != "" {
		e.Details = json.RawMessage(details)
	}
	if ev != (core.AuditEvents{}) {
		e.Events = &ev
	}
	return e, nil
}

func (t *ingestTx) Audit(ctx context.Context, e core.AuditEntry) (core.AuditEntry, error) {
	var head core.AuditHead
	var before, now int64
	if err := t.tx.QueryRow(ctx, `SELECT seq, hash, events_before, `+nowMicros+` FROM audit_head FOR UPDATE`).
		Scan(&head.Seq, &head.Hash, &before, &now); err != nil {
		return e, fmt.Errorf("read the audit trail's head: %w", err)
	}
	at := fromMicros(now)
	if head.Seq == 0 {
		g := core.ChainAudit(head, core.AuditGenesis(before), at)
		if err := t.insertAudit(ctx, g); err != nil {
			return e, err
		}
		head = core.AuditHead{Seq: g.Seq, Hash: g.Hash}
	}
	if e.Actor == (core.Actor{}) {
		e.Actor = core.ActorFrom(ctx)
	}
	e = core.ChainAudit(head, e, at)
	if err := t.insertAudit(ctx, e); err != nil {
		return e, err
	}
	if _, err := t.tx.Exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2`, e.Seq, e.Hash); err != nil {
		return e, fmt.Errorf("move the audit trail's head: %w", err)
	}
	t.written["audit_log"]++
	return e, nil
}

func (t *ingestTx) insertAudit(ctx context.Context, e core.AuditEntry) error {
	var ev core.AuditEvents
	if e.Events != nil {
		ev = *e.Events
	}
	if _, err := t.tx.Exec(ctx, `INSERT INTO audit_log (`+auditCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		e.Seq, micros(e.Time), text(e.Actor.Kind), text(e.Actor.Name), string(e.Actor.Role), e.Action, text(e.Object), text(e.Reason), text(string(e.Details)),
		ev.First, ev.Last, int64(ev.Count), ev.Digest, e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("append %s to the audit trail: %w", e.Action, err)
	}
	return nil
}

// Audit appends one entry in a transaction of its own.
func (s *DB) Audit(ctx context.Context, e core.AuditEntry) (core.AuditEntry, error) {
	var out core.AuditEntry
	err := s.Ingest(ctx, func(tx core.IngestTx) error {
		var err error
		out, err = tx.Audit(ctx, e)
		return err
	})
	return out, err
}

func (s *DB) AuditHead(ctx context.Context) (core.AuditHead, error) {
	var h core.AuditHead
	if err := s.pool.QueryRow(ctx, `SELECT seq, hash FROM audit_head`).Scan(&h.Seq, &h.Hash); err != nil {
		return h, fmt.Errorf("read the audit trail's head in %s: %w", s.name, err)
	}
	return h, nil
}

func (s *DB) AuditLog(ctx context.Context, f core.AuditFilter) ([]core.AuditEntry, error) {
	var limit any
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	objects, seqs := f.Objects, f.EventSeqs
	if objects == nil {
		objects = []string{}
	}
	if seqs == nil {
		seqs = []int64{}
	}
	rows, err := s.pool.Query(ctx, `SELECT `+auditCols+` FROM audit_log
		WHERE ($1::text = '' OR actor_kind || ':' || actor_name = $1 OR actor_name = $1)
		  AND ($2::text = '' OR action = $2 OR (right($2, 1) = '.' AND left(action, length($2)) = $2))
		  AND (cardinality($3::text[]) = 0 AND cardinality($4::bigint[]) = 0
		       OR object = ANY($3::text[])
		       OR ev_count > 0 AND EXISTS (SELECT 1 FROM unnest($4::bigint[]) AS s(v) WHERE s.v BETWEEN ev_first AND ev_last))
		  AND ($5::bigint = 0 OR at >= $5) AND ($6::bigint = 0 OR at < $6) AND ($7::bigint = 0 OR seq < $7)
		ORDER BY seq DESC LIMIT $8`,
		f.Actor, f.Action, objects, seqs, optMicros(f.From), optMicros(f.To), f.Before, limit)
	if err != nil {
		return nil, fmt.Errorf("read the audit trail in %s: %w", s.name, err)
	}
	defer rows.Close()
	var out []core.AuditEntry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("read the audit trail in %s: %w", s.name, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *DB) ReadAudit(ctx context.Context, after int64, fn func(core.AuditEntry) error) error {
	rows, err := s.pool.Query(ctx, `SELECT `+auditCols+` FROM audit_log WHERE seq > $1 ORDER BY seq`, after)
	if err != nil {
		return fmt.Errorf("read the audit trail in %s: %w", s.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return fmt.Errorf("read the audit trail in %s: %w", s.name, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (s *DB) ReadEvents(ctx context.Context, after int64, fn func(core.EventRow) error) error {
	rows, err := s.pool.Query(ctx, `SELECT `+eventCols+` FROM events WHERE seq > $1 ORDER BY seq`, after)
	if err != nil {
		return fmt.Errorf("read events in %s: %w", s.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanEvent(rows)
		if err != nil {
			return fmt.Errorf("read events in %s: %w", s.name, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (s *DB) PruneAudit(ctx context.Context, through int64, before time.Time, checkpoint core.AuditEntry) (core.AuditEntry, error) {
	var out core.AuditEntry
	err := s.Ingest(ctx, func(tx core.IngestTx) error {
		t := tx.(*ingestTx)
		if _, err := t.tx.Exec(ctx, `DELETE FROM audit_log WHERE seq <= $1`, through); err != nil {
			return fmt.Errorf("prune the audit trail through entry %d: %w", through, err)
		}
		if !before.IsZero() {
			if _, err := t.tx.Exec(ctx, `DELETE FROM raw_records WHERE received_at < $1`, micros(before)); err != nil {
				return fmt.Errorf("prune raw records received before %s: %w", before.Format(time.RFC3339), err)
			}
		}
		var err error
		out, err = tx.Audit(ctx, checkpoint)
		return err
	})
	return out, err
}

func (s *DB) ResetCursor(ctx context.Context, connector, reason string) error {
	if err := core.RequireReason("reset the position of "+connector, reason); err != nil {
		return err
	}
	return s.Ingest(ctx, func(tx core.IngestTx) error {
		t := tx.(*ingestTx)
		var pos []byte
		err := t.tx.QueryRow(ctx, `SELECT position FROM cursors WHERE connector = $1`, connector).Scan(&pos)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read position of %s: %w", connector, err)
		}
		if _, err := t.tx.Exec(ctx, `DELETE FROM cursors WHERE connector = $1`, connector); err != nil {
			return fmt.Errorf("reset position of %s: %w", connector, err)
		}
		_, err = tx.Audit(ctx, core.CursorResetEntry(connector, reason, pos))
		return err
	})
}

func (s *DB) ResolveQuarantine(ctx context.Context, seq int64, reason string) error {
	return s.Ingest(ctx, func(tx core.IngestTx) error {
		t := tx.(*ingestTx)
		var q core.QuarantineRow
		var resolved bool
		switch err := t.tx.QueryRow(ctx, `SELECT source, event_id, key, resolved FROM quarantine WHERE seq = $1`, seq).
			Scan(&q.Source, &q.EventID, &q.Key, &resolved); {
		case errors.Is(err, pgx.ErrNoRows):
			return core.Errorf(core.ENOTFOUND, "quarantine entry %d not found (hub errors --all --json lists the ids)", seq)
		case err != nil:
			return fmt.Errorf("read quarantine entry %d: %w", seq, err)
		case resolved:
			return core.Errorf(core.ECONFLICT, "quarantine entry %d is resolved already", seq)
		}
		if _, err := t.tx.Exec(ctx, `UPDATE quarantine SET resolved = true, resolve_reason = $1 WHERE seq = $2`, text(reason), seq); err != nil {
			return fmt.Errorf("resolve quarantine entry %d: %w", seq, err)
		}
		q.Seq = seq
		_, err := tx.Audit(ctx, core.QuarantineResolvedEntry(q, reason))
		return err
	})
}
