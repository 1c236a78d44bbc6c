package fake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

// B1 is a fake SAP Business One Service Layer: POST Login with
// CompanyDB, UserName and Password answers a session as cookies (B1SESSION,
// and ROUTEID as a load balancer in front of several Service Layer nodes
// sets it), every other request needs them, a session ends on POST Logout
// or when expired, and collections are served as OData JSON: {"value":
// [...], "odata.nextLink": "..."} (v1) or "@odata.nextLink" (v2), pages
// of Prefer: odata.maxpagesize=N documents (20 by default), $select,
// $filter, $orderby, $top and $skip honoured.
type B1 struct {
	*httptest.Server
	t       testing.TB
	Version string // "v1" or "v2"

	mu       sync.Mutex
	sets     map[string][]map[string]any
	sessions map[string]bool

	CompanyDB, User, Password string
	Fault                     func(n int, w http.ResponseWriter, r *http.Request) bool

	// Items: ItemCode → ManageBatchNumbers (tYES, tNO), served as
	// Items('code').
	Items map[string]string
	// SQLAllowed are the tables the Service Layer's SQL allowlist
	// (b1s_sqltable.conf) lets SQLQueries read among the inventory log's
	// OITL, ITL1 and OBTN; SAP's default list has not OITL and ITL1, and
	// the fake allows none of the three unless told.
	SQLAllowed map[string]bool
	// Log is the inventory log: OITL entries with their ITL1 batches,
	// joined to OBTN.
	Log     []B1LogRow
	queries map[string]string // SQLQueries: SqlCode → SqlText

	logins, logouts, requests int
	urls                      []string
	prefer                    []string
}

func NewB1(t testing.TB, version string) *B1 {
	s := &B1{t: t, Version: version, sets: map[string][]map[string]any{}, sessions: map[string]bool{},
		Items: map[string]string{}, SQLAllowed: map[string]bool{}, queries: map[string]string{},
		CompanyDB: "SBODEMOUS", User: "manager", Password: "b1-Passw0rd-secret"}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *B1) root() string { return "/b1s/" + s.Version }

func (s *B1) Add(set string, docs ...map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sets[set] = append(s.sets[set], docs...)
}

// Replace swaps the document of set with the same DocEntry for doc: the
// document was changed (closed, cancelled).
func (s *B1) Replace(set string, doc map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, d := range s.sets[set] {
		if d["DocEntry"] == doc["DocEntry"] {
			s.sets[set][i] = doc
		}
	}
}

// Expire ends every session, as the Service Layer's SessionTimeout does.
func (s *B1) Expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]bool{}
}

func (s *B1) Counts() (logins, logouts, open int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins, s.logouts, len(s.sessions)
}

func (s *B1) Stats() ([]string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.urls), slices.Clone(s.prefer)
}

// Error writes a Service Layer error: v1 {"error": {"code": <number>,
// "message": {"lang": "en-us", "value": "..."}}}, v2 with a plain message.
func (s *B1) Error(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json;odata=minimalmetadata;charset=utf-8")
	w.WriteHeader(status)
	var m any = map[string]any{"lang": "en-us", "value": msg}
	if s.Version == "v2" {
		m = msg
	}
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": m}})
}

func (s *B1) serve(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, s.root()+"/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch {
	case path == "Login" && r.Method == http.MethodPost:
		s.login(w, r)
		return
	case !s.inSession(r):
		s.Error(w, http.StatusUnauthorized, 301, "Invalid session or session already timeout.")
		return
	case path == "Logout" && r.Method == http.MethodPost:
		c, _ := r.Cookie("B1SESSION")
		s.mu.Lock()
		delete(s.sessions, c.Value)
		s.logouts++
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	switch {
	case strings.HasPrefix(path, "Items('") && r.Method == http.MethodGet:
		s.item(w, strings.TrimSuffix(strings.TrimPrefix(path, "Items('"), "')"))
		return
	case path == "SQLQueries" && r.Method == http.MethodPost:
		s.createQuery(w, r)
		return
	case strings.HasPrefix(path, "SQLQueries('") && strings.HasSuffix(path, "')/List") && r.Method == http.MethodPost:
		s.listQuery(w, r, strings.TrimSuffix(strings.TrimPrefix(path, "SQLQueries('"), "')/List"))
		return
	}
	s.mu.Lock()
	docs, known := s.sets[path]
	docs = slices.Clone(docs)
	s.requests++
	n := s.requests
	s.urls = append(s.urls, r.URL.RequestURI())
	s.prefer = append(s.prefer, r.Header.Get("Prefer"))
	fault := s.Fault
	s.mu.Unlock()
	if !known || r.Method != http.MethodGet {
		s.Error(w, http.StatusNotFound, -1000, "Resource not found for the segment '"+path+"'")
		return
	}
	if fault != nil && fault(n, w, r) {
		return
	}
	q := r.URL.Query()
	if f := q.Get("$filter"); f != "" {
		e, err := parseFilter(f)
		if err != nil {
			s.Error(w, http.StatusBadRequest, -1000, "Invalid $filter: "+err.Error())
			return
		}
		var keep []map[string]any
		for _, d := range docs {
			ok, err := e(func(p string) any { return d[p] })
			if err != nil {
				s.Error(w, http.StatusBadRequest, -1000, err.Error())
				return
			}
			if ok {
				keep = append(keep, d)
			}
		}
		docs = keep
	}
	if o := q.Get("$orderby"); o != "" {
		keys := strings.Split(o, ",")
		slices.SortStableFunc(docs, func(a, b map[string]any) int {
			for _, k := range keys {
				if c := compareValues(a[k], b[k]); c != 0 {
					return c
				}
			}
			return 0
		})
	}
	size := 20
	if v, ok := strings.CutPrefix(r.Header.Get("Prefer"), "odata.maxpagesize="); ok {
		size, _ = strconv.Atoi(v)
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+v)
	}
	skip, _ := strconv.Atoi(q.Get("$skip"))
	if t := q.Get("$top"); t != "" {
		top, _ := strconv.Atoi(t)
		docs = docs[:min(len(docs), skip+top)]
	}
	start := min(skip, len(docs))
	end := min(start+size, len(docs))
	var sel []string
	if v := q.Get("$select"); v != "" {
		sel = strings.Split(v, ",")
	}
	value := make([]map[string]any, 0, end-start)
	for _, d := range docs[start:end] {
		o := map[string]any{}
		for k, v := range d {
			if sel == nil || slices.Contains(sel, k) {
				o[k] = v
			}
		}
		for _, f := range sel {
			if _, ok := d[f]; !ok {
				s.Error(w, http.StatusBadRequest, -1000, fmt.Sprintf("Property '%s' of 'Document' is invalid", f))
				return
			}
		}
		value = append(value, o)
	}
	out := map[string]any{"value": value}
	next := ""
	if end < len(docs) {
		nq := r.URL.Query()
		nq.Set("$skip", strconv.Itoa(end))
		next = path + "?" + nq.Encode()
	}
	if s.Version == "v2" {
		out["@odata.context"] = "$metadata#" + path
		if next != "" {
			out["@odata.nextLink"] = next
		}
	} else {
		out["odata.metadata"] = "https://" + r.Host + s.root() + "/$metadata#" + path
		if next != "" {
			out["odata.nextLink"] = next
		}
	}
	w.Header().Set("Content-Type", "application/json;odata=minimalmetadata;charset=utf-8")
	json.NewEncoder(w).Encode(out)
}

// B1LogRow is one batch of one document line in the inventory log: OITL
// (DocType, DocEntry, DocLine, ItemCode) with its ITL1 row (Quantity,
// signed: negative leaves stock) and the OBTN batch (DistNumber,
// MnfSerial).
type B1LogRow struct {
	DocType, DocEntry, DocLine int
	ItemCode, DistNumber       string
	MnfSerial                  string
	Quantity                   float64
}

// item serves Items('code') with ItemCode and ManageBatchNumbers.
func (s *B1) item(w http.ResponseWriter, code string) {
	s.mu.Lock()
	m, ok := s.Items[strings.ReplaceAll(code, "''", "'")]
	s.mu.Unlock()
	if !ok {
		s.Error(w, http.StatusNotFound, -2028, "No matching records found (ODBC -2028)")
		return
	}
	w.Header().Set("Content-Type", "application/json;odata=minimalmetadata;charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"ItemCode": code, "ManageBatchNumbers": m})
}

// sqlTables are the tables a query names after FROM and JOIN.
func sqlTables(q string) []string {
	f := strings.Fields(q)
	var out []string
	for i := 0; i+1 < len(f); i++ {
		if strings.EqualFold(f[i], "FROM") || strings.EqualFold(f[i], "JOIN") {
			out = append(out, strings.ToUpper(strings.Trim(f[i+1], `"[]`)))
		}
	}
	return out
}

// notAllowed answers a query naming a table outside the allowlist with the
// Service Layer's error 702 (the code Business One uses for it; the
// message's wording is the fake's own).
func (s *B1) notAllowed(w http.ResponseWriter, text string) bool {
	for _, t := range sqlTables(text) {
		if !s.SQLAllowed[t] {
			s.Error(w, http.StatusBadRequest, 702, fmt.Sprintf("Table '%s' is not allowed in SQL queries: add it to the SQL allowlist (b1s_sqltable.conf)", t))
			return true
		}
	}
	return false
}

// createQuery serves POST SQLQueries {SqlCode, SqlName, SqlText}.
func (s *B1) createQuery(w http.ResponseWriter, r *http.Request) {
	var q struct{ SqlCode, SqlName, SqlText string }
	if err := json.NewDecoder(r.Body).Decode(&q); err != nil || q.SqlCode == "" || q.SqlText == "" {
		s.Error(w, http.StatusBadRequest, -1000, "Invalid SQLQuery: SqlCode and SqlText are required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.notAllowed(w, q.SqlText) {
		return
	}
	s.queries[q.SqlCode] = q.SqlText
	w.Header().Set("Content-Type", "application/json;odata=minimalmetadata;charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(q)
}

// listQuery serves POST SQLQueries('code')/List {"ParamList":
// "docType=20&docEntry=7"}: the fake runs only the inventory log query
// (OITL joined to ITL1 and OBTN, by DocType and DocEntry), and answers as
// the Service Layer does: {"SqlText": ..., "value": [rows]}.
func (s *B1) listQuery(w http.ResponseWriter, r *http.Request, code string) {
	var body struct{ ParamList string }
	_ = json.NewDecoder(r.Body).Decode(&body)
	s.mu.Lock()
	defer s.mu.Unlock()
	text, ok := s.queries[code]
	if !ok {
		s.Error(w, http.StatusNotFound, -2028, "No matching records found (ODBC -2028)")
		return
	}
	if s.notAllowed(w, text) {
		return
	}
	if tables := sqlTables(text); !slices.Equal(tables, []string{"OITL", "ITL1", "OBTN"}) {
		s.Error(w, http.StatusBadRequest, -1000, fmt.Sprintf("the fake runs only the inventory log query, not one on %v", tables))
		return
	}
	params, err := url.ParseQuery(body.ParamList)
	docType, err1 := strconv.Atoi(strings.Trim(params.Get("docType"), "'"))
	docEntry, err2 := strconv.Atoi(params.Get("docEntry"))
	if err != nil || err1 != nil || err2 != nil {
		s.Error(w, http.StatusBadRequest, -1000, "ParamList must give docType and docEntry: "+body.ParamList)
		return
	}
	rows := []map[string]any{}
	for _, l := range s.Log {
		if l.DocType == docType && l.DocEntry == docEntry {
			rows = append(rows, map[string]any{"DocLine": l.DocLine, "ItemCode": l.ItemCode, "DistNumber": l.DistNumber, "MnfSerial": l.MnfSerial, "Quantity": l.Quantity})
		}
	}
	w.Header().Set("Content-Type", "application/json;odata=minimalmetadata;charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"odata.metadata": "https://" + r.Host + s.root() + "/$metadata#SAPB1.SQLQueryResult", "SqlText": text, "value": rows})
}

func (s *B1) login(w http.ResponseWriter, r *http.Request) {
	var in struct{ CompanyDB, UserName, Password string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		s.Error(w, http.StatusBadRequest, -1000, "Invalid JSON body")
		return
	}
	if in.CompanyDB != s.CompanyDB || in.UserName != s.User || in.Password != s.Password {
		s.Error(w, http.StatusUnauthorized, 100000027, "Login failed")
		return
	}
	b := make([]byte, 16)
	rand.Read(b)
	id := hex.EncodeToString(b)
	s.mu.Lock()
	s.sessions[id] = true
	s.logins++
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "B1SESSION", Value: id, Path: s.root(), HttpOnly: true})
	http.SetCookie(w, &http.Cookie{Name: "ROUTEID", Value: ".node1", Path: "/b1s"})
	w.Header().Set("Content-Type", "application/json;odata=minimalmetadata;charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{
		"odata.metadata": "https://" + r.Host + s.root() + "/$metadata#B1Sessions/@Element",
		"SessionId":      id, "Version": "1000190", "SessionTimeout": 30,
	})
}

// inSession reports whether r carries a live session and the route cookie.
func (s *B1) inSession(r *http.Request) bool {
	c, err := r.Cookie("B1SESSION")
	if err != nil {
		return false
	}
	if _, err := r.Cookie("ROUTEID"); err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[c.Value]
}

// B1Doc builds a Business One document of the entity set set, last updated
// at the wall clock updated ("2026-03-01T09:31:12"), as the Service Layer
// v1 writes it: dates "2026-03-01", times "09:31:12", numbers as numbers.
func B1Doc(set string, entry int, updated string, header map[string]any, lines ...map[string]any) map[string]any {
	t, err := time.Parse("2006-01-02T15:04:05", updated)
	if err != nil {
		panic(err)
	}
	d := map[string]any{
		"DocEntry": entry, "DocNum": 1000 + entry, "DocDate": t.Format(time.DateOnly), "CreationDate": t.Format(time.DateOnly),
		"UpdateDate": t.Format(time.DateOnly), "CardCode": nil, "CardName": nil, "DocObjectCode": "o" + set, "Comments": nil,
	}
	linesKey := "StockTransferLines"
	if set != "StockTransfers" {
		linesKey = "DocumentLines"
		d["DocTime"] = t.Format("15:04:05")
		d["UpdateTime"] = t.Format("15:04:05")
		d["NumAtCard"] = nil
		d["Cancelled"], d["CancelStatus"] = "tNO", "csNo"
	} else {
		d["FromWarehouse"], d["ToWarehouse"] = "01", "02"
	}
	for k, v := range header {
		d[k] = v
	}
	for _, l := range lines {
		l["DocEntry"] = entry
	}
	d[linesKey] = lines
	return d
}

// B1Line builds a document line; batches are pairs of batch number and
// quantity.
func B1Line(num int, item, whs string, baseType, baseEntry int, batches ...any) map[string]any {
	l := map[string]any{
		"LineNum": num, "ItemCode": item, "ItemDescription": item, "WarehouseCode": whs, "MeasureUnit": "kg",
		"UoMCode": "Manual", "BaseType": baseType, "BaseEntry": nil, "BaseLine": nil, "SerialNumbers": []any{},
	}
	if baseType >= 0 {
		l["BaseEntry"], l["BaseLine"] = baseEntry, 0
	}
	var bs []map[string]any
	qty := 0.0
	for i := 0; i+1 < len(batches); i += 2 {
		q := float64(batches[i+1].(int))
		qty += q
		bs = append(bs, map[string]any{"BatchNumber": batches[i], "Quantity": q, "ManufacturerSerialNumber": nil,
			"InternalSerialNumber": nil, "ExpiryDate": nil, "ManufacturingDate": nil, "AddmisionDate": nil, "BaseLineNumber": num})
	}
	if bs == nil {
		bs = []map[string]any{}
	}
	l["Quantity"], l["InventoryQuantity"], l["BatchNumbers"] = qty, qty, bs
	return l
}

// B1Batch builds a batch of the batch master, BatchNumberDetails (table
// OBTN), as the Service Layer v1 writes it: status one of
// bdsStatus_Released, bdsStatus_NotAccessible, bdsStatus_Locked; dates
// "2026-03-01" (admission) and expiry a year later.
func B1Batch(entry int, item, batch, status, admitted string) map[string]any {
	t, err := time.Parse(time.DateOnly, admitted)
	if err != nil {
		panic(err)
	}
	return map[string]any{
		"DocEntry": entry, "ItemCode": item, "ItemDescription": item, "Status": status, "Batch": batch,
		"BatchAttribute1": nil, "BatchAttribute2": nil, "AdmissionDate": admitted, "ManufacturingDate": nil,
		"ExpirationDate": t.AddDate(1, 0, 0).Format(time.DateOnly), "Details": nil, "SystemNumber": entry,
	}
}

// SetBatchStatus changes the status of the batch with DocEntry entry, as
// a PATCH BatchNumberDetails(entry) does.
func (s *B1) SetBatchStatus(entry int, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.sets["BatchNumberDetails"] {
		if b["DocEntry"] == entry {
			b["Status"] = status
		}
	}
}

// B1Plant fills s with a small bakery in Business One: flour and sugar
// received, issued to production orders 10 and 11, bread received from
// them, delivered to two customers, one delivery cancelled, flour moved
// between warehouses; in the batch master, bread BR-2 locked and sugar
// S-1 not accessible (a record each), flour F-A and F-B released (none).
func B1Plant(s *B1) (records int) {
	for _, it := range []string{"FLOUR", "SUGAR", "BREAD"} {
		s.Items[it] = "tYES"
	}
	s.Items["FREIGHT"] = "tNO"
	grpo := B1Line(0, "FLOUR", "01", 22, 5, "F-A", 600, "F-B", 400)
	grpo["BatchNumbers"].([]map[string]any)[0]["ManufacturerSerialNumber"] = "M-7781"
	s.Add("PurchaseDeliveryNotes",
		B1Doc("PurchaseDeliveryNotes", 1, "2026-03-01T09:00:00", map[string]any{"CardCode": "V100", "CardName": "Mill Co"}, grpo),
		B1Doc("PurchaseDeliveryNotes", 2, "2026-03-01T09:05:00", map[string]any{"CardCode": "V200", "CardName": "Sugar Inc"},
			B1Line(0, "SUGAR", "01", -1, 0, "S-1", 50)),
	)
	s.Add("InventoryGenExits",
		B1Doc("InventoryGenExits", 1, "2026-03-01T10:00:00", nil,
			B1Line(0, "FLOUR", "01", 202, 10, "F-A", 250), B1Line(1, "SUGAR", "01", 202, 10, "S-1", 20)),
		B1Doc("InventoryGenExits", 2, "2026-03-02T08:00:00", nil, B1Line(0, "FLOUR", "01", 202, 11, "F-B", 100)),
		B1Doc("InventoryGenExits", 3, "2026-03-02T08:30:00", nil, B1Line(0, "FLOUR", "01", -1, 0, "F-B", 1)), // a sample
	)
	s.Add("InventoryGenEntries",
		B1Doc("InventoryGenEntries", 1, "2026-03-01T15:00:00", nil, B1Line(0, "BREAD", "03", 202, 10, "BR-1", 480)),
		B1Doc("InventoryGenEntries", 2, "2026-03-02T12:00:00", nil, B1Line(0, "BREAD", "03", 202, 11, "BR-2", 200)),
	)
	cancelled := B1Doc("DeliveryNotes", 2, "2026-03-04T09:00:00", map[string]any{"CardCode": "C300", "CardName": "Beta Bakeries",
		"DocDate": "2026-03-03", "Cancelled": "tYES", "CancelStatus": "csCancelled"},
		B1Line(0, "BREAD", "03", 17, 78, "BR-2", 50))
	cancellation := B1Line(0, "BREAD", "03", 15, 2, "BR-2", 50)
	s.Add("DeliveryNotes",
		B1Doc("DeliveryNotes", 1, "2026-03-03T16:00:00", map[string]any{"CardCode": "C200", "CardName": "Alpha Foods"},
			B1Line(0, "BREAD", "03", 17, 77, "BR-1", 100), B1Line(1, "FREIGHT", "03", -1, 0)),
		cancelled,
		B1Doc("DeliveryNotes", 3, "2026-03-04T09:00:00", map[string]any{"CardCode": "C300", "CardName": "Beta Bakeries",
			"CancelStatus": "csCancellation"}, cancellation),
	)
	s.Add("StockTransfers",
		B1Doc("StockTransfers", 1, "2026-03-02T00:00:00", nil,
			map[string]any{"LineNum": 0, "ItemCode": "FLOUR", "Quantity": 100.0, "WarehouseCode": "02", "FromWarehouseCode": "01",
				"BatchNumbers": []map[string]any{{"BatchNumber": "F-A", "Quantity": 100.0}}}),
	)
	s.Add("BatchNumberDetails",
		B1Batch(1, "FLOUR", "F-A", "bdsStatus_Released", "2026-03-01"),
		B1Batch(2, "FLOUR", "F-B", "bdsStatus_Released", "2026-03-01"),
		B1Batch(3, "SUGAR", "S-1", "bdsStatus_NotAccessible", "2026-03-01"),
		B1Batch(4, "BREAD", "BR-1", "bdsStatus_Released", "2026-03-01"),
		B1Batch(5, "BREAD", "BR-2", "bdsStatus_Locked", "2026-03-02"),
	)
	return 15
}

// B1Config is a configuration of the sap connector for a Business One
// Service Layer at base (the fakes' user and password, two documents a
// request); kv override as in S4.Config.
func B1Config(base string, kv ...string) map[string]string {
	cfg := map[string]string{"system": "b1", "base_url": base, "company_db": "SBODEMOUS", "user": "manager",
		"password": "b1-Passw0rd-secret", "page_size": "2"}
	return override(cfg, kv)
}
