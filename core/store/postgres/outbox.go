package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lothub/lothub/core"
)

const outboxCols = `id, key, action, kind, event_id, payload, state, attempts, next_at, created_at, updated_at,
	claimed_at, last_error, document, failed_since, alerted_at`

func scanOutbox(row pgx.Row) (core.OutboxAction, error) {
	var a core.OutboxAction
	var payload, state string
	var next, created, updated, claimed, failed, alerted int64
	err := row.Scan(&a.ID, &a.Key, &a.Action, &a.Kind, &a.EventID, &payload, &state, &a.Attempts, &next, &created, &updated,
		&claimed, &a.LastError, &a.Document, &failed, &alerted)
	a.Payload, a.State = []byte(payload), core.OutboxState(state)
	a.NextAt, a.CreatedAt, a.UpdatedAt = fromMicros(next), fromMicros(created), fromMicros(updated)
	a.ClaimedAt, a.FailedSince, a.AlertedAt = optTime(claimed), optTime(failed), optTime(alerted)
	return a, err
}

// queueOutbox inserts the actions a batch set off; a key stored already is
// left as it is (the same event never makes the same action twice).
func queueOutbox(w *writer, actions []core.OutboxAction) {
	n := len(actions)
	if n == 0 {
		return
	}
	keys, names, kinds, events, payloads, states, errs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	next, created, failed := make([]int64, n), make([]int64, n), make([]int64, n)
	for i, a := range actions {
		keys[i], names[i], kinds[i], events[i], payloads[i], states[i], errs[i] = a.Key, a.Action, a.Kind, a.EventID, text(string(a.Payload)), string(a.State), text(a.LastError)
		next[i], created[i], failed[i] = micros(a.NextAt), micros(a.CreatedAt), optMicros(a.FailedSince)
	}
	w.queue("record outbox actions", `INSERT INTO outbox (key, action, kind, event_id, payload, state, next_at, created_at, updated_at, last_error, failed_since)
		SELECT k, a, kd, e, p, s, n, c, c, le, f FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
			$7::bigint[], $8::bigint[], $9::text[], $10::bigint[]) AS u(k, a, kd, e, p, s, n, c, le, f)
		ON CONFLICT (key) DO NOTHING`, keys, names, kinds, events, payloads, states, next, created, errs, failed)
}

func (s *DB) Outbox(ctx context.Context, f core.OutboxFilter) ([]core.OutboxAction, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.ID != 0 {
		where = append(where, "id = "+arg(f.ID))
	}
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, st := range f.States {
			states[i] = string(st)
		}
		where = append(where, "state = ANY("+arg(states)+"::text[])")
	}
	if f.Action != "" {
		where = append(where, "action = "+arg(f.Action))
	}
	if f.EventIDs != nil {
		where = append(where, "event_id = ANY("+arg(f.EventIDs)+"::text[])")
	}
	q := `SELECT ` + outboxCols + ` FROM outbox`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list outbox of %s: %w", s.name, err)
	}
	return collectOutbox(rows, "list outbox of "+s.name)
}

func collectOutbox(rows pgx.Rows, what string) ([]core.OutboxAction, error) {
	defer rows.Close()
	var out []core.OutboxAction
	for rows.Next() {
		a, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// ClaimOutbox claims with FOR UPDATE SKIP LOCKED: workers of several hubs
// on one database each take different actions, and none waits for
// another's.
func (s *DB) ClaimOutbox(ctx context.Context, c core.OutboxClaim) ([]core.OutboxAction, error) {
	now := micros(c.Now)
	rows, err := s.pool.Query(ctx, `UPDATE outbox SET state = 'delivering', attempts = attempts + 1, claimed_at = $1, updated_at = $1
		WHERE id IN (SELECT id FROM outbox
			WHERE (state IN ('pending', 'failed') AND next_at <= $1) OR (state = 'delivering' AND claimed_at <= $2)
			ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING `+outboxCols, now, micros(c.Now.Add(-c.Lease)), max(c.Limit, 1))
	if err != nil {
		return nil, fmt.Errorf("claim outbox actions in %s: %w", s.name, err)
	}
	out, err := collectOutbox(rows, "claim outbox actions in "+s.name)
	slices.SortFunc(out, func(a, b core.OutboxAction) int { return int(a.ID - b.ID) })
	return out, err
}

func (s *DB) FinishOutbox(ctx context.Context, o core.OutboxOutcome) error {
	const q = `UPDATE outbox SET state = $1, next_at = $2, last_error = $3, document = $4, updated_at = $5,
		failed_since = CASE WHEN $1 IN ('failed', 'dead') THEN CASE WHEN failed_since = 0 THEN $5 ELSE failed_since END ELSE 0 END
		WHERE id = $6 AND state = 'delivering' AND attempts = $7`
	args := []any{string(o.State), micros(o.NextAt), text(o.Error), o.Document, micros(o.Now), o.ID, o.Attempts}
	var lost error = core.Errorf(core.ECONFLICT, "outbox action %d is no longer being delivered by attempt %d (another worker took it over)", o.ID, o.Attempts)
	if !core.OutboxAudited(o.State) {
		tag, err := s.pool.Exec(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("record outcome of outbox action %d in %s: %w", o.ID, s.name, err)
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		return lost
	}
	// Delivered or dead: with its audit entry, in one transaction.
	return s.Ingest(ctx, func(tx core.IngestTx) error {
		tag, err := tx.(*ingestTx).tx.Exec(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("record outcome of outbox action %d in %s: %w", o.ID, s.name, err)
		}
		if tag.RowsAffected() != 1 {
			return lost
		}
		_, err = tx.Audit(ctx, core.OutboxAuditOf(o))
		return err
	})
}

func (s *DB) RetryOutbox(ctx context.Context, id int64, now time.Time) error {
	return s.outboxAudited(ctx, id, "retried", core.OutboxEntry(core.AuditOutboxRetried, id, "", nil), `UPDATE outbox SET state = 'pending', next_at = $1, updated_at = $1, failed_since = 0, alerted_at = 0
		WHERE id = $2 AND state IN ('failed', 'dead', 'cancelled')`, micros(now), id)
}

func (s *DB) CancelOutbox(ctx context.Context, id int64, reason string, now time.Time) error {
	return s.outboxAudited(ctx, id, "cancelled", core.OutboxEntry(core.AuditOutboxCancelled, id, reason, nil), `UPDATE outbox SET state = 'cancelled', last_error = $1, updated_at = $2
		WHERE id = $3 AND state IN ('pending', 'failed', 'dead')`, text(reason), micros(now), id)
}

// outboxAudited runs an operator's change of an action and its audit
// entry in one transaction; an update that changed nothing is ENOTFOUND
// or ECONFLICT, naming the action's state.
func (s *DB) outboxAudited(ctx context.Context, id int64, verb string, entry core.AuditEntry, query string, args ...any) error {
	return s.Ingest(ctx, func(itx core.IngestTx) error {
		tx := itx.(*ingestTx).tx
		tag, err := tx.Exec(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("%s outbox action %d in %s: %w", strings.TrimSuffix(verb, "ed"), id, s.name, err)
		}
		if tag.RowsAffected() == 1 {
			_, err = itx.Audit(ctx, entry)
			return err
		}
		var state string
		switch err := tx.QueryRow(ctx, `SELECT state FROM outbox WHERE id = $1`, id).Scan(&state); {
		case errors.Is(err, pgx.ErrNoRows):
			return core.Errorf(core.ENOTFOUND, "outbox action %d not found (hub outbox list shows the ids)", id)
		case err != nil:
			return fmt.Errorf("read outbox action %d: %w", id, err)
		}
		return core.Errorf(core.ECONFLICT, "outbox action %d is %s: it cannot be %s", id, state, verb)
	})
}

func (s *DB) MarkOutboxAlerted(ctx context.Context, id int64, at time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE outbox SET alerted_at = $1 WHERE id = $2`, micros(at), id); err != nil {
		return fmt.Errorf("mark outbox action %d alerted in %s: %w", id, s.name, err)
	}
	return nil
}
