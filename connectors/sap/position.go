package sap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/lothub/lothub/sdk"
)

// wallLayout writes SAP timestamps as the wall clock SAP keeps them (a date
// and a time of day, in the system's time zone), so that positions compare
// them exactly as SAP's $filter does.
const wallLayout = "2006-01-02T15:04:05"

// position is where reading resumes: one cursor per entity set (S/4HANA
// has one, Business One one per document type).
type position struct {
	V      int                `json:"v"`
	System string             `json:"system"`
	Sets   map[string]*cursor `json:"sets,omitempty"`
}

// cursor is where reading one entity set resumes. Documents are listed by
// timestamp (and key); the cursor holds
//
//   - From: the timestamp the next read asks from (inclusive). Within a
//     sync it is the timestamp of the last document read; when a sync
//     reaches the end it is set back by the overlap window, so the next sync
//     looks again at documents committed late;
//   - High: the highest timestamp read;
//   - Seen: the documents read in the window [min(From, High−overlap), …],
//     by timestamp, so that reading a document again is recognised (a
//     document updated since has a new timestamp and is read again);
//   - Part: the document a full batch cut in two, and its last line read.
type cursor struct {
	From string              `json:"from,omitempty"`
	High string              `json:"high,omitempty"`
	Seen map[string][]string `json:"seen,omitempty"`
	Part *part               `json:"part,omitempty"`

	// Master data without an update time (Business One
	// BatchNumberDetails) is read whole once a sync, by key: After is the
	// last key read in this sync's pass, Done that the pass is over, and
	// Held the batches last read with a status other than released, by
	// key, so that only changes of status become records.
	After string                `json:"after,omitempty"`
	Done  bool                  `json:"done,omitempty"`
	Held  map[string]*heldBatch `json:"held,omitempty"`
}

// heldBatch is a batch read locked or not accessible: its status and
// since when (the first read that found it so, RFC 3339 UTC).
type heldBatch struct {
	Status string `json:"status"`
	Since  string `json:"since"`
}

type part struct {
	Key  string `json:"key"`
	TS   string `json:"ts"`
	Line string `json:"line"`
}

func decodePosition(p sdk.Position, system string) (*position, error) {
	if len(p) == 0 {
		return &position{V: 1, System: system, Sets: map[string]*cursor{}}, nil
	}
	var pos position
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pos); err != nil || pos.V != 1 {
		return nil, fmt.Errorf("sap: position %.80q is not one this connector wrote (reset the connector's cursor: hub cursor reset NAME): %w", p, sdk.ErrInvalidPosition)
	}
	if pos.System != system {
		return nil, fmt.Errorf("sap: the position was written for system %q but the connector is configured for %q (reset the connector's cursor to read the new system from the start): %w", pos.System, system, sdk.ErrInvalidPosition)
	}
	if pos.Sets == nil {
		pos.Sets = map[string]*cursor{}
	}
	for name, c := range pos.Sets {
		if c == nil || !validWall(c.From) || !validWall(c.High) || (c.Part != nil && !validWall(c.Part.TS)) {
			return nil, fmt.Errorf("sap: position of %s holds a malformed timestamp (reset the connector's cursor): %w", name, sdk.ErrInvalidPosition)
		}
		for _, h := range c.Held {
			if h == nil || !validInstant(h.Since) {
				return nil, fmt.Errorf("sap: position of %s holds a malformed timestamp (reset the connector's cursor): %w", name, sdk.ErrInvalidPosition)
			}
		}
		for ts := range c.Seen {
			if !validWall(ts) {
				return nil, fmt.Errorf("sap: position of %s holds a malformed timestamp (reset the connector's cursor): %w", name, sdk.ErrInvalidPosition)
			}
		}
	}
	return &pos, nil
}

func validInstant(s string) bool {
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

func validWall(s string) bool {
	if s == "" {
		return true
	}
	_, err := time.Parse(wallLayout, s)
	return err == nil
}

func (p *position) encode() sdk.Position {
	b, _ := json.Marshal(p) // maps and strings: cannot fail; map keys come out sorted
	return b
}

// cursor returns the cursor of the entity set called name.
func (p *position) cursor(name string) *cursor {
	c := p.Sets[name]
	if c == nil {
		c = &cursor{}
		p.Sets[name] = c
	}
	return c
}

func (c *cursor) seen(key, ts string) bool { return slices.Contains(c.Seen[ts], key) }

// done records that the document key with timestamp ts has been read
// completely.
func (c *cursor) done(key, ts string) {
	if c.Seen == nil {
		c.Seen = map[string][]string{}
	}
	if !c.seen(key, ts) {
		c.Seen[ts] = append(c.Seen[ts], key)
	}
	c.From = ts
	c.High = max(c.High, ts)
	if c.Part != nil && c.Part.Key == key {
		c.Part = nil
	}
}

// rest sets the cursor for the next sync: it will ask again from overlap
// before the highest timestamp read.
func (c *cursor) rest(overlap time.Duration, floor func(string) string) {
	if c.High == "" {
		return // nothing read yet: the next sync asks from the start again
	}
	c.From = shift(c.High, -overlap)
	c.trim(overlap, floor)
}

// trim forgets documents older than any later read can return: before
// floor(min(From, High−overlap)). floor rounds a timestamp down to what the
// system's $filter can express (Business One filters by date only).
func (c *cursor) trim(overlap time.Duration, floor func(string) string) {
	if c.High == "" {
		return
	}
	bound := floor(min(c.From, shift(c.High, -overlap)))
	for ts := range c.Seen {
		if ts < bound {
			delete(c.Seen, ts)
		}
	}
}

// shift moves a wall-clock timestamp by d.
func shift(ts string, d time.Duration) string {
	t, err := time.Parse(wallLayout, ts)
	if err != nil {
		return ts // validated when decoded and when read from SAP
	}
	return t.Add(d).Format(wallLayout)
}

// exact is the floor of systems that filter on date and time (S/4HANA).
func exact(ts string) string { return ts }

// startOfDay is the floor of systems that filter on the date only.
func startOfDay(ts string) string {
	if len(ts) < len(time.DateOnly) {
		return ts
	}
	return ts[:len(time.DateOnly)] + "T00:00:00"
}
