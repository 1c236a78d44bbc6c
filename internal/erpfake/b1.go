package erpfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
)

// B1 is SAP Business One's Service Layer at /b1s/v1: POST /Login with
// CompanyDB, UserName and Password sets the B1SESSION and ROUTEID cookies
// every other request needs (401 without), POST /PurchaseDeliveryNotes
// creates a Goods Receipt PO, GET /PurchaseDeliveryNotes?$filter=FIELD eq
// 'X' lists them, POST /Logout ends the session.
type B1 struct {
	*httptest.Server
	Company, User, Password string
	faults

	mu       sync.Mutex
	sessions map[string]bool
	docs     []map[string]any
	next     int
	Logins   int
}

// NewB1 starts the fake; it closes with the test.
func NewB1(t testing.TB) *B1 {
	s := &B1{Company: "SBODEMOUS", User: "lh-writer", Password: "b1-write-pw", sessions: map[string]bool{}, next: 1001}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Docs returns the Goods Receipt POs created.
func (s *B1) Docs() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.docs...)
}

func b1Error(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": -5002, "message": map[string]any{"lang": "en-us", "value": msg}}})
}

var b1Filter = regexp.MustCompile(`^(\w+) eq '([^']*)'$`)

func (s *B1) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/b1s/v1/Login" && r.Method == http.MethodPost {
		var l struct{ CompanyDB, UserName, Password string }
		json.NewDecoder(r.Body).Decode(&l)
		if l.CompanyDB != s.Company || l.UserName != s.User || l.Password != s.Password {
			b1Error(w, http.StatusUnauthorized, "Invalid login credential.")
			return
		}
		b := make([]byte, 8)
		rand.Read(b)
		id := hex.EncodeToString(b)
		s.mu.Lock()
		s.sessions[id] = true
		s.Logins++
		s.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "B1SESSION", Value: id, Path: "/b1s/v1", HttpOnly: true})
		http.SetCookie(w, &http.Cookie{Name: "ROUTEID", Value: ".node1", Path: "/b1s"})
		writeJSON(w, http.StatusOK, map[string]any{"SessionId": id, "Version": "1000190", "SessionTimeout": 30})
		return
	}
	c, err := r.Cookie("B1SESSION")
	s.mu.Lock()
	ok := err == nil && s.sessions[c.Value]
	s.mu.Unlock()
	if !ok {
		b1Error(w, http.StatusUnauthorized, "Invalid session or session already timeout.")
		return
	}
	switch {
	case r.URL.Path == "/b1s/v1/Logout":
		s.mu.Lock()
		delete(s.sessions, c.Value)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/b1s/v1/PurchaseDeliveryNotes" && r.Method == http.MethodGet:
		m := b1Filter.FindStringSubmatch(r.URL.Query().Get("$filter"))
		if m == nil {
			b1Error(w, http.StatusBadRequest, "this fake filters by one field")
			return
		}
		var out []map[string]any
		s.mu.Lock()
		for _, d := range s.docs {
			if fmt.Sprint(d[m[1]]) == m[2] {
				out = append(out, map[string]any{"DocEntry": d["DocEntry"], "DocNum": d["DocNum"]})
			}
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"value": out})
	case r.URL.Path == "/b1s/v1/PurchaseDeliveryNotes" && r.Method == http.MethodPost:
		s.create(w, r)
	default:
		b1Error(w, http.StatusNotFound, "Resource not found: "+r.URL.Path)
	}
}

func (s *B1) create(w http.ResponseWriter, r *http.Request) {
	var d map[string]any
	if err := json.NewDecoder(r.Body).Decode(&d); err != nil {
		b1Error(w, http.StatusBadRequest, "Malformed JSON: "+err.Error())
		return
	}
	lines, _ := d["DocumentLines"].([]any)
	if len(lines) == 0 {
		b1Error(w, http.StatusBadRequest, "Document has no lines")
		return
	}
	for _, l := range lines {
		line, _ := l.(map[string]any)
		if line["BaseType"] != float64(22) || line["BaseEntry"] == nil || line["BaseLine"] == nil {
			b1Error(w, http.StatusBadRequest, "A Goods Receipt PO line copies a purchase order line: BaseType 22, BaseEntry, BaseLine")
			return
		}
		bs, _ := line["BatchNumbers"].([]any)
		if len(bs) == 0 {
			b1Error(w, http.StatusBadRequest, fmt.Sprintf("[PDN1.ItemCode][line: 1] , 'Enter batch numbers for item %v'", line["ItemCode"]))
			return
		}
		b, _ := bs[0].(map[string]any)
		if _, ok := b["BatchNumber"].(string); !ok || b["Quantity"] != line["Quantity"] {
			b1Error(w, http.StatusBadRequest, "BatchNumbers: BatchNumber and a Quantity equal to the line's")
			return
		}
	}
	f, _ := s.faults.next()
	if refuse(w, f, b1Error) {
		return
	}
	s.mu.Lock()
	d["DocEntry"], d["DocNum"] = s.next, s.next
	s.next++
	s.docs = append(s.docs, d)
	s.mu.Unlock()
	if after(w, r, f) {
		return
	}
	writeJSON(w, http.StatusCreated, d)
}
