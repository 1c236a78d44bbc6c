package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
)

// Delivery is one attempt at one action: what a target needs to build and
// send the action's requests.
type Delivery struct {
	Action *config.Action
	// Conn is the connector of the system written to; nil for the file
	// and http kinds.
	Conn *config.Connector
	// Key is the idempotency key (core.OutboxKey) the target writes into
	// the document, or sends as Idempotency-Key.
	Key    string
	Event  *core.Event
	Fields map[string]any
	// Client sends the requests: it has a cookie jar (SAP's CSRF
	// handshake and B1's session live in cookies) and the action's
	// timeout.
	Client *http.Client
	// Dry, when set, records the requests instead of sending them (hub
	// action test).
	Dry *DryRun
}

// target is a built-in action.
type target interface {
	// lookup asks the system whether the document with the delivery's
	// key exists, and its number: called before an action is sent again
	// after an attempt whose outcome is not known. errNoLookup when the
	// system cannot be asked (the key is then sent for the system to
	// recognise, as an Idempotency-Key).
	lookup(ctx context.Context, d *Delivery) (doc string, found bool, err error)
	// deliver sends the action and returns the document number.
	deliver(ctx context.Context, d *Delivery) (doc string, err error)
}

var errNoLookup = errors.New("this system cannot be asked for a document by its key")

// targets are the built-in actions, by kind.
var targets = map[string]target{
	"sap_goods_receipt":     s4Receipt{},
	"b1_goods_receipt_po":   b1Receipt{},
	"netsuite_item_receipt": netsuiteReceipt{},
	"bc_item_journal":       bcJournal{},
	"file":                  fileDrop{},
	"http":                  httpPost{},
}

// Failure is an attempt that failed: Permanent for a refusal the system
// will repeat (a 4xx: the ERP's validation message in Message), otherwise
// transient (429, 5xx, a timeout, a lost connection) and retried, not
// before RetryAfter when the system said so.
type Failure struct {
	Permanent  bool
	Status     int
	RetryAfter time.Duration
	Message    string
}

func (f *Failure) Error() string { return f.Message }

func permanent(format string, args ...any) *Failure {
	return &Failure{Permanent: true, Message: fmt.Sprintf(format, args...)}
}

// classify turns an error of an attempt into a Failure: a *Failure as
// is, anything else (a network error, a timeout, a context deadline)
// transient.
func classify(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return &Failure{Message: "timed out (the outcome is unknown: the ERP is asked before the action is sent again): " + err.Error()}
	}
	return &Failure{Message: err.Error()}
}

// newClient is the HTTP client of one delivery.
func newClient(timeout time.Duration, dry *DryRun) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: timeout}
	if dry != nil {
		c.Transport = dry
	}
	return c
}

// call sends a request with a JSON body (nil for none) and returns the
// answer's body. A non-2xx answer is a *Failure carrying the system's
// own message; okStatus lists other statuses the caller handles itself
// (404 for a lookup).
func call(ctx context.Context, d *Delivery, method, u string, hdr http.Header, body any, okStatus ...int) (*http.Response, []byte, error) {
	var rd io.Reader
	var raw []byte
	if body != nil {
		switch b := body.(type) {
		case []byte:
			raw = b
		default:
			var err error
			if raw, err = json.Marshal(b); err != nil {
				return nil, nil, permanent("encode the request to %s: %v", redactURL(u), err)
			}
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, permanent("bad request URL %s: %v (check the action's url or the connector's base_url)", redactURL(u), err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := d.Client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, redactURL(u), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: read the answer: %w", method, redactURL(u), err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, b, nil
	}
	for _, s := range okStatus {
		if resp.StatusCode == s {
			return resp, b, nil
		}
	}
	return nil, nil, httpFailure(method, u, resp, b)
}

// httpFailure classifies a non-2xx answer: 408, 429 and 5xx are transient
// (Retry-After honoured); any other status is permanent.
func httpFailure(method, u string, resp *http.Response, body []byte) *Failure {
	f := &Failure{Status: resp.StatusCode}
	msg := erpMessage(body)
	f.Message = fmt.Sprintf("%s %s: HTTP %d: %s", method, redactURL(u), resp.StatusCode, msg)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		f.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	default:
		f.Permanent = true
	}
	return f
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// erpMessage finds the system's own message in an error answer: SAP
// Gateway and Business One ({"error":{"message":{"value"}}}), Business
// Central ({"error":{"message"}}), NetSuite ({"o:errorDetails":[{"detail"}]}),
// or the text itself.
func erpMessage(body []byte) string {
	var v struct {
		Error struct {
			Code    any             `json:"code"`
			Message json.RawMessage `json:"message"`
		} `json:"error"`
		Details []struct {
			Detail string `json:"detail"`
			Code   string `json:"o:errorCode"`
		} `json:"o:errorDetails"`
		Title string `json:"title"`
	}
	if json.Unmarshal(body, &v) == nil {
		if len(v.Details) > 0 && v.Details[0].Detail != "" {
			return strings.TrimSpace(v.Details[0].Code + " " + v.Details[0].Detail)
		}
		if len(v.Error.Message) > 0 {
			var s string
			if json.Unmarshal(v.Error.Message, &s) == nil {
				return strings.TrimSpace(fmt.Sprint(orEmpty(v.Error.Code), " ", s))
			}
			var m struct {
				Value string `json:"value"`
			}
			if json.Unmarshal(v.Error.Message, &m) == nil && m.Value != "" {
				return strings.TrimSpace(fmt.Sprint(orEmpty(v.Error.Code), " ", m.Value))
			}
		}
		if v.Title != "" {
			return v.Title
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	if s == "" {
		s = "(no message)"
	}
	return s
}

func orEmpty(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// redactURL drops a URL's user information and query values that may
// hold secrets from messages.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	p.User = nil
	return p.String()
}

// field returns a payload field as text ("" when missing); numbers keep
// their digits (10, not 1e+01).
func field(d *Delivery, name string) string {
	switch v := d.Fields[name].(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// number returns a payload field as a number.
func number(d *Delivery, name string) (float64, error) {
	switch v := d.Fields[name].(type) {
	case float64:
		return v, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err == nil {
			return f, nil
		}
	}
	return 0, permanent("field %s is %v, not a number (fix the action's fields in hub.yaml)", name, d.Fields[name])
}

// require checks that the payload fields are not empty.
func require(d *Delivery, names ...string) error {
	var missing []string
	for _, n := range names {
		if field(d, n) == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return permanent("the event gives no %s for action %s (its fields are empty: fix the event or the action's fields)", strings.Join(missing, ", "), d.Action.Name)
	}
	return nil
}

// baseURL is the action's url, or its connector's base_url.
func baseURL(d *Delivery) (string, error) {
	u := d.Action.URL.Value()
	if u == "" && d.Conn != nil {
		u = d.Conn.Config["base_url"].Value()
	}
	if u == "" {
		return "", permanent("action %s has no URL: set url: on the action or base_url on connector %s", d.Action.Name, d.Action.Connector)
	}
	return strings.TrimRight(u, "/"), nil
}

// connValue is a non-secret setting of the action's connector
// (sap_client, company_db, …); the action's options win.
func connValue(d *Delivery, name string) string {
	if v, ok := d.Action.Options[name]; ok {
		return v
	}
	if d.Conn != nil {
		return d.Conn.Config[name].Value()
	}
	return ""
}
