package sqlite

import (
	"context"

	"github.com/lothub/lothub/core"
)

// The outbox's reads and state changes are shared with PostgreSQL
// (core/store/sqlq/outbox.go); writing the actions a batch sets off is
// part of the ingest write path.

// writeOutbox inserts the actions a batch set off; a key stored already
// is left as it is (the same event never makes the same action twice).
func (t *ingestTx) writeOutbox(ctx context.Context, actions []core.OutboxAction) error {
	return execMany(ctx, t, "record outbox actions", `INSERT INTO outbox (key, action, kind, event_id, payload, state, next_at,
		created_at, updated_at, last_error, failed_since) VALUES`, `ON CONFLICT (key) DO NOTHING`, actions,
		func(a core.OutboxAction) []any {
			return []any{a.Key, a.Action, a.Kind, a.EventID, string(a.Payload), string(a.State), micros(a.NextAt),
				micros(a.CreatedAt), micros(a.CreatedAt), a.LastError, optMicros(a.FailedSince)}
		})
}
