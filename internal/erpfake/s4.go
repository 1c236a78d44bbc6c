package erpfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// S4 is SAP S/4HANA's API_MATERIAL_DOCUMENT_SRV and API_BATCH_SRV (OData
// v2) at /sap/opu/odata/sap/. Writes need Basic authentication and the
// CSRF token of the session (fetched with x-csrf-token: Fetch, carried by
// the session cookie), as SAP Gateway does; a write without them gets 403
// with x-csrf-token: Required.
type S4 struct {
	*httptest.Server
	User, Password string
	faults

	mu       sync.Mutex
	sessions map[string]string // SAP_SESSIONID cookie → CSRF token
	batches  map[string]map[string]any
	docs     []S4Doc
	next     int
	// Requests counts requests by "METHOD path".
	Requests map[string]int
	// Posted, when set, is called after a material document is created
	// and before it is answered: a crash test kills the hub there,
	// between the ERP's commit and the hub's.
	Posted func(S4Doc)
}

// S4Doc is a material document the fake holds.
type S4Doc struct {
	Number, Year, HeaderText, Code string
	Items                          []map[string]any
}

// S4Service is the material document service's path, what base_url names.
const S4Service = "/sap/opu/odata/sap/API_MATERIAL_DOCUMENT_SRV"

// NewS4 starts the fake; it closes with the test.
func NewS4(t testing.TB) *S4 {
	s := &S4{User: "LH_WRITER", Password: "write-s3cret", sessions: map[string]string{}, batches: map[string]map[string]any{},
		next: 5000000001, Requests: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// OnPosted sets Posted.
func (s *S4) OnPosted(f func(S4Doc)) {
	s.mu.Lock()
	s.Posted = f
	s.mu.Unlock()
}

// BaseURL is the connector's base_url.
func (s *S4) BaseURL() string { return s.URL + S4Service }

// Docs returns the material documents created.
func (s *S4) Docs() []S4Doc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]S4Doc(nil), s.docs...)
}

// Batches returns the keys (material/plant/batch) of the batches created.
func (s *S4) Batches() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.batches {
		out = append(out, k)
	}
	return out
}

// Count returns how many requests "METHOD path" got.
func (s *S4) Count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Requests[key]
}

func s4Error(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": "M7/001",
		"message": map[string]any{"lang": "en", "value": msg}}})
}

var s4Date = regexp.MustCompile(`^/Date\(-?\d+\)/$`)

func (s *S4) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.Requests[r.Method+" "+r.URL.Path]++
	s.mu.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != s.User || p != s.Password {
		w.Header().Set("WWW-Authenticate", `Basic realm="SAP NetWeaver Application Server"`)
		s4Error(w, http.StatusUnauthorized, "Logon failed")
		return
	}
	if r.URL.Query().Get("sap-client") != "100" {
		s4Error(w, http.StatusBadRequest, "sap-client 100 expected")
		return
	}
	if strings.EqualFold(r.Header.Get("x-csrf-token"), "fetch") && r.Method == http.MethodGet {
		b := make([]byte, 12)
		rand.Read(b)
		tok, sid := hex.EncodeToString(b[:6]), hex.EncodeToString(b[6:])
		s.mu.Lock()
		s.sessions[sid] = tok
		s.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "SAP_SESSIONID_S4H_100", Value: sid, Path: "/"})
		w.Header().Set("x-csrf-token", tok)
		writeJSON(w, http.StatusOK, map[string]any{"d": map[string]any{"EntitySets": []string{}}})
		return
	}
	if r.Method == http.MethodPost {
		c, err := r.Cookie("SAP_SESSIONID_S4H_100")
		s.mu.Lock()
		ok := err == nil && s.sessions[c.Value] != "" && s.sessions[c.Value] == r.Header.Get("x-csrf-token")
		s.mu.Unlock()
		if !ok {
			w.Header().Set("x-csrf-token", "Required")
			s4Error(w, http.StatusForbidden, "CSRF token validation failed")
			return
		}
		if r.Header.Get("Content-Type") != "application/json" {
			s4Error(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
			return
		}
	}
	switch p := r.URL.Path; {
	case p == "/sap/opu/odata/sap/API_BATCH_SRV/A_Batch" && r.Method == http.MethodPost:
		s.createBatch(w, r)
	case strings.HasPrefix(p, "/sap/opu/odata/sap/API_BATCH_SRV/A_Batch(") && r.Method == http.MethodGet:
		s.getBatch(w, r)
	case p == S4Service+"/A_MaterialDocumentHeader" && r.Method == http.MethodPost:
		s.post(w, r)
	case p == S4Service+"/A_MaterialDocumentHeader" && r.Method == http.MethodGet:
		s.list(w, r)
	default:
		s4Error(w, http.StatusNotFound, "Resource not found for segment "+p)
	}
}

var batchKey = regexp.MustCompile(`^A_Batch\(Material='([^']*)',BatchIdentifyingPlant='([^']*)',Batch='([^']*)'\)$`)

func (s *S4) getBatch(w http.ResponseWriter, r *http.Request) {
	seg := strings.TrimPrefix(r.URL.Path, "/sap/opu/odata/sap/API_BATCH_SRV/")
	m := batchKey.FindStringSubmatch(seg)
	if m == nil {
		s4Error(w, http.StatusBadRequest, "malformed key "+seg)
		return
	}
	s.mu.Lock()
	b, ok := s.batches[m[1]+"/"+m[2]+"/"+m[3]]
	s.mu.Unlock()
	if !ok {
		s4Error(w, http.StatusNotFound, "Resource not found for segment 'A_Batch'")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"d": b})
}

func (s *S4) createBatch(w http.ResponseWriter, r *http.Request) {
	var b map[string]any
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		s4Error(w, http.StatusBadRequest, "Malformed JSON: "+err.Error())
		return
	}
	for _, k := range []string{"Material", "BatchIdentifyingPlant", "Batch"} {
		if _, ok := b[k].(string); !ok {
			s4Error(w, http.StatusBadRequest, "Property "+k+" missing")
			return
		}
	}
	if v, ok := b["ShelfLifeExpirationDate"].(string); ok && !s4Date.MatchString(v) {
		s4Error(w, http.StatusBadRequest, "ShelfLifeExpirationDate: not an Edm.DateTime")
		return
	}
	key := fmt.Sprintf("%s/%s/%s", b["Material"], b["BatchIdentifyingPlant"], b["Batch"])
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.batches[key]; ok {
		s4Error(w, http.StatusBadRequest, "Batch "+b["Batch"].(string)+" already exists")
		return
	}
	s.batches[key] = b
	writeJSON(w, http.StatusCreated, map[string]any{"d": b})
}

func (s *S4) post(w http.ResponseWriter, r *http.Request) {
	var h struct {
		GoodsMovementCode, PostingDate, DocumentDate, MaterialDocumentHeaderText string
		Items                                                                    struct {
			Results []map[string]any `json:"results"`
		} `json:"to_MaterialDocumentItem"`
	}
	if err := json.NewDecoder(r.Body).Decode(&h); err != nil {
		s4Error(w, http.StatusBadRequest, "Malformed payload: "+err.Error())
		return
	}
	switch {
	case !s4Date.MatchString(h.PostingDate):
		s4Error(w, http.StatusBadRequest, "PostingDate: "+h.PostingDate+" is not an Edm.DateTime")
		return
	case len(h.MaterialDocumentHeaderText) > 25:
		s4Error(w, http.StatusBadRequest, "MaterialDocumentHeaderText longer than 25 characters")
		return
	case len(h.Items.Results) == 0:
		s4Error(w, http.StatusBadRequest, "No items: deep insert to_MaterialDocumentItem with results")
		return
	}
	for _, it := range h.Items.Results {
		for _, k := range []string{"Material", "Plant", "GoodsMovementType", "QuantityInEntryUnit", "EntryUnit"} {
			if _, ok := it[k].(string); !ok {
				s4Error(w, http.StatusBadRequest, "Item property "+k+" missing or not a string (Edm.Decimal travels as a string)")
				return
			}
		}
		if h.GoodsMovementCode == "01" && (it["PurchaseOrder"] == nil || it["PurchaseOrderItem"] == nil || it["GoodsMovementRefDocType"] != "B") {
			s4Error(w, http.StatusBadRequest, "Goods receipt for purchase order: PurchaseOrder, PurchaseOrderItem and GoodsMovementRefDocType B are required")
			return
		}
		if b, ok := it["Batch"].(string); ok {
			s.mu.Lock()
			_, exists := s.batches[fmt.Sprintf("%s/%s/%s", it["Material"], it["Plant"], b)]
			s.mu.Unlock()
			if !exists {
				s4Error(w, http.StatusBadRequest, fmt.Sprintf("Batch %s does not exist for material %s in plant %s", b, it["Material"], it["Plant"]))
				return
			}
		}
	}
	f, _ := s.faults.next()
	if refuse(w, f, s4Error) {
		return
	}
	s.mu.Lock()
	doc := S4Doc{Number: fmt.Sprint(s.next), Year: "2026", HeaderText: h.MaterialDocumentHeaderText, Code: h.GoodsMovementCode, Items: h.Items.Results}
	s.next++
	s.docs = append(s.docs, doc)
	hook := s.Posted
	s.mu.Unlock()
	if hook != nil {
		hook(doc)
	}
	if after(w, r, f) {
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"d": map[string]any{"MaterialDocument": doc.Number, "MaterialDocumentYear": doc.Year,
		"MaterialDocumentHeaderText": doc.HeaderText, "GoodsMovementCode": doc.Code}})
}

var headerTextFilter = regexp.MustCompile(`^MaterialDocumentHeaderText eq '([^']*)'$`)

func (s *S4) list(w http.ResponseWriter, r *http.Request) {
	q, _ := url.ParseQuery(r.URL.RawQuery)
	m := headerTextFilter.FindStringSubmatch(q.Get("$filter"))
	if m == nil {
		s4Error(w, http.StatusBadRequest, "this fake filters by MaterialDocumentHeaderText only")
		return
	}
	var out []map[string]any
	s.mu.Lock()
	for _, d := range s.docs {
		if d.HeaderText == m[1] {
			out = append(out, map[string]any{"MaterialDocument": d.Number, "MaterialDocumentYear": d.Year})
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"d": map[string]any{"results": out}})
}
