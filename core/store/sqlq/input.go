package sqlq

import (
	"context"
	"fmt"

	"github.com/lothub/lothub/core"
)

// Input that did not become events, or not yet: the quarantine and the
// raw records archive (core.Store's Quarantined, RawRecords). Writing
// them is part of the ingest write path and stays in the stores.

func (x *Queries) Quarantined(ctx context.Context, f core.QuarantineFilter) ([]core.QuarantineRow, error) {
	rows, err := x.query(ctx, x.db, `SELECT seq, key, source, line, event_id, reason, raw, at, resolved, resolve_reason FROM quarantine
		WHERE resolved = `+x.d.Bool(false)+` OR $1::boolean ORDER BY seq LIMIT $2`, f.IncludeResolved, x.d.Limit(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	return collect(rows, "read quarantine", func(row Row) (core.QuarantineRow, error) {
		var q core.QuarantineRow
		var raw []byte // PostgreSQL keeps bytea: quarantined input may be any bytes
		var at int64
		err := row.Scan(&q.Seq, &q.Key, &q.Source, &q.Line, &q.EventID, &q.Reason, &raw, &at, &q.Resolved, &q.ResolveReason)
		q.Raw, q.At = string(raw), FromMicros(at)
		return q, err
	})
}

func (x *Queries) RawRecords(ctx context.Context, f core.RawFilter) ([]core.RawRecord, error) {
	d := x.d
	// A condition of its own: the partial index on current rows serves it
	// (PostgreSQL reads "current = true" as "current").
	current := "current = " + d.Bool(true)
	if f.AllVersions {
		current = d.Bool(true)
	}
	rows, err := x.query(ctx, x.db, `SELECT seq, source, kind, record_id, hash, payload, position, received_at, mapping, events
		FROM raw_records
		WHERE `+current+` AND seq > $1 AND ($2::text = '' OR source = $2) AND received_at >= $3
			AND (`+d.Empty("$4", "text")+` OR `+d.In("kind", "$4", "text")+`)
			AND ($6::text = '' OR record_id >= $6 AND record_id < $7)
			AND ($8::bigint = 0 OR received_at < $8)
		ORDER BY seq LIMIT $5`,
		f.AfterSeq, f.Source, OptMicros(f.Since), List(d, f.Kinds), d.Limit(f.Limit), f.RecordPrefix, core.PrefixEnd(f.RecordPrefix), OptMicros(f.Before))
	if err != nil {
		return nil, fmt.Errorf("read raw records: %w", err)
	}
	return collect(rows, "read raw records", func(row Row) (core.RawRecord, error) {
		var r core.RawRecord
		var received int64
		err := row.Scan(&r.Seq, &r.Source, &r.Kind, &r.RecordID, &r.Hash, &r.Payload, &r.Position, &received, &r.Mapping, ListDest(d, &r.Events))
		r.ReceivedAt = FromMicros(received)
		return r, err
	})
}
