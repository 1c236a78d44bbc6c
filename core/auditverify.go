package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
)

// AuditProblem is one place where the stored trail or events differ from
// what the trail recorded.
type AuditProblem struct {
	// Seq is the audit entry at fault (0 for an event row no entry
	// records).
	Seq int64 `json:"seq,omitempty"`
	// Kind: "edited" (an entry's content no longer matches its hash, or
	// it was rewritten with a new hash), "deleted" (entries missing),
	// "inserted" (an entry that does not follow the one before),
	// "truncated" (entries cut from the end), "event_changed" (a
	// batch's event rows differ from its digest), "event_unrecorded"
	// (an event row no entry records).
	Kind   string         `json:"kind"`
	Event  *AuditEventRef `json:"event,omitempty"`
	Detail string         `json:"detail"`
}

// AuditEventRef names an event row.
type AuditEventRef struct {
	Seq     int64  `json:"seq"`
	ID      string `json:"id"`
	Version int    `json:"version"`
}

func (r *AuditEventRef) String() string {
	return fmt.Sprintf("event row %d (%s version %d)", r.Seq, r.ID, r.Version)
}

// AuditVerification is what hub audit verify found.
type AuditVerification struct {
	OK      bool  `json:"ok"`
	Entries int64 `json:"entries"`
	Events  int64 `json:"events_checked"`
	// EventsBefore: event rows up to this seq were stored before the
	// trail began (or their entries were pruned): no entry covers them.
	EventsBefore int64     `json:"events_before"`
	Head         AuditHead `json:"head"`
	// HeadPruned: the head given (--head) lies in a range pruned after a
	// verified export: check it against that export.
	HeadPruned bool           `json:"head_pruned,omitempty"`
	Problems   []AuditProblem `json:"problems"`
	// More counts problems found beyond the ones listed.
	More int `json:"more_problems,omitempty"`
}

// maxAuditProblems bounds the problems listed: the first is what matters.
const maxAuditProblems = 100

func (v *AuditVerification) problem(p AuditProblem) {
	if len(v.Problems) >= maxAuditProblems {
		v.More++
		return
	}
	v.Problems = append(v.Problems, p)
}

// checkpointDetails is what an audit.checkpoint entry records of the
// entries it replaced.
type checkpointDetails struct {
	PrunedThrough  int64  `json:"pruned_through"`
	PrunedLastHash string `json:"pruned_last_hash"`
	EventsBefore   int64  `json:"events_before"`
}

// eventRange is a batch entry's event rows, checked in the second pass.
type eventRange struct {
	entry  int64
	ev     AuditEvents
	rows   []EventRow
	broken *AuditEventRef // a row whose body no longer matches its hash
}

// VerifyAudit recomputes the audit chain of s and re-derives every batch's
// event digest from the events table. want, when not nil, is a head
// recorded earlier (hub audit head): the entry at its seq must still have
// its hash, which proves that nothing was cut from the end since. It
// returns an error only when the store cannot be read; what it finds is
// in the result.
func VerifyAudit(ctx context.Context, s Store, want *AuditHead) (*AuditVerification, error) {
	v := &AuditVerification{Problems: []AuditProblem{}}
	var prev *AuditEntry
	var first AuditEntry
	var ranges []*eventRange
	var checkpoints []checkpointDetails
	eventsBefore := int64(-1)
	wantHash := ""
	err := s.ReadAudit(ctx, 0, func(e AuditEntry) error {
		v.Entries++
		h := AuditHash(e)
		switch {
		case prev == nil:
			first = e
		case e.Seq != prev.Seq+1:
			v.problem(AuditProblem{Seq: prev.Seq + 1, Kind: "deleted",
				Detail: fmt.Sprintf("entries %d to %d are missing: deleted (entry %d follows entry %d)", prev.Seq+1, e.Seq-1, e.Seq, prev.Seq)})
		case h == e.Hash && e.PrevHash != prev.Hash:
			// e is as it was written, but the entry before it is not the
			// one it followed: that one was rewritten with a recomputed
			// hash, or put in.
			v.problem(AuditProblem{Seq: prev.Seq, Kind: "edited",
				Detail: fmt.Sprintf("entry %d does not follow entry %d: its prev_hash %s is not entry %d's hash %s; entry %d was rewritten (with a recomputed hash) or inserted",
					e.Seq, prev.Seq, short(e.PrevHash), prev.Seq, short(prev.Hash), prev.Seq)})
		}
		if h != e.Hash {
			v.problem(AuditProblem{Seq: e.Seq, Kind: "edited",
				Detail: fmt.Sprintf("entry %d (%s) was edited: its content hashes to %s, not its stored hash %s", e.Seq, e.Action, short(h), short(e.Hash))})
		}
		switch e.Action {
		case AuditStarted:
			var d checkpointDetails
			if json.Unmarshal(e.Details, &d) == nil && eventsBefore < 0 {
				eventsBefore = d.EventsBefore
			}
		case AuditCheckpoint:
			var d checkpointDetails
			if err := json.Unmarshal(e.Details, &d); err == nil {
				checkpoints = append(checkpoints, d)
			}
		}
		if e.Events != nil {
			ranges = append(ranges, &eventRange{entry: e.Seq, ev: *e.Events})
		}
		if want != nil && e.Seq == want.Seq {
			wantHash = e.Hash
		}
		p := e
		prev = &p
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The start: entry 1, or the entry after a pruned range that a
	// checkpoint names.
	var prunedThrough int64
	var prunedHash string
	if prev != nil && first.Seq != 1 {
		ok := false
		for _, c := range checkpoints {
			if c.PrunedThrough == first.Seq-1 && c.PrunedLastHash == first.PrevHash {
				ok = true
				prunedThrough, prunedHash = c.PrunedThrough, c.PrunedLastHash
				if eventsBefore < c.EventsBefore {
					eventsBefore = c.EventsBefore
				}
			}
		}
		if !ok {
			v.problem(AuditProblem{Seq: first.Seq - 1, Kind: "deleted",
				Detail: fmt.Sprintf("entries 1 to %d are missing and no checkpoint entry records their pruning (hub archive prune): deleted", first.Seq-1)})
		}
	} else if prev != nil && first.PrevHash != "" {
		v.problem(AuditProblem{Seq: first.Seq, Kind: "edited", Detail: "entry 1 names a previous hash: the chain's first entry has none"})
	}
	// The end: the store's head record, and the head the user recorded.
	head, err := s.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	var last AuditHead
	if prev != nil {
		last = AuditHead{Seq: prev.Seq, Hash: prev.Hash}
	}
	v.Head = last
	switch {
	case head.Seq > last.Seq:
		v.problem(AuditProblem{Seq: last.Seq + 1, Kind: "truncated",
			Detail: fmt.Sprintf("the store's head record names entry %d, but the trail ends at entry %d: entries were cut from the end", head.Seq, last.Seq)})
	case head.Seq == last.Seq && head.Hash != last.Hash:
		v.problem(AuditProblem{Seq: last.Seq, Kind: "edited",
			Detail: fmt.Sprintf("entry %d's hash %s is not the one the store's head record names (%s): the last entry was rewritten", last.Seq, short(last.Hash), short(head.Hash))})
	}
	if want != nil {
		switch {
		case want.Seq > last.Seq:
			v.problem(AuditProblem{Seq: last.Seq + 1, Kind: "truncated",
				Detail: fmt.Sprintf("the head you recorded is entry %d, but the trail ends at entry %d: entries were cut from the end", want.Seq, last.Seq)})
		case wantHash == "" && want.Seq < first.Seq && prunedThrough >= want.Seq:
			// Pruned after a verified export: the export holds it.
			v.HeadPruned = true
			if want.Seq == prunedThrough && want.Hash != prunedHash {
				v.problem(AuditProblem{Seq: want.Seq, Kind: "edited",
					Detail: fmt.Sprintf("entry %d's hash is %s as the checkpoint records it, not %s as you recorded it", want.Seq, short(prunedHash), short(want.Hash))})
			}
		case wantHash == "":
			v.problem(AuditProblem{Seq: want.Seq, Kind: "deleted", Detail: fmt.Sprintf("entry %d of the head you recorded is not in the trail", want.Seq)})
		case wantHash != want.Hash:
			v.problem(AuditProblem{Seq: want.Seq, Kind: "edited",
				Detail: fmt.Sprintf("entry %d's hash is %s, not %s as you recorded it: the trail up to it was rewritten", want.Seq, short(wantHash), short(want.Hash))})
		}
	}
	if eventsBefore < 0 {
		eventsBefore = 0
	}
	v.EventsBefore = eventsBefore
	if err := verifyEvents(ctx, s, v, ranges, eventsBefore); err != nil {
		return nil, err
	}
	v.OK = len(v.Problems) == 0
	return v, nil
}

// verifyEvents reads the event rows after eventsBefore in seq order, sorts
// them into the batches' ranges and compares each batch's rows with its
// digest.
func verifyEvents(ctx context.Context, s Store, v *AuditVerification, ranges []*eventRange, eventsBefore int64) error {
	slices.SortFunc(ranges, func(a, b *eventRange) int { return int(a.ev.First - b.ev.First) })
	i := 0
	finish := func(r *eventRange) {
		if len(r.rows) == r.ev.Count && EventDigest(r.rows) == r.ev.Digest && r.broken == nil {
			r.rows = nil
			return
		}
		p := AuditProblem{Seq: r.entry, Kind: "event_changed", Event: r.broken}
		switch {
		case r.broken != nil:
			p.Detail = fmt.Sprintf("%s was edited: its body no longer matches its content hash (written by the batch of entry %d)", r.broken, r.entry)
		case len(r.rows) != r.ev.Count:
			p.Detail = fmt.Sprintf("the batch of entry %d wrote %d event rows (seq %d to %d); %d are there now: rows were deleted or inserted", r.entry, r.ev.Count, r.ev.First, r.ev.Last, len(r.rows))
		default:
			p.Detail = fmt.Sprintf("the event rows seq %d to %d of the batch of entry %d no longer match its digest: a row's id, version, hash, time or body was edited", r.ev.First, r.ev.Last, r.entry)
		}
		v.problem(p)
		r.rows = nil
	}
	err := s.ReadEvents(ctx, eventsBefore, func(row EventRow) error {
		v.Events++
		for i < len(ranges) && ranges[i].ev.Last < row.Seq {
			finish(ranges[i])
			i++
		}
		ref := &AuditEventRef{Seq: row.Seq, ID: row.ID, Version: row.Version}
		if i == len(ranges) || row.Seq < ranges[i].ev.First {
			v.problem(AuditProblem{Kind: "event_unrecorded", Event: ref,
				Detail: fmt.Sprintf("%s is recorded by no audit entry: inserted directly", ref)})
			return nil
		}
		r := ranges[i]
		if r.broken == nil && !bodyMatches(row) {
			r.broken = ref
		}
		row.Status = "" // not covered by the digest
		r.rows = append(r.rows, row)
		return nil
	})
	if err != nil {
		return err
	}
	for ; i < len(ranges); i++ {
		finish(ranges[i])
	}
	return nil
}

// bodyMatches reports whether a stored version's body still gives its
// content hash (core.Prepare).
func bodyMatches(row EventRow) bool {
	var e Event
	if err := json.Unmarshal(row.Body, &e); err != nil {
		return false
	}
	if e.Source == nil {
		sum := sha256.Sum256(row.Body) // Prepare: the hash of the body as stored
		return hex.EncodeToString(sum[:16]) == row.Hash
	}
	return e.ContentHash() == row.Hash
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	if h == "" {
		return `""`
	}
	return h
}
