package rest

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/jwt"

	"github.com/lothub/lothub/internal/jsonobject"
	"github.com/lothub/lothub/sdk"
)

// maxBody bounds one answer.
const maxBody = 64 << 20

// ionapi is an Infor ION API credentials file, as the API Gateway's
// "Download Credentials" writes it for a backend service with a service
// account (docs.infor.com, CRM "Working with the ION API download file":
// ti tenant, ci/cs client id and secret, iu gateway URL, pu authorization
// server URL, ot token path appended to pu, saak/sask the service
// account's access and secret keys, used as the resource owner's name and
// password).
type ionapi struct {
	Tenant       string `json:"ti"`
	Name         string `json:"cn"`
	ClientID     string `json:"ci"`
	ClientSecret string `json:"cs"`
	GatewayURL   string `json:"iu"`
	AuthURL      string `json:"pu"`
	TokenPath    string `json:"ot"`
	AccessKey    string `json:"saak"`
	SecretKey    string `json:"sask"`
}

func (f *ionapi) field(name string) string {
	switch name {
	case "ti":
		return f.Tenant
	case "iu":
		return strings.TrimRight(f.GatewayURL, "/")
	case "pu":
		return f.AuthURL
	case "cn":
		return f.Name
	}
	return ""
}

// readIONAPI reads the file; its errors never quote its content.
func readIONAPI(file string) (*ionapi, error) {
	if file == "" {
		return nil, sdk.InvalidConfig("ionapi_file", "is required by this profile: the .ionapi file downloaded from API Gateway > Authorized Apps (a backend service with a service account)")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, sdk.InvalidConfig("ionapi_file", "cannot read %s: %v", file, errors.Unwrap(err))
	}
	var f ionapi
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, sdk.InvalidConfig("ionapi_file", "%s is not an .ionapi file (JSON with ti, ci, cs, iu, pu, ot, saak, sask)", file)
	}
	var missing []string
	for k, v := range map[string]string{"ti": f.Tenant, "ci": f.ClientID, "cs": f.ClientSecret, "iu": f.GatewayURL, "pu": f.AuthURL, "ot": f.TokenPath, "saak": f.AccessKey, "sask": f.SecretKey} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, sdk.InvalidConfig("ionapi_file", "%s lacks %s: download the credentials again with Create Service Account on", file, strings.Join(sortedStrings(missing), ", "))
	}
	return &f, nil
}

// session is what one call needs.
type session struct {
	o  *options
	c  *Connector
	hc *http.Client
}

func (c *Connector) session(o *options) *session {
	return &session{o: o, c: c, hc: &http.Client{Transport: c.transport, Timeout: o.timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			// Credentials must not follow a request to another host.
			if len(via) > 0 && req.URL.Host != via[0].URL.Host {
				return fmt.Errorf("the API redirected to another host, %s; set base_url to the API's own address", req.URL.Host)
			}
			return nil
		}}}
}

// tokenSource returns the cached OAuth 2.0 token source of these
// credentials; fresh drops the cached one first.
func (s *session) tokenSource(fresh bool) oauth2.TokenSource {
	o := s.o
	key := o.credKey()
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if ts, ok := s.c.tokens[key]; ok && !fresh {
		return ts
	}
	// The token source outlives this call: it gets its own context with
	// the connector's HTTP client, not the call's.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: s.c.transport, Timeout: o.timeout})
	tokenURL := render(o.p.Auth.TokenURL, o.vals)
	if u := o.login.tokenURL; u != nil {
		tokenURL = u.String()
	}
	scopes := o.p.Auth.Scopes
	if len(o.login.scopes) > 0 {
		scopes = o.login.scopes
	}
	id, secret, user, pass := o.login.clientID, o.login.clientSecret, o.login.username, o.login.password
	if f := o.ion; f != nil {
		tokenURL = f.AuthURL + f.TokenPath
		if !strings.HasSuffix(f.AuthURL, "/") && !strings.HasPrefix(f.TokenPath, "/") {
			tokenURL = f.AuthURL + "/" + f.TokenPath
		}
		id, secret, user, pass = f.ClientID, f.ClientSecret, f.AccessKey, f.SecretKey
	}
	var ts oauth2.TokenSource
	switch o.p.Auth.Type {
	case AuthClientCredentials:
		ts = (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: tokenURL, Scopes: scopes}).TokenSource(ctx)
	case AuthPassword:
		cfg := &oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: oauth2.Endpoint{TokenURL: tokenURL}, Scopes: scopes}
		ts = oauth2.ReuseTokenSource(nil, &passwordSource{ctx: ctx, cfg: cfg, user: user, pass: pass})
	case AuthJWTBearer:
		if id != "" && secret != "" {
			// Oracle IAM also wants the client authenticated beside the
			// assertion: HTTP Basic with client_id and client_secret.
			ctx = context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: o.timeout,
				Transport: &clientAuth{next: s.c.transport, id: id, secret: secret}})
		}
		iss := o.login.jwtIssuer
		if iss == "" {
			iss = id
		}
		aud := render(o.p.Auth.Audience, o.vals)
		if a := o.login.jwtAudience; a != "" {
			aud = a
		}
		// The assertion lives 5 minutes (exp), the access token as long as
		// the endpoint says: ReuseTokenSource asks for a new one with a new
		// assertion before it expires.
		ts = (&jwt.Config{Email: iss, Subject: o.login.jwtSubject, Audience: aud, PrivateKey: o.key,
			PrivateKeyID: o.login.jwtKeyID, Scopes: scopes, TokenURL: tokenURL, Expires: assertionLife}).TokenSource(ctx)
	}
	s.c.tokens[key] = ts
	return ts
}

// assertionLife is how long a JWT bearer assertion is valid (its exp).
const assertionLife = 5 * time.Minute

// clientAuth authenticates the client at the token endpoint with HTTP
// Basic (RFC 6749 §2.3.1: both form-encoded first).
type clientAuth struct {
	next       http.RoundTripper
	id, secret string
}

func (c *clientAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	return c.next.RoundTrip(r)
}

// parseRSAKey checks that text is a PEM RSA private key (PKCS #1 or
// #8, not encrypted) and returns its block re-encoded. Its errors never
// quote the key.
func parseRSAKey(text string) ([]byte, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(text)))
	if block == nil {
		return nil, sdk.InvalidConfig("private_key", "is not a PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----); give the key file as ${file:/path/key.pem}")
	}
	if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, sdk.InvalidConfig("private_key", "is encrypted; decrypt it once (openssl pkey -in key.pem -out plain.pem) and keep the file readable by the hub only")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, sdk.InvalidConfig("private_key", "is a PEM %q block, not a private key", block.Type)
	}
	if err != nil {
		return nil, sdk.InvalidConfig("private_key", "is not a readable RSA private key (PKCS #1 or #8)")
	}
	if _, ok := key.(*rsa.PrivateKey); !ok {
		return nil, sdk.InvalidConfig("private_key", "is a %T key; the JWT assertion is signed RS256, with an RSA key", key)
	}
	return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: block.Bytes}), nil
}

// passwordSource asks for a new token with the resource owner's password
// whenever the last one expired (x/oauth2's PasswordCredentialsToken).
type passwordSource struct {
	ctx        context.Context
	cfg        *oauth2.Config
	user, pass string
}

func (p *passwordSource) Token() (*oauth2.Token, error) {
	return p.cfg.PasswordCredentialsToken(p.ctx, p.user, p.pass)
}

// authorize sets the request's credentials.
func (s *session) authorize(req *http.Request, fresh bool) error {
	o := s.o
	a := o.p.Auth
	for k, v := range o.p.Headers {
		req.Header.Set(k, render(v, o.vals))
	}
	if a.APIKeyHeader != "" {
		req.Header.Set(a.APIKeyHeader, o.login.apiKey)
	}
	switch a.Type {
	case AuthBasic:
		req.SetBasicAuth(o.login.username, o.login.password)
	case AuthBearer:
		req.Header.Set("Authorization", "Bearer "+o.login.token)
	case AuthAPIKey:
		req.Header.Set(a.Header, o.login.apiKey)
	case AuthClientCredentials, AuthPassword, AuthJWTBearer:
		tok, err := s.tokenSource(fresh).Token()
		if err != nil {
			return s.tokenError(err)
		}
		tok.SetAuthHeader(req)
	}
	return nil
}

func (s *session) tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		if re.Response.StatusCode == http.StatusTooManyRequests || re.Response.StatusCode >= 500 {
			d, _ := sdk.RetryDelay(sdk.RetryFromResponse(re.Response))
			return sdk.RetryAfter(d, fmt.Errorf("the token endpoint answered %s; the hub retries", re.Response.Status))
		}
		what := re.ErrorCode
		if what == "" {
			what = re.Response.Status
		}
		hint := "check client_id, client_secret, username and password"
		switch {
		case s.o.p.Auth.Type == AuthJWTBearer:
			hint = "check that private_key belongs to the certificate the token endpoint trusts for this client (jwt_key_id), and jwt_issuer, jwt_subject, jwt_audience, scopes"
		case s.o.ion != nil:
			hint = "check the .ionapi file (ionapi_file): the authorized app and its service account must be active"
		}
		return fmt.Errorf("the token endpoint refused the login (%s): %s", what, hint)
	}
	return sdk.RetryAfter(0, fmt.Errorf("cannot get an access token: %w", err))
}

// answer is a decoded response.
type answer struct {
	url    string
	body   map[string]any
	header http.Header
}

// get fetches u and decodes its JSON object. A 401 gets one fresh token
// and one more try; then it is a failure naming what to check.
func (s *session) get(ctx context.Context, u string) (*answer, error) {
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("request %s: %w", u, err)
		}
		req.Header.Set("Accept", "application/json")
		if err := s.authorize(req, attempt > 1); err != nil {
			return nil, err
		}
		resp, err := s.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("GET %s: %w", u, ctx.Err())
			}
			return nil, sdk.RetryAfter(0, fmt.Errorf("GET %s: %w", u, err))
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			return nil, sdk.RetryAfter(0, fmt.Errorf("GET %s: reading the answer: %w", u, err))
		}
		ctype := resp.Header.Get("Content-Type")
		switch {
		case resp.StatusCode == http.StatusUnauthorized && attempt == 1 && s.refreshable():
			continue
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			again := ""
			if attempt > 1 {
				again = " again, with a new access token"
			}
			return nil, fmt.Errorf("GET %s: the API refused the credentials%s (%s): check the profile's auth parameters and the user's permissions%s", u, again, resp.Status, snippet(data))
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			d, _ := sdk.RetryDelay(sdk.RetryFromResponse(resp))
			return nil, sdk.RetryAfter(d, fmt.Errorf("GET %s: %s (rate limit or outage; the hub retries)%s", u, resp.Status, snippet(data)))
		case resp.StatusCode != http.StatusOK:
			return nil, fmt.Errorf("GET %s: %s (%s)%s", u, resp.Status, ctype, snippet(data))
		}
		mt, _, _ := mime.ParseMediaType(ctype)
		if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return nil, fmt.Errorf("GET %s answered %s with %q, not JSON: is base_url the API's address (a login page or a proxy answered)?%s", u, resp.Status, ctype, snippet(data))
		}
		// A page of records decodes in one pass (jsonobject); what it
		// leaves, encoding/json decodes, with its errors.
		body, ok := jsonobject.Decode(data, true)
		if !ok {
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			if err := dec.Decode(&body); err != nil {
				return nil, fmt.Errorf("GET %s answered %s with JSON that is not an object (%v)%s", u, resp.Status, err, snippet(data))
			}
		}
		if e := s.o.p.Errors; e != nil {
			if v, ok := lookup(body, e.Field); ok && text(v) != e.OK {
				msg, _ := lookup(body, e.Message)
				return nil, fmt.Errorf("GET %s: the API reported a failure (%s %s): %s", u, e.Field, text(v), text(msg))
			}
		}
		return &answer{url: u, body: body, header: resp.Header}, nil
	}
}

func (s *session) refreshable() bool {
	t := s.o.p.Auth.Type
	return t == AuthClientCredentials || t == AuthPassword || t == AuthJWTBearer
}

func snippet(b []byte) string {
	t := strings.TrimSpace(string(b))
	if t == "" {
		return ""
	}
	if len(t) > 200 {
		t = t[:200] + "…"
	}
	return ": " + t
}

// clean keeps secrets out of an error's text, keeping what the hub tests.
func (o *options) clean(err error) error {
	if err == nil {
		return nil
	}
	msg := o.redact(err.Error())
	if msg == err.Error() {
		return err
	}
	r := &redacted{msg: msg, err: err}
	if d, ok := sdk.RetryDelay(err); ok {
		return sdk.RetryAfter(d, r)
	}
	return r
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string        { return r.msg }
func (r *redacted) Is(target error) bool { return errors.Is(r.err, target) }

// pageURL is the URL of an endpoint's page: tok is the paging token
// ("" for the first page: an offset, a page number, a bookmark or a next
// link), filter the incremental filter's value ("" for none).
func (s *session) pageURL(ep Endpoint, tok string, size int, filter string) (string, error) {
	pg := s.o.p.Paging
	if (pg.Style == PagingOData || pg.Style == PagingLink) && strings.HasPrefix(tok, "url:") {
		next := strings.TrimPrefix(tok, "url:")
		return s.resolve(next)
	}
	u, err := url.Parse(s.o.base + "/" + strings.TrimLeft(render(ep.Path, s.o.vals), "/"))
	if err != nil {
		return "", fmt.Errorf("endpoint %s: bad URL: %w", ep.Name, err)
	}
	q := u.Query()
	for k, v := range ep.Query {
		q.Set(k, render(v, s.o.vals))
	}
	if in := ep.Incremental; in != nil && filter != "" {
		q.Set(in.Param, render(in.Filter, map[string]string{"cursor": filter}))
	}
	if pg.SizeParam != "" {
		q.Set(pg.SizeParam, strconv.Itoa(size))
	}
	switch pg.Style {
	case PagingOffset, PagingOData:
		off := "0"
		if tok != "" {
			off = tok
		}
		q.Set(pg.OffsetParam, off)
	case PagingPage:
		n := strconv.Itoa(pg.FirstPage)
		if tok != "" {
			n = tok
		}
		q.Set(pg.PageParam, n)
	case PagingBookmark:
		if tok != "" {
			q.Set(pg.TokenParam, tok)
			for k, v := range pg.TokenQuery {
				q.Set(k, v)
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// resolve checks that a next link stays on the API's host: credentials
// never follow a link elsewhere.
func (s *session) resolve(next string) (string, error) {
	base, _ := url.Parse(s.o.base + "/")
	u, err := base.Parse(next)
	if err != nil {
		return "", fmt.Errorf("next link %q: %w", next, err)
	}
	if u.Host != base.Host {
		return "", fmt.Errorf("next link %q leaves the API's host %s", next, base.Host)
	}
	return u.String(), nil
}
