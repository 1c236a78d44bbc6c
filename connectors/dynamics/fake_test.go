package dynamics_test

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeMicrosoft is Microsoft's side, on one loopback server: the Entra ID
// token endpoint, an F&O environment's OData service (/data/…) and the
// Business Central API (/v2.0/{tenant}/{environment}/api/…), speaking their
// wire formats: OData v4 JSON collections with @odata.context and
// @odata.nextLink, OData error bodies, Entra's AADSTS errors.
//
// It filters ($filter), sorts ($orderby), projects ($select), limits
// ($top) and pages (Prefer: odata.maxpagesize, $skiptoken) for real, so a
// connector that asks for the wrong thing gets the wrong records.
type fakeMicrosoft struct {
	t   testing.TB
	srv *httptest.Server

	tenant, clientID, secret string
	certKey                  *rsa.PublicKey // accepts client assertions signed by it
	certThumb                string

	// F&O: answers without cross-company=true hold only this company.
	defaultCompany string
	// BC
	bcEnv, bcCompany, bcRoute string

	mu       sync.Mutex
	tables   map[string][]map[string]any // entity set → rows
	faults   []fault
	tokens   int               // tokens issued
	issued   map[string]string // access token → scope
	requests []string          // data requests, path and query
	forbid   map[string]bool   // entity sets that answer 403
	maxPage  int               // the server's own page size limit
	// ignorePrefer makes the server send its own page size whatever the
	// client prefers, as a server may.
	ignorePrefer bool
	// skipLinks makes next links as F&O writes them: the request's own
	// query, cross-company=true included, with $skip=<rows before the
	// page> (…/data/SalesOrderHeadersV3?cross-company=true&$skip=10000)
	// instead of an opaque $skiptoken. Microsoft documents only that F&O
	// pages server-side, at most 10,000 entities a page:
	// https://learn.microsoft.com/dynamics365/fin-ops-core/dev-itpro/data-entities/odata
	// ("Supported features from the OData specification").
	skipLinks bool
	subs      []*subscription
	hook      *http.Client // calls notification URLs
	now       func() time.Time
}

type subscription struct {
	ID, NotificationURL, Resource, ClientState, ETag string
	Expires                                          time.Time
}

// fault is an injected failure of the next data request whose path
// contains match.
type fault struct {
	match      string
	status     int
	retryAfter string
	body       string // OData error body
	cut        bool   // send half a page, then drop the connection
}

const (
	testTenant   = "8a1f2c3d-0000-4000-8000-00000000aaaa"
	testClientID = "0f3e9d2c-1111-4111-8111-000000000bbb"
	testSecret   = "s3cr3t~Entra.Value-For_Tests"
	testCompany  = "5d115c9c-44e3-ea11-bb43-000d3a2feca1"
	bcScope      = "https://api.businesscentral.dynamics.com/.default"
)

func newFake(t testing.TB) *fakeMicrosoft {
	f := &fakeMicrosoft{
		t: t, tenant: testTenant, clientID: testClientID, secret: testSecret,
		defaultCompany: "usmf", bcEnv: "production", bcCompany: testCompany, bcRoute: "lothub/traceability/v1.0",
		tables: map[string][]map[string]any{}, issued: map[string]string{}, forbid: map[string]bool{},
		maxPage: 10000, hook: &http.Client{Timeout: 10 * time.Second}, now: time.Now,
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeMicrosoft) foScope() string { return f.srv.URL + "/.default" }

func (f *fakeMicrosoft) tokenURL() string { return f.srv.URL + "/" + f.tenant + "/oauth2/v2.0/token" }

// put adds rows to an entity set.
func (f *fakeMicrosoft) put(entity string, rows ...map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tables[entity] = append(f.tables[entity], rows...)
}

// update changes the rows of entity whose key field equals key.
func (f *fakeMicrosoft) update(entity, field string, key any, change map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.tables[entity] {
		if fmt.Sprint(r[field]) == fmt.Sprint(key) {
			for k, v := range change {
				r[k] = v
			}
		}
	}
}

func (f *fakeMicrosoft) inject(fs ...fault) {
	f.mu.Lock()
	f.faults = append(f.faults, fs...)
	f.mu.Unlock()
}

func (f *fakeMicrosoft) tokenCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens
}

func (f *fakeMicrosoft) dataRequests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeMicrosoft) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		f.token(w, r)
	case strings.HasPrefix(r.URL.Path, "/data/"):
		f.fo(w, r)
	case strings.HasPrefix(r.URL.Path, "/v2.0/"):
		f.bc(w, r)
	default:
		http.NotFound(w, r)
	}
}

// --- Entra ID ---------------------------------------------------------------

func entraError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"error": code, "error_description": desc + "\r\nTrace ID: 0b8d\r\nCorrelation ID: 5e1f\r\nTimestamp: 2026-03-01 08:00:00Z",
		"error_codes": []int{0}, "timestamp": "2026-03-01 08:00:00Z",
	})
}

func (f *fakeMicrosoft) token(w http.ResponseWriter, r *http.Request) {
	tenant := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		entraError(w, 400, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		return
	}
	form := r.PostForm
	switch {
	case tenant != f.tenant:
		entraError(w, 400, "invalid_request", fmt.Sprintf("AADSTS90002: Tenant '%s' not found.", tenant))
		return
	case form.Get("grant_type") != "client_credentials":
		entraError(w, 400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
		return
	case form.Get("client_id") != f.clientID:
		entraError(w, 400, "unauthorized_client", fmt.Sprintf("AADSTS700016: Application with identifier '%s' was not found in the directory.", form.Get("client_id")))
		return
	}
	if a := form.Get("client_assertion"); a != "" {
		if err := f.checkAssertion(a, form.Get("client_assertion_type")); err != nil {
			entraError(w, 401, "invalid_client", "AADSTS700027: Client assertion contains an invalid signature. "+err.Error())
			return
		}
	} else if form.Get("client_secret") != f.secret {
		entraError(w, 401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
		return
	}
	scope := form.Get("scope")
	if scope != f.foScope() && scope != bcScope {
		entraError(w, 400, "invalid_resource", fmt.Sprintf("AADSTS500011: The resource principal named %s was not found in the tenant.", strings.TrimSuffix(scope, "/.default")))
		return
	}
	f.mu.Lock()
	f.tokens++
	tok := fmt.Sprintf("eyJ0eXAi.fake-token-%d", f.tokens)
	f.issued[tok] = scope
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

// checkAssertion verifies an RFC 7523 client assertion as Entra does.
func (f *fakeMicrosoft) checkAssertion(jwt, typ string) error {
	if typ != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || f.certKey == nil {
		return fmt.Errorf("unexpected assertion type %q", typ)
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a JWT")
	}
	var header struct{ Alg, X5t string }
	var claims struct {
		Aud, Iss, Sub, Jti string
		Exp, Nbf           int64
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil {
		return fmt.Errorf("undecodable")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch {
	case header.Alg != "RS256" || header.X5t != f.certThumb:
		return fmt.Errorf("unknown key %q", header.X5t)
	case rsa.VerifyPKCS1v15(f.certKey, crypto.SHA256, sum[:], sig) != nil:
		return fmt.Errorf("bad signature")
	case claims.Aud != f.tokenURL() || claims.Iss != f.clientID || claims.Sub != f.clientID || claims.Jti == "":
		return fmt.Errorf("bad claims %+v", claims)
	case time.Unix(claims.Exp, 0).Before(time.Now()):
		return fmt.Errorf("expired")
	}
	return nil
}

// trust makes the fake accept assertions signed by cert's key.
func (f *fakeMicrosoft) trust(cert *x509.Certificate) {
	sum := sha1.Sum(cert.Raw)
	f.certKey = cert.PublicKey.(*rsa.PublicKey)
	f.certThumb = base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorized checks the bearer token is one issued for scope.
func (f *fakeMicrosoft) authorized(r *http.Request, scope string) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	defer f.mu.Unlock()
	return ok && f.issued[tok] == scope
}

// revokeTokens forgets every token issued, as a revoked secret would.
func (f *fakeMicrosoft) revokeTokens() {
	f.mu.Lock()
	f.issued = map[string]string{}
	f.mu.Unlock()
}

func odataError(w http.ResponseWriter, status int, code, msg, inner string) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.WriteHeader(status)
	e := map[string]any{"code": code, "message": msg}
	if inner != "" {
		e["innererror"] = map[string]any{"message": inner, "type": "Microsoft.OData.ODataException", "stacktrace": "   at Microsoft.OData..."}
	}
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

// fault returns the first injected fault for path, removing it.
func (f *fakeMicrosoft) fault(path string) *fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, ft := range f.faults {
		if strings.Contains(path, ft.match) {
			f.faults = slices.Delete(f.faults, i, i+1)
			return &ft
		}
	}
	return nil
}

// applyFault answers with an injected fault; it reports whether it did.
func (f *fakeMicrosoft) applyFault(w http.ResponseWriter, r *http.Request) bool {
	ft := f.fault(r.URL.Path)
	if ft == nil {
		return false
	}
	if ft.cut {
		hj, ok := w.(http.Hijacker)
		if !ok {
			f.t.Errorf("cannot hijack the connection")
			return true
		}
		conn, buf, err := hj.Hijack()
		if err != nil {
			f.t.Errorf("hijack: %v", err)
			return true
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json; odata.metadata=minimal\r\nContent-Length: 4096\r\n\r\n")
		fmt.Fprintf(buf, `{"@odata.context":"%s/data/$metadata#X","value":[{"dataAreaId":"usmf","InventTransRecId":1,"Ite`, f.srv.URL)
		buf.Flush()
		conn.Close()
		return true
	}
	if ft.retryAfter != "" {
		w.Header().Set("Retry-After", ft.retryAfter)
	}
	if ft.body != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ft.status)
		io.WriteString(w, ft.body)
		return true
	}
	odataError(w, ft.status, "", http.StatusText(ft.status), "")
	return true
}

// --- F&O OData ----------------------------------------------------------------

func (f *fakeMicrosoft) fo(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.RequestURI())
	f.mu.Unlock()
	if !f.authorized(r, f.foScope()) {
		// F&O answers a token it does not accept with an empty 401.
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+f.srv.URL+`"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if f.applyFault(w, r) {
		return
	}
	entity := strings.TrimPrefix(r.URL.Path, "/data/")
	f.mu.Lock()
	rows, ok := f.tables[entity]
	rows = clone(rows)
	forbidden := f.forbid[entity]
	f.mu.Unlock()
	if !ok {
		odataError(w, 404, "", fmt.Sprintf("No HTTP resource was found that matches the request URI '%s'.", f.srv.URL+r.URL.Path), "")
		return
	}
	if forbidden {
		odataError(w, 403, "", "Access denied.", "")
		return
	}
	q := r.URL.Query()
	if q.Get("cross-company") != "true" {
		rows = slices.DeleteFunc(rows, func(row map[string]any) bool { return row["dataAreaId"] != f.defaultCompany })
	}
	f.list(w, r, "Microsoft.Dynamics.DataEntities", f.srv.URL+"/data/$metadata#"+entity, rows)
}

func clone(rows []map[string]any) []map[string]any {
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		out[i] = make(map[string]any, len(r))
		for k, v := range r {
			out[i][k] = v
		}
	}
	return out
}

// list answers a collection query over rows.
func (f *fakeMicrosoft) list(w http.ResponseWriter, r *http.Request, namespace, context string, rows []map[string]any) {
	q := r.URL.Query()
	var schema []string
	if len(rows) > 0 {
		for k := range rows[0] {
			schema = append(schema, k)
		}
	}
	unknown := func(field string) bool { return len(schema) > 0 && !slices.Contains(schema, field) }
	if s := q.Get("$filter"); s != "" {
		pred, err := parseFilter(s, unknown)
		if err != nil {
			odataError(w, 400, "", "An error has occurred.", err.Error())
			return
		}
		rows = slices.DeleteFunc(rows, func(row map[string]any) bool { return !pred(row) })
	}
	if s := q.Get("$orderby"); s != "" {
		var keys []string
		for _, part := range strings.Split(s, ",") {
			field, dir, _ := strings.Cut(strings.TrimSpace(part), " ")
			if unknown(field) {
				odataError(w, 400, "", "An error has occurred.", fmt.Sprintf("Could not find a property named '%s' on type '%s'.", field, namespace))
				return
			}
			if dir != "" && dir != "asc" {
				odataError(w, 400, "", "only asc is supported by the fake", "")
				return
			}
			keys = append(keys, field)
		}
		slices.SortStableFunc(rows, func(a, b map[string]any) int {
			for _, k := range keys {
				if c := compare(a[k], b[k]); c != 0 {
					return c
				}
			}
			return 0
		})
	}
	if s := q.Get("$top"); s != "" {
		n, _ := strconv.Atoi(s)
		rows = rows[:min(n, len(rows))]
	}
	skipParam := "$skiptoken"
	if f.skipLinks {
		skipParam = "$skip"
	}
	skip, _ := strconv.Atoi(q.Get(skipParam))
	size := f.maxPage
	if p := r.Header.Get("Prefer"); strings.HasPrefix(p, "odata.maxpagesize=") && !f.ignorePrefer {
		n, _ := strconv.Atoi(strings.TrimPrefix(p, "odata.maxpagesize="))
		size = min(size, n)
		w.Header().Set("Preference-Applied", p)
	}
	page := rows[min(skip, len(rows)):]
	next := ""
	if len(page) > size && q.Get("$top") == "" {
		page = page[:size]
		nq := r.URL.Query()
		nq.Set(skipParam, strconv.Itoa(skip+size))
		next = f.srv.URL + r.URL.Path + "?" + nq.Encode()
	}
	expand := q.Get("$expand")
	var sel []string
	if s := q.Get("$select"); s != "" {
		sel = strings.Split(s, ",")
		for _, field := range sel {
			if unknown(field) {
				odataError(w, 400, "", "An error has occurred.", fmt.Sprintf("Could not find a property named '%s' on type '%s'.", field, namespace))
				return
			}
		}
	}
	out := make([]map[string]any, len(page))
	for i, row := range page {
		out[i] = project(row, sel, expand)
	}
	doc := map[string]any{"@odata.context": context, "value": out}
	if next != "" {
		doc["@odata.nextLink"] = next
	}
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true")
	w.Header().Set("OData-Version", "4.0")
	json.NewEncoder(w).Encode(doc)
}

// project keeps the selected fields (all when sel is empty), the ETag, and
// navigation properties only when expanded.
func project(row map[string]any, sel []string, expand string) map[string]any {
	out := map[string]any{}
	for k, v := range row {
		_, nav := v.(map[string]any)
		switch {
		case nav && !strings.Contains(expand, k):
		case k == "@odata.etag" || nav || len(sel) == 0 || slices.Contains(sel, k):
			out[k] = v
		}
	}
	return out
}

// compare orders two field values: times as times, numbers as numbers.
func compare(a, b any) int {
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok {
		at, err1 := time.Parse(time.RFC3339Nano, as)
		bt, err2 := time.Parse(time.RFC3339Nano, bs)
		if err1 == nil && err2 == nil {
			return at.Compare(bt)
		}
		return strings.Compare(as, bs)
	}
	af, aok := number(a)
	bf, bok := number(b)
	if aok && bok {
		switch {
		case af < bf:
			return -1
		case af > bf:
			return 1
		}
		return 0
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// --- Business Central API -------------------------------------------------

func (f *fakeMicrosoft) bc(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.RequestURI())
	f.mu.Unlock()
	if !f.authorized(r, bcScope) {
		odataError(w, 401, "Authentication_InvalidCredentials", "The server has rejected the client credentials.  CorrelationId:  7d6f.", "")
		return
	}
	if f.applyFault(w, r) {
		return
	}
	root := "/v2.0/" + f.tenant + "/" + f.bcEnv + "/api/" + f.bcRoute + "/"
	rest, ok := strings.CutPrefix(r.URL.Path, root)
	if !ok {
		odataError(w, 404, "BadRequest_NotFound", "The request URL is not valid.  CorrelationId:  1b2c.", "")
		return
	}
	if strings.HasPrefix(rest, "subscriptions") {
		f.subscriptions(w, r, strings.TrimPrefix(rest, "subscriptions"))
		return
	}
	prefix := "companies(" + f.bcCompany + ")/"
	rest, ok = strings.CutPrefix(rest, prefix)
	if !ok {
		odataError(w, 404, "BadRequest_NotFound", "Cannot find the company.  CorrelationId:  3c4d.", "")
		return
	}
	entity, key, single := strings.Cut(strings.TrimSuffix(rest, ")"), "(")
	f.mu.Lock()
	rows, ok := f.tables[entity]
	rows = clone(rows)
	forbidden := f.forbid[entity]
	f.mu.Unlock()
	switch {
	case !ok:
		odataError(w, 404, "BadRequest_NotFound", fmt.Sprintf("Resource not found for the segment '%s'.  CorrelationId:  9a8b.", entity), "")
		return
	case forbidden:
		odataError(w, 403, "Authorization_NoPermission", "You do not have the following permissions on TableData Item Ledger Entry: Read.  CorrelationId:  2e3f.", "")
		return
	}
	ctx := f.srv.URL + root + "$metadata#companies(" + f.bcCompany + ")/" + entity
	if !single {
		f.list(w, r, "Microsoft.NAV", ctx, rows)
		return
	}
	for _, row := range rows {
		if row["id"] == key {
			var sel []string
			if s := r.URL.Query().Get("$select"); s != "" {
				sel = strings.Split(s, ",")
			}
			out := project(row, sel, "")
			out["@odata.context"] = ctx + "/$entity"
			w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
			json.NewEncoder(w).Encode(out)
			return
		}
	}
	odataError(w, 404, "BadRequest_NotFound", "The Item Ledger Entry does not exist.  CorrelationId:  4d5e.", "")
}

// subscriptions serves …/subscriptions and …/subscriptions('id').
func (f *fakeMicrosoft) subscriptions(w http.ResponseWriter, r *http.Request, key string) {
	write := func(status int, s *subscription) {
		w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(s.json())
	}
	switch {
	case r.Method == http.MethodGet && key == "":
		f.mu.Lock()
		var list []any
		for _, s := range f.subs {
			list = append(list, s.json())
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
		json.NewEncoder(w).Encode(map[string]any{"value": list})
	case r.Method == http.MethodPost && key == "":
		var body struct{ NotificationURL, Resource, ClientState string }
		if json.NewDecoder(r.Body).Decode(&body) != nil || body.NotificationURL == "" || body.Resource == "" {
			odataError(w, 400, "BadRequest", "notificationUrl and resource are required.", "")
			return
		}
		if err := f.handshake(body.NotificationURL); err != nil {
			odataError(w, 400, "BadRequest", "The subscription could not be created: the notification URL did not return the validation token ("+err.Error()+").", "")
			return
		}
		s := &subscription{ID: randomHex(16), NotificationURL: body.NotificationURL, Resource: body.Resource,
			ClientState: body.ClientState, ETag: `W/"` + randomHex(8) + `"`, Expires: f.now().Add(72 * time.Hour).UTC()}
		f.mu.Lock()
		f.subs = append(f.subs, s)
		f.mu.Unlock()
		write(http.StatusCreated, s)
	case r.Method == http.MethodPatch && strings.HasPrefix(key, "('") && strings.HasSuffix(key, "')"):
		id := key[2 : len(key)-2]
		f.mu.Lock()
		var s *subscription
		for _, x := range f.subs {
			if x.ID == id {
				s = x
			}
		}
		f.mu.Unlock()
		if s == nil {
			odataError(w, 404, "BadRequest_NotFound", "The subscription does not exist.", "")
			return
		}
		if r.Header.Get("If-Match") != s.ETag {
			odataError(w, 412, "Request_EntityChanged", "Could not update the subscription because the record was changed.", "")
			return
		}
		if err := f.handshake(s.NotificationURL); err != nil {
			odataError(w, 400, "BadRequest", "The subscription could not be renewed: "+err.Error(), "")
			return
		}
		f.mu.Lock()
		s.Expires = f.now().Add(72 * time.Hour).UTC()
		s.ETag = `W/"` + randomHex(8) + `"`
		f.mu.Unlock()
		write(http.StatusOK, s)
	default:
		odataError(w, 405, "BadRequest_MethodNotAllowed", "'"+r.Method+"' requests for 'subscriptions' are not allowed.", "")
	}
}

func (s *subscription) json() map[string]any {
	return map[string]any{
		"@odata.etag": s.ETag, "subscriptionId": s.ID, "notificationUrl": s.NotificationURL, "resource": s.Resource,
		"userId": "00000000-0000-0000-0000-000000000001", "lastModifiedDateTime": "2026-03-01T08:00:00Z",
		"clientState": s.ClientState, "expirationDateTime": s.Expires.Format(time.RFC3339),
	}
}

// handshake calls notificationURL with a validation token, as BC does when
// a subscription is created or renewed, and wants it back as plain text.
func (f *fakeMicrosoft) handshake(notificationURL string) error {
	u, err := url.Parse(notificationURL)
	if err != nil {
		return err
	}
	tok := randomHex(12)
	q := u.Query()
	q.Set("validationToken", tok)
	u.RawQuery = q.Encode()
	resp, err := f.hook.Post(u.String(), "application/json", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != tok {
		return fmt.Errorf("status %d, body %q", resp.StatusCode, body)
	}
	return nil
}

// notify sends every subscription on entity a notification for the row
// with id, as BC does some 30 seconds after a change. It returns the
// status the subscriber answered.
func (f *fakeMicrosoft) notify(entity, id, changeType, clientState string) int {
	f.mu.Lock()
	subs := slices.Clone(f.subs)
	f.mu.Unlock()
	status := 0
	for _, s := range subs {
		if !strings.HasSuffix(s.Resource, "/"+entity) {
			continue
		}
		cs := s.ClientState
		if clientState != "" {
			cs = clientState
		}
		body, _ := json.Marshal(map[string]any{"value": []any{map[string]any{
			"subscriptionId": s.ID, "clientState": cs, "expirationDateTime": s.Expires.Format(time.RFC3339),
			"resource":   strings.TrimPrefix(s.Resource, "/") + "(" + id + ")",
			"changeType": changeType, "lastModifiedDateTime": "2026-03-05T10:00:00.467Z",
		}}})
		resp, err := f.hook.Post(s.NotificationURL, "application/json", bytes.NewReader(body))
		if err != nil {
			f.t.Errorf("notify: %v", err)
			continue
		}
		resp.Body.Close()
		status = resp.StatusCode
	}
	return status
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// --- $filter ----------------------------------------------------------------

// parseFilter compiles the part of OData v4 $filter the connector uses:
// comparisons (eq ne gt ge lt le) of a field with a literal (text, number,
// date-time, boolean, enum such as Microsoft.Dynamics.DataEntities.NoYes'Yes'),
// and, or, not, parentheses.
func parseFilter(s string, unknown func(string) bool) (func(map[string]any) bool, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks, unknown: unknown}
	pred, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.toks) {
		return nil, fmt.Errorf("syntax error at position %d in '%s'", p.i, s)
	}
	return pred, nil
}

type filterParser struct {
	toks    []string
	i       int
	unknown func(string) bool
}

func (p *filterParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *filterParser) or() (func(map[string]any) bool, error) {
	left, err := p.and()
	for err == nil && p.peek() == "or" {
		p.i++
		var right func(map[string]any) bool
		if right, err = p.and(); err == nil {
			l := left
			left = func(r map[string]any) bool { return l(r) || right(r) }
		}
	}
	return left, err
}

func (p *filterParser) and() (func(map[string]any) bool, error) {
	left, err := p.unary()
	for err == nil && p.peek() == "and" {
		p.i++
		var right func(map[string]any) bool
		if right, err = p.unary(); err == nil {
			l := left
			left = func(r map[string]any) bool { return l(r) && right(r) }
		}
	}
	return left, err
}

func (p *filterParser) unary() (func(map[string]any) bool, error) {
	switch p.peek() {
	case "not":
		p.i++
		in, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(r map[string]any) bool { return !in(r) }, nil
	case "(":
		p.i++
		in, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("')' expected")
		}
		p.i++
		return in, nil
	}
	if p.i+3 > len(p.toks) {
		return nil, fmt.Errorf("comparison expected")
	}
	field, op, lit := p.toks[p.i], p.toks[p.i+1], p.toks[p.i+2]
	p.i += 3
	if p.unknown(field) {
		return nil, fmt.Errorf("Could not find a property named '%s' on type 'Microsoft.Dynamics.DataEntities'.", field)
	}
	want, err := literal(lit)
	if err != nil {
		return nil, err
	}
	var ok func(int) bool
	switch op {
	case "eq":
		ok = func(c int) bool { return c == 0 }
	case "ne":
		ok = func(c int) bool { return c != 0 }
	case "gt":
		ok = func(c int) bool { return c > 0 }
	case "ge":
		ok = func(c int) bool { return c >= 0 }
	case "lt":
		ok = func(c int) bool { return c < 0 }
	case "le":
		ok = func(c int) bool { return c <= 0 }
	default:
		return nil, fmt.Errorf("unknown operator %q", op)
	}
	return func(r map[string]any) bool { return ok(compare(r[field], want)) }, nil
}

// literal reads an OData literal. Date-times stay text (compare reads
// them); text must be quoted: an unquoted date-time is a DateTimeOffset.
func literal(s string) (any, error) {
	switch {
	case strings.HasPrefix(s, "'"):
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	case strings.Contains(s, "'"): // Namespace.Enum'Value'
		_, v, _ := strings.Cut(s, "'")
		return strings.TrimSuffix(v, "'"), nil
	case s == "true" || s == "false":
		return s == "true", nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, nil
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return s, nil
	}
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		// Edm.Date ("postingDate ge 2026-01-01"): ISO dates compare as text.
		return s, nil
	}
	return nil, fmt.Errorf("unrecognized literal %q", s)
}

func tokenize(s string) ([]string, error) {
	var toks []string
	r := bufio.NewReader(strings.NewReader(s))
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	for {
		c, _, err := r.ReadRune()
		if err != nil {
			break
		}
		switch {
		case c == '\'':
			cur.WriteRune(c)
			for {
				d, _, err := r.ReadRune()
				if err != nil {
					return nil, fmt.Errorf("unterminated text")
				}
				cur.WriteRune(d)
				if d == '\'' {
					if n, _, err := r.ReadRune(); err == nil && n == '\'' {
						cur.WriteRune(n)
						continue
					} else if err == nil {
						r.UnreadRune()
					}
					break
				}
			}
		case c == ' ':
			flush()
		case c == '(' || c == ')':
			flush()
			toks = append(toks, string(c))
		default:
			cur.WriteRune(c)
		}
	}
	flush()
	return toks, nil
}
