package rest

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lothub/lothub/internal/jsonobject"
	"github.com/lothub/lothub/sdk"
)

// position is where a read stands. Endpoints are read in profile order,
// one pass each; a pass reads the records whose cursor is at or after the
// pass's window start (the last pass's high-water mark minus the
// overlap), page by page.
//
// Exact resume: Tok names the page being read (re-fetchable: an offset, a
// page number, a bookmark, a next link) and Skip how many of its records
// were returned. Records read again in the overlap are skipped by key and
// cursor value (Seen), so a record changed since (a newer cursor value)
// is read again and one unchanged is not.
type position struct {
	V     int                 `json:"v"`
	Prof  string              `json:"profile"`
	EP    int                 `json:"ep"`
	State map[string]*epState `json:"state,omitempty"`
	Pass  *pass               `json:"pass,omitempty"`
}

// epState is what an endpoint's last finished pass left.
type epState struct {
	W    string            `json:"w,omitempty"`    // high-water mark: the largest cursor value read
	Seen map[string]string `json:"seen,omitempty"` // record key → cursor value, of records within the overlap of W
}

// pass is an endpoint's pass in progress.
type pass struct {
	From string            `json:"from,omitempty"` // the filter's value; "" reads everything
	Tok  string            `json:"tok,omitempty"`
	Skip int               `json:"skip,omitempty"`
	HW   string            `json:"hw,omitempty"`
	Seen map[string]string `json:"seen,omitempty"`
	// byCursor holds Seen's keys by their cursor values, oldest first,
	// once built (built): at each new high-water mark the keys now below
	// the low-water mark are taken from its front, instead of a walk over
	// every key of the overlap. It may hold keys whose value has changed
	// since, or that are gone: Seen says.
	byCursor seenHeap
	built    bool
}

// seenItem is a key of Seen with the cursor value it had, and that value
// as less compares it.
type seenItem struct {
	at       cursorValue
	key, cur string
}

// seenHeap is a min-heap of seenItems by cursor value.
type seenHeap []seenItem

func (h seenHeap) Len() int           { return len(h) }
func (h seenHeap) Less(i, j int) bool { return h[i].at.less(h[j].at) }
func (h seenHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *seenHeap) Push(x any)        { *h = append(*h, x.(seenItem)) }
func (h *seenHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// cursorValue is a normalised cursor value as less compares it: a time
// (the zero time when it does not parse) or a number (0 when it does not
// parse).
type cursorValue struct {
	t time.Time
	n int64
}

func (a cursorValue) less(b cursorValue) bool {
	if c := a.t.Compare(b.t); c != 0 {
		return c < 0
	}
	return a.n < b.n
}

// valueOf reads a normalised cursor value as less does.
func valueOf(ep Endpoint, v string) cursorValue {
	if ep.Incremental.Type == CursorNumber {
		n, _ := strconv.ParseInt(v, 10, 64)
		return cursorValue{n: n}
	}
	t, _ := time.Parse(time.RFC3339Nano, v)
	return cursorValue{t: t}
}

func decodePosition(b sdk.Position, o *options) (*position, error) {
	p := &position{V: 1, Prof: o.p.Name, State: map[string]*epState{}}
	if len(b) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(b, p); err != nil || p.V != 1 {
		return nil, fmt.Errorf("position %.100q: %w", b, sdk.ErrInvalidPosition)
	}
	if p.Prof != o.p.Name {
		return nil, fmt.Errorf("the position was stored by profile %s, not %s (hub cursor reset starts over): %w", p.Prof, o.p.Name, sdk.ErrInvalidPosition)
	}
	if p.EP < 0 || p.EP >= len(o.p.Endpoints) {
		return nil, fmt.Errorf("position names endpoint %d of %d: %w", p.EP, len(o.p.Endpoints), sdk.ErrInvalidPosition)
	}
	if p.State == nil {
		p.State = map[string]*epState{}
	}
	return p, nil
}

type reader struct {
	o   *options
	s   *session
	pos *position
	in  sdk.Position
	// buf holds the payloads of the records read, one after another:
	// one allocation for many records instead of one (and its growing)
	// each.
	buf []byte
}

// payloadChunk is the size of a new buffer for payloads.
const payloadChunk = 256 << 10

// payload encodes obj after the payloads before it in r.buf.
func (r *reader) payload(obj map[string]any) ([]byte, error) {
	if cap(r.buf)-len(r.buf) < 4<<10 {
		r.buf = make([]byte, 0, payloadChunk)
	}
	start := len(r.buf)
	b, err := jsonobject.AppendMarshal(r.buf, obj)
	if err != nil {
		return nil, err
	}
	r.buf = b
	// Capped: appending to one payload must not run into the next.
	return b[start:len(b):len(b)], nil
}

// read returns up to n records, visiting endpoints in order until it has
// some or all are drained.
func (r *reader) read(ctx context.Context, n int) (sdk.ReadResult, error) {
	var out []sdk.Record
	visited := 0
	for len(out) < n && visited < len(r.o.p.Endpoints) {
		recs, done, err := r.readEndpoint(ctx, n-len(out))
		if err != nil {
			// A rate limit or an outage after some records: hand them
			// over (the position is right after them); the next call
			// meets the limit again. Any other error fails the read, and
			// the stored position stays where it was.
			if _, retry := sdk.RetryDelay(err); retry && len(out)+len(recs) > 0 {
				out = append(out, recs...)
				break
			}
			return sdk.ReadResult{}, err
		}
		out = append(out, recs...)
		if !done {
			break
		}
		visited++
		r.pos.EP = (r.pos.EP + 1) % len(r.o.p.Endpoints)
		if r.pos.EP == 0 {
			break // a whole round: the source is drained
		}
	}
	next, err := json.Marshal(r.pos)
	if err != nil {
		return sdk.ReadResult{}, fmt.Errorf("encode position: %w", err)
	}
	more := r.pos.Pass != nil || r.pos.EP != 0
	if len(out) == 0 && len(r.in) > 0 && !more {
		next = r.in // nothing new: the position stays as it was
	}
	return sdk.ReadResult{Records: out, Next: next, More: more}, nil
}

// readEndpoint continues (or starts) the current endpoint's pass; done
// when the pass ended.
func (r *reader) readEndpoint(ctx context.Context, n int) ([]sdk.Record, bool, error) {
	ep := r.o.p.Endpoints[r.pos.EP]
	st := r.pos.State[ep.Name]
	if st == nil {
		st = &epState{}
	}
	ps := r.pos.Pass
	if ps == nil {
		ps = &pass{Seen: copyMap(st.Seen), HW: st.W}
		from, err := r.windowStart(ep, st.W)
		if err != nil {
			return nil, false, err
		}
		ps.From = from
	}
	var out []sdk.Record
	for stale := 0; ; stale++ {
		if stale == maxPagesPerRead {
			// Pages and pages of nothing new while the server says there
			// is more: hand over what was read, with the position (the
			// pass goes on at the next read), instead of reading for as
			// long as the server keeps saying so within one call. The
			// runner stops a sync whose reads keep coming back empty.
			r.pos.Pass = ps
			return out, false, nil
		}
		before := len(out)
		size := r.o.pageSize
		u, err := r.s.pageURL(ep, ps.Tok, size, ps.From)
		if err != nil {
			return nil, false, err
		}
		ans, err := r.s.get(ctx, u)
		if err != nil {
			return out, false, err
		}
		items, err := r.items(ep, ans)
		if err != nil {
			return nil, false, err
		}
		for i := ps.Skip; i < len(items); i++ {
			if len(out) == n {
				ps.Skip = i
				r.pos.Pass = ps
				return out, false, nil
			}
			rec, keep, err := r.record(ep, ps, ans.url, i, items[i])
			if err != nil {
				return nil, false, err
			}
			if keep {
				out = append(out, rec)
			}
		}
		if len(out) > before {
			stale = -1 // this page had something new
		}
		next, more := r.next(ans, ps.Tok, len(items), size)
		if !more {
			r.pos.State[ep.Name] = &epState{W: ps.HW, Seen: r.prune(ep, ps.Seen, ps.HW)}
			r.pos.Pass = nil
			return out, true, nil
		}
		ps.Tok, ps.Skip = next, 0
		r.pos.Pass = ps
		if len(out) == n {
			return out, false, nil
		}
	}
}

// maxPagesPerRead bounds the pages in a row one Read reads without
// finding a new record to hand over.
const maxPagesPerRead = 100

// items returns the page's records, as objects.
func (r *reader) items(ep Endpoint, ans *answer) ([]any, error) {
	var v any = ans.body
	if ep.Records != "" {
		var ok bool
		if v, ok = lookup(ans.body, ep.Records); !ok {
			return nil, fmt.Errorf("GET %s: the answer has no %q (the profile's records path for endpoint %s); the API answered fields %s", ans.url, ep.Records, ep.Name, strings.Join(sortedKeys(ans.body), ", "))
		}
	}
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("GET %s: %q is not a list of records", ans.url, ep.Records)
	}
	return list, nil
}

// next returns the next page's token, or false after the last page.
func (r *reader) next(ans *answer, tok string, got, size int) (string, bool) {
	pg := r.o.p.Paging
	moreField := func() (bool, bool) {
		if pg.MoreField == "" {
			return false, false
		}
		v, ok := lookup(ans.body, pg.MoreField)
		b, isBool := v.(bool)
		return b || text(v) == "true", ok && (isBool || v != nil)
	}
	offset := func() string {
		n, _ := strconv.Atoi(tok)
		return strconv.Itoa(n + got)
	}
	switch pg.Style {
	case PagingOffset:
		if m, ok := moreField(); ok {
			return offset(), m && got > 0
		}
		return offset(), got == size
	case PagingOData:
		if link, ok := lookup(ans.body, pg.NextField); ok && text(link) != "" {
			return "url:" + text(link), true
		}
		if strings.HasPrefix(tok, "url:") {
			return "", false // server-driven paging ended
		}
		return offset(), got == size && got > 0
	case PagingPage:
		n, err := strconv.Atoi(tok)
		if err != nil {
			n = pg.FirstPage
		}
		if m, ok := moreField(); ok {
			return strconv.Itoa(n + 1), m && got > 0
		}
		return strconv.Itoa(n + 1), got == size && got > 0
	case PagingBookmark:
		m, _ := moreField()
		b, _ := lookup(ans.body, pg.NextField)
		return text(b), m && text(b) != "" && got > 0
	case PagingLink:
		if link := nextLink(ans.header); link != "" {
			return "url:" + link, true
		}
	}
	return "", false
}

// nextLink finds rel="next" in Link headers (RFC 8288).
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, part := range strings.Split(v, ",") {
			segs := strings.Split(part, ";")
			target := strings.TrimSpace(segs[0])
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, p := range segs[1:] {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") && slices.Contains(strings.Fields(strings.ToLower(strings.Trim(val, `"`))), "next") {
					return strings.Trim(target, "<>")
				}
			}
		}
	}
	return ""
}

// record turns item i of a page into a record, or reports it as read
// before (keep false).
func (r *reader) record(ep Endpoint, ps *pass, url string, i int, item any) (sdk.Record, bool, error) {
	obj, why := asObject(ep, item)
	var key, cur string
	var when time.Time
	if why == "" {
		key, why = r.key(ep, obj)
	}
	if why == "" && ep.Incremental != nil {
		cur, why = r.cursor(ep, obj)
	}
	if why == "" {
		when, why = r.when(ep, obj, cur)
	}
	if why != "" {
		return r.bad(ep, ps, url, i, item, why)
	}
	if cur != "" {
		if ps.Seen[key] == cur {
			r.advance(ep, ps, cur)
			return sdk.Record{}, false, nil
		}
		if ps.Seen == nil {
			ps.Seen = map[string]string{}
		}
		ps.Seen[key] = cur
		if ps.built {
			heap.Push(&ps.byCursor, seenItem{at: valueOf(ep, cur), key: key, cur: cur})
		}
		r.advance(ep, ps, cur)
	}
	// Byte for byte what json.Marshal writes (the payload's hash, in the
	// hub's archive, must not change with the connector's version).
	payload, err := r.payload(obj)
	if err != nil {
		return sdk.Record{}, false, fmt.Errorf("%s record %d: %w", url, i, err)
	}
	return sdk.Record{Kind: ep.Kind, ID: ep.Name + ":" + key, Payload: payload, Time: when}, true, nil
}

// bad emits a record the connector could not read as a bad-record, which
// no mapping maps, so the hub quarantines it with the reason, the page and
// the index.
func (r *reader) bad(ep Endpoint, ps *pass, url string, i int, item any, why string) (sdk.Record, bool, error) {
	raw, _ := json.Marshal(item)
	sum := sha256.Sum256(raw)
	payload, err := json.Marshal(map[string]any{
		"error": why, "endpoint": ep.Name, "page": url, "index": i, "record": json.RawMessage(raw),
	})
	if err != nil {
		return sdk.Record{}, false, err
	}
	id := "bad:" + ep.Name + ":" + hex.EncodeToString(sum[:12])
	if ps.Seen[id] == "bad" {
		return sdk.Record{}, false, nil
	}
	if ps.Seen == nil {
		ps.Seen = map[string]string{}
	}
	ps.Seen[id] = "bad"
	t, _ := r.parseCursor(ep, ps.HW)
	if t.IsZero() {
		t = time.Unix(0, 0).UTC()
	}
	return sdk.Record{Kind: KindBadRecord, ID: id, Payload: payload, Time: t}, true, nil
}

func asObject(ep Endpoint, item any) (map[string]any, string) {
	if ep.Format == FormatNameValue {
		list, ok := item.([]any)
		if !ok {
			return nil, "the record is not a list of Name/Value pairs"
		}
		obj := map[string]any{}
		for _, e := range list {
			nv, ok := e.(map[string]any)
			name, _ := nv["Name"].(string)
			if !ok || name == "" {
				return nil, "a property has no Name"
			}
			obj[name] = nv["Value"]
		}
		return obj, ""
	}
	obj, ok := item.(map[string]any)
	if !ok {
		return nil, "the record is not a JSON object"
	}
	return obj, ""
}

func (r *reader) key(ep Endpoint, obj map[string]any) (string, string) {
	parts := make([]string, len(ep.Key))
	for i, k := range ep.Key {
		v, ok := lookup(obj, k)
		if !ok || text(v) == "" {
			return "", fmt.Sprintf("the record has no %s (a key field of endpoint %s)", k, ep.Name)
		}
		parts[i] = text(v)
	}
	return strings.Join(parts, ":"), ""
}

// cursor returns the record's cursor value, normalised so that values
// compare: a time in UTC (RFC 3339), a number in decimal.
func (r *reader) cursor(ep Endpoint, obj map[string]any) (string, string) {
	in := ep.Incremental
	v, ok := lookup(obj, in.Cursor)
	if !ok || text(v) == "" {
		return "", fmt.Sprintf("the record has no %s (the cursor of endpoint %s)", in.Cursor, ep.Name)
	}
	if in.Type == CursorNumber {
		n, err := strconv.ParseInt(text(v), 10, 64)
		if err != nil {
			return "", fmt.Sprintf("%s %q is not a whole number", in.Cursor, text(v))
		}
		return strconv.FormatInt(n, 10), ""
	}
	t, err := parseTime(text(v), r.o.p.Timezone)
	if err != nil {
		return "", fmt.Sprintf("%s %q is not a time", in.Cursor, text(v))
	}
	return t.UTC().Format(time.RFC3339Nano), ""
}

func (r *reader) when(ep Endpoint, obj map[string]any, cur string) (time.Time, string) {
	if ep.TimeField == "" {
		t, _ := time.Parse(time.RFC3339Nano, cur)
		if ep.Incremental.Type == CursorNumber {
			return time.Time{}, fmt.Sprintf("endpoint %s has a number cursor and no time: field", ep.Name)
		}
		return t, ""
	}
	v, ok := lookup(obj, ep.TimeField)
	if !ok || text(v) == "" {
		return time.Time{}, fmt.Sprintf("the record has no %s (its time)", ep.TimeField)
	}
	t, err := parseTime(text(v), r.o.p.Timezone)
	if err != nil {
		return time.Time{}, fmt.Sprintf("%s %q is not a time", ep.TimeField, text(v))
	}
	return t, ""
}

// timeLayouts are the ways ERPs write times: with an offset (Oracle,
// OData DateTimeOffset), without (Epicor DateTime, Infor IDO), or a date.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "20060102 15:04:05.999", "2006-01-02"}

// parseTime reads a time; one without an offset is in loc, the zone the
// profile says the API writes in.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time: %q", s)
}

func (r *reader) parseCursor(ep Endpoint, v string) (time.Time, bool) {
	if ep.Incremental == nil || ep.Incremental.Type != CursorTime || v == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// less compares two normalised cursor values.
func less(ep Endpoint, a, b string) bool {
	if ep.Incremental.Type == CursorNumber {
		x, _ := strconv.ParseInt(a, 10, 64)
		y, _ := strconv.ParseInt(b, 10, 64)
		return x < y
	}
	if c, ok := compareUTC(a, b); ok {
		return c < 0
	}
	x, _ := time.Parse(time.RFC3339Nano, a)
	y, _ := time.Parse(time.RFC3339Nano, b)
	return x.Before(y)
}

// compareUTC compares two times written as cursor normalises them, in
// UTC by time.RFC3339Nano (2026-01-05T10:00:00.5Z: a four-digit year,
// trailing zeros of the fraction dropped), without parsing them: advance
// and prune compare the overlap's cursor values at every new high-water
// mark. ok is false when either is not in that form (then the caller
// parses).
func compareUTC(a, b string) (int, bool) {
	if !isUTC(a) || !isUTC(b) {
		return 0, false
	}
	// Up to the seconds the digits are at fixed places and compare as
	// text; then the fractions, as decimals: ".5" is ".500000000".
	if c := strings.Compare(a[:19], b[:19]); c != 0 {
		return c, true
	}
	fa, fb := a[19:len(a)-1], b[19:len(b)-1]
	if fa != "" {
		fa = fa[1:]
	}
	if fb != "" {
		fb = fb[1:]
	}
	for i := range max(len(fa), len(fb)) {
		da, db := byte('0'), byte('0')
		if i < len(fa) {
			da = fa[i]
		}
		if i < len(fb) {
			db = fb[i]
		}
		if da != db {
			if da < db {
				return -1, true
			}
			return 1, true
		}
	}
	return 0, true
}

// atoi reads a few ASCII digits.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// daysIn is the number of days of month in year (Gregorian).
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// isUTC reports whether s has the form compareUTC compares:
// YYYY-MM-DDTHH:MM:SS, then "." and one to nine digits or nothing, then Z.
func isUTC(s string) bool {
	if len(s) < 20 || len(s) > 30 || s[len(s)-1] != 'Z' {
		return false
	}
	for i := range 19 {
		c := s[i]
		switch i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != 'T' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	// In range, as time.Parse checks: anything else (a position edited
	// by hand) is parsed, and compares as time.Parse's zero time.
	year, month, day := atoi(s[0:4]), atoi(s[5:7]), atoi(s[8:10])
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		atoi(s[11:13]) > 23 || atoi(s[14:16]) > 59 || atoi(s[17:19]) > 59 {
		return false
	}
	frac := s[19 : len(s)-1]
	if frac == "" {
		return true
	}
	if len(frac) < 2 || frac[0] != '.' {
		return false
	}
	for i := 1; i < len(frac); i++ {
		if frac[i] < '0' || frac[i] > '9' {
			return false
		}
	}
	return true
}

// advance raises the pass's high-water mark and forgets the keys that no
// later pass can read again.
func (r *reader) advance(ep Endpoint, ps *pass, cur string) {
	if ps.HW == "" || less(ep, ps.HW, cur) {
		ps.HW = cur
		r.prunePass(ep, ps)
	}
}

// prunePass drops from the pass's Seen what prune drops, the keys whose
// cursor value is below the low-water mark of the pass's high-water
// mark, taking them from the front of byCursor.
func (r *reader) prunePass(ep Endpoint, ps *pass) {
	if !ps.built {
		ps.byCursor = ps.byCursor[:0]
		for k, v := range ps.Seen {
			if v != "bad" {
				ps.byCursor = append(ps.byCursor, seenItem{at: valueOf(ep, v), key: k, cur: v})
			}
		}
		heap.Init(&ps.byCursor)
		ps.built = true
	}
	low := valueOf(ep, r.lowWater(ep, ps.HW))
	for len(ps.byCursor) > 0 && ps.byCursor[0].at.less(low) {
		it := heap.Pop(&ps.byCursor).(seenItem)
		if ps.Seen[it.key] == it.cur {
			delete(ps.Seen, it.key)
		}
	}
	if len(ps.Seen) == 0 {
		ps.Seen = nil
	}
}

// lowWater is the oldest cursor value a pass starting after hw reads.
func (r *reader) lowWater(ep Endpoint, hw string) string {
	in := ep.Incremental
	if in.Type == CursorNumber {
		n, _ := strconv.ParseInt(hw, 10, 64)
		return strconv.FormatInt(n-in.OverlapNum, 10)
	}
	t, _ := time.Parse(time.RFC3339Nano, hw)
	return t.Add(-in.Overlap).UTC().Format(time.RFC3339Nano)
}

func (r *reader) prune(ep Endpoint, seen map[string]string, hw string) map[string]string {
	if ep.Incremental == nil || hw == "" {
		return seen
	}
	// In place: a pass's Seen is its own (copied from the endpoint's
	// state when the pass starts), and this runs at every new high-water
	// mark.
	low := r.lowWater(ep, hw)
	for k, v := range seen {
		if v != "bad" && less(ep, v, low) {
			delete(seen, k)
		}
	}
	if len(seen) == 0 {
		return nil
	}
	return seen
}

// windowStart is the filter's value for a pass after high-water mark w,
// written as the API expects it.
func (r *reader) windowStart(ep Endpoint, w string) (string, error) {
	in := ep.Incremental
	if in == nil {
		return "", nil
	}
	if w == "" {
		w = r.o.start
		if w == "" {
			return "", nil
		}
		if in.Type == CursorTime {
			t, err := parseTime(w, r.o.p.Timezone)
			if err != nil {
				return "", sdk.InvalidConfig("start", "%q is not a time (RFC 3339 or YYYY-MM-DD)", w)
			}
			w = t.UTC().Format(time.RFC3339Nano)
		} else if _, err := strconv.ParseInt(w, 10, 64); err != nil {
			return "", sdk.InvalidConfig("start", "%q is not a whole number (the cursor %s is a number)", w, in.Cursor)
		}
		return r.format(ep, w), nil
	}
	return r.format(ep, r.lowWater(ep, w)), nil
}

func (r *reader) format(ep Endpoint, v string) string {
	if ep.Incremental.Type == CursorNumber {
		return v
	}
	t, _ := time.Parse(time.RFC3339Nano, v)
	return t.In(r.o.p.Timezone).Format(ep.Incremental.Format)
}

// lookup follows a dot path through objects; a key holding dots
// (@odata.nextLink) is tried whole first.
func lookup(m map[string]any, p string) (any, bool) {
	if v, ok := m[p]; ok {
		return v, true
	}
	head, rest, found := strings.Cut(p, ".")
	if !found {
		return nil, false
	}
	sub, ok := m[head].(map[string]any)
	if !ok {
		return nil, false
	}
	return lookup(sub, rest)
}

// text is a JSON value as text: numbers as written, null as "".
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}
