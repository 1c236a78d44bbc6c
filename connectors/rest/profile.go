package rest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// A Profile describes one ERP's REST or OData API declaratively: where it
// is, how to log in, how it pages, and which collections hold the records
// lot genealogy is built from. docs/connectors/rest.md is its reference.
type Profile struct {
	Name        string
	Description string
	// BaseURL is a template ({{var.NAME}}, {{ionapi.iu}}, {{ionapi.ti}});
	// the base_url parameter overrides it.
	BaseURL   string
	Variables []Variable
	// Headers are sent with every request; values are templates.
	Headers  map[string]string
	Timezone *time.Location
	Auth     Auth
	Paging   Paging
	// Errors, when set, is how the API reports a failure inside a 200
	// answer (Infor IDO: MessageCode and Message).
	Errors    *ErrorShape
	Endpoints []Endpoint

	file string
}

// Variable is a value the plant gives in the vars parameter
// (company=EPIC06), used by templates as {{var.NAME}}.
type Variable struct {
	Name, Description string
	Required          bool
	Default           string
}

// Auth types.
const (
	AuthNone              = "none"
	AuthBasic             = "basic"
	AuthBearer            = "bearer"
	AuthAPIKey            = "api_key"
	AuthClientCredentials = "oauth2_client_credentials"
	AuthPassword          = "oauth2_password"
	// AuthJWTBearer is the JWT bearer assertion grant (RFC 7523 §2.1):
	// the client signs a JWT with its private key and exchanges it at the
	// token URL for an access token (Oracle Identity Cloud Service / OCI
	// IAM in front of Oracle Fusion).
	AuthJWTBearer = "oauth2_jwt_bearer"
)

var authTypes = []string{AuthNone, AuthBasic, AuthBearer, AuthAPIKey, AuthClientCredentials, AuthPassword, AuthJWTBearer}

// Auth is how requests are authenticated.
type Auth struct {
	Type string
	// Header carries the API key (api_key); APIKeyHeader, with any type,
	// adds the api_key parameter in that header too (Epicor Kinetic REST
	// v2 wants X-API-Key beside basic or bearer authentication).
	Header       string
	APIKeyHeader string
	// TokenURL (a template) and Scopes are OAuth 2.0's; the token_url
	// parameter overrides TokenURL.
	TokenURL string
	Scopes   []string
	// Audience (a template) is the aud claim of a JWT bearer assertion;
	// the token URL when empty. The jwt_audience parameter overrides it.
	Audience string
	// Credentials "ionapi": client, token URL and service account come
	// from the Infor ION API file named by the ionapi_file parameter.
	Credentials string
}

// Paging styles.
const (
	PagingOffset   = "offset"      // limit/offset (+ hasMore): Oracle Fusion
	PagingOData    = "odata"       // $top/$skip and @odata.nextLink: Epicor, OData v4
	PagingBookmark = "bookmark"    // bookmark/cursor token: Infor IDO load
	PagingLink     = "link_header" // Link: <…>; rel="next" (RFC 8288)
	PagingPage     = "page"        // page number and size
	PagingNone     = "none"        // one answer holds everything
)

var pagingStyles = []string{PagingOffset, PagingOData, PagingBookmark, PagingLink, PagingPage, PagingNone}

// Paging is how a collection is read page by page.
type Paging struct {
	Style    string
	PageSize int
	// SizeParam is the page-size query parameter (limit, $top, recordcap,
	// per_page); OffsetParam the offset ($skip, offset); PageParam the
	// page number; TokenParam the bookmark's.
	SizeParam, OffsetParam, PageParam, TokenParam string
	// FirstPage is the number of the first page (page style).
	FirstPage int
	// MoreField is a response field saying more pages exist (hasMore,
	// MoreRowsExist); NextField a field holding the next page's URL
	// (@odata.nextLink) or token (Bookmark).
	MoreField, NextField string
	// TokenQuery are parameters sent with a token (IDO: loadtype=NEXT).
	TokenQuery map[string]string
}

// ErrorShape is a failure reported inside a 200 answer: Field is not OK.
type ErrorShape struct {
	Field, OK, Message string
}

// Record formats.
const (
	FormatObject    = "object"     // each record is a JSON object
	FormatNameValue = "name_value" // each record is [{"Name":…,"Value":…}] (Infor IDO)
)

// Endpoint is one collection read for records of one kind.
type Endpoint struct {
	Name string
	Kind string
	// Path (a template) is joined to the base URL.
	Path string
	// Query is sent with every request; values are templates.
	Query map[string]string
	// Records is the dot path of the records' array in the answer.
	Records string
	Format  string
	// Key are the fields that identify a record; the record id is
	// Name:key1:key2.
	Key []string
	// TimeField is when the record happened (default: the cursor).
	TimeField   string
	Incremental *Incremental
}

// Cursor types.
const (
	CursorTime   = "time"
	CursorNumber = "number"
)

// Incremental reads only what changed since the last sync.
type Incremental struct {
	// Cursor is the field that grows when a record changes
	// (LastUpdateDate, SysRevID, RecordDate); the endpoint's query must
	// sort by it.
	Cursor string
	Type   string
	// Param is the query parameter the filter goes in (q, $filter,
	// filter); Filter its value, a template naming {{cursor}}.
	Param, Filter string
	// Format writes a time cursor into the filter (Go layout) in the
	// profile's time zone.
	Format string
	// Overlap is how far back each sync looks again: a duration for
	// times, a count for numbers. Records read before are skipped by key.
	Overlap    time.Duration
	OverlapNum int64
}

// ProfileError is a problem in a profile file at file:line:col.
type ProfileError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *ProfileError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// ProfileErrors is every problem found in a profile, in file order.
type ProfileErrors []*ProfileError

func (l ProfileErrors) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// ParseProfile decodes a profile strictly: an unknown key, an unknown
// auth type or paging style, or a template naming something that does not
// exist is an error at its file:line:col. All problems come back at once.
func ParseProfile(file string, src []byte) (*Profile, error) {
	l := &loader{file: file}
	p := l.profile(src)
	if len(l.errs) > 0 {
		slices.SortStableFunc(l.errs, func(a, b *ProfileError) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Col - b.Col
		})
		return nil, l.errs
	}
	p.file = file
	return p, nil
}

type loader struct {
	file string
	errs ProfileErrors
}

func (l *loader) errorf(n *yaml.Node, format string, args ...any) {
	line, col := 1, 1
	if n != nil {
		line, col = n.Line, n.Column
	}
	l.errs = append(l.errs, &ProfileError{File: l.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// fields checks that n is a mapping with only the allowed keys and returns
// its values by key, and the key nodes.
func (l *loader) fields(n *yaml.Node, what string, allowed ...string) (map[string]*yaml.Node, map[string]*yaml.Node) {
	vals, keys := map[string]*yaml.Node{}, map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		l.errorf(n, "%s must be a mapping of keys to values", what)
		return vals, keys
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(allowed, k.Value) {
			l.errorf(k, "unknown key %q in %s (known keys: %s)", k.Value, what, strings.Join(allowed, ", "))
			continue
		}
		if _, dup := vals[k.Value]; dup {
			l.errorf(k, "key %q is given twice in %s", k.Value, what)
			continue
		}
		vals[k.Value], keys[k.Value] = v, k
	}
	return vals, keys
}

func (l *loader) str(n *yaml.Node, what string) string {
	if n == nil {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		l.errorf(n, "%s must be text", what)
		return ""
	}
	return n.Value
}

func (l *loader) strList(n *yaml.Node, what string) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, "%s must be a list", what)
		return nil
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, l.str(c, what))
	}
	return out
}

func (l *loader) strMap(n *yaml.Node, what string) (map[string]string, map[string]*yaml.Node) {
	out, nodes := map[string]string{}, map[string]*yaml.Node{}
	if n == nil {
		return out, nodes
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(n, "%s must be a mapping of names to text", what)
		return out, nodes
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		out[k.Value] = l.str(v, what+" "+k.Value)
		nodes[k.Value] = v
	}
	return out, nodes
}

func (l *loader) integer(n *yaml.Node, what string) int {
	s := l.str(n, what)
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		l.errorf(n, "%s must be a whole number, not %q", what, s)
	}
	return v
}

func (l *loader) oneOf(n *yaml.Node, what string, choices []string) string {
	s := l.str(n, what)
	if !slices.Contains(choices, s) {
		l.errorf(n, "unknown %s %q (use one of: %s)", what, s, strings.Join(choices, ", "))
	}
	return s
}

func (l *loader) profile(src []byte) *Profile {
	p := &Profile{Headers: map[string]string{}}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.errorf(nil, "the profile is empty (see docs/connectors/rest.md)")
		} else {
			l.syntax(err)
		}
		return p
	}
	root := doc.Content[0]
	top, keys := l.fields(root, "a profile", "profile", "description", "base_url", "variables", "headers",
		"timezone", "auth", "paging", "errors", "endpoints")
	required := func(key string) *yaml.Node {
		if top[key] == nil {
			l.errorf(root, "the profile has no %s: key", key)
		}
		return top[key]
	}
	p.Name = l.str(required("profile"), "profile")
	p.Description = l.str(top["description"], "description")
	vars := map[string]bool{}
	if n := top["variables"]; n != nil {
		vals, _ := l.fields(n, "variables", l.keysOf(n)...)
		for _, name := range l.keysOf(n) {
			v := vals[name]
			f, _ := l.fields(v, "variable "+name, "description", "required", "default")
			vr := Variable{Name: name, Description: l.str(f["description"], "description"), Default: l.str(f["default"], "default")}
			if f["description"] == nil {
				l.errorf(v, "variable %s has no description (say what the plant puts there)", name)
			}
			if r := f["required"]; r != nil {
				vr.Required = l.str(r, "required") == "true"
			}
			p.Variables = append(p.Variables, vr)
			vars[name] = true
		}
	}
	tz := l.str(required("timezone"), "timezone")
	if tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			l.errorf(top["timezone"], "unknown time zone %q (an IANA name such as UTC or America/Chicago: the zone the API writes times without an offset in)", tz)
		}
		p.Timezone = loc
	}
	if n := top["auth"]; n != nil {
		l.auth(p, n, vars)
	} else {
		l.errorf(root, "the profile has no auth: key (use type: none for an open API)")
	}
	ionapi := p.Auth.Credentials == "ionapi"
	if n := top["base_url"]; n != nil {
		p.BaseURL = l.str(n, "base_url")
		l.template(n, p.BaseURL, vars, ionapi, false)
	}
	hdrs, hnodes := l.strMap(top["headers"], "headers")
	for k, v := range hdrs {
		l.template(hnodes[k], v, vars, ionapi, false)
		p.Headers[k] = v
	}
	if n := required("paging"); n != nil {
		l.paging(p, n)
	}
	if n := top["errors"]; n != nil {
		f, _ := l.fields(n, "errors", "field", "ok", "message")
		p.Errors = &ErrorShape{Field: l.str(f["field"], "field"), OK: l.str(f["ok"], "ok"), Message: l.str(f["message"], "message")}
		if p.Errors.Field == "" {
			l.errorf(n, "errors needs field: the answer's field that says whether the call worked")
		}
	}
	if n := required("endpoints"); n != nil {
		if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
			l.errorf(n, "endpoints must be a list of at least one endpoint")
		} else {
			names := map[string]bool{}
			for _, e := range n.Content {
				ep := l.endpoint(e, vars, ionapi)
				if names[ep.Name] {
					l.errorf(e, "endpoint %q is listed twice", ep.Name)
				}
				names[ep.Name] = true
				p.Endpoints = append(p.Endpoints, ep)
			}
		}
	}
	_ = keys
	return p
}

func (l *loader) keysOf(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var ks []string
	for i := 0; i < len(n.Content); i += 2 {
		ks = append(ks, n.Content[i].Value)
	}
	return ks
}

func (l *loader) auth(p *Profile, n *yaml.Node, vars map[string]bool) {
	f, _ := l.fields(n, "auth", "type", "header", "api_key_header", "token_url", "scopes", "audience", "credentials")
	a := &p.Auth
	if f["type"] == nil {
		l.errorf(n, "auth has no type: (one of %s)", strings.Join(authTypes, ", "))
		return
	}
	a.Type = l.oneOf(f["type"], "auth type", authTypes)
	a.Header = l.str(f["header"], "header")
	a.APIKeyHeader = l.str(f["api_key_header"], "api_key_header")
	a.Scopes = l.strList(f["scopes"], "scopes")
	if c := f["credentials"]; c != nil {
		a.Credentials = l.oneOf(c, "credentials file kind", []string{"ionapi"})
		if a.Type != AuthPassword && a.Type != AuthClientCredentials {
			// (not AuthJWTBearer: an .ionapi file holds no private key)
			l.errorf(c, "credentials: ionapi needs an OAuth 2.0 auth type (oauth2_password for a backend service with a service account)")
		}
	}
	if t := f["token_url"]; t != nil {
		a.TokenURL = l.str(t, "token_url")
		l.template(t, a.TokenURL, vars, a.Credentials == "ionapi", false)
	}
	if au := f["audience"]; au != nil {
		a.Audience = l.str(au, "audience")
		l.template(au, a.Audience, vars, false, false)
		if a.Type != AuthJWTBearer {
			l.errorf(au, "audience: is for auth type %s (the JWT assertion's aud claim)", AuthJWTBearer)
		}
	}
	switch a.Type {
	case AuthAPIKey:
		if a.Header == "" {
			l.errorf(n, "auth type api_key needs header: the header that carries the key (e.g. X-API-Key)")
		}
	case AuthClientCredentials, AuthPassword, AuthJWTBearer:
		if a.TokenURL == "" && a.Credentials == "" {
			l.errorf(n, "auth type %s needs token_url: (or credentials: ionapi); the token_url parameter can override it", a.Type)
		}
	}
	if a.Header != "" && a.Type != AuthAPIKey {
		l.errorf(f["header"], "header: is for auth type api_key; to send an API key beside %s, use api_key_header:", a.Type)
	}
}

func (l *loader) paging(p *Profile, n *yaml.Node) {
	f, _ := l.fields(n, "paging", "style", "page_size", "size_param", "offset_param", "page_param", "token_param",
		"first_page", "more_field", "next_field", "token_query")
	pg := &p.Paging
	if f["style"] == nil {
		l.errorf(n, "paging has no style: (one of %s)", strings.Join(pagingStyles, ", "))
		return
	}
	pg.Style = l.oneOf(f["style"], "paging style", pagingStyles)
	pg.PageSize = 100
	if s := f["page_size"]; s != nil {
		pg.PageSize = l.integer(s, "page_size")
		if pg.PageSize < 1 {
			l.errorf(s, "page_size must be at least 1")
		}
	}
	pg.SizeParam = l.str(f["size_param"], "size_param")
	pg.OffsetParam = l.str(f["offset_param"], "offset_param")
	pg.PageParam = l.str(f["page_param"], "page_param")
	pg.TokenParam = l.str(f["token_param"], "token_param")
	pg.MoreField = l.str(f["more_field"], "more_field")
	pg.NextField = l.str(f["next_field"], "next_field")
	pg.TokenQuery, _ = l.strMap(f["token_query"], "token_query")
	if fp := f["first_page"]; fp != nil {
		pg.FirstPage = l.integer(fp, "first_page")
	} else {
		pg.FirstPage = 1
	}
	need := func(key, val, why string) {
		if val == "" {
			l.errorf(n, "paging style %s needs %s: (%s)", pg.Style, key, why)
		}
	}
	switch pg.Style {
	case PagingOffset:
		need("size_param", pg.SizeParam, "e.g. limit")
		need("offset_param", pg.OffsetParam, "e.g. offset")
	case PagingOData:
		if pg.SizeParam == "" {
			pg.SizeParam = "$top"
		}
		if pg.OffsetParam == "" {
			pg.OffsetParam = "$skip"
		}
		if pg.NextField == "" {
			pg.NextField = "@odata.nextLink"
		}
	case PagingBookmark:
		need("token_param", pg.TokenParam, "the query parameter the bookmark goes back in, e.g. bookmark")
		need("next_field", pg.NextField, "the answer's field holding the next bookmark, e.g. Bookmark")
		need("more_field", pg.MoreField, "the answer's field saying more rows exist, e.g. MoreRowsExist")
	case PagingPage:
		need("page_param", pg.PageParam, "e.g. page")
	}
}

var formats = []string{FormatObject, FormatNameValue}

func (l *loader) endpoint(n *yaml.Node, vars map[string]bool, ionapi bool) Endpoint {
	f, _ := l.fields(n, "an endpoint", "name", "kind", "path", "query", "records", "format", "key", "time", "incremental")
	ep := Endpoint{Format: FormatObject}
	for _, k := range []string{"name", "kind", "path", "key"} {
		if f[k] == nil {
			l.errorf(n, "the endpoint has no %s:", k)
		}
	}
	ep.Name = l.str(f["name"], "name")
	ep.Kind = l.str(f["kind"], "kind")
	if ep.Kind != "" && !slices.Contains(Kinds, ep.Kind) {
		l.errorf(f["kind"], "kind %q is not one the rest connector declares (use one of: %s; a new shipped profile adds its kinds to Kinds)", ep.Kind, strings.Join(Kinds, ", "))
	}
	ep.Path = l.str(f["path"], "path")
	l.template(f["path"], ep.Path, vars, ionapi, false)
	var qnodes map[string]*yaml.Node
	ep.Query, qnodes = l.strMap(f["query"], "query")
	for k, v := range ep.Query {
		l.template(qnodes[k], v, vars, ionapi, false)
	}
	ep.Records = l.str(f["records"], "records")
	if fm := f["format"]; fm != nil {
		ep.Format = l.oneOf(fm, "record format", formats)
	}
	ep.Key = l.strList(f["key"], "key")
	if f["key"] != nil && len(ep.Key) == 0 {
		l.errorf(f["key"], "key must name at least one field")
	}
	ep.TimeField = l.str(f["time"], "time")
	if in := f["incremental"]; in != nil {
		ep.Incremental = l.incremental(in, vars, ionapi)
	}
	if ep.TimeField == "" && ep.Incremental == nil {
		l.errorf(n, "the endpoint needs time: (the field saying when the record happened) or incremental:")
	}
	return ep
}

func (l *loader) incremental(n *yaml.Node, vars map[string]bool, ionapi bool) *Incremental {
	f, _ := l.fields(n, "incremental", "cursor", "type", "param", "filter", "format", "overlap")
	in := &Incremental{Type: CursorTime, Format: time.RFC3339}
	for _, k := range []string{"cursor", "param", "filter"} {
		if f[k] == nil {
			l.errorf(n, "incremental has no %s:", k)
		}
	}
	in.Cursor = l.str(f["cursor"], "cursor")
	if t := f["type"]; t != nil {
		in.Type = l.oneOf(t, "cursor type", []string{CursorTime, CursorNumber})
	}
	in.Param = l.str(f["param"], "param")
	in.Filter = l.str(f["filter"], "filter")
	if fn := f["filter"]; fn != nil {
		l.template(fn, in.Filter, vars, ionapi, true)
		if in.Cursor != "" && !strings.Contains(in.Filter, in.Cursor) {
			l.errorf(fn, "the filter does not name the cursor field %s (it must compare %s with {{cursor}})", in.Cursor, in.Cursor)
		}
	}
	if fm := f["format"]; fm != nil {
		in.Format = l.str(fm, "format")
	}
	if o := f["overlap"]; o != nil {
		s := l.str(o, "overlap")
		if in.Type == CursorNumber {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v < 0 {
				l.errorf(o, "overlap of a number cursor must be a whole number, not %q", s)
			}
			in.OverlapNum = v
		} else {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 {
				l.errorf(o, "overlap must be a duration such as 10m, not %q", s)
			}
			in.Overlap = d
		}
	}
	return in
}

var templateRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`) })

// ionapiPublic are the fields of an .ionapi file a template may name: the
// tenant and the gateway URL. The client secret and the service account's
// keys never go into a URL or a header template.
var ionapiPublic = []string{"ti", "iu", "pu", "cn"}

// template checks every {{name}} in s: var.NAME declared in variables,
// ionapi.FIELD for a public .ionapi field, cursor in a filter only.
func (l *loader) template(n *yaml.Node, s string, vars map[string]bool, ionapi, filter bool) {
	if strings.Count(s, "{{") != strings.Count(s, "}}") || strings.Count(s, "{{") != len(templateRE().FindAllString(s, -1)) {
		l.errorf(n, "unbalanced {{ }} in %q", s)
		return
	}
	sawCursor := false
	for _, m := range templateRE().FindAllStringSubmatch(s, -1) {
		name := m[1]
		switch {
		case name == "cursor" && filter:
			sawCursor = true
		case name == "cursor":
			l.errorf(n, "{{cursor}} can only be used in incremental.filter")
		case strings.HasPrefix(name, "var."):
			if !vars[strings.TrimPrefix(name, "var.")] {
				l.errorf(n, "template names {{%s}}, but variables: declares no %s", name, strings.TrimPrefix(name, "var."))
			}
		case strings.HasPrefix(name, "ionapi."):
			f := strings.TrimPrefix(name, "ionapi.")
			switch {
			case !ionapi:
				l.errorf(n, "template names {{%s}}, but auth has no credentials: ionapi", name)
			case !slices.Contains(ionapiPublic, f):
				l.errorf(n, "template names {{%s}}: only %s of an .ionapi file can be used in a template (the others are secrets)", name, strings.Join(ionapiPublic, ", "))
			}
		default:
			l.errorf(n, "template names unknown field {{%s}} (use {{var.NAME}}, {{ionapi.FIELD}} or, in a filter, {{cursor}})", name)
		}
	}
	if filter && !sawCursor {
		l.errorf(n, "the filter has no {{cursor}}: without it every sync reads everything again")
	}
}

// syntax records a YAML syntax error ("yaml: line 7: ...") at its line.
func (l *loader) syntax(err error) {
	msg := err.Error()
	line := 1
	if m := regexp.MustCompile(`line (\d+):?\s*`).FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.Replace(msg, m[0], "", 1)
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	l.errs = append(l.errs, &ProfileError{File: l.file, Line: line, Col: 1, Msg: "YAML syntax: " + msg})
}

// render fills a template; every name was checked at load.
func render(s string, vals map[string]string) string {
	return templateRE().ReplaceAllStringFunc(s, func(m string) string {
		return vals[templateRE().FindStringSubmatch(m)[1]]
	})
}
