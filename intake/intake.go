// Package intake turns source records into stored events: it archives every
// record as it arrived, maps it with a declarative mapping, and ingests the
// events, all of one batch in one transaction. hub ingest --mapping, hub
// remap, connector syncs and webhooks go through it, so a record takes the
// same path whichever way it came.
//
// intake does no I/O but through core.Store; reading files and talking to
// connectors is the caller's job.
package intake

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/mapping"
)

// Input is one source record as read from a file, a connector or a webhook.
type Input struct {
	Record mapping.Record
	// Payload is the record as received (a JSON object). When nil, the
	// record's fields are encoded as JSON.
	Payload  []byte
	Line     int    // 1-based line in the file it came from, 0 otherwise
	Position []byte // the connector position it was read at, if any
	// Deletes: record-id prefixes of earlier records of the same source
	// that this record deletes (sdk.Record.Deletes): their events are
	// reversed.
	Deletes []string
}

// Pipeline maps and ingests records of one source through one mapping.
type Pipeline struct {
	Ingester *core.Ingester
	Mapping  *mapping.Mapping
	Source   string // connector name, or the file the records come from

	aheadOnce sync.Once
	ahead     *core.Ahead
}

// PlanAhead plans a mapped batch's events on a snapshot of the store
// while the batch before it commits, so that Commit only writes (when
// nothing the plan read changed meanwhile; otherwise Commit plans again).
// Call it on the goroutine that hands batches to Commit, on each batch
// after handing over the one before, over an unbuffered channel (the
// rule of core.Ahead).
func (p *Pipeline) PlanAhead(ctx context.Context, b *Batch) {
	if b == nil {
		return
	}
	p.aheadOnce.Do(func() { p.ahead = p.Ingester.Ahead() })
	p.ahead.PlanRecords(ctx, b.prepared)
}

// MappingID names a mapping and its version in the archive.
func MappingID(m *mapping.Mapping) string { return m.Name() + "@" + m.Version() }

// MapInput runs the mapping over one input as Map does for each input of
// a batch: the record to archive and its events, its declared skip, or
// why it is quarantined (MappedRecord.Err). It writes nothing: hub
// connector test shows what a sync would make of a page with it. The
// error is for an input whose fields cannot be encoded as its payload.
func (p *Pipeline) MapInput(in Input) (core.MappedRecord, error) {
	payload := in.Payload
	if payload == nil {
		b, err := json.Marshal(in.Record.Fields)
		if err != nil {
			return core.MappedRecord{}, fmt.Errorf("record %s: encode payload: %w", in.Record.ID, err)
		}
		payload = b
	}
	mr := core.MappedRecord{
		Raw: core.RawRecord{
			Source: p.Source, Kind: in.Record.Kind, RecordID: in.Record.ID,
			Payload: payload, Position: in.Position, Mapping: MappingID(p.Mapping),
		},
		Line: in.Line,
	}
	if !p.Mapping.Applies(in.Record.Kind) {
		// A connector hands over what it could not read (a CSV row with
		// the wrong number of fields) as a record of its own kind with an
		// "error" field, so that it is quarantined, not lost: say that.
		if msg, ok := in.Record.Fields["error"].(string); ok && msg != "" {
			mr.Err = fmt.Errorf("record %s (kind %s): the connector could not read it: %s (fix it at the source; the raw record is kept here)",
				in.Record.ID, in.Record.Kind, msg)
			return mr, nil
		}
		mr.Err = fmt.Errorf("record %s: mapping %s does not apply to kind %q (it maps %v): use a mapping for this kind",
			in.Record.ID, p.Mapping.File(), in.Record.Kind, p.Mapping.Kinds())
		return mr, nil
	}
	o := p.Mapping.MapRecord(in.Record)
	mr.Events, mr.Skip, mr.Err = o.Events, o.Skip, o.Err
	return mr, nil
}

// Ingest maps inputs and commits them, their events and quarantine entries
// in one transaction, together with whatever extra writes (a connector's
// new position). Records that fail to map are archived and quarantined;
// they never stop the batch.
func (p *Pipeline) Ingest(ctx context.Context, inputs []Input, extra func(core.IngestTx, core.RecordStats) error) (core.RecordStats, error) {
	b, err := p.Map(inputs)
	if err != nil {
		return core.RecordStats{}, err
	}
	return p.Commit(ctx, b, extra)
}

// Batch is a batch of inputs mapped and prepared, not yet committed.
type Batch struct {
	inputs   []Input
	prepared *core.RecordBatch
}

// Map runs the mapping over inputs and prepares the events for the store
// (validated, encoded). It touches no store, so a caller may map the next
// batch while the previous one commits.
func (p *Pipeline) Map(inputs []Input) (*Batch, error) {
	recs := make([]core.MappedRecord, 0, len(inputs))
	for _, in := range inputs {
		mr, err := p.MapInput(in)
		if err != nil {
			return nil, err
		}
		recs = append(recs, mr)
	}
	return &Batch{inputs: inputs, prepared: p.Ingester.PrepareRecords(recs)}, nil
}

// Commit archives a mapped batch and ingests its events, in one
// transaction with extra. Deletions are looked up here, against what the
// batches before committed.
func (p *Pipeline) Commit(ctx context.Context, b *Batch, extra func(core.IngestTx, core.RecordStats) error) (core.RecordStats, error) {
	recs := b.prepared.Records()
	for i, in := range b.inputs {
		if mr := &recs[i]; len(in.Deletes) > 0 && mr.Err == nil {
			if err := p.deletes(ctx, mr, in.Deletes); err != nil {
				return core.RecordStats{}, err
			}
		}
	}
	return p.Ingester.CommitRecords(ctx, b.prepared, "", extra)
}

// deletes finds the events that the archived records a deleting record
// names produced, and marks them to be reversed with ids that start with
// the deleting record's id (reading it again writes nothing new).
func (p *Pipeline) deletes(ctx context.Context, mr *core.MappedRecord, prefixes []string) error {
	for _, prefix := range prefixes {
		if prefix == "" {
			return fmt.Errorf("record %s deletes an empty record-id prefix: that would be every record of %s (a connector bug)", mr.Raw.RecordID, p.Source)
		}
		var after int64
		for {
			raws, err := p.Ingester.Store.RawRecords(ctx, core.RawFilter{Source: p.Source, RecordPrefix: prefix, AfterSeq: after, Limit: 1000})
			if err != nil {
				return fmt.Errorf("record %s: find the records it deletes: %w", mr.Raw.RecordID, err)
			}
			if len(raws) == 0 {
				break
			}
			after = raws[len(raws)-1].Seq
			for _, r := range raws {
				mr.Dropped = append(mr.Dropped, r.Events...)
			}
		}
	}
	mr.ReverseAs = mr.Raw.RecordID + "/"
	return nil
}

// RemapOptions select what hub remap replays.
type RemapOptions struct {
	Source    string    // only records of this source; "" for all
	Since     time.Time // only records received at or after; zero for all
	BatchSize int       // records per transaction; 1000 when 0
	// RunID names the run in the ids of the reverse events it writes;
	// when "", the current time.
	RunID string
	// Progress, when not nil, is called after each committed batch.
	Progress func(core.RecordStats)
}

// Remap replays archived records of the mapping's kinds through it: events
// that changed supersede their old versions, events the mapping no longer
// produces are reversed, events it produces again after an earlier remap
// reversed them are restored, and quarantined records that now map are
// released. The ERP is not asked again.
func Remap(ctx context.Context, ing *core.Ingester, m *mapping.Mapping, opt RemapOptions) (core.RecordStats, error) {
	size := opt.BatchSize
	if size <= 0 {
		size = 1000
	}
	runID := opt.RunID
	if runID == "" {
		runID = time.Now().UTC().Format("20060102T150405.000000Z")
	}
	var total core.RecordStats
	var after int64
	for {
		raws, err := ing.Store.RawRecords(ctx, core.RawFilter{
			Source: opt.Source, Kinds: m.Kinds(), Since: opt.Since, AfterSeq: after, Limit: size,
		})
		if err != nil {
			return total, err
		}
		if len(raws) == 0 {
			return total, nil
		}
		after = raws[len(raws)-1].Seq
		recs := make([]core.MappedRecord, 0, len(raws))
		for _, raw := range raws {
			recs = append(recs, remapOne(m, raw))
		}
		st, err := ing.IngestRecords(ctx, recs, runID, nil)
		if err != nil {
			return total, err
		}
		total.Add(st)
		if opt.Progress != nil {
			opt.Progress(total)
		}
	}
}

func remapOne(m *mapping.Mapping, raw core.RawRecord) core.MappedRecord {
	mr := core.MappedRecord{Raw: raw}
	mr.Raw.Mapping = MappingID(m)
	var fields map[string]any
	if err := json.Unmarshal(raw.Payload, &fields); err != nil {
		mr.Err = fmt.Errorf("record %s: archived payload is not a JSON object: %v", raw.RecordID, err)
		return mr
	}
	o := m.MapRecord(mapping.Record{Kind: raw.Kind, ID: raw.RecordID, Fields: fields})
	events, err := o.Events, o.Err
	mr.Skip = o.Skip
	if err != nil {
		mr.Err = err
		// What it produced before stays: a broken mapping must not
		// silently reverse history. The record goes back to quarantine.
		return mr
	}
	mr.Events = events
	for _, id := range raw.Events {
		if !slices.ContainsFunc(events, func(e *core.Event) bool { return e.ID == id }) {
			mr.Dropped = append(mr.Dropped, id)
		}
	}
	return mr
}
