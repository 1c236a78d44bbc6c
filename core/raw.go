package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// RawRecord is a source record as it reached the hub (from a connector, a
// file or a webhook), archived before mapping so that a fixed mapping can
// be replayed over history (hub remap) without asking the ERP again.
//
// The archive keeps every distinct content of a record: the same source,
// record id and content hash is stored once; a changed record adds a
// version and becomes the current one.
type RawRecord struct {
	Seq        int64     // store-assigned
	Source     string    // connector name, or the file a record was read from
	Kind       string    // source record kind, e.g. A_MaterialDocumentItem
	RecordID   string    // stable id of the record at its source
	Hash       string    // content hash of Payload (RawHash)
	Payload    []byte    // the record, a JSON object
	Position   []byte    // the connector position it was read at, if any
	ReceivedAt time.Time // when the hub first received this content
	// Mapping is the mapping ("name@version") that last mapped the
	// record, "" when it failed to map (and was quarantined).
	Mapping string
	// Events are the ids of the events that mapping produced.
	Events []string
}

// RawHash is the content hash of a record's payload.
func RawHash(payload []byte) string {
	h := sha256.Sum256(payload)
	return hex.EncodeToString(h[:16])
}

// RawKey is the quarantine key of a record that failed to map: the same
// content of the same record is quarantined once, and resolved once it
// maps.
func RawKey(source, recordID, hash string) string {
	return "raw:" + quarantineKey(source+"\x00"+recordID, []byte(hash))
}

// RawFilter selects the current version of archived records, in archive
// order.
type RawFilter struct {
	Source   string    // "" for every source
	Kinds    []string  // nil for every kind
	Since    time.Time // received at or after; zero for all
	AfterSeq int64     // paging: records after this sequence number
	Limit    int       // 0 for no limit
	// RecordPrefix: only records whose id starts with it ("" for all).
	RecordPrefix string
	// Before: received before it; zero for all.
	Before time.Time
	// AllVersions: every archived content of a record, not only its
	// current one (hub archive export).
	AllVersions bool
}

// PrefixEnd returns the smallest string greater than every string that
// starts with prefix, for a range scan [prefix, PrefixEnd(prefix)) in a
// bytewise-ordered index.
func PrefixEnd(prefix string) string { return prefix + "\U0010FFFF" }

// MappedRecord is one source record with what its mapping made of it:
// events, or the error that sends it to quarantine.
type MappedRecord struct {
	Raw    RawRecord
	Line   int      // 1-based line in Source when read from a file, else 0
	Events []*Event // valid or not: IngestRecords validates them
	Err    error    // the mapping failed: the record is quarantined
	// Dropped are ids this record produced under an earlier mapping and
	// no longer does (hub remap), or that records it deletes produced:
	// they are reversed.
	Dropped []string
	// ReverseAs, when set, starts the ids of the reverse events written
	// for Dropped (the deleting record's id, so that reading it again
	// writes nothing new); otherwise "remap:RUN:".
	ReverseAs string
	// Skip, when set, says why the record made no event on purpose: it
	// is archived and counted under its rule and reason, not
	// quarantined.
	Skip *Skip
}

// Skip says why a source record made no event on purpose: the mapping rule
// that declared such records irrelevant, and its reason.
type Skip struct {
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

// UnexplainedSkip is the reason counted for a record that made no event
// and whose mapping said nothing about why.
const UnexplainedSkip = "made no event (the mapping gave no reason)"

// SkipCount counts the records one rule skipped for one reason.
type SkipCount struct {
	Rule    string `json:"rule"`
	Reason  string `json:"reason"`
	Records int    `json:"records"`
}

// AddSkips merges counts into a list of counts, kept sorted by rule and
// reason.
func AddSkips(to []SkipCount, add ...SkipCount) []SkipCount {
	for _, a := range add {
		i, found := slices.BinarySearchFunc(to, a, cmpSkip)
		if found {
			to[i].Records += a.Records
			continue
		}
		to = slices.Insert(to, i, a)
	}
	return to
}

func cmpSkip(a, b SkipCount) int {
	if c := strings.Compare(a.Rule, b.Rule); c != 0 {
		return c
	}
	return strings.Compare(a.Reason, b.Reason)
}

// SkippedRecords is the number of records the counts count.
func SkippedRecords(skips []SkipCount) int {
	n := 0
	for _, s := range skips {
		n += s.Records
	}
	return n
}

// RecordStats counts what an ingest of source records did.
type RecordStats struct {
	Records     int `json:"records"`     // source records read
	Archived    int `json:"archived"`    // source records archived (new content)
	Quarantined int `json:"quarantined"` // records or events set aside
	Reversed    int `json:"reversed"`    // events no longer produced, reversed (remap)
	Restored    int `json:"restored"`    // events produced again after a remap had reversed them
	// Skipped are the records that made no event on purpose, counted by
	// rule and reason in Skips. They are archived, not quarantined.
	Skipped int `json:"skipped"`
	// Skips counts the skipped records by rule and reason, as a run's
	// JSON does (core.Run.Skips): hub ingest --json and hub remap --json
	// print it beside the counts when records were skipped (issue 15 §1).
	Skips []SkipCount `json:"skips,omitempty"`
	IngestStats
}

func (s *RecordStats) Add(o RecordStats) {
	s.Records += o.Records
	s.Archived += o.Archived
	s.Quarantined += o.Quarantined
	s.Reversed += o.Reversed
	s.Restored += o.Restored
	s.Skipped += o.Skipped
	s.Skips = AddSkips(s.Skips, o.Skips...)
	s.IngestStats.add(o.IngestStats)
}

// remapPrefix starts the id of the reverse event hub remap writes for an
// event a fixed mapping no longer produces.
const remapPrefix = "remap:"

// IngestRecords archives a batch of mapped source records and applies their
// events, in one transaction: the raw records, their events, the quarantine
// entries of records or events that failed, and (through extra, when not
// nil) whatever the caller must commit with them, such as a connector's
// new position. Either all of it is committed or none.
//
// runID names this ingest in the ids of the reverse events it writes for
// Dropped events; it must differ between remap runs.
func (in *Ingester) IngestRecords(ctx context.Context, recs []MappedRecord, runID string, extra func(IngestTx, RecordStats) error) (RecordStats, error) {
	return in.CommitRecords(ctx, in.PrepareRecords(recs), runID, extra)
}

// RecordBatch is a batch of mapped records validated, encoded and sorted
// into what to archive, apply and quarantine: the work of an ingest that
// needs no store.
type RecordBatch struct {
	recs         []MappedRecord
	ok           []bool // the record's events are valid
	now          time.Time
	events       []PreparedEvent
	quarantine   []QuarantineRow
	resolvedKeys []string
	raws         []RawRecord
	produced     []string
	skips        []SkipCount
	// ahead and split: the batch planned ahead (Ahead.PlanRecords).
	ahead *Ahead
	split *aheadSplit
}

// PlanRecords plans b's events on a snapshot, ahead of its commit (see
// Ahead for the rule its caller keeps). CommitRecords uses the plan when
// it still holds, and plans again in its transaction otherwise.
func (a *Ahead) PlanRecords(ctx context.Context, b *RecordBatch) {
	if a == nil || b == nil {
		return
	}
	b.ahead, b.split = a, a.plan(ctx, b.events, b.now)
}

// PrepareRecords does the part of IngestRecords that touches no store, so
// that a caller may prepare the next batch while the previous one
// commits. Dropped and ReverseAs of its Records are read at commit.
func (in *Ingester) PrepareRecords(recs []MappedRecord) *RecordBatch {
	now := in.now()
	b := &RecordBatch{recs: recs, ok: make([]bool, len(recs)), now: now, raws: make([]RawRecord, 0, len(recs))}
	seen := map[string]bool{}
	for i := range recs {
		r := &recs[i]
		raw := r.Raw
		if raw.Hash == "" {
			raw.Hash = RawHash(raw.Payload)
		}
		if raw.ReceivedAt.IsZero() {
			raw.ReceivedAt = now
		}
		key := RawKey(raw.Source, raw.RecordID, raw.Hash)
		// where is said only in a refusal: formatted then, not for every
		// record (a million in an EPCIS capture).
		where := func() string {
			if r.Line > 0 {
				return fmt.Sprintf("%s:%d (record %s)", raw.Source, r.Line, raw.RecordID)
			}
			return fmt.Sprintf("record %s", raw.RecordID)
		}
		fail := func(eventID, reason string) {
			b.quarantine = append(b.quarantine, QuarantineRow{
				Key: key, Source: raw.Source, Line: r.Line, EventID: eventID,
				Reason: reason, Raw: string(raw.Payload), At: now,
			})
		}
		// A record that fails keeps the events it produced before (raw.Events
		// as given): a broken mapping must not make history forget them.
		if r.Err != nil {
			raw.Mapping = ""
			fail("", r.Err.Error())
			b.raws = append(b.raws, raw)
			continue
		}
		ok := true
		ids := make([]string, 0, len(r.Events))
		for _, e := range r.Events {
			if err := in.check(e); err != nil {
				fail(e.ID, fmt.Sprintf("%s: mapping produced an invalid event %q: %v (fix the mapping or the record, then hub remap)", where(), e.ID, err))
				ok = false
				break
			}
		}
		if !ok {
			raw.Mapping = ""
			b.raws = append(b.raws, raw)
			continue
		}
		b.ok[i] = true
		if len(r.Events) == 0 {
			// Never silent: a record that made nothing is counted, under
			// its rule and reason when the mapping gave them.
			skip := Skip{Reason: UnexplainedSkip}
			if r.Skip != nil {
				skip = *r.Skip
			}
			b.skips = AddSkips(b.skips, SkipCount{Rule: skip.Rule, Reason: skip.Reason, Records: 1})
		}
		for _, e := range r.Events {
			if e.Source == nil {
				e.Source = &Source{Connector: raw.Source, Record: raw.RecordID}
			}
			b.events = append(b.events, Prepare(e))
			ids = append(ids, e.ID)
			if !seen[e.ID] {
				seen[e.ID] = true
				b.produced = append(b.produced, e.ID)
			}
		}
		raw.Events = ids
		b.resolvedKeys = append(b.resolvedKeys, key)
		b.raws = append(b.raws, raw)
	}
	b.raws = lastPerRecord(b.raws)
	return b
}

// Records are the batch's mapped records: a caller sets their Dropped and
// ReverseAs (deletions, looked up against the store) before CommitRecords.
func (b *RecordBatch) Records() []MappedRecord { return b.recs }

// CommitRecords commits a prepared batch: the second half of IngestRecords.
func (in *Ingester) CommitRecords(ctx context.Context, b *RecordBatch, runID string, extra func(IngestTx, RecordStats) error) (RecordStats, error) {
	recs, now, events, produced := b.recs, b.now, b.events, b.produced
	quarantine, raws, resolvedKeys := b.quarantine, b.raws, b.resolvedKeys
	st := RecordStats{Records: len(recs), Skipped: SkippedRecords(b.skips), Skips: slices.Clone(b.skips)}
	var dropped []string
	dropSource := map[string]string{}
	dropAs := map[string][2]string{} // id → reverse id prefix, source
	for i := range recs {
		r := &recs[i]
		if !b.ok[i] {
			continue
		}
		for _, id := range r.Dropped {
			dropped = append(dropped, id)
			dropSource[id] = r.Raw.RecordID
			if r.ReverseAs != "" {
				dropAs[id] = [2]string{r.ReverseAs, r.Raw.Source}
			}
		}
	}

	var w *written
	var after int64
	err := in.Store.Ingest(ctx, func(tx IngestTx) error {
		all := events
		var revs []PreparedEvent
		// Events a remap had reversed and that are produced again: undo
		// those reversals.
		if len(produced) > 0 {
			byTarget, err := tx.Reversers(ctx, produced)
			if err != nil {
				return err
			}
			var remapRevs []string
			for _, rs := range byTarget {
				for _, id := range rs {
					if strings.HasPrefix(id, remapPrefix) {
						remapRevs = append(remapRevs, id)
					}
				}
			}
			if len(remapRevs) > 0 {
				cur, err := tx.CurrentEvents(ctx, remapRevs)
				if err != nil {
					return err
				}
				for _, id := range remapRevs {
					if row, ok := cur[id]; ok && row.Status == Active {
						revs = append(revs, Prepare(&Event{ID: id + ":undone", Type: Reverse, Time: now.Format(time.RFC3339),
							Reverses: id, Source: &Source{Connector: "remap", Record: runID}}))
						st.Restored++
					}
				}
			}
		}
		revIDs := make([]string, len(dropped))
		for i, id := range dropped {
			revIDs[i] = remapPrefix + runID + ":" + id
			if as, ok := dropAs[id]; ok {
				revIDs[i] = as[0] + id
			}
		}
		// A deletion read again (an overlapping window) keeps the time of
		// the reversal it made the first time, so that the same deletion
		// is the same event, not a new version of it.
		earlier, err := reversalTimes(ctx, tx, revIDs)
		if err != nil {
			return err
		}
		for i, id := range dropped {
			by := "remap"
			if as, ok := dropAs[id]; ok {
				by = as[1]
			}
			at := now.Format(time.RFC3339)
			if t, ok := earlier[revIDs[i]+"\x00"+id]; ok {
				at = t
			}
			revs = append(revs, Prepare(&Event{ID: revIDs[i], Type: Reverse, Time: at,
				Reverses: id, Source: &Source{Connector: by, Record: dropSource[id]}}))
			st.Reversed++
		}
		sp := b.split
		if len(revs) > 0 {
			all = append(append([]PreparedEvent(nil), events...), revs...)
			sp = nil // planned ahead without them: plan it all here
		}
		c, s, wr, err := in.planWrite(ctx, tx, all, sp, b.ahead, now, func(c *Changes) {
			c.Quarantine, c.Raw, c.ResolvedKeys = quarantine, raws, resolvedKeys
		})
		if err != nil {
			return err
		}
		w = wr
		st.Read = len(all) // the mapped events and the reversals written for dropped ones
		st.New, st.Superseded, st.Unchanged = s.New, s.Superseded, s.Unchanged
		rt := &runTx{IngestTx: tx}
		if extra != nil {
			done := st
			done.Quarantined, done.Archived = len(quarantine), len(raws)
			if err := extra(rt, done); err != nil {
				return err
			}
		}
		source := ""
		if len(recs) > 0 {
			source = recs[0].Raw.Source
		}
		d := map[string]any{"source": source, "records": len(recs), "read": st.Read, "new": st.New,
			"unchanged": st.Unchanged, "skipped": st.Skipped, "dropped_reversed": st.Reversed}
		if len(recs) > 0 {
			d["records_range"] = [2]string{recs[0].Raw.RecordID, recs[len(recs)-1].Raw.RecordID}
		}
		if runID != "" {
			d["ingest_id"] = runID
		}
		if rt.run != 0 {
			d["run"] = rt.run
		}
		if rt.cursor != "" {
			d["cursor_of"] = rt.cursor
		}
		if err := AuditChanges(ctx, tx, c, AuditEntry{Action: AuditIngest, Object: "source:" + source}, d); err != nil {
			return err
		}
		if b.ahead != nil {
			after, err = tx.DataVersion(ctx)
		}
		return err
	})
	if err == nil && b.ahead != nil {
		in.batches.Add(1)
		b.ahead.done(w, after)
	}
	if err != nil {
		in.lots.Reset()
		first, last := "", ""
		if len(recs) > 0 {
			first, last = recs[0].Raw.RecordID, recs[len(recs)-1].Raw.RecordID
		}
		return RecordStats{}, fmt.Errorf("ingest records %s … %s: %w", first, last, err)
	}
	st.Quarantined = len(quarantine)
	st.Archived = len(raws)
	return st, nil
}

// lastPerRecord keeps the last of the raw records with the same source and
// record id: a batch that read a record twice archives what it saw last.
func lastPerRecord(raws []RawRecord) []RawRecord {
	type key struct{ source, id string }
	last := make(map[key]int, len(raws))
	for i, r := range raws {
		last[key{r.Source, r.RecordID}] = i
	}
	if len(last) == len(raws) {
		return raws
	}
	out := raws[:0:0]
	for i, r := range raws {
		if last[key{r.Source, r.RecordID}] == i {
			out = append(out, r)
		}
	}
	return out
}

// runTx is the transaction as a batch's caller sees it: it notes the run
// the batch counts toward and the connector whose position it moves, for
// the batch's audit entry.
type runTx struct {
	IngestTx
	run    int64
	cursor string
}

func (t *runTx) CountRun(ctx context.Context, r Run) error {
	t.run = r.ID
	return t.IngestTx.CountRun(ctx, r)
}

func (t *runTx) SetCursor(ctx context.Context, c CursorRow) error {
	t.cursor = c.Connector
	return t.IngestTx.SetCursor(ctx, c)
}

// reversalTimes gives the time of the stored current version of each of
// ids that is a reverse event, keyed by id, NUL and the event it reverses.
func reversalTimes(ctx context.Context, tx IngestTx, ids []string) (map[string]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := tx.CurrentEvents(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for id, row := range rows {
		if row.Type != Reverse {
			continue
		}
		e, err := DecodeEvent(row.Body)
		if err != nil {
			return nil, fmt.Errorf("stored event %s version %d is unreadable: %w", id, row.Version, err)
		}
		out[id+"\x00"+e.Reverses] = e.Time
	}
	return out, nil
}
