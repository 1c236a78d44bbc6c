package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// S4 is a fake SAP S/4HANA serving API_MATERIAL_DOCUMENT_SRV in
// OData v2 JSON, as SAP Gateway does: {"d": {"results": [...], "__next":
// ...}}, /Date(ms)/ dates with escaped slashes, PT..H..M..S times, decimals
// as text, __metadata on every entity. It honours $format, $filter,
// $orderby, $select, $expand, $top, $skip, $skiptoken (server-driven
// paging, when ServerPage is set), $inlinecount and sap-client; it
// authenticates with basic auth or an OAuth 2.0 client-credentials token
// from its own token endpoint (/oauth/token).
type S4 struct {
	*httptest.Server
	t testing.TB

	mu   sync.Mutex
	docs []map[string]any // headers, each with its items under to_MaterialDocumentItem

	User, Password         string
	Client                 string // the sap-client every request must name; "" for none
	ServerPage             int    // at most this many headers an answer (server-driven paging); 0 for no limit
	ClientID, ClientSecret string
	tokens                 map[string]bool
	// Fault, when set, is asked before each data request (n counts them
	// from 1) and may answer it instead (a 429, a cut connection).
	Fault func(n int, w http.ResponseWriter, r *http.Request) bool

	requests  int
	tokenReqs int
	urls      []string // the data requests' URLs
}

const S4Path = "/sap/opu/odata/sap/API_MATERIAL_DOCUMENT_SRV"

func NewS4(t testing.TB, useTLS bool) *S4 {
	s := &S4{t: t, User: "COMM_USER_LOTHUB", Password: "s3cret-Passw0rd!", Client: "100",
		ClientID: "LOTHUB_CLIENT", ClientSecret: "client-s3cret-value", tokens: map[string]bool{}}
	h := http.HandlerFunc(s.serve)
	if useTLS {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *S4) Add(docs ...map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docs = append(s.docs, docs...)
}

func (s *S4) Stats() (requests int, urls []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, slices.Clone(s.urls)
}

func ODataError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": map[string]any{"lang": "en", "value": msg}}})
	w.Write(b)
}

func (s *S4) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/oauth/token":
		s.token(w, r)
		return
	case r.URL.Path != S4Path+"/A_MaterialDocumentHeader":
		ODataError(w, http.StatusNotFound, "/IWFND/MED/170", fmt.Sprintf("No service found for namespace '', name '%s', version '0001'", strings.TrimPrefix(r.URL.Path, "/")))
		return
	case r.Method != http.MethodGet:
		ODataError(w, http.StatusMethodNotAllowed, "/IWFND/CM_MGW/004", "Method not allowed")
		return
	}
	q := r.URL.Query()
	if !s.authorised(r) || (s.Client != "" && q.Get("sap-client") != s.Client) {
		// ICF answers a failed logon with an HTML page, not OData.
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte("<html><body>Logon failed</body></html>"))
		return
	}
	s.mu.Lock()
	s.requests++
	n := s.requests
	s.urls = append(s.urls, r.URL.RequestURI())
	fault := s.Fault
	s.mu.Unlock()
	if fault != nil && fault(n, w, r) {
		return
	}
	if q.Get("$format") != "json" {
		ODataError(w, http.StatusNotAcceptable, "/IWFND/CM_MGW/006", "Only $format=json is served by this fake")
		return
	}
	s.mu.Lock()
	docs := slices.Clone(s.docs)
	s.mu.Unlock()

	if f := q.Get("$filter"); f != "" {
		e, err := parseFilter(f)
		if err != nil {
			ODataError(w, http.StatusBadRequest, "/IWBEP/CM_MGW_RT/022", "Invalid filter expression: "+err.Error())
			return
		}
		var keep []map[string]any
		for _, d := range docs {
			ok, err := e(func(p string) any { return d[p] })
			if err != nil {
				ODataError(w, http.StatusBadRequest, "/IWBEP/CM_MGW_RT/022", err.Error())
				return
			}
			if ok {
				keep = append(keep, d)
			}
		}
		docs = keep
	}
	if o := q.Get("$orderby"); o != "" {
		var keys []string
		for _, k := range strings.Split(o, ",") {
			name, dir, _ := strings.Cut(strings.TrimSpace(k), " ")
			if dir != "" && dir != "asc" {
				ODataError(w, http.StatusBadRequest, "/IWBEP/CM_MGW_RT/022", "only asc is served by this fake")
				return
			}
			keys = append(keys, name)
		}
		slices.SortStableFunc(docs, func(a, b map[string]any) int {
			for _, k := range keys {
				if c := compareValues(a[k], b[k]); c != 0 {
					return c
				}
			}
			return 0
		})
	}
	total := len(docs)
	skip, _ := strconv.Atoi(q.Get("$skip"))
	token, _ := strconv.Atoi(q.Get("$skiptoken"))
	end := total
	if t := q.Get("$top"); t != "" {
		top, _ := strconv.Atoi(t)
		end = min(total, skip+top)
	}
	start := min(skip+token, end)
	stop := end
	if s.ServerPage > 0 {
		stop = min(end, start+s.ServerPage)
	}
	page := docs[start:stop]

	sel, err := s.selection(q.Get("$select"))
	if err != nil {
		ODataError(w, http.StatusBadRequest, "/IWBEP/CM_MGW_RT/020", err.Error())
		return
	}
	expand := q.Get("$expand") == "to_MaterialDocumentItem"
	results := make([]map[string]any, 0, len(page))
	for _, d := range page {
		results = append(results, s.entity(r, d, sel, expand))
	}
	out := map[string]any{"results": results}
	if q.Get("$inlinecount") == "allpages" {
		out["__count"] = strconv.Itoa(total)
	}
	if stop < end {
		nq := r.URL.Query()
		nq.Set("$skiptoken", strconv.Itoa(stop-skip))
		out["__next"] = s.base(r) + r.URL.Path + "?" + nq.Encode()
	}
	body, _ := json.Marshal(map[string]any{"d": out})
	// SAP escapes the slashes of /Date(...)/ in JSON.
	body = bytes.ReplaceAll(body, []byte(`"/Date(`), []byte(`"\/Date(`))
	body = bytes.ReplaceAll(body, []byte(`)/"`), []byte(`)\/"`))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func (s *S4) base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

type selection struct {
	all          bool
	header, item map[string]bool
}

func (s *S4) selection(sel string) (selection, error) {
	if sel == "" {
		return selection{all: true}, nil
	}
	out := selection{header: map[string]bool{}, item: map[string]bool{}}
	for _, f := range strings.Split(sel, ",") {
		if it, ok := strings.CutPrefix(f, "to_MaterialDocumentItem/"); ok {
			if !slices.Contains(itemProps, it) {
				return out, fmt.Errorf("Property %s not found in type A_MaterialDocumentItemType", it)
			}
			out.item[it] = true
			continue
		}
		if !slices.Contains(headerProps, f) && f != "to_MaterialDocumentItem" {
			return out, fmt.Errorf("Property %s not found in type A_MaterialDocumentHeaderType", f)
		}
		out.header[f] = true
	}
	return out, nil
}

// entity writes a header as the API does, with its items expanded or
// deferred.
func (s *S4) entity(r *http.Request, d map[string]any, sel selection, expand bool) map[string]any {
	key := fmt.Sprintf("MaterialDocumentYear='%s',MaterialDocument='%s'", d["MaterialDocumentYear"], d["MaterialDocument"])
	uri := s.base(r) + S4Path + "/A_MaterialDocumentHeader(" + key + ")"
	out := map[string]any{"__metadata": map[string]any{"id": uri, "uri": uri, "type": "API_MATERIAL_DOCUMENT_SRV.A_MaterialDocumentHeaderType"}}
	for k, v := range d {
		if k != "to_MaterialDocumentItem" && (sel.all || sel.header[k]) {
			out[k] = v
		}
	}
	if !expand {
		out["to_MaterialDocumentItem"] = map[string]any{"__deferred": map[string]any{"uri": uri + "/to_MaterialDocumentItem"}}
		return out
	}
	var items []map[string]any
	for _, it := range d["to_MaterialDocumentItem"].([]map[string]any) {
		ikey := fmt.Sprintf("MaterialDocumentYear='%s',MaterialDocument='%s',MaterialDocumentItem='%s'", it["MaterialDocumentYear"], it["MaterialDocument"], it["MaterialDocumentItem"])
		iuri := s.base(r) + S4Path + "/A_MaterialDocumentItem(" + ikey + ")"
		o := map[string]any{"__metadata": map[string]any{"id": iuri, "uri": iuri, "type": "API_MATERIAL_DOCUMENT_SRV.A_MaterialDocumentItemType"}}
		for k, v := range it {
			if sel.all || len(sel.item) == 0 || sel.item[k] {
				o[k] = v
			}
		}
		if sel.all {
			o["to_MaterialDocumentHeader"] = map[string]any{"__deferred": map[string]any{"uri": iuri + "/to_MaterialDocumentHeader"}}
			o["to_SerialNumbers"] = map[string]any{"__deferred": map[string]any{"uri": iuri + "/to_SerialNumbers"}}
		}
		items = append(items, o)
	}
	out["to_MaterialDocumentItem"] = map[string]any{"results": items}
	return out
}

func (s *S4) authorised(r *http.Request) bool {
	if u, p, ok := r.BasicAuth(); ok {
		return u == s.User && p == s.Password
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	return ok && s.tokens[tok]
}

// RevokeTokens forgets every token issued, as an expired or revoked one.
func (s *S4) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]bool{}
}

// token is an OAuth 2.0 token endpoint for the client-credentials grant
// (RFC 6749 §4.4), with the client authenticated by basic auth or in the
// form.
func (s *S4) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	w.Header().Set("Content-Type", "application/json")
	if r.PostForm.Get("grant_type") != "client_credentials" {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"unsupported_grant_type"}`))
		return
	}
	if id != s.ClientID || secret != s.ClientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"invalid_client","error_description":"Bad client credentials"}`))
		return
	}
	s.mu.Lock()
	s.tokenReqs++
	tok := fmt.Sprintf("tok-%d-%d", s.tokenReqs, time.Now().UnixNano())
	s.tokens[tok] = true
	s.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": 3600})
}

// compareValues orders values as the fake's $orderby: /Date(ms)/ by
// milliseconds, PT..H..M..S by duration, text as text.
func compareValues(a, b any) int {
	as, _ := a.(string)
	bs, _ := b.(string)
	if ms1, ok := strings.CutPrefix(as, "/Date("); ok {
		ms2, _ := strings.CutPrefix(bs, "/Date(")
		x, _ := strconv.ParseInt(strings.TrimSuffix(ms1, ")/"), 10, 64)
		y, _ := strconv.ParseInt(strings.TrimSuffix(ms2, ")/"), 10, 64)
		return cmp(x, y)
	}
	if d1, err := isoClock(as); err == nil {
		d2, _ := isoClock(bs)
		return cmp(d1, d2)
	}
	if x, ok := a.(float64); ok {
		y, _ := b.(float64)
		return cmp(x, y)
	}
	return strings.Compare(as, bs)
}

// The properties of A_MaterialDocumentHeaderType and
// A_MaterialDocumentItemType (a release without BatchBySupplier).
var (
	headerProps = []string{"MaterialDocumentYear", "MaterialDocument", "InventoryTransactionType", "DocumentDate", "PostingDate",
		"CreationDate", "CreationTime", "CreatedByUser", "MaterialDocumentHeaderText", "ReferenceDocument", "VersionForPrintingSlip",
		"ManualPrintIsTriggered", "CtrlPostgForExtWhseMgmtSyst", "GoodsMovementCode"}
	itemProps = []string{"MaterialDocumentYear", "MaterialDocument", "MaterialDocumentItem", "Material", "Plant", "StorageLocation",
		"Batch", "GoodsMovementType", "InventoryStockType", "InventoryValuationType", "InventorySpecialStockType", "Supplier",
		"Customer", "SalesOrder", "SalesOrderItem", "SalesOrderScheduleLine", "PurchaseOrder", "PurchaseOrderItem", "WBSElement",
		"ManufacturingOrder", "ManufacturingOrderItem", "GoodsMovementRefDocType", "GoodsMovementReasonCode", "Delivery",
		"DeliveryItem", "AccountAssignmentCategory", "CostCenter", "ControllingArea", "CostObject", "GLAccount", "FunctionalArea",
		"ProfitabilitySegment", "ProfitCenter", "MasterFixedAsset", "FixedAsset", "MaterialBaseUnit", "QuantityInBaseUnit",
		"EntryUnit", "QuantityInEntryUnit", "CompanyCodeCurrency", "GdsMvtExtAmtInCoCodeCrcy", "SlsPrcAmtInclVATInCoCodeCrcy",
		"FiscalYear", "FiscalYearPeriod", "FiscalYearVariant", "IssgOrRcvgMaterial", "IssgOrRcvgBatch", "IssuingOrReceivingPlant",
		"IssuingOrReceivingStorageLoc", "IssuingOrReceivingStockType", "IssgOrRcvgSpclStockInd", "IssuingOrReceivingValType",
		"IsCompletelyDelivered", "MaterialDocumentItemText", "UnloadingPointName", "ShelfLifeExpirationDate", "ManufactureDate",
		"SerialNumbersAreCreatedAutomly", "Reservation", "ReservationItem", "ReservationItemRecordType", "ReservationIsFinallyIssued",
		"SpecialStockIdfgSalesOrder", "SpecialStockIdfgSalesOrderItem", "SpecialStockIdfgWBSElement", "IsAutomaticallyCreated",
		"MaterialDocumentLine", "MaterialDocumentParentLine", "HierarchyNodeLevel", "GoodsMovementIsCancelled",
		"ReversedMaterialDocumentYear", "ReversedMaterialDocument", "ReversedMaterialDocumentItem", "ReferenceDocumentFiscalYear",
		"InvtryMgmtRefDocumentItem", "InvtryMgmtReferenceDocument", "MaterialDocumentPostingType", "InventoryUsabilityCode",
		"EWMWarehouse", "EWMStorageBin", "DebitCreditCode"}
)

// MatDoc builds a material document header created at the wall clock
// created ("2026-03-01T08:00:00"), posted that day, with its items.
func MatDoc(number, created string, items ...map[string]any) map[string]any {
	t, err := time.Parse("2006-01-02T15:04:05", created)
	if err != nil {
		panic(err)
	}
	day := t.Truncate(24 * time.Hour)
	date := fmt.Sprintf("/Date(%d)/", day.UnixMilli())
	year := strconv.Itoa(t.Year())
	d := map[string]any{
		"MaterialDocumentYear": year, "MaterialDocument": number, "InventoryTransactionType": "WE",
		"DocumentDate": date, "PostingDate": date, "CreationDate": date,
		"CreationTime":  fmt.Sprintf("PT%02dH%02dM%02dS", t.Hour(), t.Minute(), t.Second()),
		"CreatedByUser": "CB9980000123", "MaterialDocumentHeaderText": "", "ReferenceDocument": "",
		"VersionForPrintingSlip": "", "ManualPrintIsTriggered": "", "CtrlPostgForExtWhseMgmtSyst": "", "GoodsMovementCode": "01",
	}
	for i, it := range items {
		it["MaterialDocumentYear"], it["MaterialDocument"] = year, number
		if it["MaterialDocumentItem"] == "" {
			it["MaterialDocumentItem"] = fmt.Sprintf("%04d", i+1)
		}
	}
	d["to_MaterialDocumentItem"] = items
	return d
}

// MatItem builds an item with every property of A_MaterialDocumentItemType
// (empty as SAP sends them), then sets kv: pairs of property and text.
func MatItem(mvt, material, batch, qty, unit string, kv ...string) map[string]any {
	it := map[string]any{}
	for _, p := range itemProps {
		it[p] = ""
	}
	for _, p := range []string{"QuantityInBaseUnit", "QuantityInEntryUnit", "GdsMvtExtAmtInCoCodeCrcy", "SlsPrcAmtInclVATInCoCodeCrcy"} {
		it[p] = "0"
	}
	for _, p := range []string{"IsCompletelyDelivered", "SerialNumbersAreCreatedAutomly", "ReservationIsFinallyIssued", "GoodsMovementIsCancelled"} {
		it[p] = false
	}
	it["ShelfLifeExpirationDate"], it["ManufactureDate"] = nil, nil
	it["Plant"], it["StorageLocation"] = "1010", "RM01"
	it["GoodsMovementType"], it["Material"], it["Batch"] = mvt, material, batch
	it["QuantityInEntryUnit"], it["QuantityInBaseUnit"], it["EntryUnit"], it["MaterialBaseUnit"] = qty, qty, unit, unit
	it["DebitCreditCode"] = "S"
	for i := 0; i+1 < len(kv); i += 2 {
		it[kv[i]] = kv[i+1]
	}
	return it
}

// PlantDocs is a small bakery in SAP: flour and salt received, two orders
// consume them and produce bread and bran, bread shipped to two customers;
// then a shipment cancelled (602), a consumption cancelled (262), a
// receipt cancelled (102), a transfer and a hold. Two documents share a
// creation time; a cancellation comes pages after what it cancels.
func PlantDocs() []map[string]any {
	flour := "000000000000012345"
	return []map[string]any{
		MatDoc("4900000001", "2026-03-01T07:00:00",
			MatItem("101", flour, "F-A", "1000.000", "KG", "Supplier", "0017300001", "PurchaseOrder", "4500000001", "PurchaseOrderItem", "00010"),
			MatItem("501", "SALT", "S-1", "25.000", "KG")),
		MatDoc("4900000002", "2026-03-01T07:00:00",
			MatItem("101", flour, "F-B", "500.000", "KG", "Supplier", "0017300001", "PurchaseOrder", "4500000002", "PurchaseOrderItem", "00010")),
		MatDoc("4900000003", "2026-03-01T09:00:00",
			MatItem("261", flour, "F-A", "300.000", "KG", "ManufacturingOrder", "000001000001", "DebitCreditCode", "H"),
			MatItem("261", "SALT", "S-1", "5.000", "KG", "ManufacturingOrder", "000001000001", "DebitCreditCode", "H")),
		MatDoc("4900000004", "2026-03-01T10:00:00",
			MatItem("101", "BREAD-WHITE", "B-1", "480", "ST", "StorageLocation", "FG01", "ManufacturingOrder", "000001000001"),
			MatItem("531", "BRAN", "BY-1", "12.500", "KG", "StorageLocation", "FG01", "ManufacturingOrder", "000001000001")),
		MatDoc("4900000005", "2026-03-01T11:00:00",
			MatItem("261", flour, "F-A", "200.000", "KG", "ManufacturingOrder", "000001000002", "DebitCreditCode", "H")),
		MatDoc("4900000006", "2026-03-01T12:00:00",
			MatItem("101", "BREAD-WHITE", "B-2", "300", "ST", "StorageLocation", "FG01", "ManufacturingOrder", "000001000002")),
		MatDoc("4900000007", "2026-03-01T13:00:00",
			MatItem("601", "BREAD-WHITE", "B-1", "100", "ST", "StorageLocation", "FG01", "Customer", "0017100001", "Delivery", "0080000001", "SalesOrder", "1001", "DebitCreditCode", "H")),
		MatDoc("4900000008", "2026-03-01T14:00:00",
			MatItem("601", "BREAD-WHITE", "B-2", "50", "ST", "StorageLocation", "FG01", "Customer", "0017100002", "Delivery", "0080000002", "SalesOrder", "1002", "DebitCreditCode", "H")),
		MatDoc("4900000009", "2026-03-01T15:00:00",
			MatItem("261", flour, "F-B", "100.000", "KG", "ManufacturingOrder", "000001000003", "DebitCreditCode", "H"),
			MatItem("261", flour, "F-A", "50.000", "KG", "ManufacturingOrder", "000001000003", "DebitCreditCode", "H")),
		MatDoc("4900000010", "2026-03-01T15:30:00",
			MatItem("101", "BREAD-WHITE", "B-3", "200", "ST", "StorageLocation", "FG01", "ManufacturingOrder", "000001000003")),
		MatDoc("4900000011", "2026-03-02T08:00:00",
			MatItem("602", "BREAD-WHITE", "B-2", "50", "ST", "StorageLocation", "FG01", "Customer", "0017100002",
				"ReversedMaterialDocumentYear", "2026", "ReversedMaterialDocument", "4900000008", "ReversedMaterialDocumentItem", "0001")),
		MatDoc("4900000012", "2026-03-02T09:00:00",
			MatItem("262", flour, "F-A", "50.000", "KG", "ManufacturingOrder", "000001000003",
				"ReversedMaterialDocumentYear", "2026", "ReversedMaterialDocument", "4900000009", "ReversedMaterialDocumentItem", "0002")),
		MatDoc("4900000013", "2026-03-02T09:30:00",
			MatItem("311", flour, "F-B", "100.000", "KG", "IssuingOrReceivingPlant", "1010", "IssuingOrReceivingStorageLoc", "PR01", "DebitCreditCode", "H"),
			MatItem("311", flour, "F-B", "100.000", "KG", "StorageLocation", "PR01", "IssuingOrReceivingPlant", "1010", "IssuingOrReceivingStorageLoc", "RM01", "IsAutomaticallyCreated", "X")),
		MatDoc("4900000014", "2026-03-02T10:00:00",
			MatItem("344", "BREAD-WHITE", "B-1", "380", "ST", "StorageLocation", "FG01")),
		MatDoc("4900000015", "2026-03-02T11:00:00",
			MatItem("101", flour, "F-C", "700.000", "KG", "Supplier", "0017300001", "PurchaseOrder", "4500000003", "PurchaseOrderItem", "00010")),
		MatDoc("4900000016", "2026-03-02T12:00:00",
			MatItem("102", flour, "F-C", "700.000", "KG", "Supplier", "0017300001", "PurchaseOrder", "4500000003", "DebitCreditCode", "H",
				"ReversedMaterialDocumentYear", "2026", "ReversedMaterialDocument", "4900000015", "ReversedMaterialDocumentItem", "0001"),
			MatItem("201", "SALT", "S-1", "1.000", "KG", "CostCenter", "0010101101", "DebitCreditCode", "H")),
	}
}

// ItemCount counts the items of docs: the records a full read returns.
func ItemCount(docs []map[string]any) int {
	n := 0
	for _, d := range docs {
		n += len(d["to_MaterialDocumentItem"].([]map[string]any))
	}
	return n
}

// Cut answers by sending half of a successful answer's body and closing the
// connection: a network cut in the middle of a page.
func Cut(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("the fake server cannot hijack connections")
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"d\":{\"results\":[{\"__metadata\":")
	buf.Flush()
	conn.Close()
}

// TokenRequests counts the OAuth tokens issued.
func (s *S4) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenReqs
}

// Config is a configuration of the sap connector for s: basic auth, client
// 100, four documents a request. kv are pairs of parameter and value that
// override or add parameters; an empty value drops one.
func (s *S4) Config(kv ...string) map[string]string {
	cfg := map[string]string{
		"system": "s4hana", "base_url": s.URL, "sap_client": "100",
		"user": s.User, "password": s.Password, "page_size": "4",
	}
	return override(cfg, kv)
}

func override(cfg map[string]string, kv []string) map[string]string {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(cfg, kv[i])
		} else {
			cfg[kv[i]] = kv[i+1]
		}
	}
	return cfg
}

// Synthetic makes n material documents of a plant that runs all day: each
// hour a flour lot received, consumed by an order with salt, bread
// produced and shipped, one document a minute, three items each on
// average.
func Synthetic(n int) []map[string]any {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	docs := make([]map[string]any, 0, n)
	for i := range n {
		at := start.Add(time.Duration(i) * time.Minute).Format("2006-01-02T15:04:05")
		num := fmt.Sprintf("49%08d", i)
		order := fmt.Sprintf("%012d", 2000000+i/4)
		flour := fmt.Sprintf("F-%d", i/4)
		bread := fmt.Sprintf("B-%d", i/4)
		var items []map[string]any
		switch i % 4 {
		case 0:
			items = append(items,
				MatItem("101", "000000000000012345", flour, "1000.000", "KG", "Supplier", "0017300001", "PurchaseOrder", fmt.Sprintf("45%08d", i)),
				MatItem("101", "SALT", "S-"+flour, "50.000", "KG", "Supplier", "0017300002", "PurchaseOrder", fmt.Sprintf("45%08d", i)))
		case 1:
			items = append(items,
				MatItem("261", "000000000000012345", flour, "500.000", "KG", "ManufacturingOrder", order),
				MatItem("261", "SALT", "S-"+flour, "10.000", "KG", "ManufacturingOrder", order),
				MatItem("261", "000000000000012345", fmt.Sprintf("F-%d", max(i/4-1, 0)), "100.000", "KG", "ManufacturingOrder", order))
		case 2:
			items = append(items,
				MatItem("101", "BREAD-WHITE", bread, "480", "ST", "ManufacturingOrder", order, "StorageLocation", "FG01"),
				MatItem("531", "BRAN", "BY-"+bread, "10.000", "KG", "ManufacturingOrder", order, "StorageLocation", "FG01"))
		case 3:
			for c := range 4 {
				items = append(items, MatItem("601", "BREAD-WHITE", bread, "100", "ST", "StorageLocation", "FG01",
					"Customer", fmt.Sprintf("00171%05d", c), "Delivery", fmt.Sprintf("008%07d", i), "SalesOrder", fmt.Sprintf("%d", 1000+i)))
			}
		}
		docs = append(docs, MatDoc(num, at, items...))
	}
	return docs
}
