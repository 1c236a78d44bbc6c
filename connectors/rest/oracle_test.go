package rest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lothub/lothub/sdk"
	"github.com/lothub/lothub/sdk/sdktest"
)

const (
	oracleUser = "lothub.integration"
	oraclePass = "oracle-pass-for-tests"
)

// oracleTxn is one row of inventoryCompletedTransactions, with the fields
// the default mapping reads.
type oracleTxn struct {
	ID         int64
	Type       string
	Date       time.Time
	Updated    time.Time
	Item       string
	Qty        any
	UOM        string
	Source     string // PO, work order or sales order number
	SourceType string
	Supplier   string
	Customer   string
	Lots       []map[string]any
}

func (t oracleTxn) json() map[string]any {
	lots := t.Lots
	if lots == nil {
		lots = []map[string]any{}
	}
	m := map[string]any{
		"TransactionId":             t.ID,
		"TransactionTypeName":       t.Type,
		"TransactionSourceTypeName": t.SourceType,
		"TransactionDate":           t.Date.Format("2006-01-02T15:04:05-07:00"),
		"LastUpdateDate":            t.Updated.Format("2006-01-02T15:04:05.000-07:00"),
		"OrganizationCode":          "M1",
		"ItemNumber":                t.Item,
		"SubinventoryCode":          "STORES",
		"TransactionQuantity":       t.Qty,
		"TransactionUnitOfMeasure":  t.UOM,
		"SourceReference":           t.Source,
		"SupplierName":              nil,
		"CustomerName":              nil,
		"lots":                      lots,
	}
	if t.Supplier != "" {
		m["SupplierName"] = t.Supplier
	}
	if t.Customer != "" {
		m["CustomerName"] = t.Customer
	}
	return m
}

// fakeOracle serves inventoryCompletedTransactions as Fusion's REST
// framework does: basic authentication, limit/offset, hasMore, items,
// q=LastUpdateDate >= '…', orderBy, onlyData. Its answers can be made to
// fail once (429 with Retry-After) or to be an HTML page.
type fakeOracle struct {
	*httptest.Server
	mu       sync.Mutex
	txns     []oracleTxn
	fail429  int // fail the request with this offset once with 429
	html     bool
	requests []string
	maxLimit int
	dropKey  int64 // this transaction comes without its TransactionId
	// iam, when set, is Oracle IAM's token endpoint at oracleTokenPath,
	// and the API takes its bearer tokens instead of basic auth.
	iam *fakeIAM
	// sorted is txns in the API's order (LastUpdateDate, TransactionId).
	sorted bool
	// items caches the JSON of txns[i] (in the API's order) once encoded:
	// a transaction's answer does not change until set, and a real ERP
	// builds its pages on another machine, not on the cores of the sync
	// the benchmark measures. updated is txns[i].Updated in Unix
	// nanoseconds, for the q filter.
	items   [][]byte
	updated []int64
	// frozen: every answer is in items and txns is dropped (freeze).
	frozen bool
}

var oracleFilterRE = regexp.MustCompile(`^LastUpdateDate >= '([^']+)'$`)

func newFakeOracle(t testing.TB, txns []oracleTxn) *fakeOracle {
	t.Helper()
	f := &fakeOracle{txns: txns, fail429: -1, maxLimit: 500}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeOracle) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.iam != nil && r.URL.Path == oracleTokenPath {
		f.iam.token(w, r)
		return
	}
	f.requests = append(f.requests, r.URL.RawQuery)
	if f.iam != nil {
		if !f.iam.accepts(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"title":"Unauthorized","status":"401"}`)
			return
		}
	} else if u, p, ok := r.BasicAuth(); !ok || u != oracleUser || p != oraclePass {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, "<html><body>Authorization failed</body></html>")
		return
	}
	if r.URL.Path != "/fscmRestApi/resources/11.13.18.05/inventoryCompletedTransactions" {
		http.NotFound(w, r)
		return
	}
	if f.html {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		fmt.Fprint(w, "<!DOCTYPE html><html><head><title>Oracle Applications Cloud</title></head><body>Sign In</body></html>")
		return
	}
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 25 // Fusion's default page
	}
	limit = min(limit, f.maxLimit)
	offset, _ := strconv.Atoi(q.Get("offset"))
	if offset == f.fail429 {
		f.fail429 = -1
		w.Header().Set("Retry-After", "7")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"title":"Too Many Requests","status":"429"}`)
		return
	}
	if q.Get("onlyData") != "true" || q.Get("expand") != "lots" || q.Get("orderBy") != "LastUpdateDate:asc,TransactionId:asc" {
		http.Error(w, "unexpected query "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	var from time.Time
	if fq := q.Get("q"); fq != "" {
		m := oracleFilterRE.FindStringSubmatch(fq)
		if m == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"title":"Bad Request","detail":"URL request parameter q with value %q is not valid."}`, fq)
			return
		}
		var err error
		if from, err = time.Parse("2006-01-02T15:04:05-07:00", m[1]); err != nil {
			http.Error(w, "bad date "+m[1], http.StatusBadRequest)
			return
		}
	}
	f.sort()
	first := 0
	if !from.IsZero() {
		first = sort.Search(len(f.updated), func(i int) bool { return f.updated[i] >= from.UnixNano() })
	}
	sel := len(f.updated) - first
	end := min(offset+limit, sel)
	// What json.NewEncoder(w).Encode of the page as a map writes: its keys
	// sorted, each item as json.Marshal writes it, a newline.
	var page bytes.Buffer
	fmt.Fprintf(&page, `{"count":%d,"hasMore":%t,"items":[`, max(end-offset, 0), end < sel)
	for i := offset; i < end; i++ {
		if i > offset {
			page.WriteByte(',')
		}
		item, err := f.item(first + i)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		page.Write(item)
	}
	fmt.Fprintf(&page, `],"limit":%d,"offset":%d}`+"\n", limit, offset)
	w.Header().Set("Content-Type", "application/vnd.oracle.adf.resourcecollection+json")
	w.Write(page.Bytes())
}

// item is the JSON of txns[i], encoded once.
func (f *fakeOracle) item(i int) ([]byte, error) {
	if f.frozen || f.items[i] != nil && f.txns[i].ID != f.dropKey {
		return f.items[i], nil
	}
	item := f.txns[i].json()
	if f.txns[i].ID == f.dropKey {
		delete(item, "TransactionId")
		return json.Marshal(item)
	}
	b, err := json.Marshal(item)
	f.items[i] = b
	return b, err
}

// freeze encodes every transaction's answer ahead, as a server that
// serves them from a cache, and drops the transactions: the benchmark
// measures the sync, not the fake, whose answers are neither built on the
// sync's cores nor in the heap its garbage collector marks (a real ERP
// runs elsewhere). set thaws it.
func (f *fakeOracle) freeze() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sort()
	for i := range f.txns {
		if f.txns[i].ID == f.dropKey {
			return fmt.Errorf("transaction %d is served without its key: not frozen", f.dropKey)
		}
		if _, err := f.item(i); err != nil {
			return err
		}
	}
	f.txns, f.frozen = nil, true
	return nil
}

// sort puts txns in the API's order, once.
func (f *fakeOracle) sort() {
	if f.sorted {
		return
	}
	sort.SliceStable(f.txns, func(i, j int) bool {
		if !f.txns[i].Updated.Equal(f.txns[j].Updated) {
			return f.txns[i].Updated.Before(f.txns[j].Updated)
		}
		return f.txns[i].ID < f.txns[j].ID
	})
	f.sorted = true
	f.items, f.updated = make([][]byte, len(f.txns)), make([]int64, len(f.txns))
	for i, t := range f.txns {
		f.updated[i] = t.Updated.UnixNano()
	}
}

func (f *fakeOracle) set(txns []oracleTxn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.txns, f.sorted, f.frozen = txns, false, false
}

func (f *fakeOracle) config(extra ...string) map[string]string {
	c := map[string]string{"profile": "oracle-fusion-scm", "base_url": f.URL, "username": oracleUser, "password": oraclePass}
	for i := 0; i+1 < len(extra); i += 2 {
		c[extra[i]] = extra[i+1]
	}
	return c
}

var t0 = time.Date(2026, 3, 14, 8, 0, 0, 0, time.UTC)

// oracleData is n transactions of the kinds the default mapping knows,
// several sharing one LastUpdateDate (Fusion stamps a batch at once).
func oracleData(n int) []oracleTxn {
	types := []struct{ typ, src string }{
		{"Purchase Order Receipt", "Purchase order"},
		{"Work Order Issue", "Job or Schedule"},
		{"Work Order Completion", "Job or Schedule"},
		{"Sales Order Issue", "Sales order"},
	}
	var out []oracleTxn
	for i := range n {
		k := types[i%len(types)]
		t := oracleTxn{ID: 300100000 + int64(i), Type: k.typ, SourceType: k.src,
			Date: t0.Add(time.Duration(i) * time.Minute), Updated: t0.Add(time.Duration(i/3) * time.Minute),
			Item: "FLOUR", Qty: json.Number("25"), UOM: "KG",
			Lots: []map[string]any{{"LotNumber": fmt.Sprintf("L-%d", i), "TransactionQuantity": 25}}}
		switch k.typ {
		case "Purchase Order Receipt":
			t.Source, t.Supplier = "PO-77", "Mill Co"
			t.Lots[0]["SupplierLotNumber"] = "M-7781"
		case "Work Order Issue", "Work Order Completion":
			t.Source = "WO-1001"
		case "Sales Order Issue":
			t.Source, t.Customer = "SO-5", "Alpha Foods"
		}
		out = append(out, t)
	}
	return out
}

func mustConfig(t testing.TB, c sdk.Connector, raw map[string]string) sdk.Config {
	t.Helper()
	cfg, err := sdk.ParseConfig(c.Spec(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func ids(rs []sdk.Record) string { return strings.Join(sdktest.IDs(rs), " ") }
