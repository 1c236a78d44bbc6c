package dynamics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/lothub/lothub/sdk"
)

// defaultHTTPClient is shared: its transport pools connections across reads.
var defaultHTTPClient = &http.Client{
	Transport: http.DefaultTransport.(*http.Transport).Clone(),
	// A redirect here is a sign-in page, never data: stop and say so.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (c *Connector) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return defaultHTTPClient
}

// maxBody bounds a response: a page of 10000 wide records is well under it.
const maxBody = 256 << 20

// collection is an OData v4 collection response.
type collection struct {
	Context  string            `json:"@odata.context"`
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"@odata.nextLink"`
}

// request is one call to the Dynamics API.
type request struct {
	method   string
	url      string
	body     any    // sent as JSON when not nil
	pageSize int    // Prefer: odata.maxpagesize, when > 0
	ifMatch  string // If-Match, for updates
	what     string // what the call does, for messages
}

// call sends req with a bearer token and decodes a JSON answer into out
// (when not nil). A token the API refuses is fetched again once: it may
// have been revoked, or the clock of the hub may be off.
func (c *Connector) call(ctx context.Context, o *options, req request, out any) error {
	for attempt := 0; ; attempt++ {
		err := c.callOnce(ctx, o, req, out)
		var ae *authError
		if attempt == 0 && errors.As(err, &ae) && ae.status == http.StatusUnauthorized {
			c.forgetToken(o)
			continue
		}
		return err
	}
}

func (c *Connector) callOnce(ctx context.Context, o *options, req request, out any) error {
	tok, err := c.token(ctx, o)
	if err != nil {
		return fmt.Errorf("%s: %w", req.what, err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var body io.Reader
	if req.body != nil {
		b, err := json.Marshal(req.body)
		if err != nil {
			return fmt.Errorf("%s: %w", req.what, err)
		}
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, req.url, body)
	if err != nil {
		return fmt.Errorf("%s: %w", req.what, err)
	}
	hr.Header.Set("Authorization", "Bearer "+tok)
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("OData-Version", "4.0")
	hr.Header.Set("OData-MaxVersion", "4.0")
	if req.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.pageSize > 0 {
		hr.Header.Set("Prefer", "odata.maxpagesize="+strconv.Itoa(req.pageSize))
	}
	if req.ifMatch != "" {
		hr.Header.Set("If-Match", req.ifMatch)
	}
	resp, err := c.httpClient().Do(hr)
	if err != nil {
		return transportError(ctx, o, req.what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(o, resp, req.what)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("%s: the answer is %s, not JSON: check that base_url is the %s API (%s)", req.what, orNone(mt), o.name(), o.base.Redacted())
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxBody))
	if err := dec.Decode(out); err != nil {
		if isCut(err) {
			// The connection dropped mid-page: nothing of the page was
			// delivered, and the position still points at it.
			return sdk.RetryAfter(0, fmt.Errorf("%s: the connection was cut while reading the answer (%v); the read resumes at the same page", req.what, err))
		}
		return fmt.Errorf("%s: the answer is not the JSON the OData API sends: %v", req.what, err)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "of no content type"
	}
	return s
}

// transportError classifies a failed request: the caller's cancellation is
// returned as is; anything else (refused, reset, timed out) is transient.
func transportError(ctx context.Context, o *options, what string, err error) error {
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", what, err)
	}
	msg := o.redact(err.Error())
	var ue *url.Error
	if errors.As(err, &ue) {
		// The URL may carry a long $filter: name the host only.
		msg = o.redact(ue.Err.Error())
	}
	return sdk.RetryAfter(0, fmt.Errorf("%s: cannot reach %s: %s (check the URL and that the hub can reach it)", what, o.base.Host, msg))
}

func isCut(err error) bool {
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne)
}

// odataError is the error body of OData v4 (both F&O and BC):
// {"error":{"code":"…","message":"…","innererror":{"message":"…","type":"…"}}}.
type odataError struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"innererror"`
	} `json:"error"`
}

// message returns "code: message" from an error body, or "".
func odataMessage(body []byte) string {
	var e odataError
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	msg := e.Error.Message
	// F&O often puts the useful text in innererror ("Could not find a
	// property named …") under a generic message.
	if in := e.Error.InnerError.Message; in != "" && !strings.Contains(msg, in) {
		if msg != "" {
			msg += ": "
		}
		msg += in
	}
	msg = firstLine(msg)
	switch {
	case e.Error.Code != "" && msg != "":
		return e.Error.Code + ": " + msg
	case msg != "":
		return msg
	}
	return e.Error.Code
}

// authError is a 401 or 403 from the API.
type authError struct {
	status int
	msg    string
}

func (e *authError) Error() string { return e.msg }

// responseError says what a non-2xx answer means and what to do about it.
func responseError(o *options, resp *http.Response, what string) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	detail := o.redact(odataMessage(body))
	if detail == "" {
		detail = resp.Status
	} else {
		detail = resp.Status + ": " + detail
	}
	if err := sdk.RetryFromResponse(resp); err != nil {
		advice := "the service is unavailable or overloaded; the hub retries"
		if resp.StatusCode == http.StatusTooManyRequests {
			advice = "throttled"
			if o.system == systemFO {
				advice += " (F&O priority-based throttling: give the integration a higher priority in System administration > Setup > Throttling priority mapping if this persists)"
			}
			advice += "; the hub retries after the Retry-After delay"
		}
		return fmt.Errorf("%s: %s: %s: %w", what, detail, advice, err)
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return &authError{status: resp.StatusCode, msg: fmt.Sprintf("%s: %s: %s", what, detail, o.unauthorizedAdvice())}
	case http.StatusForbidden:
		return &authError{status: resp.StatusCode, msg: fmt.Sprintf("%s: %s: %s", what, detail, o.forbiddenAdvice())}
	case http.StatusNotFound:
		return fmt.Errorf("%s: %s: %s", what, detail, o.notFoundAdvice())
	case http.StatusFound, http.StatusMovedPermanently, http.StatusSeeOther, http.StatusTemporaryRedirect:
		return fmt.Errorf("%s: %s: redirected to a sign-in page (%s): check base_url", what, resp.Status, resp.Header.Get("Location"))
	case http.StatusBadRequest:
		if strings.Contains(detail, "Could not find a property") || strings.Contains(detail, "does not exist on type") {
			return fmt.Errorf("%s: %s: the entity lacks a field the connector asks for: set select: false, or check the entity and its version in /data/$metadata", what, detail)
		}
	case http.StatusPreconditionFailed:
		return fmt.Errorf("%s: %s: changed meanwhile (ETag mismatch); the next sync tries again", what, detail)
	}
	return fmt.Errorf("%s: %s", what, detail)
}

func (o *options) unauthorizedAdvice() string {
	if o.system == systemFO {
		return "F&O refused the app's token: register client_id in System administration > Setup > Microsoft Entra applications, mapped to an enabled user, and check that base_url is the environment the token is for"
	}
	return "Business Central refused the app's token: add client_id on the Microsoft Entra Applications page with State Enabled, grant consent, and check tenant_id and bc_environment"
}

func (o *options) forbiddenAdvice() string {
	if o.system == systemFO {
		return "the user the app is mapped to (Microsoft Entra applications form) lacks a security role that can read this entity: give it one, or the lothub role from docs/connectors/dynamics.md"
	}
	return "the app's permission sets do not allow reading this: assign LOTHUB TRACE (or D365 READ) on the Microsoft Entra Applications page"
}

func (o *options) notFoundAdvice() string {
	if o.system == systemFO {
		return "no such entity: entity set names are case-sensitive; find yours in " + o.base.String() + "/data/$metadata and set it in entities (kind=EntitySet)"
	}
	return "no such company, environment or API page: check bc_environment, bc_company_id and bc_api (is the lothub API page installed? GET …/api/v2.0/companies lists the company ids)"
}

// query encodes OData system query options. url.Values would write spaces
// as '+', which some OData servers take literally inside $filter.
func query(pairs ...[2]string) string {
	var b strings.Builder
	for _, p := range pairs {
		if p[1] == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p[0])
		b.WriteByte('=')
		b.WriteString(strings.ReplaceAll(url.QueryEscape(p[1]), "+", "%20"))
	}
	return b.String()
}
