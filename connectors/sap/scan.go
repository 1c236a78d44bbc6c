package sap

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lothub/lothub/sdk"
)

// document is one SAP document as listed: its key within its entity set,
// the timestamp it is listed by, and its lines as records, in line order.
type document struct {
	key   string
	ts    string // wall clock, wallLayout
	lines []line
}

// line is one record of a document.
type line struct {
	sub string // the line's number within the document ("0001", "3")
	rec sdk.Record
	// fields of a Business One master entity, whose record (rec without a
	// payload) is made, and encoded, only when its status changed.
	fields map[string]json.RawMessage
}

// lister lists the documents of one entity set, by timestamp and key, one
// page at a time.
type lister interface {
	// name names the entity set (the position's cursor).
	name() string
	// floor rounds a timestamp down to what the set's $filter expresses.
	floor(ts string) string
	// page returns one page of documents: the first page of those with a
	// timestamp at or after from ("" for all) when next is "", else the
	// page at next. It returns the next page's URL, "" after the last.
	page(ctx context.Context, from, next string) ([]document, string, error)
}

// batch is one Read being filled.
type batch struct {
	max     int
	records []sdk.Record
	pos     *position
	more    bool
	now     func() time.Time
}

func (b *batch) full() bool { return len(b.records) >= b.max }

// scan reads the documents of one entity set from its cursor into b, until
// b is full or the set is read to its end. Documents already read (the
// overlap window) are skipped; a document cut by a full batch resumes after
// its last line read.
func (cl *client) scan(ctx context.Context, l lister, b *batch) error {
	cur := b.pos.cursor(l.name())
	from := cur.From
	if from == "" {
		from = cl.o.start
	}
	full, err := cl.pages(ctx, l, from, b, func(docs []document) bool {
		for _, d := range docs {
			if cur.seen(d.key, d.ts) {
				continue
			}
			lines := d.lines
			if p := cur.Part; p != nil && p.Key == d.key && p.TS == d.ts {
				for i, ln := range lines {
					if ln.sub == p.Line {
						lines = lines[i+1:]
						break
					}
				}
			}
			for i, ln := range lines {
				if b.full() {
					if i > 0 {
						cur.Part = &part{Key: d.key, TS: d.ts, Line: lines[i-1].sub}
					}
					return true
				}
				b.records = append(b.records, ln.rec)
			}
			cur.done(d.key, d.ts)
			cur.trim(cl.o.overlap, l.floor)
		}
		return false
	})
	if err != nil || full {
		return err
	}
	cur.rest(cl.o.overlap, l.floor)
	return nil
}

// pages reads a set page by page from from and hands each page's documents
// to take, which adds records to b and says whether b filled up (b.more is
// then set and pages stops). A page ends at a document boundary: the last
// record a page added carries the position, so the hub may commit the
// batch up to there on its own.
func (cl *client) pages(ctx context.Context, l lister, from string, b *batch, take func([]document) (full bool)) (full bool, err error) {
	next := ""
	// The pages' links already followed in this read: a server whose next
	// links lead back to a page already read (a gateway bug, a proxy
	// answering every URL with one cached page) would be read forever.
	seen := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return false, fmt.Errorf("%s: read %s: %w", cl.o.systemName(), l.name(), err)
		}
		if next != "" {
			if seen[next] {
				return false, fmt.Errorf("%s: read %s: the server's next-page link %s leads back to a page already read in this batch: stopping instead of reading it forever (check the gateway or proxy in front of the service)", cl.o.systemName(), l.name(), next)
			}
			seen[next] = true
		}
		docs, link, err := l.page(ctx, from, next)
		if err != nil {
			return false, err
		}
		before := len(b.records)
		if take(docs) {
			b.more = true
			return true, nil
		}
		if len(b.records) > before {
			b.records[len(b.records)-1].Position = b.pos.encode()
		}
		cl.log.DebugContext(ctx, "sap: page read", "set", l.name(), "documents", len(docs), "records", len(b.records)-before, "next", link != "")
		if link == "" {
			return false, nil
		}
		next = link
	}
}
