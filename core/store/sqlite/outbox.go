package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
)

const outboxCols = `id, key, action, kind, event_id, payload, state, attempts, next_at, created_at, updated_at,
	claimed_at, last_error, document, failed_since, alerted_at`

func scanOutbox(rows interface{ Scan(...any) error }) (core.OutboxAction, error) {
	var a core.OutboxAction
	var payload, state string
	var next, created, updated, claimed, failed, alerted int64
	err := rows.Scan(&a.ID, &a.Key, &a.Action, &a.Kind, &a.EventID, &payload, &state, &a.Attempts, &next, &created, &updated,
		&claimed, &a.LastError, &a.Document, &failed, &alerted)
	a.Payload, a.State = []byte(payload), core.OutboxState(state)
	a.NextAt, a.CreatedAt, a.UpdatedAt = fromMicros(next), fromMicros(created), fromMicros(updated)
	a.ClaimedAt, a.FailedSince, a.AlertedAt = optTime(claimed), optTime(failed), optTime(alerted)
	return a, err
}

// writeOutbox inserts the actions a batch set off; a key stored already
// is left as it is (the same event never makes the same action twice).
func (t *ingestTx) writeOutbox(ctx context.Context, actions []core.OutboxAction) error {
	return execMany(ctx, t.tx, "record outbox actions", `INSERT INTO outbox (key, action, kind, event_id, payload, state, next_at,
		created_at, updated_at, last_error, failed_since) VALUES`, `ON CONFLICT (key) DO NOTHING`, actions,
		func(a core.OutboxAction) []any {
			return []any{a.Key, a.Action, a.Kind, a.EventID, string(a.Payload), string(a.State), micros(a.NextAt),
				micros(a.CreatedAt), micros(a.CreatedAt), a.LastError, optMicros(a.FailedSince)}
		})
}

func (s *DB) Outbox(ctx context.Context, f core.OutboxFilter) ([]core.OutboxAction, error) {
	var where []string
	var args []any
	if f.ID != 0 {
		where, args = append(where, "id = ?"), append(args, f.ID)
	}
	if len(f.States) > 0 {
		where, args = append(where, "state IN (SELECT value FROM json_each(?))"), append(args, jsonList(f.States))
	}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if f.EventIDs != nil {
		where, args = append(where, "event_id IN (SELECT value FROM json_each(?))"), append(args, jsonList(f.EventIDs))
	}
	q := `SELECT ` + outboxCols + ` FROM outbox`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list outbox of %s: %w", s.path, err)
	}
	defer rows.Close()
	var out []core.OutboxAction
	for rows.Next() {
		a, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("list outbox of %s: %w", s.path, err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ClaimOutbox claims in one write transaction: SQLite has one writer at a
// time, so two workers (processes) never claim the same action.
func (s *DB) ClaimOutbox(ctx context.Context, c core.OutboxClaim) ([]core.OutboxAction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := micros(c.Now)
	rows, err := s.db.QueryContext(ctx, `UPDATE outbox SET state = 'delivering', attempts = attempts + 1, claimed_at = ?, updated_at = ?
		WHERE id IN (SELECT id FROM outbox
			WHERE (state IN ('pending', 'failed') AND next_at <= ?) OR (state = 'delivering' AND claimed_at <= ?)
			ORDER BY next_at, id LIMIT ?)
		RETURNING `+outboxCols, now, now, now, micros(c.Now.Add(-c.Lease)), max(c.Limit, 1))
	if err != nil {
		return nil, fmt.Errorf("claim outbox actions in %s: %w", s.path, err)
	}
	defer rows.Close()
	var out []core.OutboxAction
	for rows.Next() {
		a, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("claim outbox actions in %s: %w", s.path, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim outbox actions in %s: %w", s.path, err)
	}
	slices.SortFunc(out, func(a, b core.OutboxAction) int { return int(a.ID - b.ID) })
	return out, nil
}

func (s *DB) FinishOutbox(ctx context.Context, o core.OutboxOutcome) error {
	const q = `UPDATE outbox SET state = ?, next_at = ?,
		last_error = ?, document = ?, updated_at = ?,
		failed_since = CASE WHEN ? IN ('failed', 'dead') THEN CASE WHEN failed_since = 0 THEN ? ELSE failed_since END ELSE 0 END
		WHERE id = ? AND state = 'delivering' AND attempts = ?`
	args := []any{string(o.State), micros(o.NextAt), o.Error, o.Document, micros(o.Now), string(o.State), micros(o.Now), o.ID, o.Attempts}
	var lost error = core.Errorf(core.ECONFLICT, "outbox action %d is no longer being delivered by attempt %d (another worker took it over)", o.ID, o.Attempts)
	if !core.OutboxAudited(o.State) {
		res, err := s.write(ctx, fmt.Sprintf("record outcome of outbox action %d", o.ID), q, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		return lost
	}
	// Delivered or dead: with its audit entry, in one transaction.
	return s.Ingest(ctx, func(tx core.IngestTx) error {
		res, err := tx.(*ingestTx).tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("record outcome of outbox action %d in %s: %w", o.ID, s.path, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return cmp.Or(err, lost)
		}
		_, err = tx.Audit(ctx, core.OutboxAuditOf(o))
		return err
	})
}

func (s *DB) RetryOutbox(ctx context.Context, id int64, now time.Time) error {
	return s.outboxAudited(ctx, id, "retried", core.OutboxEntry(core.AuditOutboxRetried, id, "", nil), `UPDATE outbox SET state = 'pending', next_at = ?, updated_at = ?,
		failed_since = 0, alerted_at = 0 WHERE id = ? AND state IN ('failed', 'dead', 'cancelled')`, micros(now), micros(now), id)
}

func (s *DB) CancelOutbox(ctx context.Context, id int64, reason string, now time.Time) error {
	return s.outboxAudited(ctx, id, "cancelled", core.OutboxEntry(core.AuditOutboxCancelled, id, reason, nil), `UPDATE outbox SET state = 'cancelled', last_error = ?, updated_at = ?
		WHERE id = ? AND state IN ('pending', 'failed', 'dead')`, reason, micros(now), id)
}

// outboxAudited runs an operator's change of an action and its audit
// entry in one transaction; an update that changed nothing is ENOTFOUND
// or ECONFLICT, naming the action's state.
func (s *DB) outboxAudited(ctx context.Context, id int64, verb string, entry core.AuditEntry, query string, args ...any) error {
	return s.Ingest(ctx, func(itx core.IngestTx) error {
		tx := itx.(*ingestTx).tx
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("%s outbox action %d in %s: %w", strings.TrimSuffix(verb, "ed"), id, s.path, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			_, err = itx.Audit(ctx, entry)
			return err
		}
		var state string
		switch err := tx.QueryRowContext(ctx, `SELECT state FROM outbox WHERE id = ?`, id).Scan(&state); {
		case errors.Is(err, sql.ErrNoRows):
			return core.Errorf(core.ENOTFOUND, "outbox action %d not found (hub outbox list shows the ids)", id)
		case err != nil:
			return fmt.Errorf("read outbox action %d: %w", id, err)
		}
		return core.Errorf(core.ECONFLICT, "outbox action %d is %s: it cannot be %s", id, state, verb)
	})
}

func (s *DB) MarkOutboxAlerted(ctx context.Context, id int64, at time.Time) error {
	_, err := s.write(ctx, fmt.Sprintf("mark outbox action %d alerted", id), `UPDATE outbox SET alerted_at = ? WHERE id = ?`, micros(at), id)
	return err
}
