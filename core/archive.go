package core

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Retention. Nothing in normal operation deletes audit entries or archived
// raw records. A site whose retention period has passed for old entries
// exports them (ExportArchive: JSON Lines, ending with the chain's head)
// and then prunes them (PruneArchive), which refuses unless the export
// verifies against the store; the pruning leaves a checkpoint entry that
// carries the hash of the last entry pruned, so the chain that remains
// still verifies, and the export file verifies on its own.

// ArchiveLine is one line of an export file: an audit entry, a raw record
// or, last, the head.
type ArchiveLine struct {
	Kind  string       `json:"kind"` // "audit", "raw" or "head"
	Entry *AuditEntry  `json:"entry,omitempty"`
	Raw   *ArchivedRaw `json:"raw,omitempty"`
	Head  *ArchiveHead `json:"head,omitempty"`
}

// ArchivedRaw is a raw record as exported.
type ArchivedRaw struct {
	Seq        int64           `json:"seq"`
	Source     string          `json:"source"`
	Kind       string          `json:"kind"`
	RecordID   string          `json:"record_id"`
	Hash       string          `json:"hash"`
	Payload    json.RawMessage `json:"payload"`
	Position   []byte          `json:"position,omitempty"`
	ReceivedAt time.Time       `json:"received_at"`
	Mapping    string          `json:"mapping,omitempty"`
	Events     []string        `json:"events,omitempty"`
}

// ArchiveHead ends an export: what it holds and the chain it came from.
type ArchiveHead struct {
	Before time.Time `json:"before"`
	// Through is the last entry exported ({0, ""}: none); Chain the
	// store's chain head when the export was made (record it).
	Through      AuditHead `json:"through"`
	Chain        AuditHead `json:"chain_head"`
	Entries      int       `json:"entries"`
	RawRecords   int       `json:"raw_records"`
	EventsBefore int64     `json:"events_before"` // the last event seq the exported entries cover
	Exported     time.Time `json:"exported_at"`
}

// ExportArchive writes the audit entries made before before, and the raw
// records received before it (every version), to w, then the head. It
// refuses (ECONFLICT) when the trail does not verify: a damaged trail is
// investigated, not archived.
func ExportArchive(ctx context.Context, s Store, before time.Time, w io.Writer) (*ArchiveHead, error) {
	v, err := VerifyAudit(ctx, s, nil)
	if err != nil {
		return nil, err
	}
	if !v.OK {
		return nil, Errorf(ECONFLICT, "the audit trail does not verify (%s): nothing exported; run hub audit verify and investigate first", v.Problems[0].Detail)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	head := &ArchiveHead{Before: before.UTC(), Chain: v.Head, Exported: time.Now().UTC()}
	done := fmt.Errorf("done")
	err = s.ReadAudit(ctx, 0, func(e AuditEntry) error {
		if !e.Time.Before(before) {
			return done // the export is a prefix of the chain
		}
		head.Through = AuditHead{Seq: e.Seq, Hash: e.Hash}
		head.Entries++
		head.EventsBefore = max(head.EventsBefore, entryEventsBefore(e))
		return enc.Encode(ArchiveLine{Kind: "audit", Entry: &e})
	})
	if err != nil && err != done {
		return nil, fmt.Errorf("export the audit trail: %w", err)
	}
	n, err := readRawBefore(ctx, s, before, func(r RawRecord) error {
		return enc.Encode(ArchiveLine{Kind: "raw", Raw: archived(r)})
	})
	if err != nil {
		return nil, err
	}
	head.RawRecords = n
	if err := enc.Encode(ArchiveLine{Kind: "head", Head: head}); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("write the export: %w", err)
	}
	return head, nil
}

// entryEventsBefore is the last event seq an entry covers.
func entryEventsBefore(e AuditEntry) int64 {
	if e.Events != nil {
		return e.Events.Last
	}
	if e.Action == AuditStarted || e.Action == AuditCheckpoint {
		var d checkpointDetails
		if json.Unmarshal(e.Details, &d) == nil {
			return d.EventsBefore
		}
	}
	return 0
}

func archived(r RawRecord) *ArchivedRaw {
	a := &ArchivedRaw{Seq: r.Seq, Source: r.Source, Kind: r.Kind, RecordID: r.RecordID, Hash: r.Hash, Position: r.Position,
		ReceivedAt: r.ReceivedAt, Mapping: r.Mapping, Events: r.Events}
	if json.Valid(r.Payload) {
		a.Payload = r.Payload
	} else {
		a.Payload = MustJSON(string(r.Payload))
	}
	return a
}

// readRawBefore calls fn for every version of every raw record received
// before before, in archive order, and returns how many.
func readRawBefore(ctx context.Context, s Store, before time.Time, fn func(RawRecord) error) (int, error) {
	n := 0
	var after int64
	for {
		page, err := s.RawRecords(ctx, RawFilter{AllVersions: true, Before: before, AfterSeq: after, Limit: 1000})
		if err != nil {
			return n, err
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return n, err
			}
			n++
			after = r.Seq
		}
		if len(page) < 1000 {
			return n, nil
		}
	}
}

// PruneResult says what PruneArchive deleted.
type PruneResult struct {
	Entries    int        `json:"entries_pruned"`
	RawRecords int        `json:"raw_records_pruned"`
	Checkpoint AuditEntry `json:"checkpoint"`
}

// PruneArchive deletes what the export in r (named name, for the
// checkpoint) holds: the audit entries through its last, and the raw
// records received before its date, in one transaction with a
// checkpoint entry. It refuses (ECONFLICT) unless the export verifies on
// its own (every entry's hash, every link) and against the store (its
// last entry is the store's, the store holds exactly the raw records it
// exported) and the store's trail verifies.
func PruneArchive(ctx context.Context, s Store, r io.Reader, name string) (*PruneResult, error) {
	h := sha256.New()
	sc := bufio.NewScanner(io.TeeReader(r, h))
	sc.Buffer(make([]byte, 0, 1<<20), MaxEventSize*4)
	var head *ArchiveHead
	var prev *AuditEntry
	entries, raws := 0, map[int64]string{}
	line := 0
	for sc.Scan() {
		line++
		var l ArchiveLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, Errorf(EINVALID, "%s:%d: not an export line: %v", name, line, err)
		}
		if head != nil {
			return nil, Errorf(EINVALID, "%s:%d: lines after the head: the file is not one export", name, line)
		}
		switch {
		case l.Kind == "audit" && l.Entry != nil:
			e := *l.Entry
			if AuditHash(e) != e.Hash {
				return nil, Errorf(ECONFLICT, "%s:%d: entry %d does not match its hash: the export was altered; export again", name, line, e.Seq)
			}
			if prev != nil && (e.Seq != prev.Seq+1 || e.PrevHash != prev.Hash) {
				return nil, Errorf(ECONFLICT, "%s:%d: entry %d does not follow entry %d: the export was altered; export again", name, line, e.Seq, prev.Seq)
			}
			prev = &e
			entries++
		case l.Kind == "raw" && l.Raw != nil:
			raws[l.Raw.Seq] = l.Raw.Hash
		case l.Kind == "head" && l.Head != nil:
			head = l.Head
		default:
			return nil, Errorf(EINVALID, "%s:%d: unknown line kind %q", name, line, l.Kind)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if head == nil {
		return nil, Errorf(ECONFLICT, "%s has no head line: the export is incomplete; export again", name)
	}
	if entries != head.Entries || len(raws) != head.RawRecords || (prev != nil) != (head.Through.Seq > 0) ||
		prev != nil && (prev.Seq != head.Through.Seq || prev.Hash != head.Through.Hash) {
		return nil, Errorf(ECONFLICT, "%s: its lines do not add up to its head: the export is incomplete or altered; export again", name)
	}
	v, err := VerifyAudit(ctx, s, &head.Chain)
	if err != nil {
		return nil, err
	}
	if !v.OK {
		return nil, Errorf(ECONFLICT, "the audit trail does not verify against the export's head (%s): nothing pruned", v.Problems[0].Detail)
	}
	// The store's entry at Through must be the exported one (checked by
	// the chain up to the recorded head only if it is that head).
	if head.Through.Seq > 0 {
		found := ""
		stop := fmt.Errorf("stop")
		err := s.ReadAudit(ctx, head.Through.Seq-1, func(e AuditEntry) error { found = e.Hash; return stop })
		if err != nil && err != stop {
			return nil, err
		}
		if found != head.Through.Hash {
			return nil, Errorf(ECONFLICT, "%s: its last entry %d is not the store's: this export is of another store or was pruned already", name, head.Through.Seq)
		}
	}
	stored := 0
	if _, err := readRawBefore(ctx, s, head.Before, func(r RawRecord) error {
		if raws[r.Seq] == r.Hash {
			stored++
		}
		return nil
	}); err != nil {
		return nil, err
	}
	n, err := readRawBefore(ctx, s, head.Before, func(RawRecord) error { return nil })
	if err != nil {
		return nil, err
	}
	if n != stored {
		return nil, Errorf(ECONFLICT, "the store holds %d raw records received before %s that %s does not: export again, then prune", n-stored, head.Before.Format(time.RFC3339), name)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	cp := AuditEntry{Action: AuditCheckpoint, Object: "audit", Reason: "retention: pruned after a verified export to " + name,
		Details: MustJSON(map[string]any{"pruned_through": head.Through.Seq, "pruned_last_hash": head.Through.Hash,
			"events_before": head.EventsBefore, "raw_records_before": head.Before.Format(time.RFC3339Nano),
			"raw_records_pruned": n, "export_file": name, "export_sha256": sum})}
	if cp.Actor == (Actor{}) {
		cp.Actor = ActorFrom(ctx)
	}
	out, err := s.PruneAudit(ctx, head.Through.Seq, head.Before, cp)
	if err != nil {
		return nil, err
	}
	return &PruneResult{Entries: head.Entries, RawRecords: n, Checkpoint: out}, nil
}
