package dynamics

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lothub/lothub/sdk"
)

// position is where reading resumes, for every kind: the connector keeps
// nothing between calls, so everything lives here.
//
// Each kind is read in passes. A pass lists the entity filtered on
// "modified ge (mark - overlap)", ordered by modified time and keys, page
// by page through @odata.nextLink; at its end mark becomes the highest
// modified time seen. The overlap makes the next pass read again the last
// minutes before the mark, so that a record committed late with an earlier
// timestamp is not lost; seen remembers what was already delivered within
// that window, so nothing is delivered twice.
type position struct {
	V     int                `json:"v"`
	Cur   string             `json:"cur,omitempty"` // the kind whose pass is running
	Kinds map[string]*cursor `json:"kinds,omitempty"`
}

// cursor is one kind's state. Times are RFC 3339 text.
type cursor struct {
	Mark string `json:"mark,omitempty"` // highest modified time of finished passes; "": none yet
	Run  bool   `json:"run,omitempty"`  // a pass is running
	From string `json:"from,omitempty"` // the running pass's lower bound; "": everything
	High string `json:"high,omitempty"` // highest modified time so far in this pass
	// Next is the path and query of the page to read (the server's
	// @odata.nextLink without scheme and host); "" is the pass's first page.
	Next string `json:"next,omitempty"`
	// After is the id of the last record taken from the page at Next, when
	// a read stopped within a page.
	After string `json:"after,omitempty"`
	// Seen holds the records delivered whose modified time is within the
	// overlap window: hash of id and modified time → modified (Unix ms).
	// For a kind read by sequence: hash of id → its number.
	Seen map[string]int64 `json:"seen,omitempty"`

	// A kind read by an ascending entry number instead of a modified time
	// (kind.seq) keeps numbers where the others keep times: SeqMark is the
	// highest number of finished passes, SeqFrom the running pass's lower
	// bound (exclusive), SeqHigh the highest number so far in this pass.
	SeqMark int64 `json:"smark,omitempty"`
	SeqFrom int64 `json:"sfrom,omitempty"`
	SeqHigh int64 `json:"shigh,omitempty"`
}

// seqOverlap is how many entry numbers before the mark a pass by sequence
// reads again. Business Central may commit entry numbers out of order
// (concurrent posting takes numbers before the commit), so an entry with a
// lower number than one already read may appear late; the seen set keeps
// those read from being delivered twice.
const seqOverlap = 1000

// maxSeen bounds the seen set (≈40 bytes an entry). Past it the oldest are
// forgotten: they may be delivered again, which the hub absorbs (same id,
// same content).
const maxSeen = 20000

func decodePosition(p sdk.Position) (*position, error) {
	pos := &position{V: 1, Kinds: map[string]*cursor{}}
	if len(p) == 0 {
		return pos, nil
	}
	bad := func(why string) error {
		return fmt.Errorf("position %.80q: %s: %w", p, why, sdk.ErrInvalidPosition)
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(pos); err != nil || dec.More() {
		return nil, bad("not a position of the dynamics connector")
	}
	if pos.V != 1 {
		return nil, bad(fmt.Sprintf("version %d, this connector reads version 1", pos.V))
	}
	if pos.Kinds == nil {
		pos.Kinds = map[string]*cursor{}
	}
	known := Kinds()
	if pos.Cur != "" && !slices.Contains(known, pos.Cur) {
		return nil, bad("unknown kind " + pos.Cur)
	}
	for name, c := range pos.Kinds {
		if !slices.Contains(known, name) || c == nil {
			return nil, bad("unknown kind " + name)
		}
		for _, t := range []string{c.Mark, c.From, c.High} {
			if t == "" {
				continue
			}
			if _, err := time.Parse(time.RFC3339Nano, t); err != nil {
				return nil, bad("a time does not parse")
			}
		}
		if c.Next != "" && !strings.HasPrefix(c.Next, "/") {
			return nil, bad("the next page is not a path")
		}
	}
	return pos, nil
}

func (p *position) encode() sdk.Position {
	b, _ := json.Marshal(p) // strings, bools and maps: cannot fail
	return b
}

func (p *position) cursor(kind string) *cursor {
	c := p.Kinds[kind]
	if c == nil {
		c = &cursor{}
		p.Kinds[kind] = c
	}
	return c
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s) // validated by decodePosition
	return t
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// begin starts a pass: from the mark less the overlap, or from start when
// the kind was never read.
func (c *cursor) begin(o *options) {
	c.Run, c.Next, c.After, c.High = true, "", "", c.Mark
	from := o.start
	if c.Mark != "" {
		from = parseTime(c.Mark).Add(-o.overlap)
		if from.Before(o.start) {
			from = o.start
		}
	}
	c.From = formatTime(from)
}

// beginSeq starts a pass of a kind read by sequence.
func (c *cursor) beginSeq() {
	c.Run, c.Next, c.After, c.High, c.From = true, "", "", "", ""
	if c.SeqMark == 0 {
		// Nothing read by sequence yet: what the seen set holds (if the
		// kind was read by modified time before bc_api changed) is keyed
		// otherwise.
		c.Seen = nil
	}
	c.SeqHigh = c.SeqMark
	c.SeqFrom = max(c.SeqMark-seqOverlap, 0)
}

// finishSeq ends a pass of a kind read by sequence.
func (c *cursor) finishSeq() {
	c.SeqMark = c.SeqHigh
	c.Run, c.Next, c.After, c.SeqFrom = false, "", "", 0
	c.pruneSeq()
}

// seenSeq reports whether the record id of a kind read by sequence was
// delivered already.
func (c *cursor) seenSeq(id string) bool {
	_, ok := c.Seen[seenKey(id, time.Time{})]
	return ok
}

// takeSeq records a delivered record of a kind read by sequence.
func (c *cursor) takeSeq(id string, n int64) {
	if c.Seen == nil {
		c.Seen = map[string]int64{}
	}
	c.Seen[seenKey(id, time.Time{})] = n
	if n > c.SeqHigh {
		c.SeqHigh = n
		c.pruneSeq()
	}
	if len(c.Seen) > maxSeen {
		c.trim()
	}
}

// pruneSeq forgets the numbers the next pass cannot read again.
func (c *cursor) pruneSeq() {
	limit := c.SeqHigh - seqOverlap
	for k, n := range c.Seen {
		if n <= limit {
			delete(c.Seen, k)
		}
	}
	if len(c.Seen) == 0 {
		c.Seen = nil
	}
}

// finish ends a pass: the mark moves to the highest modified time seen.
func (c *cursor) finish(o *options) {
	c.Mark = c.High
	c.Run, c.From, c.Next, c.After = false, "", "", ""
	c.prune(o)
}

func seenKey(id string, modified time.Time) string {
	sum := sha256.Sum256([]byte(id + "\x00" + modified.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:8])
}

// seen reports whether the record id, as last modified at modified, was
// delivered already.
func (c *cursor) seen(id string, modified time.Time) bool {
	_, ok := c.Seen[seenKey(id, modified)]
	return ok
}

// take records a delivered record.
func (c *cursor) take(o *options, id string, modified time.Time) {
	if c.Seen == nil {
		c.Seen = map[string]int64{}
	}
	c.Seen[seenKey(id, modified)] = modified.UnixMilli()
	if c.High == "" || modified.After(parseTime(c.High)) {
		c.High = formatTime(modified)
		c.prune(o)
	}
	if len(c.Seen) > maxSeen {
		c.trim()
	}
}

// prune forgets records the next pass cannot read again: modified before
// the highest time less the overlap.
func (c *cursor) prune(o *options) {
	if c.High == "" {
		return
	}
	limit := parseTime(c.High).Add(-o.overlap).UnixMilli()
	for k, ms := range c.Seen {
		if ms < limit {
			delete(c.Seen, k)
		}
	}
	if len(c.Seen) == 0 {
		c.Seen = nil
	}
}

// trim keeps the maxSeen most recent entries.
func (c *cursor) trim() {
	type entry struct {
		k  string
		ms int64
	}
	all := make([]entry, 0, len(c.Seen))
	for k, ms := range c.Seen {
		all = append(all, entry{k, ms})
	}
	slices.SortFunc(all, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.ms, b.ms), strings.Compare(a.k, b.k))
	})
	for _, e := range all[:len(all)-maxSeen] {
		delete(c.Seen, e.k)
	}
}
