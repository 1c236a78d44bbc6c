package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The audit trail. Every change to the store (an ingested batch, a hold, a
// gap decision, a cursor reset, a configuration loaded) appends one entry,
// in the same transaction as the change, so that a change without its
// entry, or an entry without its change, never commits. Entries form a
// hash chain: each one's hash covers its canonical encoding (AuditEncode)
// and the hash of the entry before it, so an entry edited, deleted,
// inserted or moved breaks the chain at that entry (VerifyAudit). This is
// what 21 CFR Part 11 §11.10(e) asks of a record system: secure,
// computer-generated, time-stamped audit trails in which changes do not
// obscure earlier information.
//
// A batch's entry also carries a digest of the event rows the batch wrote
// (AuditEvents), so that a direct edit of an event row breaks the trail
// too. One entry per batch, never one per event: the trail's cost does not
// grow with a batch's size beyond hashing what it writes.

// Audit actions written by the hub itself. Other code (tokens, report
// approvals) records its own, with a dotted noun.verb name.
const (
	AuditStarted       = "audit.started"       // the first entry of a chain
	AuditCheckpoint    = "audit.checkpoint"    // entries before it were pruned (hub archive prune)
	AuditIngest        = "ingest.batch"        // a batch of events or source records
	AuditHoldPlaced    = "hold.placed"         // hub hold
	AuditHoldReleased  = "hold.released"       // hub release
	AuditHoldDerived   = "hold.born_on_hold"   // holds of lots made from held material
	AuditGapsEvaluated = "gaps.evaluated"      // gaps opened, reopened or resolved by the rules
	AuditGapAck        = "gap.acknowledged"    // hub gap ack
	AuditGapConfirmed  = "gap.confirmed"       // hub confirm
	AuditGapWaived     = "gap.waived"          // hub gap waive: the gap dismissed
	AuditQuarantine    = "quarantine.resolved" // hub errors resolve
	AuditCursorReset   = "cursor.reset"        // hub cursor reset
	AuditConfigLoaded  = "config.loaded"       // a connector's configuration or mapping, by hash
	AuditArchived      = "archive.exported"    // hub archive export
)

// AuditEntry is one entry of the audit trail.
type AuditEntry struct {
	Seq int64 `json:"seq"`
	// Time is the store's clock when the entry was appended (SQLite's or
	// PostgreSQL's, never the client's), to the microsecond.
	Time   time.Time `json:"time"`
	Actor  Actor     `json:"actor"`
	Action string    `json:"action"`
	// Object is what the change is about: "lot:ITEM/LOT", "gap:GAP-3",
	// "connector:sap", "quarantine:12", "file:events.jsonl".
	Object string `json:"object,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Details is a JSON object, kept byte for byte as written.
	Details json.RawMessage `json:"details,omitempty"`
	// Events are the event rows the change wrote, if any.
	Events   *AuditEvents `json:"events,omitempty"`
	PrevHash string       `json:"prev_hash"`
	Hash     string       `json:"hash"`
}

// AuditEvents names the event rows one change wrote: every stored version
// with a store seq in [First, Last] (Count of them), and a digest of their
// content (EventDigest).
type AuditEvents struct {
	First  int64  `json:"first_seq"`
	Last   int64  `json:"last_seq"`
	Count  int    `json:"count"`
	Digest string `json:"digest"`
}

// AuditHead is the latest entry of the chain: what an operator records
// elsewhere (a ticket, a printed report) to prove later that nothing was
// cut from the end (hub audit verify --head SEQ:HASH).
type AuditHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

func (h AuditHead) String() string { return strconv.FormatInt(h.Seq, 10) + ":" + h.Hash }

// ParseAuditHead reads SEQ:HASH as hub audit head prints it.
func ParseAuditHead(s string) (AuditHead, error) {
	seq, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n <= 0 || len(hash) != 64 {
		return AuditHead{}, Errorf(EINVALID, "head %q: want SEQ:HASH as hub audit head prints it (e.g. 42:9f86d0…, 64 hex digits)", s)
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return AuditHead{}, Errorf(EINVALID, "head %q: the hash is not hexadecimal", s)
	}
	return AuditHead{Seq: n, Hash: strings.ToLower(hash)}, nil
}

// AuditFilter selects audit entries, newest first. Zero fields do not
// filter.
type AuditFilter struct {
	Actor  string // "kind:name" (user:ann) or a bare name
	Action string // an action, or a prefix ending in "." (hold.)
	// Objects: entries about one of these objects, or (EventSeqs) whose
	// batch wrote one of these event rows. Both empty: every entry.
	Objects   []string
	EventSeqs []int64
	From, To  time.Time // entry time in [From, To)
	Before    int64     // entries with seq < Before (pagination)
	Limit     int       // 0: no limit
}

// auditTimeFormat is how an entry's time enters its hash: UTC, always six
// fractional digits, so that a time read back from either store encodes
// the same.
const auditTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// auditVersion starts every encoding: a future format changes it.
const auditVersion = "lothub-audit-1"

// field appends one length-prefixed field: "len:value\n". Lengths make
// the encoding unambiguous whatever a field contains.
func field(b []byte, v string) []byte {
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, ':')
	b = append(b, v...)
	return append(b, '\n')
}

// AuditEncode is the canonical encoding of an entry that its hash covers:
// every field but Hash, PrevHash last. docs/audit.md describes it so that
// the chain can be checked without lothub.
func AuditEncode(e AuditEntry) []byte {
	b := make([]byte, 0, 256+len(e.Details))
	b = field(b, auditVersion)
	b = field(b, strconv.FormatInt(e.Seq, 10))
	b = field(b, e.Time.UTC().Format(auditTimeFormat))
	b = field(b, e.Actor.Kind)
	b = field(b, e.Actor.Name)
	b = field(b, string(e.Actor.Role))
	b = field(b, e.Action)
	b = field(b, e.Object)
	b = field(b, e.Reason)
	b = field(b, string(e.Details))
	var ev AuditEvents
	if e.Events != nil {
		ev = *e.Events
	}
	b = field(b, strconv.FormatInt(ev.First, 10))
	b = field(b, strconv.FormatInt(ev.Last, 10))
	b = field(b, strconv.Itoa(ev.Count))
	b = field(b, ev.Digest)
	b = field(b, e.PrevHash)
	return b
}

// AuditHash is the hex SHA-256 of the entry's encoding.
func AuditHash(e AuditEntry) string {
	sum := sha256.Sum256(AuditEncode(e))
	return hex.EncodeToString(sum[:])
}

// ChainAudit makes e the entry after head, appended at time at: it sets
// the sequence number, the time (to the microsecond), the previous hash
// and the hash. Stores call it under their chain lock.
func ChainAudit(head AuditHead, e AuditEntry, at time.Time) AuditEntry {
	e.Seq = head.Seq + 1
	e.Time = at.UTC().Truncate(time.Microsecond)
	// Stored as text by both stores: what is hashed is what is stored.
	e.Actor.Kind, e.Actor.Name, e.Object, e.Reason = storable(e.Actor.Kind), storable(e.Actor.Name), storable(e.Object), storable(e.Reason)
	e.PrevHash = head.Hash
	if e.Actor == (Actor{}) {
		e.Actor = SystemActor
	}
	e.Hash = AuditHash(e)
	return e
}

// AuditGenesis is the first entry of a chain, which a store writes before
// its first real entry: it records up to which event seq the store held
// events before the trail began (those are covered by no entry).
func AuditGenesis(eventsBefore int64) AuditEntry {
	return AuditEntry{Actor: SystemActor, Action: AuditStarted, Object: "store",
		Details: MustJSON(map[string]any{"events_before": eventsBefore})}
}

// MustJSON encodes v, which must be plain data (maps, strings, numbers):
// map keys come out sorted, so the same details encode the same way.
func MustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("core: audit details do not encode: " + err.Error()) // a programming error: details are plain data
	}
	return b
}

// EventDigest is the digest of a change's event rows that its entry
// carries: SHA-256 over each row's id, version, content hash, type, event
// time and time seen (Unix microseconds) and its stored body, each field
// length-prefixed as in AuditEncode, rows in (id, version) order. The
// rows' status is not covered: it is derived, and later changes (a
// supersession, a reversal) change it.
func EventDigest(rows []EventRow) string {
	order := make([]int32, len(rows))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := strings.Compare(rows[a].ID, rows[b].ID); c != 0 {
			return c
		}
		return rows[a].Version - rows[b].Version
	})
	h := sha256.New()
	b := make([]byte, 0, 256)
	num := make([]byte, 0, 20)
	for _, i := range order {
		r := &rows[i]
		b = b[:0]
		b = field(b, r.ID)
		b = fieldBytes(b, strconv.AppendInt(num[:0], int64(r.Version), 10))
		b = field(b, r.Hash)
		b = field(b, string(r.Type))
		b = fieldBytes(b, strconv.AppendInt(num[:0], r.Time.UnixMicro(), 10))
		b = fieldBytes(b, strconv.AppendInt(num[:0], r.SeenAt.UnixMicro(), 10))
		b = strconv.AppendInt(b, int64(len(r.Body)), 10)
		b = append(b, ':')
		h.Write(b)
		h.Write(r.Body)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fieldBytes(b, v []byte) []byte {
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, ':')
	b = append(b, v...)
	return append(b, '\n')
}

// WrittenEvents is the range of store seqs a Write gave to the new
// versions of its Changes (set by the store).
type WrittenEvents struct {
	First, Last int64
}

// AuditOf returns the Events of an entry for the changes c wrote (nil when
// it wrote no event row).
func AuditOf(c *Changes) *AuditEvents {
	if c == nil || len(c.NewVersions) == 0 {
		return nil
	}
	return &AuditEvents{First: c.Written.First, Last: c.Written.Last, Count: len(c.NewVersions), Digest: EventDigest(c.NewVersions)}
}

// WriteAudited writes c and its audit entry in tx: the one way core writes
// events, so that no event row is without its entry. The entry's actor is
// the context's when it has none; details about the batch (superseded and
// reversed events, counts) are added to e.Details.
func WriteAudited(ctx context.Context, tx IngestTx, c *Changes, e AuditEntry, details map[string]any) error {
	// The digest of the new rows is computed while the store writes them
	// (Write only reads c.NewVersions): a PostgreSQL hub would otherwise
	// wait for the server, then hash a batch's bodies while the server
	// waits for it.
	var digest string
	done := make(chan struct{})
	go func() {
		defer close(done)
		if c != nil && len(c.NewVersions) > 0 {
			digest = EventDigest(c.NewVersions)
		}
	}()
	err := tx.Write(ctx, c)
	<-done
	if err != nil {
		return err
	}
	return auditChanges(ctx, tx, c, e, details, digest)
}

// AuditChanges appends the entry of changes c has been written with: for
// callers that write more in the transaction between the two (a
// connector's position, a run's counts).
func AuditChanges(ctx context.Context, tx IngestTx, c *Changes, e AuditEntry, details map[string]any) error {
	return auditChanges(ctx, tx, c, e, details, "")
}

// auditChanges is AuditChanges with the digest of c.NewVersions, when the
// caller computed it already ("": computed here).
func auditChanges(ctx context.Context, tx IngestTx, c *Changes, e AuditEntry, details map[string]any, digest string) error {
	if details == nil {
		details = map[string]any{}
	}
	changeDetails(c, details)
	e.Details = MustJSON(details)
	if digest == "" && c != nil {
		digest = c.digest
	}
	if digest != "" {
		e.Events = &AuditEvents{First: c.Written.First, Last: c.Written.Last, Count: len(c.NewVersions), Digest: digest}
	} else {
		e.Events = AuditOf(c)
	}
	if e.Actor == (Actor{}) {
		e.Actor = ActorFrom(ctx)
	}
	_, err := tx.Audit(ctx, e)
	return err
}

// changeDetails adds to d what a batch did beyond its event rows: the
// ids of events superseded, reversed or put back in effect, and counts.
func changeDetails(c *Changes, d map[string]any) {
	if c == nil {
		return
	}
	var superseded, reversed, restored []string
	for _, u := range c.StatusUpdates {
		switch {
		case u.Status == Superseded && u.ID != "":
			superseded = append(superseded, u.ID)
		case u.Status == Reversed:
			reversed = append(reversed, u.ID)
		case u.Status == Active:
			restored = append(restored, u.ID)
		}
	}
	for _, r := range c.NewVersions {
		if r.Status == Reversed && !slices.Contains(reversed, r.ID) {
			reversed = append(reversed, r.ID)
		}
	}
	for k, v := range map[string][]string{"superseded": superseded, "reversed": reversed, "restored": restored} {
		if len(v) > 0 {
			slices.Sort(v)
			d[k] = slices.Compact(v)
		}
	}
	if n := len(c.NewVersions); n > 0 {
		d["versions_written"] = n
	}
	if n := len(c.Quarantine); n > 0 {
		d["quarantined"] = n
	}
	if n := len(c.Raw); n > 0 {
		d["raw_archived"] = n
	}
}

// AuditRecorder records entries outside ingest: the standalone half of
// Store.Audit, for code that holds only this (token and report commands).
type AuditRecorder interface {
	Audit(ctx context.Context, e AuditEntry) (AuditEntry, error)
}

// RequireReason refuses an action without a reason: holds, releases, gap
// confirmations and waivers, cursor resets. what names the action for the
// message ("reset cursor of sap").
func RequireReason(what, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return Errorf(EINVALID, "%s: a reason is required (--reason \"...\"): it is recorded in the audit trail, and an auditor will ask", what)
	}
	return nil
}

// ConfigHash is the hash recorded for a configuration or mapping file's
// content.
func ConfigHash(content []byte) string {
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:])
}

// CursorResetEntry is the entry of hub cursor reset: the position the
// connector had (opaque bytes, base64 in the details) is kept.
func CursorResetEntry(connector, reason string, previous []byte) AuditEntry {
	d := map[string]any{"had_position": previous != nil}
	if previous != nil {
		d["previous_position"] = previous
	}
	return AuditEntry{Action: AuditCursorReset, Object: "connector:" + connector, Reason: reason, Details: MustJSON(d)}
}

// QuarantineResolvedEntry is the entry of hub errors resolve.
func QuarantineResolvedEntry(q QuarantineRow, reason string) AuditEntry {
	return AuditEntry{Action: AuditQuarantine, Object: "quarantine:" + strconv.FormatInt(q.Seq, 10), Reason: reason,
		Details: MustJSON(map[string]any{"source": q.Source, "event_id": q.EventID, "key": q.Key})}
}

// storable is s as a text column keeps it: valid UTF-8 without NUL.
func storable(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// AuditLogParams selects what hub audit log and GET /v1/audit list: the
// filter, and a lot whose entries are wanted (its own: holds; and those of
// the batches that wrote its events).
type AuditLogParams struct {
	AuditFilter
	Lot *LotRef
}

// AuditPage is a page of the audit log, newest first. Next, when not 0,
// is the Before of the next page.
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	Next    int64        `json:"next_before,omitempty"`
}

// AuditLog lists the entries p selects. ENOTFOUND for an unknown lot.
func (q *Queries) AuditLog(ctx context.Context, p AuditLogParams) (*AuditPage, error) {
	f := p.AuditFilter
	if p.Lot != nil {
		id, err := q.findLot(ctx, *p.Lot)
		if err != nil {
			return nil, err
		}
		rows, err := q.Store.LotEvents(ctx, id)
		if err != nil {
			return nil, err
		}
		f.Objects = append(f.Objects, "lot:"+p.Lot.String())
		for _, r := range rows {
			f.EventSeqs = append(f.EventSeqs, r.Seq)
		}
	}
	limit := f.Limit
	if limit > 0 {
		f.Limit = limit + 1 // one more: is there a next page?
	}
	es, err := q.Store.AuditLog(ctx, f)
	if err != nil {
		return nil, err
	}
	page := &AuditPage{Entries: es}
	if limit > 0 && len(es) > limit {
		page.Entries = es[:limit]
		page.Next = es[limit-1].Seq
	}
	if page.Entries == nil {
		page.Entries = []AuditEntry{}
	}
	return page, nil
}

// RecordConfig appends a config.loaded entry for object (a connector: its
// settings and mapping) when hash differs from the last one recorded for
// it: what hub sync and hub serve do as they start, so that the trail says
// which configuration produced which batches. It reports whether it
// appended.
func RecordConfig(ctx context.Context, s Store, object, hash string, details map[string]any) (bool, error) {
	last, err := s.AuditLog(ctx, AuditFilter{Action: AuditConfigLoaded, Objects: []string{object}, Limit: 1})
	if err != nil {
		return false, err
	}
	d := map[string]any{}
	for k, v := range details {
		d[k] = v
	}
	if len(last) > 0 {
		var prev struct {
			Hash string `json:"hash"`
		}
		_ = json.Unmarshal(last[0].Details, &prev)
		if prev.Hash == hash {
			return false, nil
		}
		d["previous_hash"] = prev.Hash
	}
	d["hash"] = hash
	_, err = s.Audit(ctx, AuditEntry{Action: AuditConfigLoaded, Object: object, Details: MustJSON(d)})
	return err == nil, err
}

type pendingAuditKey struct{}

// WithAudit returns a context that asks the store to append e to the
// audit trail in the same transaction as the change made under it. The
// writes of UserStore (users, passwords, tokens) honour it: access sets it
// around each such change, so the change and its entry commit together.
func WithAudit(ctx context.Context, e AuditEntry) context.Context {
	return context.WithValue(ctx, pendingAuditKey{}, e)
}

// PendingAudit returns the entry WithAudit put into the context, if any.
func PendingAudit(ctx context.Context) (AuditEntry, bool) {
	e, ok := ctx.Value(pendingAuditKey{}).(AuditEntry)
	return e, ok
}
