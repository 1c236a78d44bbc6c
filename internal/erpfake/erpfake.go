// Package erpfake runs ERP write APIs on httptest servers for the outbox's
// tests: SAP S/4HANA (API_MATERIAL_DOCUMENT_SRV, API_BATCH_SRV), SAP
// Business One's Service Layer, NetSuite's REST record API, a Business
// Central custom API, and a plain HTTP receiver. Each checks the payload
// shape and the authentication its vendor documents, keeps the documents
// it created, and lets a test inject faults: answers 429 or 5xx, answers
// too late (after creating the document: the client's timeout makes the
// outcome unknown), or create the document and fail the answer.
package erpfake

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Fault is what the next matching write gets instead of a normal answer.
type Fault struct {
	// Status, when not 0, is answered without creating anything, with
	// Retry-After (seconds) when not 0, and the vendor's error body.
	Status     int
	RetryAfter int
	Message    string
	// Delay holds the answer this long after creating the document: a
	// client with a shorter timeout does not know the outcome.
	Delay time.Duration
	// Lost creates the document, then answers 502: the answer is lost on
	// the way back (a proxy timed out).
	Lost bool
}

// faults is a queue of faults for writes.
type faults struct {
	mu sync.Mutex
	q  []Fault
}

// Inject queues faults for the next writes, one each.
func (f *faults) Inject(fs ...Fault) {
	f.mu.Lock()
	f.q = append(f.q, fs...)
	f.mu.Unlock()
}

func (f *faults) next() (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.q) == 0 {
		return Fault{}, false
	}
	x := f.q[0]
	f.q = f.q[1:]
	return x, true
}

// refuse answers a Status fault; true when it did.
func refuse(w http.ResponseWriter, f Fault, body func(w http.ResponseWriter, status int, msg string)) bool {
	if f.Status == 0 {
		return false
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	msg := f.Message
	if msg == "" {
		msg = http.StatusText(f.Status)
	}
	body(w, f.Status, msg)
	return true
}

// after applies the Delay and Lost faults once the document exists: true
// when the answer is lost.
func after(w http.ResponseWriter, r *http.Request, f Fault) bool {
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
		}
	}
	if f.Lost {
		w.WriteHeader(http.StatusBadGateway)
		return true
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
