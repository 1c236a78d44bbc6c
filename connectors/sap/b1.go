package sap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lothub/lothub/sdk"
)

// SAP Business One: the Service Layer (OData; /b1s/v1 speaks OData v3
// JSON with "odata.nextLink", /b1s/v2 OData v4 with "@odata.nextLink").
//
// Genealogy comes from the inventory documents' batch allocations: each
// document line carries BatchNumbers (batch, quantity, manufacturer's
// batch), and the lines of issues and receipts for production point to
// their production order (BaseType 202, BaseEntry). Documents are listed
// by UpdateDate (StockTransfers have no UpdateTime and the Service Layer
// filters dates by day), and each line becomes one record with the
// document's header fields.
//
// BatchNumberDetails is the batch master: no movements or quantities, but
// the batch's Status (bdsStatus_Released, bdsStatus_NotAccessible,
// bdsStatus_Locked), which is Business One's quality block. Its entity has
// no UpdateDate or UpdateTime (SAPB1.BatchNumberDetail in $metadata), so
// it cannot be read incrementally: it is read whole once a sync, by
// DocEntry, and only changes of status become records (see b1Batch).
// ProductionOrders are not read: the issue and receipt lines name the
// order, a cancelled order reverses nothing by itself (its issues and
// receipts are cancelled as documents), and the entity has no update time
// either, so reading it would cost a full read every sync for no event.

// b1Set is a document entity set the connector reads.
type b1Set struct {
	Name    string   // entity set, as in the URL
	Kind    string   // record kind
	Lines   string   // the collection of lines
	Fields  []string // header fields asked for, besides the lines
	HasTime bool     // the header has UpdateTime
	// Master: an entity set without an update time, read whole once a
	// sync by its key (DocEntry), one record per entity, not per line.
	Master bool
	// ObjType is the document's object type (OPDN 20, …): DocType in
	// the inventory log (OITL).
	ObjType string
}

var b1DocumentFields = []string{"DocEntry", "DocNum", "DocDate", "DocTime", "CreationDate", "UpdateDate", "UpdateTime",
	"CardCode", "CardName", "NumAtCard", "DocObjectCode", "Cancelled", "CancelStatus", "Comments"}

var b1Sets = []b1Set{
	// Goods Receipt PO (OPDN, object 20): receipts from suppliers.
	{Name: "PurchaseDeliveryNotes", Kind: KindB1GoodsReceiptPO, Lines: "DocumentLines", Fields: b1DocumentFields, HasTime: true, ObjType: "20"},
	// Goods Receipt (OIGN, 59): receipts from production (BaseType 202) and other receipts.
	{Name: "InventoryGenEntries", Kind: KindB1GoodsReceipt, Lines: "DocumentLines", Fields: b1DocumentFields, HasTime: true, ObjType: "59"},
	// Goods Issue (OIGE, 60): issues for production (BaseType 202) and other issues.
	{Name: "InventoryGenExits", Kind: KindB1GoodsIssue, Lines: "DocumentLines", Fields: b1DocumentFields, HasTime: true, ObjType: "60"},
	// Delivery (ODLN, 15): shipments to customers.
	{Name: "DeliveryNotes", Kind: KindB1Delivery, Lines: "DocumentLines", Fields: b1DocumentFields, HasTime: true, ObjType: "15"},
	// Inventory Transfer (OWTR, 67): moves between warehouses.
	{Name: "StockTransfers", Kind: KindB1StockTransfer, Lines: "StockTransferLines",
		Fields: []string{"DocEntry", "DocNum", "DocDate", "CreationDate", "UpdateDate", "CardCode", "CardName",
			"FromWarehouse", "ToWarehouse", "DocObjectCode", "Comments"}, ObjType: "67"},
	// Batch master (OBTN): the status of each batch, read for its changes.
	{Name: "BatchNumberDetails", Kind: KindB1BatchDetails, Master: true,
		Fields: []string{"DocEntry", "ItemCode", "ItemDescription", "Status", "Batch", "BatchAttribute1", "BatchAttribute2",
			"AdmissionDate", "ManufacturingDate", "ExpirationDate", "Details", "SystemNumber"}},
}

var b1DefaultSets = func() []string {
	names := make([]string, len(b1Sets))
	for i, s := range b1Sets {
		names[i] = s.Name
	}
	return names
}()

func b1SetNamed(name string) (b1Set, bool) {
	for _, s := range b1Sets {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return b1Set{}, false
}

// b1Session is a Service Layer session: the B1SESSION cookie, and ROUTEID
// when a load balancer pins the session to one Service Layer node.
type b1Session struct {
	jar *cookiejar.Jar
}

// maxIdleSessions bounds the sessions kept for the next read.
const maxIdleSessions = 4

func (cl *client) b1URL(path, rawQuery string) *url.URL {
	u := *cl.o.base
	u.Path += "/" + path
	u.RawQuery = rawQuery
	return &u
}

// b1Login opens a session: POST Login with CompanyDB, UserName and
// Password; the session comes back as cookies (and as SessionId).
func (cl *client) b1Login(ctx context.Context) (*b1Session, error) {
	body, err := json.Marshal(map[string]string{"CompanyDB": cl.o.companyDB, "UserName": cl.o.user, "Password": cl.o.password})
	if err != nil {
		return nil, fmt.Errorf("SAP Business One: login: %w", err)
	}
	u := cl.b1URL("Login", "")
	req, err := http.NewRequest(http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("SAP Business One: build login request for %s: %w", where("POST", u), err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	answer, resp, err := cl.send(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("log in as %q to company %q: %w", cl.o.user, cl.o.companyDB, err)
	}
	jar, _ := cookiejar.New(nil) // cannot fail without options
	cookies := resp.Cookies()
	if !slices.ContainsFunc(cookies, func(c *http.Cookie) bool { return c.Name == "B1SESSION" }) {
		var s struct {
			SessionID string `json:"SessionId"`
		}
		if json.Unmarshal(answer, &s) != nil || s.SessionID == "" {
			return nil, fmt.Errorf("SAP Business One: %s: the login answer holds no session (no B1SESSION cookie, no SessionId): check that base_url leads to the Service Layer", where("POST", u))
		}
		cookies = append(cookies, &http.Cookie{Name: "B1SESSION", Value: s.SessionID})
	}
	jar.SetCookies(u, cookies)
	cl.log.DebugContext(ctx, "sap: logged in to Business One", "company_db", cl.o.companyDB, "user", cl.o.user)
	return &b1Session{jar: jar}, nil
}

// b1Logout ends a session. A failure only leaves it to time out.
func (cl *client) b1Logout(ctx context.Context, s *b1Session) {
	if ctx.Err() != nil {
		return
	}
	u := cl.b1URL("Logout", "")
	req, err := http.NewRequest(http.MethodPost, u.String(), nil)
	if err != nil {
		return
	}
	for _, c := range s.jar.Cookies(u) {
		req.AddCookie(c)
	}
	if _, _, err := cl.send(ctx, req); err != nil {
		cl.log.DebugContext(ctx, "sap: Business One logout failed; the session will time out", "err", err)
	}
}

// b1Acquire returns an idle session or logs in.
func (cl *client) b1Acquire(ctx context.Context) (*b1Session, error) {
	cl.sessMu.Lock()
	if n := len(cl.idle); n > 0 {
		s := cl.idle[n-1]
		cl.idle = cl.idle[:n-1]
		cl.sessMu.Unlock()
		return s, nil
	}
	cl.sessMu.Unlock()
	return cl.b1Login(ctx)
}

// b1Release keeps s for the next read, or logs it out: at the end of a
// sync (the source is read to its end) and when enough are idle.
func (cl *client) b1Release(ctx context.Context, s *b1Session, logout bool) {
	if !logout {
		cl.sessMu.Lock()
		if len(cl.idle) < maxIdleSessions {
			cl.idle = append(cl.idle, s)
			cl.sessMu.Unlock()
			return
		}
		cl.sessMu.Unlock()
	}
	cl.b1Logout(ctx, s)
}

// b1Get GETs u in session *s. A 401 means the session timed out (the
// Service Layer's SessionTimeout, 30 minutes idle by default) or was
// ended: log in again once and repeat the request.
func (cl *client) b1Get(ctx context.Context, s **b1Session, u *url.URL) ([]byte, *http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest(http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, nil, fmt.Errorf("SAP Business One: build request for %s: %w", where("GET", u), err)
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Prefer", "odata.maxpagesize="+strconv.Itoa(cl.o.pageSize))
		for _, c := range (*s).jar.Cookies(u) {
			req.AddCookie(c)
		}
		body, resp, err := cl.send(ctx, req)
		if err != nil && resp != nil && resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			cl.log.InfoContext(ctx, "sap: Business One session expired, logging in again")
			ns, lerr := cl.b1Login(ctx)
			if lerr != nil {
				return nil, nil, lerr
			}
			*s = ns
			continue
		}
		if resp != nil {
			(*s).jar.SetCookies(u, resp.Cookies())
		}
		return body, resp, err
	}
}

func (cl *client) b1Check(ctx context.Context) error {
	s, err := cl.b1Acquire(ctx)
	if err != nil {
		return err
	}
	defer func() { cl.b1Release(ctx, s, true) }()
	// The query of a read, for one document of the first set: it tests
	// the fields asked for too.
	set := cl.o.b1Sets[0]
	u := (&b1Lister{cl: cl, set: set}).first("")
	u.RawQuery += "&$top=1"
	body, resp, err := cl.b1Get(ctx, &s, u)
	if err != nil {
		return err
	}
	var p b1Page
	if err := cl.decodeJSON(resp, body, &p); err != nil {
		return err
	}
	cl.log.InfoContext(ctx, "sap: connection checked", "set", set.Name)
	return nil
}

// b1Read reads the configured document sets in turn, each from its own
// cursor.
func (cl *client) b1Read(ctx context.Context, b *batch) (err error) {
	s, err := cl.b1Acquire(ctx)
	if err != nil {
		return err
	}
	defer func() {
		// Log out at the end of a sync, and after a failure (the next
		// read starts with a fresh session).
		cl.b1Release(context.WithoutCancel(ctx), s, err != nil || !b.more)
	}()
	for _, set := range cl.o.b1Sets {
		l := &b1Lister{cl: cl, set: set, sess: &s}
		if set.Master {
			err = cl.b1ScanMaster(ctx, l, b)
		} else {
			err = cl.scan(ctx, l, b)
		}
		if err != nil {
			return err
		}
		if b.more {
			return nil
		}
	}
	// The sync is over: the next one reads the master data again.
	for _, set := range cl.o.b1Sets {
		if set.Master {
			cur := b.pos.cursor(set.Name)
			cur.After, cur.Done = "", false
		}
	}
	return nil
}

// b1ScanMaster reads a master entity set whole, by key from the cursor's
// After, once a sync: a sync that is cut by a full batch resumes after the
// last entity read, and the pass is not repeated within the sync.
func (cl *client) b1ScanMaster(ctx context.Context, l *b1Lister, b *batch) error {
	cur := b.pos.cursor(l.set.Name)
	if cur.Done {
		return nil
	}
	full, err := cl.pages(ctx, l, cur.After, b, func(docs []document) bool {
		for _, d := range docs {
			rec, emit, commit := l.b1Batch(cur, d, b.now())
			if emit {
				if b.full() {
					return true
				}
				b.records = append(b.records, rec)
			}
			commit()
			cur.After = d.key
		}
		return false
	})
	if err != nil || full {
		return err
	}
	cur.Done = true
	return nil
}

// b1Released is the status of a batch free for use.
const b1Released = "bdsStatus_Released"

// b1Batch decides what a batch read from BatchNumberDetails becomes. The
// Service Layer keeps no time of a status change, so the connector dates
// it itself, at the read that first finds it, and keeps the batches not
// released in the position:
//
//   - a batch found locked or not accessible that was not before: a record
//     with HeldSince and StatusChanged, both now;
//   - a held batch whose status changed between locked and not
//     accessible: a record with the same HeldSince (the same hold);
//   - a held batch found released: a record with StatusChanged now and the
//     HeldSince of the hold it ends;
//   - anything else (a batch released and never seen held, or unchanged):
//     nothing, so reading an unchanged source again gives no record.
//
// commit records the new status in the cursor once the record is taken.
func (l *b1Lister) b1Batch(cur *cursor, d document, now time.Time) (rec sdk.Record, emit bool, commit func()) {
	rec, f := d.lines[0].rec, d.lines[0].fields
	status := text(f["Status"])
	h := cur.Held[d.key]
	if status == "" || (status == b1Released && h == nil) || (h != nil && h.Status == status) {
		return rec, false, func() {}
	}
	at := now.UTC().Truncate(time.Second).Format(time.RFC3339)
	switch {
	case status == b1Released:
		f["HeldSince"], _ = json.Marshal(h.Since)
		f["PreviousStatus"], _ = json.Marshal(h.Status)
		commit = func() { delete(cur.Held, d.key) }
	default:
		since := at
		if h != nil {
			since = h.Since
			f["PreviousStatus"], _ = json.Marshal(h.Status)
		}
		f["HeldSince"], _ = json.Marshal(since)
		commit = func() {
			if cur.Held == nil {
				cur.Held = map[string]*heldBatch{}
			}
			cur.Held[d.key] = &heldBatch{Status: status, Since: since}
		}
	}
	f["StatusChanged"], _ = json.Marshal(at)
	rec.Payload, _ = json.Marshal(f) // raw JSON values: cannot fail
	rec.Time = now
	return rec, true, commit
}

// b1Page is a Service Layer collection: {"value": [...]} with
// "odata.nextLink" (v1) or "@odata.nextLink" (v2).
type b1Page struct {
	Value  []map[string]json.RawMessage `json:"value"`
	NextV3 string                       `json:"odata.nextLink"`
	NextV4 string                       `json:"@odata.nextLink"`
}

type b1Lister struct {
	cl   *client
	set  b1Set
	sess **b1Session
	// managed caches Items' ManageBatchNumbers for this read.
	managed map[string]bool
	// logRefused is SAP's answer when the batch log query was refused
	// (error 702: a table not in the SQL allowlist); "" while untried or
	// readable.
	logRefused string
	logReady   bool // the query exists on the server
}

func (l *b1Lister) name() string { return l.set.Name }

// floor: the Service Layer's filter is by day.
func (l *b1Lister) floor(ts string) string { return startOfDay(ts) }

// v4 reports a Service Layer v2 URL, which speaks OData v4 literals.
func (l *b1Lister) v4() bool { return strings.HasSuffix(l.cl.o.base.Path, "/v2") }

func (l *b1Lister) first(from string) *url.URL {
	if l.set.Master {
		// from is the last key read in this pass.
		filter := ""
		if from != "" {
			filter = "DocEntry gt " + from
		}
		return l.cl.b1URL(l.set.Name, query(
			"$select", strings.Join(l.set.Fields, ","),
			"$filter", filter,
			"$orderby", "DocEntry",
		))
	}
	filter := ""
	if from != "" {
		// v1 compares dates with text literals ('2026-03-01', as the
		// Service Layer documentation shows); v2 with OData v4 ones.
		day := from[:len(time.DateOnly)]
		if l.v4() {
			filter = "UpdateDate ge " + day + "T00:00:00Z"
		} else {
			filter = "UpdateDate ge '" + day + "'"
		}
	}
	return l.cl.b1URL(l.set.Name, query(
		"$select", strings.Join(append(slices.Clone(l.set.Fields), l.set.Lines), ","),
		"$filter", filter,
		"$orderby", "UpdateDate,DocEntry",
	))
}

func (l *b1Lister) page(ctx context.Context, from, next string) ([]document, string, error) {
	var u *url.URL
	if next == "" {
		u = l.first(from)
	} else {
		var err error
		if u, err = url.Parse(next); err != nil {
			return nil, "", fmt.Errorf("SAP Business One: the next page's link %q is not a URL: %w", next, err)
		}
	}
	body, resp, err := l.cl.b1Get(ctx, l.sess, u)
	if err != nil {
		return nil, "", err
	}
	var p b1Page
	if err := l.cl.decodeJSON(resp, body, &p); err != nil {
		return nil, "", err
	}
	docs := make([]document, 0, len(p.Value))
	for _, h := range p.Value {
		d, err := l.document(h)
		if err != nil {
			return nil, "", fmt.Errorf("SAP Business One: %s: %w", where("GET", u), err)
		}
		if !l.set.Master {
			if err := l.fillBatches(ctx, &d); err != nil {
				return nil, "", err
			}
		}
		docs = append(docs, d)
	}
	link := p.NextV4
	if link == "" {
		link = p.NextV3
	}
	if link == "" {
		return docs, "", nil
	}
	// The link is relative to the service root ("DeliveryNotes?$skip=20")
	// or to the host ("/b1s/v1/DeliveryNotes?$skip=20").
	root := *l.cl.o.base
	root.Path += "/"
	nu, err := root.Parse(link)
	if err != nil {
		return nil, "", fmt.Errorf("SAP Business One: the answer's next link %q is not a URL: %w", link, err)
	}
	return docs, nu.String(), nil
}

// document turns a document with its lines into records, one per line,
// each with the header's fields.
func (l *b1Lister) document(h map[string]json.RawMessage) (document, error) {
	entry := text(h["DocEntry"])
	if entry == "" || (l.set.Master && !digits(entry)) {
		return document{}, fmt.Errorf("a %s entity without a numeric DocEntry", l.set.Name)
	}
	if l.set.Master {
		fields := make(map[string]json.RawMessage, len(h))
		for k, v := range h {
			if !strings.HasPrefix(k, "odata.") && !strings.HasPrefix(k, "@") {
				fields[k] = v
			}
		}
		return document{key: entry, lines: []line{{rec: sdk.Record{Kind: l.set.Kind, ID: l.set.Name + "/" + entry}, fields: fields}}}, nil
	}
	ts, err := b1Timestamp(text(h["UpdateDate"]), text(h["UpdateTime"]))
	if err != nil {
		return document{}, fmt.Errorf("%s %s: %w", l.set.Name, entry, err)
	}
	d := document{key: entry, ts: ts.Format(wallLayout)}
	updated := time.Date(ts.Year(), ts.Month(), ts.Day(), ts.Hour(), ts.Minute(), ts.Second(), 0, l.cl.o.loc)

	var lines []map[string]json.RawMessage
	if raw, ok := h[l.set.Lines]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &lines); err != nil {
			return document{}, fmt.Errorf("%s %s: %s is not a list of lines: %v", l.set.Name, entry, l.set.Lines, err)
		}
	}
	header := make(map[string]json.RawMessage, len(h))
	for k, v := range h {
		if k != l.set.Lines && !strings.HasPrefix(k, "odata.") && !strings.HasPrefix(k, "@") {
			header[k] = v
		}
	}
	slices.SortFunc(lines, func(a, b map[string]json.RawMessage) int {
		return compareLineNumbers(text(a["LineNum"]), text(b["LineNum"]))
	})
	for _, ln := range lines {
		num := text(ln["LineNum"])
		if num == "" {
			return document{}, fmt.Errorf("%s %s has a line without LineNum", l.set.Name, entry)
		}
		fields := make(map[string]json.RawMessage, len(header)+len(ln))
		for k, v := range header {
			fields[k] = v
		}
		for k, v := range ln {
			fields[k] = v
		}
		payload, err := json.Marshal(fields)
		if err != nil {
			return document{}, fmt.Errorf("%s %s line %s: %w", l.set.Name, entry, num, err)
		}
		d.lines = append(d.lines, line{sub: num, rec: sdk.Record{
			Kind:    l.set.Kind,
			ID:      l.set.Name + "/" + entry + "/" + num, // PurchaseDeliveryNotes/17/0
			Payload: payload,
			Time:    updated,
		}})
	}
	return d, nil
}

// b1Timestamp joins UpdateDate ("2026-03-01", or with a time part in
// newer versions: "2026-03-01T00:00:00Z") and UpdateTime ("14:05:33"; empty
// for entity sets without one) into a wall clock.
func b1Timestamp(date, at string) (time.Time, error) {
	if len(date) < len(time.DateOnly) {
		return time.Time{}, fmt.Errorf("UpdateDate %q is not a date", date)
	}
	day, err := time.Parse(time.DateOnly, date[:len(time.DateOnly)])
	if err != nil {
		return time.Time{}, fmt.Errorf("UpdateDate %q is not a date", date)
	}
	if at == "" {
		return day, nil
	}
	d, err := clock(at)
	if err != nil {
		return time.Time{}, fmt.Errorf("UpdateTime: %w", err)
	}
	return day.Add(d), nil
}
