package postgres

import (
	"github.com/lothub/lothub/core"
)

// The outbox's reads and state changes are shared with SQLite
// (core/store/sqlq/outbox.go); writing the actions a batch sets off is
// part of the ingest write path.

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
