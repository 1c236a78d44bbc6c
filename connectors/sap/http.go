package sap

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/lothub/lothub/sdk"
)

// maxBody bounds one answer: a page of documents. A larger one means
// page_size is too large for the documents' size.
const maxBody = 64 << 20

// client talks to one configured SAP system. It is shared by concurrent
// reads of the same configuration.
type client struct {
	o    *options
	log  *slog.Logger
	http *http.Client

	// OAuth 2.0 client credentials (S/4HANA auth oauth2): the token is
	// cached until it expires and fetched with the context of the read
	// that needs it.
	oauth *clientcredentials.Config
	tokMu sync.Mutex
	tok   *oauth2.Token

	// Idle Business One sessions, reused by the next read.
	sessMu sync.Mutex
	idle   []*b1Session
}

func newClient(o *options, log *slog.Logger) (*client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, sdk.InvalidConfig("ca_file", "cannot read %s: %v", o.caFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, sdk.InvalidConfig("ca_file", "%s holds no PEM certificate (want -----BEGIN CERTIFICATE-----)", o.caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	cl := &client{
		o:    o,
		log:  log.With("system", o.system),
		http: &http.Client{Transport: tr, Timeout: o.timeout},
	}
	if o.system == SystemS4 && o.auth == "oauth2" {
		cl.oauth = &clientcredentials.Config{
			ClientID:     o.clientID,
			ClientSecret: o.secret,
			TokenURL:     o.oauthURL.String(),
			Scopes:       o.scopes,
		}
	}
	return cl, nil
}

// where names a request in messages: method and URL without the query
// (which can be long, and is the connector's own).
func where(method string, u *url.URL) string {
	v := *u
	v.RawQuery, v.User = "", nil
	return method + " " + v.String()
}

// send sends req and returns the body of a 2xx answer. Any other answer
// becomes an error that says what to do (see statusError); a network
// failure is transient (sdk.ErrRetry) unless it is a certificate problem.
func (c *client) send(ctx context.Context, req *http.Request) ([]byte, *http.Response, error) {
	req = req.WithContext(ctx)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, c.transportError(ctx, req, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, resp, fmt.Errorf("%s: %s: %w", c.o.systemName(), where(req.Method, req.URL), ctx.Err())
		}
		// The connection broke in the middle of the answer (a proxy
		// timeout, a restarted work process): nothing of this page is
		// kept, and the read resumes at the last complete page.
		return nil, resp, sdk.RetryAfter(0, fmt.Errorf("%s: %s: the connection broke while reading the answer: %v", c.o.systemName(), where(req.Method, req.URL), err))
	}
	if len(body) > maxBody {
		return nil, resp, fmt.Errorf("%s: %s: the answer is larger than %d MiB: lower page_size", c.o.systemName(), where(req.Method, req.URL), maxBody>>20)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return body, resp, c.statusError(resp, body)
	}
	return body, resp, nil
}

// decodeJSON decodes a 2xx answer, telling an HTML page (a login or error
// page of a proxy) from JSON.
func (c *client) decodeJSON(resp *http.Response, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		what := where(resp.Request.Method, resp.Request.URL)
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/html" || bytes.HasPrefix(bytes.TrimSpace(body), []byte("<")) {
			return fmt.Errorf("%s: %s: the server answered with an HTML page instead of JSON (a login page or a proxy's error page): check that base_url leads to the API (for S/4HANA Cloud the -api host)", c.o.systemName(), what)
		}
		return fmt.Errorf("%s: %s: the answer is not the JSON this connector expects: %v", c.o.systemName(), what, err)
	}
	return nil
}

func (c *client) transportError(ctx context.Context, req *http.Request, err error) error {
	return c.networkError(ctx, c.o.systemName()+": "+where(req.Method, req.URL), err)
}

// networkError explains a request that got no answer. what names the
// request.
func (c *client) networkError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its text repeats the URL with the query
	}
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var invalid x509.CertificateInvalidError
	var netErr net.Error
	switch {
	case errors.As(err, &unknownCA):
		return fmt.Errorf("%s: the server's certificate is signed by an authority this host does not trust: set ca_file to the PEM file of that authority (%v)", what, err)
	case errors.As(err, &badHost):
		return fmt.Errorf("%s: the server's certificate is for another host name: use in base_url a host name the certificate names (%v)", what, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("%s: the server's certificate is not valid (expired, or not for servers): renew it on the SAP side (%v)", what, err)
	case errors.As(err, &netErr) && netErr.Timeout():
		return sdk.RetryAfter(0, fmt.Errorf("%s: no answer within %s (request_timeout): the system is slow or the network drops packets", what, c.o.timeout))
	}
	return sdk.RetryAfter(0, fmt.Errorf("%s: cannot reach the server: %v (check base_url, DNS, the firewall and that the system is up)", what, err))
}

// odataError is the error body of OData services: v2 and Business One v1
// send {"error":{"code":"...","message":{"lang":"en","value":"..."}}},
// OData v4 (Business One v2) sends "message" as a plain string; Business
// One's codes are numbers.
type odataError struct {
	Error struct {
		Code    json.RawMessage `json:"code"`
		Message json.RawMessage `json:"message"`
	} `json:"error"`
}

// odataMessage returns "code: message" from an OData error body, or "".
func odataMessage(body []byte) string {
	var e odataError
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	code := text(e.Error.Code)
	var msg string
	var obj struct {
		Value string `json:"value"`
	}
	if json.Unmarshal(e.Error.Message, &obj) == nil && obj.Value != "" {
		msg = obj.Value
	} else {
		msg = text(e.Error.Message)
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	switch {
	case code != "" && msg != "":
		return code + ": " + msg
	case msg != "":
		return msg
	}
	return code
}

// statusError turns a non-2xx answer into an error that says what failed,
// what SAP said, and what to do. 429 and 5xx are transient and honour
// Retry-After.
func (c *client) statusError(resp *http.Response, body []byte) error {
	what := c.o.systemName() + ": " + where(resp.Request.Method, resp.Request.URL)
	said := ""
	if m := odataMessage(body); m != "" {
		said = " (SAP says: " + c.o.redact(m) + ")"
	}
	status := fmt.Sprintf("HTTP %s%s", resp.Status, said)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		d := sdk.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return sdk.RetryAfter(d, fmt.Errorf("%s: %s: the system is busy or unavailable, retry later", what, status))
	}
	return fmt.Errorf("%s: %s: %s", what, status, c.hint(resp.StatusCode))
}

// hint says what to do about a refused request.
func (c *client) hint(status int) string {
	b1 := c.o.system == SystemB1
	switch status {
	case http.StatusUnauthorized:
		if b1 {
			return "the login was refused: check company_db, user and password (the user must have a Business One license)"
		}
		if c.o.auth == "oauth2" {
			return "the access token was refused: check the communication arrangement SAP_COM_0108 and that its communication user is the OAuth client's"
		}
		return "the credentials were refused: check user and password against the communication user of the communication arrangement SAP_COM_0108"
	case http.StatusForbidden:
		if b1 {
			return "the user is not authorised for this document type: check the user's general authorizations in Business One"
		}
		return "the user is not authorised: check the communication arrangement SAP_COM_0108 (Material Document Integration) for this communication user, or on-premise the user roles for API_MATERIAL_DOCUMENT_SRV"
	case http.StatusNotFound:
		if b1 {
			return "not found: check base_url (it must lead to the Service Layer, …:50000/b1s/v1) and b1_documents"
		}
		return "not found: check base_url (it must lead to …/sap/opu/odata/sap/API_MATERIAL_DOCUMENT_SRV) and, on-premise, that the service is active in /IWFND/MAINT_SERVICE"
	case http.StatusBadRequest:
		if b1 {
			return "the Service Layer rejected the query: if it names a field, this Business One version may not have it"
		}
		return "SAP rejected the query: if it names a field, your release may not have it (check extra_fields)"
	}
	return "unexpected answer"
}

// bearer returns a valid OAuth access token, fetching one when the cached
// one is missing or expired; fresh forces a new one (after a 401).
func (c *client) bearer(ctx context.Context, fresh bool) (string, error) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if !fresh && c.tok.Valid() {
		return c.tok.AccessToken, nil
	}
	tok, err := c.oauth.Token(context.WithValue(ctx, oauth2.HTTPClient, c.http))
	if err != nil {
		return "", c.tokenError(ctx, err)
	}
	c.tok = tok
	return tok.AccessToken, nil
}

func (c *client) tokenError(ctx context.Context, err error) error {
	what := "SAP S/4HANA: OAuth token request to " + where("POST", c.o.oauthURL)
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		said := re.ErrorCode
		if re.ErrorDescription != "" {
			said += ": " + re.ErrorDescription
		}
		if said == "" {
			said = odataMessage(re.Body)
		}
		if said != "" {
			said = " (" + c.o.redact(said) + ")"
		}
		st := re.Response.StatusCode
		if st == http.StatusTooManyRequests || st >= 500 {
			d := sdk.ParseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now())
			return sdk.RetryAfter(d, fmt.Errorf("%s: HTTP %s%s: retry later", what, re.Response.Status, said))
		}
		return fmt.Errorf("%s: HTTP %s%s: check oauth_url, oauth_client_id and oauth_client_secret against the communication system's OAuth 2.0 client", what, re.Response.Status, said)
	}
	return c.networkError(ctx, what, err)
}
