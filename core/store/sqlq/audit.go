package sqlq

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lothub/lothub/core"
)

// The audit trail (core/audit.go). Appends run in the store's ingest
// transaction, which serialises writers: SQLite has one writer at a time
// (the process's mutex and BEGIN IMMEDIATE across processes); PostgreSQL
// holds the ingest advisory lock from the transaction's start and reads
// the chain's head FOR UPDATE, so that a writer that did not take the
// advisory lock would still wait for the head row.

const auditCols = `seq, at, actor_kind, actor_name, actor_role, action, object, reason, details, ev_first, ev_last, ev_count, ev_digest, prev_hash, hash`

func scanAudit(row Row) (core.AuditEntry, error) {
	var e core.AuditEntry
	var at int64
	var role, details string
	var ev core.AuditEvents
	if err := row.Scan(&e.Seq, &at, &e.Actor.Kind, &e.Actor.Name, &role, &e.Action, &e.Object, &e.Reason, &details,
		&ev.First, &ev.Last, &ev.Count, &ev.Digest, &e.PrevHash, &e.Hash); err != nil {
		return e, err
	}
	e.Time, e.Actor.Role = FromMicros(at), core.Role(role)
	if details != "" {
		e.Details = json.RawMessage(details)
	}
	if ev != (core.AuditEvents{}) {
		e.Events = &ev
	}
	return e, nil
}

// AppendAudit appends e to the audit trail in tx, an ingest transaction
// (the store's IngestTx.Audit), starting the chain with its genesis entry
// when the trail is empty. The time is the database's clock at the append
// (PostgreSQL's ingest reads it, with the head, when its transaction took
// the writers' lock: AuditHeadSQL).
func AppendAudit(ctx context.Context, d Dialect, tx Querier, e core.AuditEntry) (core.AuditEntry, error) {
	var head core.AuditHead
	var before, now int64
	if err := tx.QueryRow(ctx, AuditHeadSQL(d)).
		Scan(&head.Seq, &head.Hash, &before, &now); err != nil {
		return e, fmt.Errorf("read the audit trail's head: %w", err)
	}
	at := FromMicros(now)
	if head.Seq == 0 {
		g := core.ChainAudit(head, core.AuditGenesis(before), at)
		if err := insertAudit(ctx, d, tx, g); err != nil {
			return e, err
		}
		head = core.AuditHead{Seq: g.Seq, Hash: g.Hash}
	}
	if e.Actor == (core.Actor{}) {
		e.Actor = core.ActorFrom(ctx)
	}
	e = core.ChainAudit(head, e, at)
	if err := insertAudit(ctx, d, tx, e); err != nil {
		return e, err
	}
	if _, err := tx.Exec(ctx, d.SQL(`UPDATE audit_head SET seq = $1, hash = $2`), e.Seq, e.Hash); err != nil {
		return e, fmt.Errorf("move the audit trail's head: %w", err)
	}
	return e, nil
}

// AuditHeadSQL is AppendAudit's first statement: the head (seq, hash),
// events_before and the database's clock, in Unix microseconds, locked
// for the transaction. A store that read the same row (in that order)
// already, with its writers' lock held, may answer it from that read.
func AuditHeadSQL(d Dialect) string {
	return `SELECT seq, hash, events_before, ` + d.NowMicros() + ` FROM audit_head` + d.ForUpdate()
}

func insertAudit(ctx context.Context, d Dialect, tx Querier, e core.AuditEntry) error {
	var ev core.AuditEvents
	if e.Events != nil {
		ev = *e.Events
	}
	if _, err := tx.Exec(ctx, d.SQL(`INSERT INTO audit_log (`+auditCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`),
		e.Seq, Micros(e.Time), d.Text(e.Actor.Kind), d.Text(e.Actor.Name), string(e.Actor.Role), e.Action, d.Text(e.Object), d.Text(e.Reason), d.Text(string(e.Details)),
		ev.First, ev.Last, int64(ev.Count), ev.Digest, e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("append %s to the audit trail: %w", e.Action, err)
	}
	return nil
}

// Audit appends one entry in a transaction of its own.
func (x *Queries) Audit(ctx context.Context, e core.AuditEntry) (core.AuditEntry, error) {
	var out core.AuditEntry
	err := x.hooks.Ingest(ctx, func(_ Querier, tx core.IngestTx) error {
		var err error
		out, err = tx.Audit(ctx, e)
		return err
	})
	return out, err
}

func (x *Queries) AuditHead(ctx context.Context) (core.AuditHead, error) {
	var h core.AuditHead
	if err := x.queryRow(ctx, x.db, `SELECT seq, hash FROM audit_head`).Scan(&h.Seq, &h.Hash); err != nil {
		return h, fmt.Errorf("read the audit trail's head in %s: %w", x.name, err)
	}
	return h, nil
}

func (x *Queries) AuditLog(ctx context.Context, f core.AuditFilter) ([]core.AuditEntry, error) {
	d := x.d
	// An action ending in "." is a prefix: "user." is every user action.
	rows, err := x.query(ctx, x.db, `SELECT `+auditCols+` FROM audit_log
		WHERE ($1::text = '' OR actor_kind || ':' || actor_name = $1 OR actor_name = $1)
		  AND ($2::text = '' OR action = $2 OR (substr($2, length($2)) = '.' AND substr(action, 1, length($2)) = $2))
		  AND (`+d.Empty("$3", "text")+` AND `+d.Empty("$4", "bigint")+`
		       OR `+d.In("object", "$3", "text")+`
		       OR ev_count > 0 AND EXISTS (SELECT 1 FROM `+d.Each("$4", "bigint", "j")+` WHERE j.value BETWEEN ev_first AND ev_last))
		  AND ($5::bigint = 0 OR at >= $5) AND ($6::bigint = 0 OR at < $6) AND ($7::bigint = 0 OR seq < $7)
		ORDER BY seq DESC LIMIT $8`,
		f.Actor, f.Action, List(d, f.Objects), List(d, f.EventSeqs), OptMicros(f.From), OptMicros(f.To), f.Before, d.Limit(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("read the audit trail in %s: %w", x.name, err)
	}
	return collect(rows, "read the audit trail in "+x.name, scanAudit)
}

func (x *Queries) ReadAudit(ctx context.Context, after int64, fn func(core.AuditEntry) error) error {
	rows, err := x.query(ctx, x.db, `SELECT `+auditCols+` FROM audit_log WHERE seq > $1 ORDER BY seq`, after)
	if err != nil {
		return fmt.Errorf("read the audit trail in %s: %w", x.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return fmt.Errorf("read the audit trail in %s: %w", x.name, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (x *Queries) PruneAudit(ctx context.Context, through int64, before time.Time, checkpoint core.AuditEntry) (core.AuditEntry, error) {
	var out core.AuditEntry
	err := x.hooks.Ingest(ctx, func(q Querier, tx core.IngestTx) error {
		if _, err := x.exec(ctx, q, `DELETE FROM audit_log WHERE seq <= $1`, through); err != nil {
			return fmt.Errorf("prune the audit trail through entry %d: %w", through, err)
		}
		if !before.IsZero() {
			if _, err := x.exec(ctx, q, `DELETE FROM raw_records WHERE received_at < $1`, Micros(before)); err != nil {
				return fmt.Errorf("prune raw records received before %s: %w", before.Format(time.RFC3339), err)
			}
		}
		var err error
		out, err = tx.Audit(ctx, checkpoint)
		return err
	})
	return out, err
}

func (x *Queries) ResetCursor(ctx context.Context, connector, reason string) error {
	if err := core.RequireReason("reset the position of "+connector, reason); err != nil {
		return err
	}
	return x.hooks.Ingest(ctx, func(q Querier, tx core.IngestTx) error {
		var pos []byte
		err := x.queryRow(ctx, q, `SELECT position FROM cursors WHERE connector = $1`, connector).Scan(&pos)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read position of %s: %w", connector, err)
		}
		if _, err := x.exec(ctx, q, `DELETE FROM cursors WHERE connector = $1`, connector); err != nil {
			return fmt.Errorf("reset position of %s in %s: %w", connector, x.name, err)
		}
		_, err = tx.Audit(ctx, core.CursorResetEntry(connector, reason, pos))
		return err
	})
}

func (x *Queries) ResolveQuarantine(ctx context.Context, seq int64, reason string) error {
	return x.hooks.Ingest(ctx, func(q Querier, tx core.IngestTx) error {
		var e core.QuarantineRow
		var resolved bool
		switch err := x.queryRow(ctx, q, `SELECT source, event_id, key, resolved FROM quarantine WHERE seq = $1`, seq).
			Scan(&e.Source, &e.EventID, &e.Key, &resolved); {
		case errors.Is(err, sql.ErrNoRows):
			return core.Errorf(core.ENOTFOUND, "quarantine entry %d not found (hub errors --all --json lists the ids)", seq)
		case err != nil:
			return fmt.Errorf("read quarantine entry %d: %w", seq, err)
		case resolved:
			return core.Errorf(core.ECONFLICT, "quarantine entry %d is resolved already", seq)
		}
		if _, err := x.exec(ctx, q, `UPDATE quarantine SET resolved = `+x.d.Bool(true)+`, resolve_reason = $1 WHERE seq = $2`, x.d.Text(reason), seq); err != nil {
			return fmt.Errorf("resolve quarantine entry %d in %s: %w", seq, x.name, err)
		}
		e.Seq = seq
		_, err := tx.Audit(ctx, core.QuarantineResolvedEntry(e, reason))
		return err
	})
}
