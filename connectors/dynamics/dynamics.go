package dynamics

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/lothub/lothub/sdk"
)

// Connector reads Dynamics 365. It keeps no state the hub relies on: only
// a cache of access tokens, so it is safe for concurrent use.
type Connector struct {
	// Now is the clock for tokens and webhook subscription renewal;
	// time.Now when nil. Tests move it.
	Now func() time.Time
	// HTTPClient, when set, sends every request; a shared client otherwise.
	HTTPClient *http.Client

	mu     sync.Mutex
	tokens map[string]*oauth2.Token
}

// New returns the connector.
func New() *Connector { return &Connector{} }

var (
	_ sdk.Connector      = (*Connector)(nil)
	_ sdk.WebhookHandler = (*Connector)(nil)
)

func (c *Connector) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Spec implements sdk.Connector.
func (*Connector) Spec() sdk.Spec { return spec }

// Check implements sdk.Connector: it signs in and asks each configured
// entity for one record ($top=1), which proves the app registration, the
// user or permission sets behind it, and the entity names.
func (c *Connector) Check(ctx context.Context, cfg sdk.Config) error {
	o, err := optionsFrom(cfg)
	if err != nil {
		return err
	}
	if _, err := c.token(ctx, &o); err != nil {
		return err
	}
	for _, k := range o.kinds {
		q := query([2]string{"cross-company", crossCompany(&o)}, [2]string{"$top", "1"})
		var page collection
		err := c.call(ctx, &o, request{method: http.MethodGet, url: o.collectionURL(k) + "?" + q, what: o.readWhat(k)}, &page)
		if err != nil {
			return err
		}
		if page.Value == nil {
			return fmt.Errorf("%s: the answer has no value list: is %s an OData entity set?", o.readWhat(k), k.entity)
		}
	}
	return nil
}

func crossCompany(o *options) string {
	if o.system == systemFO && o.foCross {
		// F&O answers for the user's default company only, unless asked
		// for all legal entities.
		return "true"
	}
	return ""
}

func (o *options) readWhat(k kind) string {
	return fmt.Sprintf("read %s from %s %s", k.short, o.name(), k.entity)
}

// Read implements sdk.Connector. It reads the configured kinds one after
// the other, each in passes (see position), and returns at most limit
// records. When a pass is over for every kind, More is false: the next
// sync starts new passes.
func (c *Connector) Read(ctx context.Context, cfg sdk.Config, p sdk.Position, limit int) (sdk.ReadResult, error) {
	o, err := optionsFrom(cfg)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	pos, err := decodePosition(p)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	start := 0
	if pos.Cur != "" {
		for i, k := range o.kinds {
			if k.name == pos.Cur {
				start = i
			}
		}
	} else {
		// A sync begins.
		if o.system == systemBC && o.bcAPI == "v2.0" {
			slog.WarnContext(ctx, "dynamics: the standard Business Central API v2.0 has no lot numbers on item ledger entries, so the default mapping skips them all; install the lothub API page (docs/connectors/dynamics.md) and set bc_api to its route")
		}
		if o.hookURL != nil {
			// Keep the webhook subscription alive. It is a hint only, so
			// its trouble never fails the read.
			c.keepSubscription(ctx, &o)
		}
	}
	r := reader{c: c, o: &o, pos: pos, limit: max(limit, 1)}
	for i := start; i < len(o.kinds); i++ {
		k := o.kinds[i]
		pos.Cur = k.name
		done, err := r.pass(ctx, k)
		if err != nil {
			return sdk.ReadResult{}, err
		}
		if !done {
			return sdk.ReadResult{Records: r.out, Next: pos.encode(), More: true}, nil
		}
	}
	pos.Cur = ""
	slog.DebugContext(ctx, "dynamics read", "system", o.system, "records", len(r.out))
	return sdk.ReadResult{Records: r.out, Next: pos.encode(), More: false}, nil
}

// reader is one Read.
type reader struct {
	c     *Connector
	o     *options
	pos   *position
	limit int
	out   []sdk.Record
}

// pass reads kind k's running pass (starting one if none runs) until it
// ends (done) or the batch is full.
func (r *reader) pass(ctx context.Context, k kind) (done bool, err error) {
	cur := r.pos.cursor(k.name)
	if cur.Run && cur.Next != "" && !strings.HasPrefix(cur.Next, r.o.collectionPath(k)+"?") {
		// The entity was renamed in the configuration since: start over.
		slog.WarnContext(ctx, "dynamics: the saved page belongs to another entity; restarting the pass", "kind", k.name, "entity", k.entity)
		cur.Run = false
	}
	if !cur.Run {
		if k.seq != "" {
			cur.beginSeq()
		} else {
			cur.begin(r.o)
		}
	}
	for {
		if len(r.out) >= r.limit {
			return false, nil
		}
		page, err := r.page(ctx, k, cur)
		if err != nil {
			return false, err
		}
		recs := page.Value
		if cur.After != "" {
			recs = r.after(ctx, k, cur, recs)
		}
		for j, raw := range recs {
			rec, st, err := r.o.record(k, raw)
			if err != nil {
				return false, err
			}
			if len(r.out) >= r.limit {
				// Stop within the page: the next read fetches it again and
				// starts after the last record taken.
				prev, _, _ := r.o.record(k, recs[j-1])
				cur.After = prev.ID
				return false, nil
			}
			if k.seq != "" {
				if cur.seenSeq(rec.ID) {
					continue
				}
				cur.takeSeq(rec.ID, st.seq)
			} else {
				if cur.seen(rec.ID, st.modified) {
					continue
				}
				cur.take(r.o, rec.ID, st.modified)
			}
			r.out = append(r.out, rec)
		}
		if page.NextLink == "" {
			if k.seq != "" {
				cur.finishSeq()
			} else {
				cur.finish(r.o)
			}
			return true, nil
		}
		next, err := r.o.relativeLink(page.NextLink)
		if err != nil {
			return false, fmt.Errorf("%s: %w", r.o.readWhat(k), err)
		}
		cur.Next, cur.After = next, ""
	}
}

// after drops the records of a page up to the one with id cur.After. If
// it is gone (changed since, so it moved to a later page), the seen set
// keeps what was delivered from being delivered again.
func (r *reader) after(ctx context.Context, k kind, cur *cursor, recs []json.RawMessage) []json.RawMessage {
	for i, raw := range recs {
		if rec, _, err := r.o.record(k, raw); err == nil && rec.ID == cur.After {
			return recs[i+1:]
		}
	}
	slog.InfoContext(ctx, "dynamics: the last record read is no longer on its page; re-reading the page", "kind", k.name, "after", cur.After)
	return recs
}

// page fetches the page the cursor points at.
func (r *reader) page(ctx context.Context, k kind, cur *cursor) (collection, error) {
	u := r.o.firstPageURL(k, parseTime(cur.From))
	if k.seq != "" {
		u = r.o.firstSeqPageURL(k, cur.SeqFrom)
	}
	if cur.Next != "" {
		u = r.o.base.Scheme + "://" + r.o.base.Host + cur.Next
	}
	// Ask for no more than the batch can take, so that pages are used
	// whole; a server that sends more is handled by After.
	size := min(r.o.pageSize, r.limit-len(r.out))
	var page collection
	err := r.c.call(ctx, r.o, request{method: http.MethodGet, url: u, pageSize: size, what: r.o.readWhat(k)}, &page)
	if err != nil {
		return page, err
	}
	if page.Value == nil {
		return page, fmt.Errorf("%s: the answer has no value list: is %s an OData entity set?", r.o.readWhat(k), k.entity)
	}
	return page, nil
}

// collectionPath is the path of kind k's collection.
func (o *options) collectionPath(k kind) string {
	u, _ := url.Parse(o.collectionURL(k)) // built from a parsed URL: cannot fail
	return u.EscapedPath()
}

// firstPageURL is the first page of a pass reading what was modified from
// from on (everything when from is zero), oldest first.
func (o *options) firstPageURL(k kind, from time.Time) string {
	var filters []string
	if !from.IsZero() {
		// OData v4 DateTimeOffset literal, unquoted. Seconds are enough:
		// the bound is rounded down, which reads a little more, not less.
		filters = append(filters, k.modified+" ge "+from.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z"))
	}
	if k.filter != "" {
		filters = append(filters, k.filter)
	}
	if o.system == systemFO && len(o.foCompanies) > 0 {
		// F&O's OData does not take the "in" operator: spell it out.
		var or []string
		for _, c := range o.foCompanies {
			or = append(or, "dataAreaId eq '"+c+"'")
		}
		filters = append(filters, "("+strings.Join(or, " or ")+")")
	}
	order := []string{k.modified + " asc"}
	for _, key := range k.keys {
		order = append(order, key+" asc")
	}
	sel := ""
	if o.selectOn {
		sel = strings.Join(k.fields, ",")
	}
	return o.collectionURL(k) + "?" + query(
		[2]string{"cross-company", crossCompany(o)},
		[2]string{"$filter", strings.Join(filters, " and ")},
		[2]string{"$orderby", strings.Join(order, ",")},
		[2]string{"$select", sel},
		[2]string{"$expand", k.expand},
	)
}

// firstSeqPageURL is the first page of a pass of a kind read by sequence:
// the entries numbered above after, lowest first. Such an entity has no
// modified time, so start applies to the entry's date, on every pass
// (each one reads the overlap again).
func (o *options) firstSeqPageURL(k kind, after int64) string {
	var filters []string
	if after > 0 {
		filters = append(filters, k.seq+" gt "+strconv.FormatInt(after, 10))
	}
	if !o.start.IsZero() {
		// An OData v4 Edm.Date literal, unquoted.
		filters = append(filters, k.date+" ge "+o.start.UTC().Format(time.DateOnly))
	}
	if k.filter != "" {
		filters = append(filters, k.filter)
	}
	sel := ""
	if o.selectOn {
		sel = strings.Join(k.fields, ",")
	}
	return o.collectionURL(k) + "?" + query(
		[2]string{"$filter", strings.Join(filters, " and ")},
		[2]string{"$orderby", k.seq + " asc"},
		[2]string{"$select", sel},
	)
}

// relativeLink checks that an @odata.nextLink points at the configured
// host (a token must never be sent elsewhere) and returns its path and
// query.
func (o *options) relativeLink(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("the server's next page link does not parse: %v", err)
	}
	if u.IsAbs() && (u.Scheme != o.base.Scheme || u.Host != o.base.Host) {
		return "", fmt.Errorf("the server's next page link points at %s, not %s: refusing to send the token there", u.Host, o.base.Host)
	}
	if !strings.HasPrefix(u.Path, "/") {
		return "", fmt.Errorf("the server's next page link %q is not a path", u.Path)
	}
	return u.RequestURI(), nil
}

// stamp is where a record stands in its kind's incremental order: its
// modified time, or for a kind read by sequence its number.
type stamp struct {
	modified time.Time
	seq      int64
}

// record turns one entity of kind k into a record, with its stamp.
func (o *options) record(k kind, raw json.RawMessage) (sdk.Record, stamp, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return sdk.Record{}, stamp{}, fmt.Errorf("%s: an entry of value is not an object: %v", o.readWhat(k), err)
	}
	var st stamp
	var err error
	if k.seq != "" {
		if st, err = o.seqStamp(k, fields); err != nil {
			return sdk.Record{}, stamp{}, err
		}
	} else {
		var mod string
		if json.Unmarshal(fields[k.modified], &mod) != nil || mod == "" {
			return sdk.Record{}, stamp{}, fmt.Errorf("%s: a record has no %s: this is not the entity the connector expects (check entities and the entity's version; see docs/connectors/dynamics.md)", o.readWhat(k), k.modified)
		}
		// Edm.DateTimeOffset: F&O and BC write UTC ("Z"), but an offset
		// ("+01:00") is as valid and means the same instant.
		if st.modified, err = time.Parse(time.RFC3339Nano, mod); err != nil {
			return sdk.Record{}, stamp{}, fmt.Errorf("%s: %s %q is not an ISO 8601 date-time", o.readWhat(k), k.modified, mod)
		}
	}
	parts := []string{k.short}
	if o.system == systemBC {
		parts = append(parts, o.bcCompany)
	}
	for _, key := range k.keys {
		v, ok := keyValue(fields[key])
		if !ok {
			return sdk.Record{}, stamp{}, fmt.Errorf("%s: a record has no key field %s", o.readWhat(k), key)
		}
		parts = append(parts, url.PathEscape(v))
	}
	payload := []byte(raw)
	if o.system == systemBC {
		// The route says which field names the record has (the lothub
		// page's entryNumber, the analytics API's entryNo): the mapping
		// chooses by it.
		payload = annotate(annotate(raw, "@lothub.api", o.bcAPI), "@lothub.company", o.bcCompany)
	}
	return sdk.Record{Kind: k.name, ID: strings.Join(parts, "/"), Payload: payload, Time: st.modified}, st, nil
}

// seqStamp reads the number and date of a record of a kind read by
// sequence. The date (an Edm.Date, "2026-03-02") is the record's time:
// there is no better one.
func (o *options) seqStamp(k kind, fields map[string]json.RawMessage) (stamp, error) {
	var st stamp
	var n json.Number
	if json.Unmarshal(fields[k.seq], &n) != nil {
		return st, fmt.Errorf("%s: a record has no number %s: this is not the entity the connector expects (check bc_api and entities; see docs/connectors/dynamics.md)", o.readWhat(k), k.seq)
	}
	seq, err := n.Int64()
	if err != nil || seq <= 0 {
		return st, fmt.Errorf("%s: %s %s is not a positive whole number", o.readWhat(k), k.seq, n)
	}
	var d string
	if json.Unmarshal(fields[k.date], &d) != nil || d == "" {
		return st, fmt.Errorf("%s: entry %d has no %s: this is not the entity the connector expects (check bc_api; see docs/connectors/dynamics.md)", o.readWhat(k), seq, k.date)
	}
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		return st, fmt.Errorf("%s: entry %d: %s %q is not a date (YYYY-MM-DD)", o.readWhat(k), seq, k.date, d)
	}
	return stamp{modified: t, seq: seq}, nil
}

// keyValue reads a key field: text or a number, as the source wrote it.
func keyValue(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, s != ""
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// annotate adds an OData instance annotation to a JSON object. Business
// Central records do not say which company they belong to, and event ids
// must tell two companies' entry 1 apart.
func annotate(obj json.RawMessage, name, value string) json.RawMessage {
	s := strings.TrimSpace(string(obj))
	k, _ := json.Marshal(name)
	v, _ := json.Marshal(value)
	field := string(k) + ":" + string(v)
	if s == "{}" {
		return json.RawMessage("{" + field + "}")
	}
	return json.RawMessage("{" + field + "," + strings.TrimPrefix(s, "{"))
}
