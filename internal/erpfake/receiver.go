package erpfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Receiver is an HTTP endpoint (a QMS, an MES) that honours the
// Idempotency-Key header: a POST with a key it has seen answers the first
// answer again and creates nothing.
type Receiver struct {
	*httptest.Server
	Token string
	faults

	mu     sync.Mutex
	byKey  map[string]string
	Bodies []map[string]any
}

// NewReceiver starts the fake; it closes with the test.
func NewReceiver(t testing.TB) *Receiver {
	s := &Receiver{Token: "qms-token", byKey: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"title": "unauthorized"})
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"title": "Idempotency-Key header required"})
		return
	}
	s.mu.Lock()
	if id, ok := s.byKey[key]; ok {
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "replayed": true})
		return
	}
	s.mu.Unlock()
	var b map[string]any
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"title": err.Error()})
		return
	}
	f, _ := s.faults.next()
	if refuse(w, f, func(w http.ResponseWriter, st int, msg string) { writeJSON(w, st, map[string]any{"title": msg}) }) {
		return
	}
	s.mu.Lock()
	id := fmt.Sprintf("NC-%d", len(s.Bodies)+1)
	s.byKey[key] = id
	s.Bodies = append(s.Bodies, b)
	s.mu.Unlock()
	if after(w, r, f) {
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": id})
}
