package rest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/rest"
	"github.com/lothub/lothub/sdk"
	"github.com/lothub/lothub/sdk/sdktest"
)

const (
	epicorUser = "lothub"
	epicorPass = "epicor-pass-for-tests"
	epicorKey  = "epicor-api-key-for-tests"
)

// fakeEpicor serves PartTran as Kinetic's REST v2 does: company in the
// path, basic authentication plus X-API-Key, $filter, $orderby,
// $top/$skip, and @odata.nextLink on every page but the last.
type fakeEpicor struct {
	*httptest.Server
	mu      sync.Mutex
	rows    []map[string]any
	fail429 bool
}

var epicorFilterRE = regexp.MustCompile(`^SysRevID gt (\d+)$`)

func newFakeEpicor(t *testing.T, rows []map[string]any) *fakeEpicor {
	f := &fakeEpicor{rows: rows}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeEpicor) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	u, p, ok := r.BasicAuth()
	if !ok || u != epicorUser || p != epicorPass || r.Header.Get("X-API-Key") != epicorKey {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"HttpStatus":401,"ReasonPhrase":"REST API Exception","ErrorMessage":"Invalid API Key or credentials"}`)
		return
	}
	if r.URL.Path != "/api/v2/odata/EPIC06/Erp.BO.PartTranSvc/PartTrans" {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"HttpStatus":404,"ErrorMessage":"Company or service not found"}`)
		return
	}
	q := r.URL.Query()
	if f.fail429 && q.Get("$skip") != "0" {
		f.fail429 = false
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"HttpStatus":429,"ErrorMessage":"Too many requests"}`)
		return
	}
	var after int64 = -1
	if fl := q.Get("$filter"); fl != "" {
		m := epicorFilterRE.FindStringSubmatch(fl)
		if m == nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"HttpStatus":400,"ErrorMessage":"bad $filter %s"}`, fl)
			return
		}
		after, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if q.Get("$orderby") != "SysRevID" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	top, _ := strconv.Atoi(q.Get("$top"))
	skip, _ := strconv.Atoi(q.Get("$skip"))
	var sel []map[string]any
	for _, row := range f.rows { // rows are kept in SysRevID order
		if row["SysRevID"].(int64) > after {
			sel = append(sel, row)
		}
	}
	end := min(skip+top, len(sel))
	body := map[string]any{"@odata.context": "https://erp/api/v2/odata/EPIC06/Erp.BO.PartTranSvc/$metadata#PartTrans", "value": sel[min(skip, end):end]}
	if end < len(sel) {
		nq := r.URL.Query()
		nq.Set("$skip", strconv.Itoa(end))
		body["@odata.nextLink"] = f.URL + r.URL.Path + "?" + nq.Encode()
	}
	json.NewEncoder(w).Encode(body)
}

func epicorRows(n int) []map[string]any {
	types := []string{"PUR-STK", "STK-MTL", "MFG-STK", "STK-CUS"}
	var rows []map[string]any
	for i := range n {
		rows = append(rows, map[string]any{
			"Company": "EPIC06", "TranNum": 9000 + i, "TranType": types[i%4], "PartNum": "FLOUR",
			"LotNum": fmt.Sprintf("L-%d", i), "TranQty": 25, "UM": "KG", "JobNum": "", "PackNum": 0,
			"PONum": 0, "TranDate": "2026-03-08T00:00:00", "SysDate": "2026-03-08T00:00:00", "SysTime": 3600 + i,
			"SysRevID": int64(500000 + i*3),
		})
	}
	return rows
}

func (f *fakeEpicor) config() map[string]string {
	return map[string]string{"profile": "epicor-kinetic", "base_url": f.URL, "vars": "company=EPIC06",
		"username": epicorUser, "password": epicorPass, "api_key": epicorKey, "page_size": "4"}
}

func TestEpicorConformance(t *testing.T) {
	f := newFakeEpicor(t, epicorRows(17))
	bad := f.config()
	bad["api_key"] = "not-the-key-123"
	sdktest.Run(t, sdktest.Harness{New: newConnector, Config: f.config(), BadEndpoint: bad, Expect: 17})
}

// nextLink paging over 3+ pages, a 429, a row changed since (a new
// SysRevID: read again once), and nothing else read again.
func TestEpicorIncremental(t *testing.T) {
	rows := epicorRows(10)
	f := newFakeEpicor(t, rows)
	c := rest.New()
	cfg := mustConfig(t, c, f.config())
	f.fail429 = true
	res, err := c.Read(context.Background(), cfg, nil, 100)
	if err != nil || len(res.Records) != 4 || !res.More {
		t.Fatalf("before the 429: %v, %d records", err, len(res.Records))
	}
	rest1, pos := readAll(t, c, cfg, res.Next, 100)
	if n := len(res.Records) + len(rest1); n != 10 {
		t.Fatalf("first sync: %d records", n)
	}
	changed := rows[3]
	changed["SysRevID"] = int64(600000)
	changed["LotNum"] = "L-3b"
	f.mu.Lock()
	f.rows = append(append(rows[:3:3], rows[4:]...), changed)
	f.mu.Unlock()
	again, _ := readAll(t, c, cfg, pos, 100)
	if got := ids(again); got != "PartTran:9003" {
		t.Fatalf("second sync read %q", got)
	}
	// Epicor writes TranDate without an offset: in the profile's zone.
	if want := time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC); !again[0].Time.Equal(want) {
		t.Errorf("time %v, want %v (America/Chicago)", again[0].Time, want)
	}
}

// --- Infor CSI through ION API ---

// fakeInfor is the ION API gateway in front of the IDO REST service: an
// OAuth 2.0 token endpoint (password grant with the service account) and
// /load/SLMatltrans with recordcap, filter, orderby and bookmarks. It can
// revoke every token once, mid-run, or refuse them all.
type fakeInfor struct {
	*httptest.Server
	mu        sync.Mutex
	rows      [][]map[string]any
	tokens    map[string]bool
	issued    int
	loads     int
	revokeAt  int  // revoke all tokens before this load (0: never)
	fail429At int  // answer this load with 429 (0: never)
	rejectAll bool // a token is never accepted
}

const (
	ionClientID     = "TENANT_TST~client-id-for-tests"
	ionClientSecret = "ion-client-secret-for-tests"
	ionAccessKey    = "TENANT_TST#service-access-key"
	ionSecretKey    = "service-secret-key-for-tests"
)

func newFakeInfor(t *testing.T, n int) *fakeInfor {
	base := time.Date(2026, 3, 28, 23, 50, 0, 0, time.UTC) // across a month end and the EU DST change
	var rows [][]map[string]any
	for i := range n {
		at := base.Add(time.Duration(i) * 7 * time.Minute).Format(inforDate)
		rows = append(rows, inforRow(map[string]string{
			"TransNum": strconv.Itoa(70000 + i), "TransType": []string{"R", "I", "F", "S"}[i%4],
			"Item": "FLOUR", "Lot": fmt.Sprintf("L-%d", i), "Qty": "25.00000000", "TransDate": at, "RecordDate": at,
		}, i))
	}
	return newFakeInforRows(t, rows)
}

// inforDate is how the IDO REST service writes a date: no offset, in the
// site's zone.
const inforDate = "20060102 15:04:05.000"

// inforRow is one SLMatltrans row as LoadCollection answers it: a list
// of {"Name","Value"} pairs, every value text, and the row's _ItemId.
func inforRow(fields map[string]string, id int) []map[string]any {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	var row []map[string]any
	for _, n := range names {
		row = append(row, map[string]any{"Name": n, "Value": fields[n]})
	}
	return append(row, map[string]any{"Name": "_ItemId", "Value": fmt.Sprintf("PBT=[matltran] matltran.ID=[%d]", id)})
}

func inforValue(row []map[string]any, name string) string {
	for _, p := range row {
		if p["Name"] == name {
			s, _ := p["Value"].(string)
			return s
		}
	}
	return ""
}

func newFakeInforRows(t *testing.T, rows [][]map[string]any) *fakeInfor {
	f := &fakeInfor{tokens: map[string]bool{}, rows: rows}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeInfor) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/TENANT_TST/as/token.oauth2" {
		r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		if r.PostForm.Get("grant_type") != "password" || id != ionClientID || secret != ionClientSecret ||
			r.PostForm.Get("username") != ionAccessKey || r.PostForm.Get("password") != ionSecretKey {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"invalid credentials"}`)
			return
		}
		f.issued++
		tok := fmt.Sprintf("ion-token-%d", f.issued)
		f.tokens[tok] = true
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":7200}`, tok)
		return
	}
	if r.URL.Path != "/TENANT_TST/CSI/IDORequestService/ido/load/SLMatltrans" {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	f.loads++
	if f.loads == f.revokeAt {
		f.tokens = map[string]bool{}
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !f.tokens[tok] || f.rejectAll {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"fault":{"faultstring":"Invalid Access Token","detail":{"errorcode":"keymanagement.service.invalid_access_token"}}}`)
		return
	}
	if f.loads == f.fail429At {
		// The ION API gateway's rate limit: 429 with Retry-After
		// (https://www.netray.co/resources/syteline-rest-api-rate-limiting-guide).
		w.Header().Set("Retry-After", "11")
		w.Header().Set("X-RateLimit-Limit", "600")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"fault":{"faultstring":"Rate limit quota violation. Quota limit exceeded","detail":{"errorcode":"policies.ratelimit.QuotaViolation"}}}`)
		return
	}
	if r.Header.Get("X-Infor-MongooseConfig") != "TENANT_TST_SITE1" {
		fmt.Fprint(w, `{"Message":"The configuration is not valid","MessageCode":2}`)
		return
	}
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("recordcap"))
	var from string
	if fl := q.Get("filter"); fl != "" {
		m := regexp.MustCompile(`^RecordDate >= '([0-9: .-]+)'$`).FindStringSubmatch(fl)
		if m == nil {
			fmt.Fprintf(w, `{"Message":"Invalid filter %s","MessageCode":2}`, fl)
			return
		}
		t, _ := time.Parse("2006-01-02 15:04:05.000", m[1])
		from = t.Format("20060102 15:04:05.000")
	}
	start := 0
	if b := q.Get("bookmark"); b != "" {
		if q.Get("loadtype") != "NEXT" {
			fmt.Fprint(w, `{"Message":"loadtype NEXT expected with a bookmark","MessageCode":2}`)
			return
		}
		start, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(b, "<B><P><p>RecordDate</p></P><L><v>"), "</v></L></B>"))
	}
	var sel [][]map[string]any
	for _, row := range f.rows {
		if inforValue(row, "RecordDate") >= from {
			sel = append(sel, row)
		}
	}
	end := min(start+limit, len(sel))
	json.NewEncoder(w).Encode(map[string]any{
		"Bookmark": fmt.Sprintf("<B><P><p>RecordDate</p></P><L><v>%d</v></L></B>", end),
		"Items":    sel[min(start, end):end], "MoreRowsExist": end < len(sel), "Message": "Success", "MessageCode": 0,
	})
}

func (f *fakeInfor) config(t *testing.T) map[string]string {
	file := filepath.Join(t.TempDir(), "lothub.ionapi")
	b, _ := json.Marshal(map[string]string{"ti": "TENANT_TST", "cn": "lothub", "ci": ionClientID, "cs": ionClientSecret,
		"iu": f.URL, "pu": f.URL + "/TENANT_TST/as/", "oa": "authorization.oauth2", "ot": "token.oauth2", "or": "revoke_token.oauth2",
		"saak": ionAccessKey, "sask": ionSecretKey})
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"profile": "infor-csi", "ionapi_file": file, "vars": "config=TENANT_TST_SITE1", "page_size": "4"}
}

func TestInforConformance(t *testing.T) {
	f := newFakeInfor(t, 13)
	bad := f.config(t)
	bad["vars"] = "config=NO_SUCH_SITE"
	sdktest.Run(t, sdktest.Harness{New: newConnector, Config: f.config(t), BadEndpoint: bad, Expect: 13})
}

// A token revoked mid-run gets one new token and the read goes on; a
// token refused again fails, naming what to check, and never prints the
// .ionapi file's secrets.
func TestInforTokenRefresh(t *testing.T) {
	f := newFakeInfor(t, 13)
	c := rest.New()
	cfg := mustConfig(t, c, f.config(t))
	f.revokeAt = 2
	recs, _ := readAll(t, c, cfg, nil, 100)
	if len(recs) != 13 || f.issued != 2 {
		t.Fatalf("%d records, %d tokens; want 13 and 2", len(recs), f.issued)
	}
	if recs[0].ID != "SLMatltrans:70000" || !strings.Contains(string(recs[0].Payload), `"Lot":"L-0"`) {
		t.Errorf("first record %s %s", recs[0].ID, recs[0].Payload)
	}

	f.rejectAll = true
	_, err := rest.New().Read(context.Background(), cfg, nil, 5)
	if err == nil || !strings.Contains(err.Error(), "again, with a new access token") {
		t.Fatalf("err = %v", err)
	}
	for _, s := range []string{ionClientSecret, ionSecretKey, ionAccessKey, ionClientID} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error shows a secret of the .ionapi file: %v", err)
		}
	}
}

func TestInforMissingIONAPI(t *testing.T) {
	c := rest.New()
	cfg := mustConfig(t, c, map[string]string{"profile": "infor-csi", "ionapi_file": "/no/such/file.ionapi", "vars": "config=X"})
	err := c.Check(context.Background(), cfg)
	if !errorsIsInvalidConfig(err) || !strings.Contains(err.Error(), "ionapi_file") {
		t.Fatalf("err = %v", err)
	}
}

func errorsIsInvalidConfig(err error) bool {
	var ic *sdk.InvalidConfigError
	return errors.As(err, &ic)
}
