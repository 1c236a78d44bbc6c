package netsuite_test

// fakeAccount is a NetSuite account on httptest: the OAuth 2.0 token
// endpoint (client credentials with a JWT assertion, verified against the
// certificate's public key), token-based authentication (OAuth 1.0a
// HMAC-SHA256, verified), and SuiteQL over REST with NetSuite's wire
// format: items with values as text and nulls left out, count, hasMore,
// offset, totalResults, links; errors as problem details with
// o:errorDetails. Queries are evaluated (suiteql_test.go) over the
// account's transactions, so filters, order and limits behave as they do
// in NetSuite, including the 100,000-row stop and wall clocks in the
// user's time zone.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fake's limits, NetSuite's: 1,000 rows per page, 100,000 per query.
const (
	fakeMaxLimit = 1000
	fakeMaxRows  = 100000
)

type Entity struct {
	ID           int
	Number, Name string
}

type Item struct {
	ID       int
	Name     string
	BaseUnit string // abbreviation of the base unit; "" without a units type
	// Lot and Serial are item.islotitem and item.isserialitem: a lot
	// numbered or serialized inventory or assembly item.
	Lot, Serial bool
}

type Assign struct {
	ID         int
	Lot        string
	Qty        float64
	Expiration string // YYYY-MM-DD or ""
	Custom     map[string]string
}

type Line struct {
	ID       int
	Item     int
	Qty      float64
	Location int
	Assign   []Assign
}

type Txn struct {
	ID               int
	Number           string
	Type             string
	Date             string // YYYY-MM-DD
	Modified         time.Time
	Voided           bool
	Entity           int
	CreatedFrom      int
	TransferLocation int
	Custom           map[string]string
	Lines            []Line
}

type Deleted struct {
	RecordID int
	Type     string
	Name     string
	At       time.Time
}

// Fault is an error the fake answers the next SuiteQL request with.
type Fault struct {
	Status     int
	Code       string
	Detail     string
	RetryAfter string
}

// frow is one row of a view: a transaction line's inventory assignment
// with what it joins to, or a deleted record. A line without inventory
// assignments gives one row with a nil a (the LEFT JOIN's nulls); an
// assignment without a lot number (bins only) has inv 0.
type frow struct {
	t, cf *Txn
	l     *Line
	a     *Assign
	e     *Entity
	i     *Item
	inv   int // inventory number id
	d     *Deleted

	memos []any
	set   []bool
}

func (r *frow) memo(slot int, f evalFn) any {
	if slot >= len(r.set) {
		r.memos = append(r.memos, make([]any, slot+1-len(r.memos))...)
		r.set = append(r.set, make([]bool, slot+1-len(r.set))...)
	}
	if !r.set[slot] {
		r.memos[slot], r.set[slot] = f(r), true
	}
	return r.memos[slot]
}

type fakeAccount struct {
	t            testing.TB
	Loc          *time.Location
	Account      string
	ClientID     string
	CertID       string
	PublicKey    crypto.PublicKey
	TBA          [4]string // consumer key, consumer secret, token id, token secret
	TokenTTL     time.Duration
	Scopes       map[string]bool // scopes the integration record allows
	CustomFields map[string]bool // alias.field of custom fields the role can see
	Deny         map[string]bool // tables the role cannot see
	// Hidden are alias.field columns the account does not expose (a
	// feature that is off), refused like an unknown field.
	Hidden map[string]bool

	// BeforeQuery is called, outside the fake's lock, before each SuiteQL
	// request is answered, with the request's number (from 1).
	BeforeQuery func(n int)

	mu        sync.Mutex
	txns      map[int]*Txn
	items     map[int]*Item
	entities  map[int]*Entity
	locations map[int]string
	deleted   []*Deleted
	rows      []*frow
	drows     []*frow
	dirty     bool
	slots     map[string]int
	tokens    map[string]time.Time
	faults    []Fault

	queries, tokenRequests, maxOffset int
	lastQuery                         string
	srv                               *httptest.Server
}

func newFakeAccount(t testing.TB, loc *time.Location) *fakeAccount {
	f := &fakeAccount{
		t: t, Loc: loc, Account: "1234567_SB1", ClientID: "client-3f8e2a91d4", CertID: "cert-Kx81",
		TokenTTL: time.Hour, CustomFields: map[string]bool{}, Scopes: map[string]bool{"rest_webservices": true, "restlets": true}, Deny: map[string]bool{},
		Hidden: map[string]bool{},
		txns:   map[int]*Txn{}, items: map[int]*Item{}, entities: map[int]*Entity{}, locations: map[int]string{},
		slots: map[string]int{}, tokens: map[string]time.Time{}, dirty: true,
		TBA: [4]string{"ck-4a9d1e", "cs-77b2f0", "tk-19c3aa", "ts-5e0d4b"},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/rest/auth/oauth2/v1/token", f.token)
	mux.HandleFunc("POST /services/rest/query/v1/suiteql", f.suiteql)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAccount) URL() string { return f.srv.URL }

func (f *fakeAccount) AddItem(it Item) {
	f.mu.Lock()
	f.items[it.ID] = &it
	f.dirty = true
	f.mu.Unlock()
}
func (f *fakeAccount) AddEntity(e Entity) {
	f.mu.Lock()
	f.entities[e.ID] = &e
	f.dirty = true
	f.mu.Unlock()
}
func (f *fakeAccount) AddLocation(id int, name string) {
	f.mu.Lock()
	f.locations[id] = name
	f.mu.Unlock()
}

// Put adds or replaces a transaction.
func (f *fakeAccount) Put(tx Txn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.txns[tx.ID] = &tx
	f.dirty = true
}

// Modify changes a transaction as saving it in NetSuite does: its last
// modified time becomes at.
func (f *fakeAccount) Modify(id int, at time.Time, change func(*Txn)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tx := f.txns[id]
	change(tx)
	tx.Modified = at
	f.dirty = true
}

// Delete removes a transaction and records it in deletedrecord.
func (f *fakeAccount) Delete(id int, recordType string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tx := f.txns[id]
	delete(f.txns, id)
	f.deleted = append(f.deleted, &Deleted{RecordID: id, Type: recordType, Name: tx.Number, At: at})
	f.dirty = true
}

// AddDeleted records a deletion of another kind of record.
func (f *fakeAccount) AddDeleted(d Deleted) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, &d)
	f.dirty = true
}

// Inject makes the next SuiteQL requests fail, in order.
func (f *fakeAccount) Inject(faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, faults...)
}

// ExpireTokens ends every access token issued so far, as NetSuite does
// when a token's hour is up or it is revoked.
func (f *fakeAccount) ExpireTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range f.tokens {
		f.tokens[k] = time.Time{}
	}
}

func (f *fakeAccount) Stats() (queries, tokenRequests, maxOffset int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.queries, f.tokenRequests, f.maxOffset
}

func (f *fakeAccount) LastQuery() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastQuery
}

// build makes the rows of both views again after a change.
func (f *fakeAccount) build() {
	if !f.dirty {
		return
	}
	ids := make([]int, 0, len(f.txns))
	for id := range f.txns {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	invIDs := map[string]int{}
	f.rows = f.rows[:0]
	for _, id := range ids {
		t := f.txns[id]
		for li := range t.Lines {
			l := &t.Lines[li]
			if len(l.Assign) == 0 {
				f.rows = append(f.rows, &frow{t: t, l: l, cf: f.txns[t.CreatedFrom], e: f.entities[t.Entity], i: f.items[l.Item]})
			}
			for ai := range l.Assign {
				a := &l.Assign[ai]
				inv := 0
				if a.Lot != "" {
					k := fmt.Sprint(l.Item, "\x00", a.Lot)
					if invIDs[k] == 0 {
						invIDs[k] = 700000 + len(invIDs)
					}
					inv = invIDs[k]
				}
				f.rows = append(f.rows, &frow{t: t, l: l, a: a, cf: f.txns[t.CreatedFrom], e: f.entities[t.Entity],
					i: f.items[l.Item], inv: inv})
			}
		}
	}
	f.drows = f.drows[:0]
	for _, d := range f.deleted {
		f.drows = append(f.drows, &frow{d: d})
	}
	f.dirty = false
}

// writeError answers with NetSuite's error document.
func writeError(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/vnd.oracle.resource+json; type=error")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"type":   "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5." + strconv.Itoa(status-399),
		"title":  http.StatusText(status),
		"status": status,
		"o:errorDetails": []map[string]string{{
			"detail": detail, "o:errorCode": code,
		}},
	})
}

const loginDetail = "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail."

// token is the client credentials token endpoint.
func (f *fakeAccount) token(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.tokenRequests++
	f.mu.Unlock()
	bad := func(code, why string) {
		f.t.Logf("fake token endpoint: %s: %s", code, why)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": code})
	}
	if err := r.ParseForm(); err != nil {
		bad("invalid_request", err.Error())
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" ||
		r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		bad("invalid_request", "grant_type or client_assertion_type")
		return
	}
	parts := strings.Split(r.PostForm.Get("client_assertion"), ".")
	if len(parts) != 3 {
		bad("invalid_request", "not a compact JWS")
		return
	}
	var header struct{ Alg, Typ, Kid string }
	var claims struct {
		Iss   string          `json:"iss"`
		Scope json.RawMessage `json:"scope"`
		Aud   string          `json:"aud"`
		Iat   int64           `json:"iat"`
		Exp   int64           `json:"exp"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		bad("invalid_request", "header: "+err.Error())
		return
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		bad("invalid_request", "claims: "+err.Error())
		return
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		bad("invalid_request", "signature encoding")
		return
	}
	if header.Typ != "JWT" || header.Kid != f.CertID {
		bad("invalid_client", "typ or kid")
		return
	}
	if err := verifyJWS(header.Alg, f.PublicKey, parts[0]+"."+parts[1], sig); err != nil {
		bad("invalid_client", err.Error())
		return
	}
	now := time.Now().Unix()
	var scopes []string
	if json.Unmarshal(claims.Scope, &scopes) != nil {
		var s string
		json.Unmarshal(claims.Scope, &s)
		scopes = strings.Split(s, ",")
	}
	switch {
	case claims.Iss != f.ClientID:
		bad("invalid_client", "iss")
		return
	case claims.Aud != f.URL()+"/services/rest/auth/oauth2/v1/token":
		bad("invalid_request", "aud "+claims.Aud)
		return
	case !slices.Contains(scopes, "rest_webservices") || slices.ContainsFunc(scopes, func(s string) bool { return !f.Scopes[s] }):
		bad("invalid_scope", fmt.Sprint("scope ", scopes))
		return
	case claims.Iat > now+60 || claims.Exp <= now || claims.Exp-claims.Iat > 3600:
		bad("invalid_grant", "iat/exp")
		return
	}
	f.mu.Lock()
	tok := fmt.Sprintf("at-%x", sha256.Sum256([]byte(fmt.Sprint(len(f.tokens), time.Now().UnixNano()))))[:40]
	f.tokens[tok] = time.Now().Add(f.TokenTTL)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	// NetSuite sends expires_in as text.
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":"%d","token_type":"bearer"}`, tok, int(f.TokenTTL/time.Second))
}

func decodeSegment(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func verifyJWS(alg string, pub crypto.PublicKey, input string, sig []byte) error {
	var h hash.Hash
	var ch crypto.Hash
	switch alg {
	case "PS256", "ES256":
		h, ch = sha256.New(), crypto.SHA256
	case "PS384", "ES384":
		h, ch = sha512.New384(), crypto.SHA384
	case "PS512", "ES512":
		h, ch = sha512.New(), crypto.SHA512
	default:
		return fmt.Errorf("alg %q is not accepted (PS256/384/512, ES256/384/512)", alg)
	}
	h.Write([]byte(input))
	digest := h.Sum(nil)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if !strings.HasPrefix(alg, "PS") {
			return fmt.Errorf("alg %s with an RSA certificate", alg)
		}
		return rsa.VerifyPSS(k, ch, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if !strings.HasPrefix(alg, "ES") || len(sig) != 2*size {
			return fmt.Errorf("alg %s / signature length %d with an EC certificate", alg, len(sig))
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, digest, r, s) {
			return fmt.Errorf("bad ECDSA signature")
		}
		return nil
	}
	return fmt.Errorf("no public key")
}

// authorized checks the request's Authorization: a live bearer token, or a
// valid OAuth 1.0a signature.
func (f *fakeAccount) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		f.mu.Lock()
		defer f.mu.Unlock()
		exp, ok := f.tokens[tok]
		return ok && time.Now().Before(exp)
	}
	if rest, ok := strings.CutPrefix(h, "OAuth "); ok {
		params := map[string]string{}
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			v, _ = url.PathUnescape(strings.Trim(v, `"`))
			params[k] = v
		}
		if params["realm"] != strings.ToUpper(f.Account) || params["oauth_consumer_key"] != f.TBA[0] ||
			params["oauth_token"] != f.TBA[2] || params["oauth_signature_method"] != "HMAC-SHA256" {
			return false
		}
		var pairs []string
		for k, v := range params {
			if k != "realm" && k != "oauth_signature" {
				pairs = append(pairs, esc(k)+"="+esc(v))
			}
		}
		for k, vs := range r.URL.Query() {
			for _, v := range vs {
				pairs = append(pairs, esc(k)+"="+esc(v))
			}
		}
		sort.Strings(pairs)
		base := "POST&" + esc("http://"+r.Host+r.URL.Path) + "&" + esc(strings.Join(pairs, "&"))
		mac := hmac.New(sha256.New, []byte(esc(f.TBA[1])+"&"+esc(f.TBA[3])))
		mac.Write([]byte(base))
		return hmac.Equal([]byte(base64.StdEncoding.EncodeToString(mac.Sum(nil))), []byte(params["oauth_signature"]))
	}
	return false
}

// esc is RFC 3986 percent-encoding, written independently of the
// connector's.
func esc(s string) string {
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(url.QueryEscape(s))
}

// suiteql answers a SuiteQL request.
func (f *fakeAccount) suiteql(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.queries++
	n := f.queries
	var fault *Fault
	if len(f.faults) > 0 {
		fault = &f.faults[0]
		f.faults = f.faults[1:]
	}
	hook := f.BeforeQuery
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	if fault != nil {
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		writeError(w, fault.Status, fault.Code, fault.Detail)
		return
	}
	if !f.authorized(r) {
		writeError(w, http.StatusUnauthorized, "INVALID_LOGIN", loginDetail)
		return
	}
	if r.Header.Get("Prefer") != "transient" {
		writeError(w, http.StatusBadRequest, "INVALID_PARAMETER", "The SuiteQL resource requires the header Prefer: transient.")
		return
	}
	limit, err1 := strconv.Atoi(r.URL.Query().Get("limit"))
	offset, err2 := strconv.Atoi(r.URL.Query().Get("offset"))
	if err1 != nil || err2 != nil || limit < 1 || limit > fakeMaxLimit || offset < 0 || offset%limit != 0 {
		writeError(w, http.StatusBadRequest, "INVALID_PARAMETER", "Invalid limit or offset: limit is 1 to 1000 and offset a multiple of it.")
		return
	}
	var body struct{ Q string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Q == "" {
		writeError(w, http.StatusBadRequest, "INVALID_PARAMETER", "The request body must be {\"q\": \"<SuiteQL>\"}.")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastQuery = body.Q
	f.maxOffset = max(f.maxOffset, offset)
	items, count, total, status, code, detail := f.run(body.Q, offset, limit)
	if status != 0 {
		writeError(w, status, code, detail)
		return
	}
	visible := min(total, fakeMaxRows) // SuiteQL over REST stops at 100,000 rows
	hasMore := offset+count < visible
	self := fmt.Sprintf("%s/services/rest/query/v1/suiteql?limit=%d&offset=%d", f.URL(), limit, offset)
	links := []map[string]string{{"rel": "self", "href": self}}
	if hasMore {
		links = append(links, map[string]string{"rel": "next", "href": fmt.Sprintf("%s/services/rest/query/v1/suiteql?limit=%d&offset=%d", f.URL(), limit, offset+limit)})
	}
	w.Header().Set("Content-Type", "application/vnd.oracle.resource+json; type=collection")
	json.NewEncoder(w).Encode(map[string]any{
		"links": links, "count": count, "hasMore": hasMore, "items": items,
		"offset": offset, "totalResults": total,
	})
}

// The joins the fake computes: the connector's query must ask for these.
var fakeJoins = []joinClause{
	{"", "transaction", "t", ""},
	{"INNER", "transactionline", "tl", "tl.transaction = t.id"},
	{"LEFT", "inventoryassignment", "ia", "(ia.transaction = tl.transaction AND ia.transactionline = tl.id)"},
	{"LEFT", "inventorynumber", "inv", "inv.id = ia.inventorynumber"},
	{"INNER", "item", "i", "i.id = tl.item"},
	{"LEFT", "transaction", "cf", "cf.id = tl.createdfrom"},
	{"LEFT", "entity", "e", "e.id = t.entity"},
	{"LEFT", "unitstypeuom", "bu", "(bu.unitstype = i.unitstype AND bu.baseunit = 'T')"},
}

func num(i int) any {
	if i == 0 {
		return nil
	}
	return float64(i)
}

func day(s string, loc *time.Location) any {
	if s == "" {
		return nil
	}
	t, _ := time.ParseInLocation("2006-01-02", s, loc)
	return t
}

func tf(b bool) any {
	if b {
		return "T"
	}
	return "F"
}

// columns are the fields the fake knows, by alias.field.
func (f *fakeAccount) columns() map[string]func(r *frow) any {
	loc := f.Loc
	return map[string]func(r *frow) any{
		"t.id":               func(r *frow) any { return num(r.t.ID) },
		"t.tranid":           func(r *frow) any { return r.t.Number },
		"t.type":             func(r *frow) any { return r.t.Type },
		"t.trandate":         func(r *frow) any { return day(r.t.Date, loc) },
		"t.lastmodifieddate": func(r *frow) any { return r.t.Modified },
		"t.voided":           func(r *frow) any { return tf(r.t.Voided) },
		"t.entity":           func(r *frow) any { return num(r.t.Entity) },
		"t.transferlocation": func(r *frow) any { return num(r.t.TransferLocation) },
		"tl.id":              func(r *frow) any { return float64(r.l.ID) },
		"tl.transaction":     func(r *frow) any { return num(r.t.ID) },
		"tl.quantity":        func(r *frow) any { return r.l.Qty },
		// Created From is a transactionline column in SuiteQL (Records
		// Catalog, Transaction Line); transaction has none, so a query
		// naming t.createdfrom is refused as a real account refuses it.
		"tl.createdfrom":      func(r *frow) any { return num(r.t.CreatedFrom) },
		"tl.location":         func(r *frow) any { return num(r.l.Location) },
		"tl.item":             func(r *frow) any { return num(r.l.Item) },
		"ia.id":               func(r *frow) any { return assignField(r, func(a *Assign) any { return num(a.ID) }) },
		"ia.quantity":         func(r *frow) any { return assignField(r, func(a *Assign) any { return a.Qty }) },
		"ia.inventorynumber":  func(r *frow) any { return assignField(r, func(*Assign) any { return num(r.inv) }) },
		"ia.transaction":      func(r *frow) any { return assignField(r, func(*Assign) any { return num(r.t.ID) }) },
		"ia.transactionline":  func(r *frow) any { return assignField(r, func(*Assign) any { return float64(r.l.ID) }) },
		"inv.id":              func(r *frow) any { return lotField(r, func(*Assign) any { return num(r.inv) }) },
		"inv.inventorynumber": func(r *frow) any { return lotField(r, func(a *Assign) any { return a.Lot }) },
		"inv.expirationdate":  func(r *frow) any { return lotField(r, func(a *Assign) any { return day(a.Expiration, loc) }) },
		"i.id":                func(r *frow) any { return num(r.i.ID) },
		"i.itemid":            func(r *frow) any { return r.i.Name },
		"i.islotitem":         func(r *frow) any { return tf(r.i.Lot) },
		"i.isserialitem":      func(r *frow) any { return tf(r.i.Serial) },
		"i.unitstype":         func(r *frow) any { return unitsType(r.i) },
		"cf.id":               func(r *frow) any { return txnField(r.cf, func(t *Txn) any { return num(t.ID) }) },
		"cf.tranid":           func(r *frow) any { return txnField(r.cf, func(t *Txn) any { return t.Number }) },
		"cf.type":             func(r *frow) any { return txnField(r.cf, func(t *Txn) any { return t.Type }) },
		"e.id":                func(r *frow) any { return entityField(r.e, func(e *Entity) any { return num(e.ID) }) },
		"e.entityid":          func(r *frow) any { return entityField(r.e, func(e *Entity) any { return e.Number }) },
		"bu.abbreviation":     func(r *frow) any { return baseUnit(r.i, func(i *Item) any { return i.BaseUnit }) },
		"bu.unitstype":        func(r *frow) any { return baseUnit(r.i, func(i *Item) any { return float64(i.ID) }) },
		"bu.baseunit":         func(r *frow) any { return baseUnit(r.i, func(*Item) any { return "T" }) },
		"d.recordid":          func(r *frow) any { return float64(r.d.RecordID) },
		"d.type":              func(r *frow) any { return r.d.Type },
		"d.name":              func(r *frow) any { return r.d.Name },
		"d.deleteddate":       func(r *frow) any { return r.d.At },
	}
}

// assignField is a column of inventoryassignment, null on the row of a
// line without one.
func assignField(r *frow, f func(*Assign) any) any {
	if r.a == nil {
		return nil
	}
	return f(r.a)
}

// lotField is a column of inventorynumber, null without an assignment or
// when the assignment has no lot number.
func lotField(r *frow, f func(*Assign) any) any {
	if r.a == nil || r.inv == 0 {
		return nil
	}
	return f(r.a)
}

func unitsType(i *Item) any {
	if i.BaseUnit == "" {
		return nil
	}
	return float64(i.ID)
}

func txnField(t *Txn, f func(*Txn) any) any {
	if t == nil {
		return nil
	}
	return f(t)
}

func entityField(e *Entity, f func(*Entity) any) any {
	if e == nil {
		return nil
	}
	return f(e)
}

func baseUnit(i *Item, f func(*Item) any) any {
	if i.BaseUnit == "" {
		return nil
	}
	return f(i)
}

var aliasTable = map[string]string{"t": "transaction", "tl": "transactionline", "ia": "inventoryassignment",
	"inv": "inventorynumber", "i": "item", "cf": "transaction", "e": "entity", "bu": "unitstypeuom", "d": "deletedrecord"}

// run evaluates q; status is non-zero for an error to answer with.
func (f *fakeAccount) run(q string, offset, limit int) (items json.RawMessage, count, total, status int, code, detail string) {
	fail := func(code, detail string) (json.RawMessage, int, int, int, string, string) {
		return nil, 0, 0, http.StatusBadRequest, code, detail
	}
	const searchError = "Invalid search query. Detailed unprocessed description follows. Search error occurred: "
	pq, err := parseQuery(q)
	if err != nil {
		return fail("INVALID_PARAMETER", searchError+err.Error())
	}
	for _, j := range pq.from {
		if f.Deny[j.table] {
			return fail("INVALID_PARAMETER", searchError+"Record '"+j.table+"' was not found.")
		}
	}
	f.build()
	var rows []*frow
	switch pq.from[0].table {
	case "transaction":
		if !slices.Equal(pq.from, fakeJoins) {
			return fail("INVALID_PARAMETER", fmt.Sprintf("the fake computes only the join %v, not %v", fakeJoins, pq.from))
		}
		rows = f.rows
	case "deletedrecord":
		if len(pq.from) != 1 || pq.from[0].alias != "d" {
			return fail("INVALID_PARAMETER", "the fake reads deletedrecord d alone")
		}
		rows = f.drows
	default:
		return fail("INVALID_PARAMETER", searchError+"Record '"+pq.from[0].table+"' was not found.")
	}
	cols := f.columns()
	resolve := func(col string) (func(r *frow) any, error) {
		alias, field, _ := strings.Cut(col, ".")
		if acc := cols[col]; acc != nil && !f.Hidden[col] {
			return acc, nil
		}
		if f.CustomFields[col] {
			switch alias {
			case "t":
				return func(r *frow) any { return nullable(r.t.Custom[field]) }, nil
			case "inv":
				return func(r *frow) any { return lotField(r, func(a *Assign) any { return nullable(a.Custom[field]) }) }, nil
			}
		}
		return nil, fmt.Errorf("Field '%s' for record '%s' was not found. Reason: NOT_EXPOSED - Not available for channel SEARCH", field, aliasTable[alias])
	}
	c := &compiler{
		cols: resolve,
		display: func(col string) (func(r *frow) any, error) {
			acc, err := resolve(col)
			if err != nil {
				return nil, err
			}
			switch col {
			case "t.entity":
				return func(r *frow) any { return entityField(r.e, func(e *Entity) any { return e.Name }) }, nil
			case "tl.location":
				return func(r *frow) any { return nullable(f.locations[r.l.Location]) }, nil
			case "t.transferlocation":
				return func(r *frow) any { return nullable(f.locations[r.t.TransferLocation]) }, nil
			}
			return acc, nil
		},
		slot: func(key string) int {
			if s, ok := f.slots[key]; ok {
				return s
			}
			f.slots[key] = len(f.slots)
			return f.slots[key]
		},
		loc: f.Loc,
	}
	type out struct {
		name string
		fn   evalFn
	}
	var sel []out
	for _, s := range pq.selects {
		fn, err := c.compile(s.expr)
		if err != nil {
			return fail("INVALID_PARAMETER", searchError+err.Error())
		}
		sel = append(sel, out{s.alias, fn})
	}
	var where evalFn
	if pq.where != nil {
		if where, err = c.compile(pq.where); err != nil {
			return fail("INVALID_PARAMETER", searchError+err.Error())
		}
	}
	var order []evalFn
	for _, o := range pq.order {
		fn, err := c.compile(o.expr)
		if err != nil {
			return fail("INVALID_PARAMETER", searchError+err.Error())
		}
		order = append(order, fn)
	}
	var matched []*frow
	for _, r := range rows {
		if where != nil {
			if b, _ := where(r).(bool); !b {
				continue
			}
		}
		matched = append(matched, r)
	}
	slices.SortStableFunc(matched, func(a, b *frow) int {
		for i, fn := range order {
			x, y := fn(a), fn(b)
			c := 0
			switch {
			case x == nil && y == nil:
			case x == nil: // NULLS LAST
				c = 1
			case y == nil:
				c = -1
			default:
				c, _ = compareValues(x, y)
			}
			if pq.order[i].desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	total = len(matched)
	end := min(offset+limit, total, fakeMaxRows)
	var b strings.Builder
	b.WriteByte('[')
	for i := offset; i < end; i++ {
		if i > offset {
			b.WriteByte(',')
		}
		b.WriteString(`{"links":[]`)
		for _, s := range sel {
			if v := s.fn(matched[i]); v != nil {
				b.WriteString(",")
				writeJSONString(&b, s.name)
				b.WriteByte(':')
				writeJSONString(&b, render(v, f.Loc))
			}
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return json.RawMessage(b.String()), end - offset, total, 0, "", ""
}

func writeJSONString(b *strings.Builder, s string) {
	q, _ := json.Marshal(s)
	b.Write(q)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// render writes a value as SuiteQL over REST does: text, with datetimes
// in the user's date format (M/D/YYYY here) and no time.
func render(v any, loc *time.Location) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		return x.In(loc).Format("1/2/2006")
	case string:
		return x
	}
	return fmt.Sprint(v)
}
