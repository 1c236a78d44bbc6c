package netsuite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/lothub/lothub/sdk"
)

// suiteqlPath is SuiteQL's REST resource (SuiteTalk REST Web Services,
// "Executing SuiteQL Queries Through REST Web Services").
const suiteqlPath = "/services/rest/query/v1/suiteql"

// maxBody bounds a response body: a page of 1,000 rows is well under it.
const maxBody = 64 << 20

// api calls one NetSuite account.
type api struct {
	o    *options
	hc   *http.Client
	auth authorizer
	log  *slog.Logger
}

// authorizer signs requests.
type authorizer interface {
	// authorize adds the Authorization header to req.
	authorize(ctx context.Context, req *http.Request) error
	// refresh drops a cached token after NetSuite refused it and reports
	// whether trying again can help.
	refresh() bool
	// loginHint says what to check when NetSuite refuses the login.
	loginHint() string
}

// page is one SuiteQL response.
type page struct {
	Links []struct {
		Rel  string `json:"rel"`
		Href string `json:"href"`
	} `json:"links"`
	Count        int   `json:"count"`
	HasMore      bool  `json:"hasMore"`
	Items        []row `json:"items"`
	Offset       int   `json:"offset"`
	TotalResults int   `json:"totalResults"`
}

// suiteql runs q and returns its first limit rows.
func (a *api) suiteql(ctx context.Context, q string, limit int) (*page, error) {
	body, err := json.Marshal(map[string]string{"q": q})
	if err != nil {
		return nil, fmt.Errorf("encode SuiteQL query: %w", err)
	}
	u := a.o.base + suiteqlPath + "?limit=" + strconv.Itoa(limit) + "&offset=0"
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("SuiteQL request: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		// Prefer: transient is required by the SuiteQL resource: the
		// query runs without being stored as a saved search.
		req.Header.Set("Prefer", "transient")
		if err := a.auth.authorize(ctx, req); err != nil {
			return nil, err
		}
		resp, err := a.hc.Do(req)
		if err != nil {
			return nil, a.transportError(ctx, err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			return nil, sdk.RetryAfter(0, fmt.Errorf("read SuiteQL response from %s: %w", a.host(), err))
		}
		if resp.StatusCode == http.StatusOK {
			var pg page
			if err := json.Unmarshal(data, &pg); err != nil {
				return nil, fmt.Errorf("SuiteQL response from %s is not the expected JSON (%v): %.200s", a.host(), err, data)
			}
			return &pg, nil
		}
		// An access token can expire or be revoked before the time it
		// was issued for: get a new one once, then give up.
		if resp.StatusCode == http.StatusUnauthorized && attempt == 1 && a.auth.refresh() {
			a.log.InfoContext(ctx, "NetSuite refused the access token; getting a new one")
			continue
		}
		return nil, a.responseError(resp, data, q)
	}
}

func (a *api) host() string {
	if i := strings.Index(a.o.base, "://"); i >= 0 {
		return a.o.base[i+3:]
	}
	return a.o.base
}

// transportError describes a request that got no response. Timeouts and
// dropped connections are transient; the hub retries them within its
// bound.
func (a *api) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("NetSuite request to %s: %w", a.host(), ctx.Err())
	}
	return sdk.RetryAfter(0, fmt.Errorf("cannot reach NetSuite at %s (check account_id, base_url and the network): %w", a.host(), err))
}

// errorBody is NetSuite's REST error document (RFC 9457 problem details
// with NetSuite's o:errorDetails).
type errorBody struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Status  int    `json:"status"`
	Details []struct {
		Detail string `json:"detail"`
		Code   string `json:"o:errorCode"`
	} `json:"o:errorDetails"`
}

func (e errorBody) code() string {
	for _, d := range e.Details {
		if d.Code != "" {
			return d.Code
		}
	}
	return ""
}

func (e errorBody) detail() string {
	var parts []string
	for _, d := range e.Details {
		if d.Detail != "" {
			parts = append(parts, d.Detail)
		}
	}
	if len(parts) == 0 {
		return e.Title
	}
	return strings.Join(parts, "; ")
}

var (
	// SuiteQL's answer when the role cannot see a table: "Invalid search
	// query. Detailed unprocessed description follows. Search error
	// occurred: Record 'inventoryassignment' was not found."
	recordNotFoundRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`Record '([A-Za-z0-9_]+)' was not found`) })
	// … and when it cannot see a field (or the field does not exist):
	// "Field 'custbody_x' for record 'transaction' was not found."
	fieldNotFoundRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`Field '([A-Za-z0-9_]+)' for record '([A-Za-z0-9_]+)' was not found`)
	})
)

// tablePermissions names the role permission (Setup > Users/Roles >
// Manage Roles > Permissions) that lets SuiteQL see each table.
var tablePermissions = map[string]string{
	"transaction":         "Transactions subtab: View on each transaction type read (Item Receipt, Item Fulfillment, Build Assembly, Unbuild Assemblies, Work Order, Enter Completions, Adjust Inventory, Transfer Inventory) and Find Transaction",
	"transactionline":     "Transactions subtab: View on each transaction type read (Item Receipt, Item Fulfillment, Build Assembly, Work Order, Adjust Inventory, Transfer Inventory)",
	"inventoryassignment": "Transactions subtab: View on the transaction types read, and Lists subtab: Items (the inventory detail of lot-numbered items)",
	"inventorynumber":     "Lists subtab: Items, and Lot Numbered Inventory / Inventory Numbers where the account lists it",
	"item":                "Lists subtab: Items (View)",
	"entity":              "Lists subtab: Customers and Vendors (View)",
	"unitstypeuom":        "Lists subtab: Units (View), needed when Multiple Units of Measure is on",
	"deletedrecord":       "Lists subtab: Deleted Records (View), or set deleted: false",
}

// responseError turns a NetSuite error response to query q into an error
// that quotes NetSuite's own message and, for a refused query, the query,
// and says what to do. 429 and 5xx are sdk.RetryAfter errors. The query
// holds no secret (credentials travel in the Authorization header).
func (a *api) responseError(resp *http.Response, data []byte, q string) error {
	var eb errorBody
	_ = json.Unmarshal(data, &eb) // an HTML error page leaves it empty
	code, detail := eb.code(), eb.detail()
	if detail == "" {
		detail = strings.TrimSpace(string(data))
		if len(detail) > 300 {
			detail = detail[:300] + "…"
		}
	}
	what := fmt.Sprintf("NetSuite answered %s", resp.Status)
	if code != "" {
		what += " " + code
	}
	if detail != "" {
		what += ": " + detail
	}
	switch {
	case code == "CONCURRENCY_LIMIT_EXCEEDED" || resp.StatusCode == http.StatusTooManyRequests:
		// The account's concurrency limit is shared by every integration;
		// back off and try again.
		re := sdk.RetryFromResponse(resp)
		d, _ := sdk.RetryDelay(re)
		return sdk.RetryAfter(d, fmt.Errorf("%s (the account's request concurrency limit is reached; the hub retries)", what))
	case resp.StatusCode >= 500:
		d, _ := sdk.RetryDelay(sdk.RetryFromResponse(resp))
		return sdk.RetryAfter(d, fmt.Errorf("%s (NetSuite is unavailable or overloaded; the hub retries)", what))
	case resp.StatusCode == http.StatusUnauthorized || code == "INVALID_LOGIN":
		return fmt.Errorf("%s: NetSuite refused the login: %s; the role needs the permissions REST Web Services, %s, and SuiteAnalytics Workbook; NetSuite's Login Audit Trail (Setup > Users/Roles > User Management > View Login Audit Trail) says why", what, a.auth.loginHint(), a.loginPermission())
	case resp.StatusCode == http.StatusForbidden || code == "INSUFFICIENT_PERMISSION":
		return fmt.Errorf("%s: the integration's role lacks a permission: it needs REST Web Services (Full), %s, SuiteAnalytics Workbook (Reports subtab, needed for SuiteQL), and View on the records read (see docs/connectors/netsuite.md, Role)", what, a.loginPermission())
	}
	// The query was refused: quote it, so that whoever reads the run's
	// error sees what NetSuite was asked besides what it answered.
	query := "; the query was: " + q
	if m := fieldNotFoundRE().FindStringSubmatch(detail); m != nil || code == "NONEXISTENT_FIELD" {
		field, record := "a field", "a record"
		if m != nil {
			field, record = "field "+m[1], "record "+m[2]
		}
		if m != nil && !a.o.extraNames(m[1], m[2]) {
			// Not a column the user added: the connector's own query
			// names it. Blaming extra_columns would send them looking in
			// the wrong place.
			return fmt.Errorf("%s: NetSuite does not expose %s of %s to this role, and the connector's own query needs it (not one of extra_columns): check that the role has View on %s and that the feature it belongs to is enabled; if both are, report this message to lothub%s", what, field, record, record, query)
		}
		return fmt.Errorf("%s: the role cannot see %s of %s: check the spelling in extra_columns, and for a custom field its Access subtab (the role, or no role restriction) and that it is applied to the record; standard fields need the record's View permission%s", what, field, record, query)
	}
	if m := recordNotFoundRE().FindStringSubmatch(detail); m != nil {
		perm, ok := tablePermissions[strings.ToLower(m[1])]
		if !ok {
			perm = "View on the record " + m[1]
		}
		return fmt.Errorf("%s: the role cannot see the table %s: grant %s%s", what, m[1], perm, query)
	}
	return fmt.Errorf("%s (NetSuite refused the SuiteQL query%s)", what, query)
}

// aliasTables are the tables behind the aliases of the connector's
// queries.
var aliasTables = map[string]string{"t": "transaction", "cf": "transaction", "tl": "transactionline",
	"ia": "inventoryassignment", "inv": "inventorynumber", "i": "item", "e": "entity", "bu": "unitstypeuom", "d": "deletedrecord"}

// extraNames reports whether field of record is one that extra_columns
// asked for.
func (o *options) extraNames(field, record string) bool {
	for _, c := range o.extra {
		expr := strings.TrimSuffix(strings.TrimPrefix(c.expr, "BUILTIN.DF("), ")")
		alias, f, _ := strings.Cut(expr, ".")
		if strings.EqualFold(f, field) && strings.EqualFold(aliasTables[alias], record) {
			return true
		}
	}
	return false
}

func (a *api) loginPermission() string {
	if a.o.auth == "tba" {
		return "Log in using Access Tokens"
	}
	return "Log in using OAuth 2.0 Access Tokens"
}

// clean keeps secrets out of err's text while keeping what the hub tests
// for: errors.Is still matches the original, and a retryable error stays
// an sdk.RetryError with its delay. NetSuite may echo a client id in an
// error description.
func (a *api) clean(err error) error {
	if err == nil {
		return nil
	}
	msg := a.o.redact(err.Error())
	if msg == err.Error() {
		return err
	}
	r := &redacted{msg: msg, err: err}
	if d, ok := sdk.RetryDelay(err); ok {
		return sdk.RetryAfter(d, r)
	}
	return r
}

// redacted is an error with its text cleaned. It does not unwrap, so the
// original text cannot be reached, but it matches what the original does.
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string        { return r.msg }
func (r *redacted) Is(target error) bool { return errors.Is(r.err, target) }
