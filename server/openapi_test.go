package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/lothub/lothub/server"
)

// The OpenAPI document against the server: every route of the route
// table is documented with the permission it needs, every documented
// operation is a route, and every JSON answer the server tests receive
// validates against the document's schema for that operation and status
// (newEnvLog wraps the test server in validating).

const docURL = "https://lothub.invalid/v1/openapi.json"

type openAPIDoc struct {
	Paths map[string]map[string]json.RawMessage `json:"paths"`
}

type apiOperation struct {
	Permission string `json:"x-permission"`
}

// docPath is the OpenAPI path of a mux pattern's path ({name...} is
// {name}).
func docPath(p string) string { return strings.ReplaceAll(p, "...}", "}") }

func isAPIPath(p string) bool {
	return strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/epcis/") || p == "/metrics"
}

func loadDoc(t *testing.T) openAPIDoc {
	t.Helper()
	b, err := server.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var d openAPIDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	e := newEnv(t)
	doc := loadDoc(t)
	documented := map[string]string{} // "GET /v1/x" → x-permission
	for p, ops := range doc.Paths {
		for m, raw := range ops {
			if m == "parameters" {
				continue
			}
			var op apiOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", m, p, err)
			}
			documented[strings.ToUpper(m)+" "+p] = op.Permission
		}
	}
	registered := map[string]bool{}
	for _, rt := range e.srv.Routes() {
		if !isAPIPath(rt.Path()) {
			continue // the web UI's pages and sign-in are not JSON API
		}
		key := rt.Method() + " " + docPath(rt.Path())
		registered[key] = true
		want := string(rt.Permission)
		switch {
		case rt.Public:
			want = "public"
		case rt.Signed:
			want = "signature"
		}
		got, ok := documented[key]
		if !ok {
			t.Errorf("route %s is not in the OpenAPI document", rt.Pattern)
		} else if got != want {
			t.Errorf("%s: the document says x-permission %q, the route table %q", key, got, want)
		}
	}
	for key := range documented {
		if !registered[key] {
			t.Errorf("the OpenAPI document has %s, which no route serves", key)
		}
	}
	// Every $ref points at something, and every schema compiles as
	// JSON Schema 2020-12 (the dialect of OpenAPI 3.1).
	b, _ := server.OpenAPI()
	var whole any
	json.Unmarshal(b, &whole)
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "$ref" {
					refs = append(refs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(whole)
	if len(refs) < 50 {
		t.Errorf("found %d $refs; the document has more", len(refs))
	}
	v := openAPIValidator(t)
	for _, ref := range refs {
		node := whole
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, _ := node.(map[string]any)
			node = m[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
		}
		if node == nil {
			t.Errorf("$ref %s points at nothing", ref)
		}
	}
	v.mu.Lock()
	for name := range whole.(map[string]any)["components"].(map[string]any)["schemas"].(map[string]any) {
		if _, err := v.c.Compile(docURL + "#" + pointer("components", "schemas", name)); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}
	v.mu.Unlock()
	// The document is served as it is embedded.
	code, body := e.do(t, "GET", "/v1/openapi.json", "", nil, nil)
	want, _ := server.OpenAPI()
	if code != http.StatusOK || !bytes.Equal(body, want) || !strings.Contains(string(body), `"openapi":"3.1.0"`) {
		t.Errorf("GET /v1/openapi.json: %d, %d bytes; want 200 and the OpenAPI 3.1 document", code, len(body))
	}
}

// validator checks answers against the OpenAPI document.
type validator struct {
	doc       openAPIDoc
	templates []pathTemplate
	c         *jsonschema.Compiler
	mu        sync.Mutex
	schemas   map[string]*jsonschema.Schema
	checked   map[string]int // "GET /v1/x 200" → answers validated
}

type pathTemplate struct {
	path     string
	re       *regexp.Regexp
	literals int
}

var (
	sharedValidator     *validator
	sharedValidatorErr  error
	sharedValidatorOnce sync.Once
)

func openAPIValidator(t *testing.T) *validator {
	t.Helper()
	sharedValidatorOnce.Do(func() {
		b, err := server.OpenAPI()
		if err != nil {
			sharedValidatorErr = err
			return
		}
		v := &validator{schemas: map[string]*jsonschema.Schema{}, checked: map[string]int{}}
		if err := json.Unmarshal(b, &v.doc); err != nil {
			sharedValidatorErr = err
			return
		}
		raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			sharedValidatorErr = err
			return
		}
		v.c = jsonschema.NewCompiler()
		v.c.DefaultDraft(jsonschema.Draft2020)
		if err := v.c.AddResource(docURL, raw); err != nil {
			sharedValidatorErr = err
			return
		}
		param := regexp.MustCompile(`\{[^}]+\}`)
		placeholder := regexp.MustCompile(`\\\{[^}]*\\\}`)
		for p := range v.doc.Paths {
			// QuoteMeta escapes the braces: \{name\} matches one segment.
			re := "^" + placeholder.ReplaceAllString(regexp.QuoteMeta(p), "[^/]+") + "$"
			if strings.Contains(p, "{eventID}") {
				re = strings.Replace(re, "[^/]+$", ".+$", 1)
			}
			v.templates = append(v.templates, pathTemplate{path: p, re: regexp.MustCompile(re), literals: len(param.ReplaceAllString(p, ""))})
		}
		// The most literal template first: /v1/balance/order/{order}
		// before /v1/balance/{item}/{lot}.
		sort.Slice(v.templates, func(i, j int) bool { return v.templates[i].literals > v.templates[j].literals })
		sharedValidator = v
	})
	if sharedValidatorErr != nil {
		t.Fatal(sharedValidatorErr)
	}
	return sharedValidator
}

func pointer(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		p = strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1")
		b.WriteString("/" + p)
	}
	// A fragment is a URI's: percent-encode what a URI does not allow.
	r := strings.NewReplacer("{", "%7B", "}", "%7D", "*", "%2A")
	return r.Replace(b.String())
}

// check validates one JSON answer; it returns "" when the path is not
// documented JSON, else what is wrong ("" when nothing).
func (v *validator) check(method, path string, status int, body []byte) error {
	var tmpl string
	for _, pt := range v.templates {
		if pt.re.MatchString(path) {
			tmpl = pt.path
			break
		}
	}
	if tmpl == "" {
		return nil
	}
	m := strings.ToLower(method)
	var op struct {
		Responses map[string]json.RawMessage `json:"responses"`
	}
	raw, ok := v.doc.Paths[tmpl][m]
	if !ok {
		return fmt.Errorf("%s %s is not documented", method, tmpl)
	}
	json.Unmarshal(raw, &op)
	code := strconv.Itoa(status)
	if _, ok := op.Responses[code]; !ok {
		return fmt.Errorf("%s %s answered %d, which the document does not list", method, tmpl, status)
	}
	ptr := pointer("paths", tmpl, m, "responses", code)
	var resp struct {
		Ref     string                     `json:"$ref"`
		Content map[string]json.RawMessage `json:"content"`
	}
	json.Unmarshal(op.Responses[code], &resp)
	if resp.Ref != "" {
		ptr = strings.TrimPrefix(resp.Ref, "#")
		name := resp.Ref[strings.LastIndex(resp.Ref, "/")+1:]
		var comp struct {
			Components struct {
				Responses map[string]struct {
					Content map[string]json.RawMessage `json:"content"`
				} `json:"responses"`
			} `json:"components"`
		}
		b, _ := server.OpenAPI()
		json.Unmarshal(b, &comp)
		resp.Content = comp.Components.Responses[name].Content
	}
	if _, ok := resp.Content["application/json"]; !ok {
		return fmt.Errorf("%s %s %d answered JSON, which the document does not say", method, tmpl, status)
	}
	ptr += pointer("content", "application/json", "schema")
	v.mu.Lock()
	defer v.mu.Unlock()
	sch, ok := v.schemas[ptr]
	if !ok {
		var err error
		if sch, err = v.c.Compile(docURL + "#" + ptr); err != nil {
			return fmt.Errorf("compile the schema of %s %s %d: %w", method, tmpl, status, err)
		}
		v.schemas[ptr] = sch
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s %d: the answer is not JSON: %w", method, path, status, err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("%s %s %d: the answer does not match the OpenAPI document: %v\n%s", method, path, status, err, body)
	}
	v.checked[fmt.Sprintf("%s %s %d", method, tmpl, status)]++
	return nil
}

// validating passes requests to h and checks every JSON answer against
// the OpenAPI document.
func validating(t *testing.T, h http.Handler) http.Handler {
	v := openAPIValidator(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			return
		}
		if err := v.check(r.Method, r.URL.Path, rec.status, rec.body.Bytes()); err != nil {
			t.Errorf("OpenAPI: %v", err)
		}
	})
}

type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// TestAnswersValidated runs the query and intake cases and requires that
// the answers the brief names were validated against the document.
func TestAnswersValidated(t *testing.T) {
	e := newEnv(t)
	admin := e.userToken(t, "root", "admin")
	steps := []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/v1/events", events, 207},
		{"POST", "/v1/events", `{"id":"x","type":"ship"}`, 400},
		{"GET", "/v1/trace/forward/FLOUR/F-A", "", 200},
		{"GET", "/v1/trace/backward/BREAD/BR-1", "", 200},
		{"GET", "/v1/recall/FLOUR/F-A", "", 200},
		{"GET", "/v1/recall/FLOUR/F-A?summary=1", "", 200},
		{"GET", "/v1/trace/backward/BREAD/BR-1?summary=true", "", 200},
		{"GET", "/v1/recall/FLOUR/F-A?summary=yes", "", 400},
		{"GET", "/v1/lots/FLOUR/F-A", "", 200},
		{"GET", "/v1/lots/FLOUR/NOPE", "", 404},
		{"GET", "/v1/gaps", "", 200},
		{"POST", "/v1/holds", `{"item":"FLOUR","lot":"F-A","reason":"recall","propagate":true}`, 200},
		{"GET", "/v1/holds", "", 200},
		{"GET", "/v1/runs", "", 200},
		{"GET", "/v1/balance/FLOUR/F-A", "", 200},
		{"GET", "/v1/whoami", "", 200},
		{"GET", "/v1/users", "", 200},
		{"GET", "/v1/tokens", "", 200},
		{"GET", "/v1/trace/sideways/FLOUR/F-A", "", 400},
	}
	for _, s := range steps {
		var body []byte
		if s.body != "" {
			body = []byte(s.body)
		}
		if code, got := e.do(t, s.method, s.path, admin, body, nil); code != s.status {
			t.Errorf("%s %s: %d %s, want %d", s.method, s.path, code, got, s.status)
		}
	}
	if code, _ := e.do(t, "GET", "/v1/runs", "", nil, nil); code != 401 {
		t.Errorf("runs without a token: %d", code)
	}
	v := openAPIValidator(t)
	// The validator refuses what the document does not allow.
	for _, bad := range []struct {
		path string
		body string
	}{
		{"/v1/trace/forward/A/B", `{"direction":"sideways","lots":[],"links":[],"suppliers":[],"shipments":[]}`},
		{"/v1/recall/A/B", `{"direction":"forward","lots":[{"item":"X","lot":"Y","depth":1}],"links":[],"suppliers":[],"shipments":[],"customers":[]}`},
		{"/v1/recall/A/B?summary=1", `{"direction":"forward","lots":3,"links":2,"levels":[],"suppliers":0,"shipments":0,"customers":[]}`},
		{"/v1/users", `{"users":[{"name":"a","role":"admin","created":"2026-01-01T00:00:00Z","password_hash":"$argon2id$"}]}`},
	} {
		if err := v.check("GET", bad.path, 200, []byte(bad.body)); err == nil {
			t.Errorf("GET %s answering %s validated", bad.path, bad.body)
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, want := range []string{
		"POST /v1/events 207", "POST /v1/events 400",
		"GET /v1/trace/{direction}/{item}/{lot} 200", "GET /v1/recall/{item}/{lot} 200",
		"GET /v1/lots/{item}/{lot} 200", "GET /v1/lots/{item}/{lot} 404", "GET /v1/gaps 200", "GET /v1/holds 200",
		"POST /v1/holds 200", "GET /v1/runs 200", "GET /v1/runs 401", "GET /v1/trace/{direction}/{item}/{lot} 400",
	} {
		if v.checked[want] == 0 {
			t.Errorf("no answer of %s was validated against the document", want)
		}
	}
	var seen []string
	for k := range v.checked {
		seen = append(seen, k)
	}
	slices.Sort(seen)
	t.Logf("answers validated so far: %s", strings.Join(seen, ", "))
}
