package erpfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// NetSuite is NetSuite's REST record API: POST /services/rest/record/v1/
// purchaseOrder/{id}/!transform/itemReceipt (OAuth 2.0 bearer token)
// creates an item receipt and answers 204 with its URL in Location; GET
// /services/rest/record/v1/itemReceipt/eid:{externalId} reads it back.
type NetSuite struct {
	*httptest.Server
	Token string
	faults

	mu       sync.Mutex
	receipts []map[string]any
	next     int
}

// NewNetSuite starts the fake; it closes with the test.
func NewNetSuite(t testing.TB) *NetSuite {
	s := &NetSuite{Token: "ns-access-token", next: 9001}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Receipts returns the item receipts created, with "purchaseOrder" set
// to the order they were transformed from.
func (s *NetSuite) Receipts() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.receipts...)
}

func nsError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/vnd.oracle.resource+json; type=error")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1",
		"title": "Bad Request", "status": status, "o:errorDetails": []any{map[string]any{"detail": msg, "o:errorCode": "USER_ERROR"}}})
}

var nsTransform = regexp.MustCompile(`^/services/rest/record/v1/purchaseOrder/(\d+)/!transform/itemReceipt$`)

func (s *NetSuite) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		nsError(w, http.StatusUnauthorized, "Invalid login attempt.")
		return
	}
	if id, ok := strings.CutPrefix(r.URL.Path, "/services/rest/record/v1/itemReceipt/eid:"); ok && r.Method == http.MethodGet {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, rc := range s.receipts {
			if rc["externalId"] == id {
				writeJSON(w, http.StatusOK, map[string]any{"id": rc["id"], "tranId": rc["tranId"], "externalId": id})
				return
			}
		}
		nsError(w, http.StatusNotFound, "The record instance does not exist.")
		return
	}
	m := nsTransform.FindStringSubmatch(r.URL.Path)
	if m == nil || r.Method != http.MethodPost {
		nsError(w, http.StatusNotFound, "not found: "+r.URL.Path)
		return
	}
	var rc map[string]any
	if err := json.NewDecoder(r.Body).Decode(&rc); err != nil {
		nsError(w, http.StatusBadRequest, "Invalid JSON: "+err.Error())
		return
	}
	items, _ := rc["item"].(map[string]any)["items"].([]any)
	if len(items) == 0 {
		nsError(w, http.StatusBadRequest, "item.items: the lines to receive")
		return
	}
	for _, it := range items {
		line, _ := it.(map[string]any)
		det, _ := line["inventoryDetail"].(map[string]any)
		ia, _ := det["inventoryAssignment"].(map[string]any)
		as, _ := ia["items"].([]any)
		if line["orderLine"] == nil || len(as) == 0 {
			nsError(w, http.StatusBadRequest, "Please configure the inventory detail in line 1 of the item list.")
			return
		}
		if a, _ := as[0].(map[string]any); a["receiptInventoryNumber"] == nil || a["quantity"] != line["quantity"] {
			nsError(w, http.StatusBadRequest, "inventoryAssignment: receiptInventoryNumber and the line's quantity")
			return
		}
	}
	s.mu.Lock()
	for _, x := range s.receipts {
		if ext, _ := rc["externalId"].(string); ext != "" && x["externalId"] == ext {
			s.mu.Unlock()
			nsError(w, http.StatusBadRequest, "A record with external ID "+ext+" already exists.")
			return
		}
	}
	s.mu.Unlock()
	f, _ := s.faults.next()
	if refuse(w, f, nsError) {
		return
	}
	s.mu.Lock()
	id := s.next
	s.next++
	rc["id"], rc["tranId"], rc["purchaseOrder"] = fmt.Sprint(id), fmt.Sprintf("IR%d", id), m[1]
	s.receipts = append(s.receipts, rc)
	s.mu.Unlock()
	if after(w, r, f) {
		return
	}
	w.Header().Set("Location", fmt.Sprintf("%s/services/rest/record/v1/itemReceipt/%d", s.URL, id))
	w.WriteHeader(http.StatusNoContent)
}
