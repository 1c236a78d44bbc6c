package netsuite

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/sdk"
)

// How a sync reads NetSuite without losing records.
//
// Integration platforms' NetSuite connectors are known to lose records in
// two ways. They read "modified since the last sync" in date-only slices
// computed in another time zone than the account's, so records modified
// between the sync and local midnight are never read; and they page large
// first syncs with offsets, which SuiteQL stops at 100,000 rows, so the
// first sync never ends and starts over every time. This connector:
//
//   - compares times to the second, as text in the account's time zone
//     (TO_CHAR/TO_TIMESTAMP, see query.go), and turns them into UTC
//     instants only for the record's time and for lower bounds, where a
//     repeated hour is resolved towards reading more (timezone.go);
//   - pages by keyset: (last modified, transaction, line, assignment),
//     each request at offset 0 starting after the last row read. Every
//     page's position is committed by the hub with the page's records, so
//     a first sync of millions of rows makes progress and resumes;
//   - starts each sync again an overlap window before the latest change it
//     has seen (the high-water mark), because a transaction saved while a
//     sync runs can get a last-modified time earlier than rows the sync
//     already read (the time is taken when the save starts, the row is
//     visible when it commits). The rows already read within the window
//     are listed in the position (ids and last-modified time) and
//     skipped, so the overlap costs a query, not duplicate records; a
//     transaction modified again has a new time and is read again.

// positionVersion is the version of the position's encoding.
const positionVersion = 1

// maxSeen bounds the rows the position remembers. Past it (a mass update
// of more lots than that within one overlap window) the oldest are
// forgotten: they may be read again by the next sync, which the hub's
// idempotent ingest turns into no-ops. Nothing is lost.
const maxSeen = 20000

// position is the connector's cursor: one stream for transactions, one for
// deletions.
type position struct {
	V       int    `json:"v"`
	Account string `json:"account"`
	TZ      string `json:"tz"`
	// Shape identifies the query's configuration (types, extra columns,
	// start): when it changes, transactions are read again from the start.
	Shape string    `json:"shape"`
	Tx    streamPos `json:"tx"`
	Del   streamPos `json:"del"`
}

// streamPos is where one stream is.
type streamPos struct {
	// From is the lower bound (RFC 3339, UTC) of the current pass; empty:
	// the beginning of history.
	From string `json:"from,omitempty"`
	// After is the key of the last row read in the current pass; nil: the
	// pass starts at From.
	After *key `json:"after,omitempty"`
	// HW is the high-water mark: the latest last-modified time read (RFC
	// 3339, UTC, the earliest reading of the wall clock).
	HW string `json:"hw,omitempty"`
	// Seen lists "id@unix" for the rows read whose time is within the
	// overlap window of HW, to skip them when the window is read again.
	Seen []string `json:"seen,omitempty"`
	// Done reports that the current pass reached the end; the next read
	// starts a new pass from HW minus the overlap.
	Done bool `json:"done,omitempty"`

	seen map[string]bool // Seen as a set, built when needed
}

// key is a row's place in keyset order: its time as SuiteQL shows it and
// its ids.
type key struct {
	At  string   `json:"at"`
	IDs []string `json:"ids"`
}

var (
	idRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^-?[0-9]{1,19}$`) })
)

func shapeOf(o *options) string {
	h := sha256.New()
	fmt.Fprintf(h, "%v|%v|%v", o.types, o.extra, o.start)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// decodePosition reads p, or starts a position for o when p is empty. A
// position that is not one of ours is sdk.ErrInvalidPosition; one from
// another configuration is adapted so that nothing is skipped.
func decodePosition(p sdk.Position, o *options) (*position, error) {
	fresh := &position{V: positionVersion, Account: o.account, TZ: o.loc.String(), Shape: shapeOf(o)}
	if !o.start.IsZero() {
		fresh.Tx.From = o.start.Format(time.RFC3339)
	}
	if len(p) == 0 {
		fresh.Del = startDeletions(o)
		return fresh, nil
	}
	var pos position
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pos); err != nil || dec.More() {
		return nil, fmt.Errorf("position is not a NetSuite connector position (reset the cursor: hub cursor reset): %w", sdk.ErrInvalidPosition)
	}
	if pos.V != positionVersion {
		return nil, fmt.Errorf("position has version %d, this connector reads version %d (reset the cursor: hub cursor reset): %w", pos.V, positionVersion, sdk.ErrInvalidPosition)
	}
	loc, err := time.LoadLocation(pos.TZ)
	if err != nil {
		return nil, fmt.Errorf("position has an unknown time zone %q: %w", pos.TZ, sdk.ErrInvalidPosition)
	}
	for _, s := range []*streamPos{&pos.Tx, &pos.Del} {
		if err := s.validate(loc); err != nil {
			return nil, fmt.Errorf("position: %v: %w", err, sdk.ErrInvalidPosition)
		}
	}
	if pos.Del.After != nil && len(pos.Del.After.IDs) != len(deletedKey) || pos.Tx.After != nil && len(pos.Tx.After.IDs) != len(transactionKey) {
		return nil, fmt.Errorf("position: a key has the wrong number of ids: %w", sdk.ErrInvalidPosition)
	}
	if pos.Account != o.account {
		return nil, fmt.Errorf("position belongs to NetSuite account %q, the connector reads %q: reset the cursor (hub cursor reset) to read this account from the start: %w", pos.Account, o.account, sdk.ErrInvalidPosition)
	}
	if pos.TZ != o.loc.String() {
		// The wall clocks in the keys were read in another zone: go back
		// far enough to cover any difference between zones (26h) and
		// read again; what was read already is a no-op in the hub.
		for _, s := range []*streamPos{&pos.Tx, &pos.Del} {
			if hw, ok := s.hw(); ok {
				s.From = hw.Add(-o.overlap - 26*time.Hour).Format(time.RFC3339)
			}
			s.After, s.Seen, s.Done = nil, nil, false
		}
		pos.TZ = o.loc.String()
	}
	if pos.Shape != fresh.Shape {
		// Other types or columns: read the transactions again from the
		// start, so that older transactions of a newly added type are
		// read too. Records read before come again unchanged (no-ops) or
		// with the new columns (superseding the old ones).
		pos.Tx = streamPos{From: fresh.Tx.From}
		pos.Shape = fresh.Shape
	}
	if o.deleted && pos.Del.From == "" && pos.Del.HW == "" && pos.Del.After == nil && !pos.Del.Done && len(pos.Del.Seen) == 0 {
		// Deletions were not read before: read them from where the
		// transactions start, so that a transaction read earlier and
		// deleted since is reversed.
		pos.Del = startDeletions(o)
	}
	return &pos, nil
}

// startDeletions is where reading deletions starts: where the initial
// window of transactions starts (start, or the beginning of history), not
// at the time of the first sync. A deletion older than the first sync
// still matters: the hub may hold records of the deleted transaction
// (read before a cursor reset, through another connector entry, or
// replayed from its archive), and a deletion of a transaction it never
// read reverses nothing, at the cost of one keyset pass over
// deletedrecord.
func startDeletions(o *options) streamPos {
	var s streamPos
	if !o.start.IsZero() {
		s.From = o.start.UTC().Format(time.RFC3339)
	}
	return s
}

func (s *streamPos) validate(loc *time.Location) error {
	for _, t := range []string{s.From, s.HW} {
		if t == "" {
			continue
		}
		if _, err := time.Parse(time.RFC3339, t); err != nil {
			return fmt.Errorf("time %q is not RFC 3339", t)
		}
	}
	if s.After != nil {
		if _, err := time.ParseInLocation(goTimestamp, s.After.At, loc); err != nil {
			return fmt.Errorf("key time %q is not YYYY-MM-DD HH:MM:SS", s.After.At)
		}
		for i, id := range s.After.IDs {
			if i == 1 && len(s.After.IDs) == len(deletedKey) {
				if len(id) > 100 || strings.ContainsAny(id, "\x00\n") {
					return fmt.Errorf("key type %q is not a record type", id)
				}
				continue
			}
			if !idRE().MatchString(id) {
				return fmt.Errorf("key id %q is not an internal id", id)
			}
		}
	}
	if len(s.Seen) > maxSeen {
		return fmt.Errorf("%d seen entries, more than %d", len(s.Seen), maxSeen)
	}
	for _, e := range s.Seen {
		i := strings.LastIndexByte(e, '@')
		if i < 1 || len(e) > 200 {
			return fmt.Errorf("seen entry %q is malformed", e)
		}
		if _, err := strconv.ParseInt(e[i+1:], 10, 64); err != nil {
			return fmt.Errorf("seen entry %q is malformed", e)
		}
	}
	return nil
}

func (p *position) encode() sdk.Position {
	b, _ := json.Marshal(p) // strings, bools and slices of them: cannot fail
	return b
}

// allDone reports whether every stream read has finished its pass.
func (p *position) allDone(o *options) bool {
	return p.Tx.Done && (!o.deleted || p.Del.Done)
}

// restart begins a new pass of every stream: from the high-water mark
// minus the overlap, or where the last pass began when nothing was read.
func (p *position) restart(o *options) {
	p.Tx.restart(o.overlap, o.start)
	if o.deleted {
		p.Del.restart(o.overlap, time.Time{})
	}
}

func (s *streamPos) restart(overlap time.Duration, floor time.Time) {
	if hw, ok := s.hw(); ok {
		from := hw.Add(-overlap)
		if from.Before(floor) {
			from = floor
		}
		s.From = from.Format(time.RFC3339)
	}
	s.After, s.Done = nil, false
}

func (s *streamPos) hw() (time.Time, bool) {
	if s.HW == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s.HW)
	return t, err == nil
}

// raise moves the high-water mark up to t.
func (s *streamPos) raise(t time.Time) {
	if hw, ok := s.hw(); !ok || t.After(hw) {
		s.HW = t.UTC().Format(time.RFC3339)
	}
}

func seenKey(id string, at time.Time) string { return id + "@" + strconv.FormatInt(at.Unix(), 10) }

func (s *streamPos) hasSeen(k string) bool {
	if s.seen == nil {
		s.seen = make(map[string]bool, len(s.Seen))
		for _, e := range s.Seen {
			s.seen[e] = true
		}
	}
	return s.seen[k]
}

func (s *streamPos) addSeen(k string) {
	if s.hasSeen(k) {
		return
	}
	s.seen[k] = true
	s.Seen = append(s.Seen, k)
}

// prune forgets the rows the next pass cannot meet again: those before
// the lower bound it will use (the high-water mark minus the overlap, as
// the wall clock NetSuite reads back), keeping an hour more for rows in a
// repeated hour, whose remembered time is the earlier reading. Past
// maxSeen, the oldest are forgotten.
func (s *streamPos) prune(overlap time.Duration, loc *time.Location) {
	hw, ok := s.hw()
	if !ok {
		return
	}
	bound, _ := earliestInstant(wallClockNotAfter(hw.Add(-overlap), loc), loc)
	limit := bound.Unix()
	kept := s.Seen[:0]
	for _, e := range s.Seen {
		t := seenUnix(e)
		if t >= limit || t >= limit-3600 && ambiguous(time.Unix(t, 0), loc) {
			kept = append(kept, e)
		} else if s.seen != nil {
			delete(s.seen, e)
		}
	}
	s.Seen = kept
	if len(s.Seen) > maxSeen {
		slices.SortStableFunc(s.Seen, func(a, b string) int { return cmp.Compare(seenUnix(a), seenUnix(b)) })
		for _, e := range s.Seen[:len(s.Seen)-maxSeen] {
			delete(s.seen, e)
		}
		s.Seen = slices.Clone(s.Seen[len(s.Seen)-maxSeen:])
	}
	if len(s.Seen) == 0 {
		s.Seen = nil
	}
}

// skippable is how many remembered rows the rest of the pass may meet
// again: those at or after its position (an hour earlier for a repeated
// hour). In a first pass there are none: rows are remembered as they are
// passed.
func (s *streamPos) skippable(loc *time.Location) int {
	var lo time.Time
	switch {
	case s.After != nil:
		lo, _ = earliestInstant(s.After.At, loc)
		if ambiguous(lo, loc) {
			lo = lo.Add(-time.Hour)
		}
	case s.From != "":
		from, _ := time.Parse(time.RFC3339, s.From)
		lo, _ = earliestInstant(wallClockNotAfter(from, loc), loc)
		lo = lo.Add(-time.Hour) // rows of a repeated hour are remembered at the earlier reading
	default:
		return len(s.Seen)
	}
	n := 0
	for _, e := range s.Seen {
		if seenUnix(e) >= lo.Unix() {
			n++
		}
	}
	return n
}

func seenUnix(e string) int64 {
	n, _ := strconv.ParseInt(e[strings.LastIndexByte(e, '@')+1:], 10, 64)
	return n
}

// after reports whether k comes after prev in keyset order. Text parts
// (a deleted record's type) are ordered by NetSuite's collation, which
// this cannot know: they only have to differ.
func after(k, prev key, parts []keyPart) bool {
	if k.At != prev.At {
		return k.At > prev.At
	}
	for i, p := range parts {
		if !p.numeric || i >= len(k.IDs) || i >= len(prev.IDs) {
			continue
		}
		a, _ := strconv.ParseInt(k.IDs[i], 10, 64)
		b, _ := strconv.ParseInt(prev.IDs[i], 10, 64)
		if a != b {
			return a > b
		}
	}
	return !slices.Equal(k.IDs, prev.IDs) // the same row again is not after
}

// reader is one Read.
type reader struct {
	o   *options
	a   *api
	pos *position
}

// read returns up to n records: the transaction stream first, then the
// deletion stream. A new pass of both starts when the last one finished.
func (r *reader) read(ctx context.Context, n int) (sdk.ReadResult, error) {
	if r.pos.allDone(r.o) {
		r.pos.restart(r.o)
	}
	type active struct {
		def *stream
		pos *streamPos
	}
	streams := []active{{&transactions, &r.pos.Tx}}
	if r.o.deleted {
		streams = append(streams, active{&deletions, &r.pos.Del})
	}
	var recs []sdk.Record
	queries, skipped, total := 0, 0, 0
	for _, st := range streams {
		for !st.pos.Done && len(recs) < n {
			if err := ctx.Err(); err != nil {
				return sdk.ReadResult{}, fmt.Errorf("read NetSuite %s: %w", st.def.what, err)
			}
			// Ask for what is missing plus what may be skipped as seen.
			limit := min(r.o.pageSize, n-len(recs)+st.pos.skippable(r.o.loc))
			pg, err := r.a.suiteql(ctx, st.def.query(r.o, *st.pos), limit)
			if _, retry := sdk.RetryDelay(err); retry && len(recs) > 0 {
				// Keep the pages already read: hand them to the hub now,
				// and meet the error again on the next read.
				r.a.log.WarnContext(ctx, "NetSuite failed after part of a read; returning the pages read", "records", len(recs), "err", r.o.redact(err.Error()))
				return sdk.ReadResult{Records: recs, Next: r.pos.encode(), More: true}, nil
			}
			if err != nil {
				return sdk.ReadResult{}, fmt.Errorf("read NetSuite %s: %w", st.def.what, err)
			}
			queries++
			total = pg.TotalResults
			used := 0
			for _, rw := range pg.Items {
				if len(recs) >= n {
					break
				}
				rec, ok, err := r.row(st.def, st.pos, rw)
				if err != nil {
					return sdk.ReadResult{}, fmt.Errorf("read NetSuite %s: %w", st.def.what, err)
				}
				used++
				if ok {
					recs = append(recs, rec)
				} else {
					skipped++
				}
			}
			if used == len(pg.Items) && (!pg.HasMore || len(pg.Items) == 0) {
				st.pos.Done = true
			}
			st.pos.prune(r.o.overlap, r.o.loc)
		}
		if len(recs) >= n {
			break
		}
	}
	more := len(recs) >= n && !r.pos.allDone(r.o)
	r.a.log.DebugContext(ctx, "read NetSuite", "records", len(recs), "queries", queries, "skipped", skipped,
		"rows_after_position", total, "more", more)
	return sdk.ReadResult{Records: recs, Next: r.pos.encode(), More: more}, nil
}

// row moves the stream past one row and returns its record, unless the row
// was read by an earlier pass or is not a record of ours.
func (r *reader) row(def *stream, s *streamPos, rw row) (sdk.Record, bool, error) {
	k, err := def.key(rw)
	if err != nil {
		return sdk.Record{}, false, err
	}
	at, err := earliestInstant(k.At, r.o.loc)
	if err != nil {
		return sdk.Record{}, false, err
	}
	if s.After != nil && !after(k, *s.After, def.parts) {
		return sdk.Record{}, false, fmt.Errorf("rows came out of order (%v after %v): the query's ORDER BY was not honoured", k, *s.After)
	}
	s.After = &k
	s.raise(at)
	sk := seenKey(strings.Join(k.IDs, ":"), at)
	if s.hasSeen(sk) {
		return sdk.Record{}, false, nil
	}
	rec, ok, err := def.record(r.o, rw, at)
	if err != nil || !ok {
		return sdk.Record{}, false, err
	}
	s.addSeen(sk)
	return rec, true, nil
}
