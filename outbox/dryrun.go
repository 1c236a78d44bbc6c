package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
)

// DryRun records the requests an action would send, instead of sending
// them (hub action test). Answers are stand-ins: a CSRF token or session
// "fetched at delivery", 404 for every read (so the document and the
// batch count as new), 201 for every write.
type DryRun struct {
	Requests []Request
	secrets  []string
}

// Request is one recorded request, secrets masked.
type Request struct {
	Method  string              `json:"method"`
	URL     string              `json:"url"`
	Header  map[string][]string `json:"headers"`
	Body    string              `json:"body,omitempty"`
	Comment string              `json:"comment,omitempty"`
}

// masked is what a secret shows as.
const masked = "****"

func (r *DryRun) mask(s string) string {
	if s == "" {
		return s
	}
	return config.Scrub(s, r.secrets)
}

// RoundTrip records req and answers with a stand-in.
func (r *DryRun) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	rec := Request{Method: req.Method, URL: r.mask(req.URL.String()), Header: map[string][]string{}, Body: r.mask(string(body))}
	for k, vs := range req.Header {
		for _, v := range vs {
			switch strings.ToLower(k) {
			case "authorization":
				scheme, _, _ := strings.Cut(v, " ")
				v = scheme + " " + masked
			case "cookie":
				var parts []string
				for _, c := range strings.Split(v, ";") {
					name, _, _ := strings.Cut(strings.TrimSpace(c), "=")
					parts = append(parts, name+"="+masked)
				}
				v = strings.Join(parts, "; ")
			default:
				v = r.mask(v)
			}
			rec.Header[k] = append(rec.Header[k], v)
		}
	}
	resp := &http.Response{StatusCode: http.StatusCreated, Header: http.Header{}, Request: req, Body: io.NopCloser(bytes.NewReader([]byte("{}")))}
	switch {
	case strings.EqualFold(req.Header.Get("x-csrf-token"), "fetch"):
		resp.StatusCode = http.StatusOK
		resp.Header.Set("x-csrf-token", "(fetched at delivery)")
		rec.Comment = "CSRF token fetch: the answer's token and cookies go with the POST"
	case strings.HasSuffix(req.URL.Path, "/Login"):
		resp.StatusCode = http.StatusOK
		resp.Header.Add("Set-Cookie", "B1SESSION=dry-run; Path=/b1s")
		rec.Comment = "Service Layer login: the B1SESSION cookie goes with the next requests"
	case strings.Contains(req.URL.Path, "token"):
		resp.StatusCode = http.StatusOK
		resp.Body = io.NopCloser(strings.NewReader(`{"access_token":"dry-run","token_type":"Bearer","expires_in":3600}`))
		rec.Comment = "OAuth 2.0 token request"
	case req.Method == http.MethodGet || req.Method == http.MethodHead:
		resp.StatusCode = http.StatusNotFound
		rec.Comment = "read (a dry run assumes it finds nothing)"
	}
	r.Requests = append(r.Requests, rec)
	return resp, nil
}

// note records an operation that is not an HTTP request (a file write).
func (r *DryRun) note(method, where, body, comment string) {
	r.Requests = append(r.Requests, Request{Method: method, URL: r.mask(where), Header: map[string][]string{}, Body: r.mask(body), Comment: comment})
}

// Text prints the recorded requests as an operator reads them.
func (r *DryRun) Text(w io.Writer) {
	for i, q := range r.Requests {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if q.Comment != "" {
			fmt.Fprintf(w, "# %s\n", q.Comment)
		}
		fmt.Fprintf(w, "%s %s\n", q.Method, q.URL)
		keys := make([]string, 0, len(q.Header))
		for k := range q.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range q.Header[k] {
				fmt.Fprintf(w, "%s: %s\n", k, v)
			}
		}
		if q.Body != "" {
			fmt.Fprintf(w, "\n%s\n", q.Body)
		}
	}
}

// DryRunAction records the requests action name of cfg would send for
// the event, without sending any.
func DryRunAction(ctx context.Context, cfg *config.Hub, name string, ev *core.Event) (*DryRun, error) {
	payload, _ := json.Marshal(ev)
	a := core.OutboxAction{ID: 0, Key: core.OutboxKey(ev.ID, name), Action: name, EventID: ev.ID, Payload: payload}
	dry := &DryRun{}
	d, t, err := Prepare(cfg, a, dry)
	if err != nil {
		return nil, err
	}
	if _, err := t.deliver(ctx, d); err != nil {
		return dry, fmt.Errorf("the action would fail before sending everything: %w", err)
	}
	return dry, nil
}
