package sqlq

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
)

// The outbox's reads and state changes (core.OutboxStore). Writing new
// actions is part of each store's ingest write path and stays there.

const outboxCols = `id, key, action, kind, event_id, payload, state, attempts, next_at, created_at, updated_at,
	claimed_at, last_error, document, failed_since, alerted_at`

func scanOutbox(row Row) (core.OutboxAction, error) {
	var a core.OutboxAction
	var payload, state string
	var next, created, updated, claimed, failed, alerted int64
	err := row.Scan(&a.ID, &a.Key, &a.Action, &a.Kind, &a.EventID, &payload, &state, &a.Attempts, &next, &created, &updated,
		&claimed, &a.LastError, &a.Document, &failed, &alerted)
	a.Payload, a.State = []byte(payload), core.OutboxState(state)
	a.NextAt, a.CreatedAt, a.UpdatedAt = FromMicros(next), FromMicros(created), FromMicros(updated)
	a.ClaimedAt, a.FailedSince, a.AlertedAt = OptTime(claimed), OptTime(failed), OptTime(alerted)
	return a, err
}

func (x *Queries) Outbox(ctx context.Context, f core.OutboxFilter) ([]core.OutboxAction, error) {
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
		where = append(where, x.d.In("state", arg(List(x.d, states)), "text"))
	}
	if f.Action != "" {
		where = append(where, "action = "+arg(f.Action))
	}
	if f.EventIDs != nil {
		where = append(where, x.d.In("event_id", arg(List(x.d, f.EventIDs)), "text"))
	}
	q := `SELECT ` + outboxCols + ` FROM outbox`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := x.query(ctx, x.db, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list outbox of %s: %w", x.name, err)
	}
	return collect(rows, "list outbox of "+x.name, scanOutbox)
}

// ClaimOutbox claims under the store's rule for writers: SQLite has one
// writer at a time, so two workers (processes) never claim the same
// action; PostgreSQL claims with FOR UPDATE SKIP LOCKED, so that workers
// of several hubs on one database each take different actions and none
// waits for another's.
func (x *Queries) ClaimOutbox(ctx context.Context, c core.OutboxClaim) ([]core.OutboxAction, error) {
	what := "claim outbox actions in " + x.name
	var out []core.OutboxAction
	err := x.hooks.Write(ctx, func(q Querier) error {
		rows, err := x.query(ctx, q, `UPDATE outbox SET state = 'delivering', attempts = attempts + 1, claimed_at = $1, updated_at = $1
			WHERE id IN (SELECT id FROM outbox
				WHERE (state IN ('pending', 'failed') AND next_at <= $1) OR (state = 'delivering' AND claimed_at <= $2)
				ORDER BY next_at, id LIMIT $3`+x.d.SkipLocked()+`)
			RETURNING `+outboxCols, Micros(c.Now), Micros(c.Now.Add(-c.Lease)), max(c.Limit, 1))
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		out, err = collect(rows, what, scanOutbox)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b core.OutboxAction) int { return int(a.ID - b.ID) })
	return out, nil
}

func (x *Queries) FinishOutbox(ctx context.Context, o core.OutboxOutcome) error {
	const q = `UPDATE outbox SET state = $1, next_at = $2, last_error = $3, document = $4, updated_at = $5,
		failed_since = CASE WHEN $1 IN ('failed', 'dead') THEN CASE WHEN failed_since = 0 THEN $5 ELSE failed_since END ELSE 0 END
		WHERE id = $6 AND state = 'delivering' AND attempts = $7`
	args := []any{string(o.State), Micros(o.NextAt), x.d.Text(o.Error), o.Document, Micros(o.Now), o.ID, o.Attempts}
	var lost error = core.Errorf(core.ECONFLICT, "outbox action %d is no longer being delivered by attempt %d (another worker took it over)", o.ID, o.Attempts)
	if !core.OutboxAudited(o.State) {
		n, err := x.write(ctx, fmt.Sprintf("record outcome of outbox action %d", o.ID), q, args...)
		if err != nil || n == 1 {
			return err
		}
		return lost
	}
	// Delivered or dead: with its audit entry, in one transaction.
	return x.hooks.Ingest(ctx, func(db Querier, tx core.IngestTx) error {
		n, err := x.exec(ctx, db, q, args...)
		if err != nil {
			return fmt.Errorf("record outcome of outbox action %d in %s: %w", o.ID, x.name, err)
		}
		if n != 1 {
			return lost
		}
		_, err = tx.Audit(ctx, core.OutboxAuditOf(o))
		return err
	})
}

func (x *Queries) RetryOutbox(ctx context.Context, id int64, now time.Time) error {
	return x.outboxAudited(ctx, id, "retried", core.OutboxEntry(core.AuditOutboxRetried, id, "", nil), `UPDATE outbox SET state = 'pending', next_at = $1, updated_at = $1, failed_since = 0, alerted_at = 0
		WHERE id = $2 AND state IN ('failed', 'dead', 'cancelled')`, Micros(now), id)
}

func (x *Queries) CancelOutbox(ctx context.Context, id int64, reason string, now time.Time) error {
	return x.outboxAudited(ctx, id, "cancelled", core.OutboxEntry(core.AuditOutboxCancelled, id, reason, nil), `UPDATE outbox SET state = 'cancelled', last_error = $1, updated_at = $2
		WHERE id = $3 AND state IN ('pending', 'failed', 'dead')`, x.d.Text(reason), Micros(now), id)
}

// outboxAudited runs an operator's change of an action and its audit
// entry in one transaction; an update that changed nothing is ENOTFOUND
// or ECONFLICT, naming the action's state.
func (x *Queries) outboxAudited(ctx context.Context, id int64, verb string, entry core.AuditEntry, query string, args ...any) error {
	return x.hooks.Ingest(ctx, func(q Querier, tx core.IngestTx) error {
		n, err := x.exec(ctx, q, query, args...)
		if err != nil {
			return fmt.Errorf("%s outbox action %d in %s: %w", strings.TrimSuffix(verb, "ed"), id, x.name, err)
		}
		if n == 1 {
			_, err = tx.Audit(ctx, entry)
			return err
		}
		var state string
		switch err := x.queryRow(ctx, q, `SELECT state FROM outbox WHERE id = $1`, id).Scan(&state); {
		case errors.Is(err, sql.ErrNoRows):
			return core.Errorf(core.ENOTFOUND, "outbox action %d not found (hub outbox list shows the ids)", id)
		case err != nil:
			return fmt.Errorf("read outbox action %d: %w", id, err)
		}
		return core.Errorf(core.ECONFLICT, "outbox action %d is %s: it cannot be %s", id, state, verb)
	})
}

func (x *Queries) MarkOutboxAlerted(ctx context.Context, id int64, at time.Time) error {
	_, err := x.write(ctx, fmt.Sprintf("mark outbox action %d alerted", id), `UPDATE outbox SET alerted_at = $1 WHERE id = $2`, Micros(at), id)
	return err
}
