package sdktest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lothub/lothub/sdk"
)

// PageServer is a loopback HTTP server for fuzzing a connector's page
// decoding: every request gets the body set last (Set), with the status
// and content type set with it. Anything a connector asks for first
// (a token, metadata) gets the same body; a connector that cannot use it
// must fail with an error, never panic.
type PageServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	status int
	ctype  string
	// Paths answered with a fixed body whatever Set was given (an OAuth
	// token endpoint), so that the fuzzed body reaches the page decoder.
	Fixed map[string]string
}

// NewPageServer starts a PageServer, closed when t ends.
func NewPageServer(t testing.TB) *PageServer {
	s := &PageServer{status: 200, ctype: "application/json", Fixed: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Set makes every following request answer body with the status and
// content type given.
func (s *PageServer) Set(status int, ctype string, body []byte) {
	s.mu.Lock()
	s.body, s.status, s.ctype = body, status, ctype
	s.mu.Unlock()
}

func (s *PageServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	body, status, ctype := s.body, s.status, s.ctype
	fixed, ok := s.Fixed[r.URL.Path]
	s.mu.Unlock()
	if ok {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(fixed))
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	w.Write(body)
}

// FuzzReads calls Read up to three times from pos with the fuzzed
// answers in place: errors are fine, panics and hangs are not, and every
// record returned must be one a hub can archive (non-empty id and kind, a
// JSON payload). Each call is bounded by a deadline, so a connector that
// would retry a hostile answer for long gives up instead.
func FuzzReads(t *testing.T, c sdk.Connector, cfg sdk.Config, pos sdk.Position, max int) {
	t.Helper()
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		res, err := c.Read(ctx, cfg, pos, max)
		cancel()
		if err != nil {
			return
		}
		for _, r := range res.Records {
			if r.ID == "" || r.Kind == "" || !json.Valid(r.Payload) {
				t.Fatalf("Read returned a record a hub cannot archive: kind %q id %q payload %.200q", r.Kind, r.ID, r.Payload)
			}
		}
		if !res.More {
			return
		}
		if len(res.Next) > 0 {
			pos = res.Next
		}
	}
}

// Recorder is a loopback reverse proxy in front of a test server that
// keeps every answer's body: the seeds of a page-decoding fuzz target are
// the real answers of the connector's fake source.
type Recorder struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

// NewRecorder starts a Recorder forwarding to target (a base URL such as
// an httptest server's), closed when t ends.
func NewRecorder(t testing.TB, target string) *Recorder {
	t.Helper()
	rec := &Recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		req.Host = r.Host // links the server builds point back here
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		// Links the server wrote (next pages) lead back through here.
		body = bytes.ReplaceAll(body, []byte(target), []byte(rec.URL))
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, body)
		rec.mu.Unlock()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	}))
	t.Cleanup(rec.Close)
	return rec
}

// Bodies returns the answers' bodies so far, in order.
func (rec *Recorder) Bodies() [][]byte {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([][]byte(nil), rec.bodies...)
}
