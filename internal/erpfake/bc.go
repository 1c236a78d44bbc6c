package erpfake

import (
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

// BC is Business Central: the Entra ID token endpoint (client
// credentials), the custom item journal API docs/actions.md describes
// (api/lothub/traceability/v1.0 itemJournalLines with lotNumber, and the
// bound action Microsoft.NAV.post), and the standard API v2.0's
// itemLedgerEntries that posted lines become.
type BC struct {
	*httptest.Server
	Tenant, Company, ClientID, ClientSecret string
	faults

	mu      sync.Mutex
	lines   map[string]map[string]any // unposted journal lines by id
	entries []map[string]any          // item ledger entries
	next    int
}

// NewBC starts the fake; it closes with the test.
func NewBC(t testing.TB) *BC {
	s := &BC{Tenant: "contoso", Company: "11111111-2222-3333-4444-555555555555", ClientID: "lh-app", ClientSecret: "bc-secret",
		lines: map[string]map[string]any{}, next: 1}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Entries returns the item ledger entries posted.
func (s *BC) Entries() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.entries...)
}

func bcError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": "Internal_ValidationError", "message": msg}})
}

var bcPost = regexp.MustCompile(`/itemJournalLines\(([^)]+)\)/Microsoft\.NAV\.post$`)

func (s *BC) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/"+s.Tenant+"/oauth2/v2.0/token" {
		r.ParseForm()
		if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("client_id") != s.ClientID || r.Form.Get("client_secret") != s.ClientSecret ||
			r.Form.Get("scope") != "https://api.businesscentral.dynamics.com/.default" {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "access_token": "bc-token"})
		return
	}
	if r.Header.Get("Authorization") != "Bearer bc-token" {
		bcError(w, http.StatusUnauthorized, "The credentials provided are incorrect")
		return
	}
	company := "/companies(" + s.Company + ")"
	custom := "/v2.0/" + s.Tenant + "/production/api/lothub/traceability/v1.0" + company
	std := "/v2.0/" + s.Tenant + "/production/api/v2.0" + company
	q, _ := url.ParseQuery(r.URL.RawQuery)
	docFilter := strings.TrimSuffix(strings.TrimPrefix(q.Get("$filter"), "documentNumber eq '"), "'")
	switch p := r.URL.Path; {
	case p == std+"/itemLedgerEntries" && r.Method == http.MethodGet:
		var out []map[string]any
		s.mu.Lock()
		for _, e := range s.entries {
			if e["documentNumber"] == docFilter {
				out = append(out, e)
			}
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"value": out})
	case p == custom+"/itemJournalLines" && r.Method == http.MethodGet:
		var out []map[string]any
		s.mu.Lock()
		for _, l := range s.lines {
			if l["documentNumber"] == docFilter {
				out = append(out, l)
			}
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"value": out})
	case p == custom+"/itemJournalLines" && r.Method == http.MethodPost:
		var l map[string]any
		if err := json.NewDecoder(r.Body).Decode(&l); err != nil {
			bcError(w, http.StatusBadRequest, err.Error())
			return
		}
		for _, k := range []string{"journalBatchName", "itemNumber", "lotNumber", "documentNumber", "postingDate"} {
			if s, _ := l[k].(string); s == "" {
				bcError(w, http.StatusBadRequest, "The field "+k+" of table Item Journal Line contains a value that is not valid.")
				return
			}
		}
		if len(l["documentNumber"].(string)) > 20 {
			bcError(w, http.StatusBadRequest, "The length of the string is 25, but it must be less than or equal to 20 characters. Value: "+l["documentNumber"].(string))
			return
		}
		s.mu.Lock()
		id := fmt.Sprintf("%08d-0000-0000-0000-000000000000", s.next)
		s.next++
		l["id"] = id
		s.lines[id] = l
		s.mu.Unlock()
		writeJSON(w, http.StatusCreated, l)
	case bcPost.MatchString(p) && strings.HasPrefix(p, custom) && r.Method == http.MethodPost:
		id := bcPost.FindStringSubmatch(p)[1]
		f, _ := s.faults.next()
		if refuse(w, f, bcError) {
			return
		}
		s.mu.Lock()
		l, ok := s.lines[id]
		if ok {
			delete(s.lines, id)
			s.entries = append(s.entries, map[string]any{"entryNumber": len(s.entries) + 1, "documentNumber": l["documentNumber"],
				"itemNumber": l["itemNumber"], "quantity": l["quantity"], "lotNumber": l["lotNumber"]})
		}
		s.mu.Unlock()
		if !ok {
			bcError(w, http.StatusNotFound, "The journal line does not exist.")
			return
		}
		if after(w, r, f) {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		bcError(w, http.StatusNotFound, "No HTTP resource was found that matches the request URI "+p)
	}
}
