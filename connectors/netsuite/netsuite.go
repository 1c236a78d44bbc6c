// Package netsuite is the lothub connector for Oracle NetSuite: it reads the
// inventory transactions lot genealogy is built from (item receipts, work
// order issues and completions, assembly builds and unbuilds, item
// fulfillments, inventory transfers and adjustments) with SuiteQL over
// SuiteTalk REST, one record per inventory assignment (a lot on a
// transaction line), and the transactions deleted since.
//
// It authenticates with OAuth 2.0 client credentials (machine to machine: a
// JWT signed with the private key of a certificate uploaded to NetSuite) or
// with token-based authentication (OAuth 1.0a, HMAC-SHA256).
//
// Reads are incremental by lastmodifieddate with an overlap window and
// keyset pagination; see position.go for why nothing is lost at time-zone
// boundaries or on large first syncs. The connector reads only; it never
// writes to NetSuite. docs/connectors/netsuite.md is the admin's guide.
package netsuite

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/sdk"
)

// Version is the connector's version, recorded with every run.
const Version = "0.1.0"

// Record kinds: one per NetSuite transaction type read, and one for
// deletions.
const (
	KindItemReceipt         = "item-receipt"
	KindItemFulfillment     = "item-fulfillment"
	KindWorkOrderIssue      = "work-order-issue"
	KindWorkOrderCompletion = "work-order-completion"
	KindAssemblyBuild       = "assembly-build"
	KindAssemblyUnbuild     = "assembly-unbuild"
	KindInventoryTransfer   = "inventory-transfer"
	KindInventoryAdjustment = "inventory-adjustment"
	KindDeletedTransaction  = "deleted-transaction"
)

// tranTypes maps the transaction types the connector reads (SuiteQL's
// transaction.type, as listed in NetSuite's Records Catalog) to record
// kinds. Vendor returns and transfer orders are fulfilled and received with
// item fulfillments and item receipts; the record's created_from_type
// (VendAuth, TrnfrOrd, SalesOrd, PurchOrd, RtnAuth) tells them apart.
var tranTypes = map[string]string{
	"ItemRcpt": KindItemReceipt,
	"ItemShip": KindItemFulfillment,
	"WOIssue":  KindWorkOrderIssue,
	"WOCompl":  KindWorkOrderCompletion,
	"Build":    KindAssemblyBuild,
	"Unbuild":  KindAssemblyUnbuild,
	"InvTrnfr": KindInventoryTransfer,
	"InvAdjst": KindInventoryAdjustment,
}

// defaultTypes is the default of the types parameter, in documentation
// order.
const defaultTypes = "ItemRcpt,WOIssue,WOCompl,Build,Unbuild,ItemShip,InvTrnfr,InvAdjst"

// Connector reads a NetSuite account. Its only state is a cache of OAuth
// 2.0 access tokens (NetSuite issues them for 60 minutes; asking for one
// per call would be slow and counts against the account's limits), so it
// is safe for concurrent use and nothing is lost when the process restarts.
type Connector struct {
	// Logger receives the connector's logs; slog.Default() when nil. No
	// secret is ever logged.
	Logger *slog.Logger

	mu        sync.Mutex
	tokens    map[string]*tokenCache // by hash of the credentials
	transport http.RoundTripper
}

// New returns the connector.
func New() *Connector {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 4
	return &Connector{tokens: map[string]*tokenCache{}, transport: t}
}

var _ sdk.Connector = (*Connector)(nil)

func (c *Connector) log() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// Spec implements sdk.Connector.
func (*Connector) Spec() sdk.Spec {
	return sdk.Spec{
		Name:    "netsuite",
		Version: Version,
		Description: "Reads NetSuite inventory transactions with lots (receipts, work order issues and completions, " +
			"assembly builds, fulfillments, transfers, adjustments) through SuiteQL over REST.",
		Params: []sdk.Param{
			{Name: "account_id", Type: sdk.TypeString, Required: true,
				Description: "NetSuite account ID as shown in Setup > Company > Company Information, e.g. 1234567 or 1234567_SB1 for a sandbox."},
			{Name: "timezone", Type: sdk.TypeString, Required: true,
				Description: "Time zone (IANA name, e.g. America/Chicago) of the user the integration logs in as: Home > Set Preferences > Time Zone of the entity mapped in the OAuth 2.0 M2M setup (or of the token's user). SuiteQL shows and compares times in it."},
			{Name: "auth", Type: sdk.TypeString, Default: "m2m",
				Description: "How to log in: m2m (OAuth 2.0 client credentials with a certificate, recommended) or tba (token-based authentication, OAuth 1.0a)."},
			{Name: "client_id", Type: sdk.TypeString, Secret: true,
				Description: "m2m: the Client ID of the integration record (Setup > Integration > Manage Integrations)."},
			{Name: "certificate_id", Type: sdk.TypeString,
				Description: "m2m: the Certificate ID shown in Setup > Integration > Manage Authentication > OAuth 2.0 Client Credentials (M2M) Setup for the uploaded certificate."},
			{Name: "private_key", Type: sdk.TypeString, Secret: true,
				Description: "m2m: the certificate's private key, PEM (RSA of 3072 or 4096 bits, signed PS256, or EC P-256/P-384/P-521, signed ES256/ES384/ES512); give it as a reference, ${file:/path/key.pem}."},
			{Name: "scope", Type: sdk.TypeString, Default: "rest_webservices",
				Description: "m2m: the scopes asked for, comma-separated; SuiteQL needs rest_webservices, which the integration record must allow."},
			{Name: "consumer_key", Type: sdk.TypeString, Secret: true,
				Description: "tba: the integration record's consumer key."},
			{Name: "consumer_secret", Type: sdk.TypeString, Secret: true,
				Description: "tba: the integration record's consumer secret."},
			{Name: "token_id", Type: sdk.TypeString, Secret: true,
				Description: "tba: the access token's id (Setup > Users/Roles > Access Tokens)."},
			{Name: "token_secret", Type: sdk.TypeString, Secret: true,
				Description: "tba: the access token's secret."},
			{Name: "types", Type: sdk.TypeString, Default: defaultTypes,
				Description: "Transaction types to read, comma-separated, from: ItemRcpt, ItemShip, WOIssue, WOCompl, Build, Unbuild, InvTrnfr, InvAdjst."},
			{Name: "extra_columns", Type: sdk.TypeString,
				Description: "More columns for each record, comma-separated, as 'alias.field AS name' over the query's tables (t transaction, tl transactionline, ia inventoryassignment, inv inventorynumber, i item, e entity), e.g. 'inv.custitemnumber_vendor_lot AS supplier_lot'."},
			{Name: "start", Type: sdk.TypeString,
				Description: "First sync only: read transactions last modified on or after this date (YYYY-MM-DD, in the account's time zone); empty reads all history."},
			{Name: "overlap", Type: sdk.TypeDuration, Default: "15m",
				Description: "How far back each sync looks again before the last change it saw, to catch transactions saved while it ran; records already read are skipped."},
			{Name: "deleted", Type: sdk.TypeBool, Default: "true",
				Description: "Also read deleted transactions (deletedrecord table; the role needs Lists > Deleted Records)."},
			{Name: "page_size", Type: sdk.TypeInt, Default: "1000",
				Description: "Rows per SuiteQL request, 1 to 1000 (NetSuite's maximum)."},
			{Name: "request_timeout", Type: sdk.TypeDuration, Default: "2m",
				Description: "Longest wait for one NetSuite request."},
			{Name: "base_url", Type: sdk.TypeURL,
				Description: "Override of https://ACCOUNT.suitetalk.api.netsuite.com, for a proxy or tests; leave empty."},
		},
		Kinds: []string{
			KindItemReceipt, KindWorkOrderIssue, KindWorkOrderCompletion, KindAssemblyBuild, KindAssemblyUnbuild,
			KindItemFulfillment, KindInventoryTransfer, KindInventoryAdjustment, KindDeletedTransaction,
		},
	}
}

// options is the configuration, checked beyond what the spec can say.
type options struct {
	account  string // as configured: 1234567_SB1
	base     string // https://1234567-sb1.suitetalk.api.netsuite.com, no trailing slash
	loc      *time.Location
	auth     string
	m2m      m2mCreds
	tba      tbaCreds
	types    []string
	extra    []column
	start    time.Time // UTC; zero: all history
	overlap  time.Duration
	deleted  bool
	pageSize int
	timeout  time.Duration
	redact   func(string) string
}

type m2mCreds struct {
	clientID, certID, scope string
	key                     *signer
	keyHash                 string // identifies the key in the token cache
}

type tbaCreds struct {
	consumerKey, consumerSecret, tokenID, tokenSecret string
}

// NetSuite account IDs are digits, or letters and digits for test drive
// accounts, with a suffix for sandboxes and release previews (_SB1, _RP).
var accountRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9]+(_[A-Za-z0-9]+)?$`) })

// accountHost is the account's REST host: the account ID in lower case
// with '_' replaced by '-' (1234567_SB1 → 1234567-sb1), as NetSuite's
// account-specific domains spell it.
func accountHost(account string) string {
	return strings.ToLower(strings.ReplaceAll(account, "_", "-")) + ".suitetalk.api.netsuite.com"
}

func optionsFrom(cfg sdk.Config) (*options, error) {
	d := sdk.NewDecoder((*Connector)(nil).Spec(), cfg)
	o := &options{
		account:  d.String("account_id"),
		loc:      d.Location("timezone"),
		auth:     d.OneOf("auth", "a login method (m2m for OAuth 2.0 client credentials, tba for token-based authentication)", "m2m", "tba"),
		overlap:  d.DurationAtLeast("overlap", time.Minute),
		deleted:  d.Bool("deleted"),
		pageSize: d.IntBetween("page_size", 1, maxPageSize),
		timeout:  d.PositiveDuration("request_timeout"),
		redact:   cfg.Redact,
	}
	base := d.URL("base_url")
	types := d.Words("types")
	extra := d.String("extra_columns")
	if o.loc != nil {
		o.start = d.Date("start", o.loc).UTC()
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	if !accountRE().MatchString(o.account) {
		return nil, sdk.InvalidConfig("account_id", "%q is not a NetSuite account ID (digits, with a suffix such as _SB1 for a sandbox)", o.account)
	}
	if base != nil {
		o.base = strings.TrimRight(base.String(), "/")
	} else {
		o.base = (&url.URL{Scheme: "https", Host: accountHost(o.account)}).String()
	}
	var err error
	switch o.auth {
	case "m2m":
		if o.m2m, err = m2mFrom(d, cfg); err != nil {
			return nil, err
		}
	case "tba":
		if o.tba, err = tbaFrom(d); err != nil {
			return nil, err
		}
	}
	for _, t := range types {
		if _, ok := tranTypes[t]; !ok {
			return nil, sdk.InvalidConfig("types", "%q is not a transaction type this connector reads (use %s)", t, strings.Join(slices.Sorted(maps.Keys(tranTypes)), ", "))
		}
		if !slices.Contains(o.types, t) {
			o.types = append(o.types, t)
		}
	}
	if len(o.types) == 0 {
		return nil, sdk.InvalidConfig("types", "names no transaction type (the default is %s)", defaultTypes)
	}
	slices.Sort(o.types)
	if o.extra, err = parseExtraColumns(extra); err != nil {
		return nil, err
	}
	return o, nil
}

// tbaFrom reads the credentials of auth: tba with d, which has read the
// other parameters without error.
func tbaFrom(d *sdk.Decoder) (tbaCreds, error) {
	t := tbaCreds{consumerKey: d.Secret("consumer_key"), consumerSecret: d.Secret("consumer_secret"),
		tokenID: d.Secret("token_id"), tokenSecret: d.Secret("token_secret")}
	if err := d.Err(); err != nil {
		return t, err
	}
	for _, f := range []struct{ name, v string }{
		{"consumer_key", t.consumerKey}, {"consumer_secret", t.consumerSecret}, {"token_id", t.tokenID}, {"token_secret", t.tokenSecret},
	} {
		if f.v == "" {
			return t, sdk.InvalidConfig(f.name, "is required with auth: tba (from the integration record and the access token; give it as a reference, ${env:NAME})")
		}
	}
	return t, nil
}

// m2mFrom reads the credentials of auth: m2m with d, which has read the
// other parameters of cfg without error.
func m2mFrom(d *sdk.Decoder, cfg sdk.Config) (m2mCreds, error) {
	m := m2mCreds{clientID: d.Secret("client_id"), certID: d.String("certificate_id")}
	key := d.Secret("private_key")
	scope := d.String("scope")
	scopes := d.Words("scope")
	if err := d.Err(); err != nil {
		return m, err
	}
	switch {
	case m.clientID == "":
		return m, sdk.InvalidConfig("client_id", "is required with auth: m2m: the Client ID of the integration record")
	case m.certID == "":
		return m, sdk.InvalidConfig("certificate_id", "is required with auth: m2m: the Certificate ID from Setup > Integration > Manage Authentication > OAuth 2.0 Client Credentials (M2M) Setup")
	case key == "":
		return m, sdk.InvalidConfig("private_key", "is required with auth: m2m: the certificate's private key in PEM, as a reference such as ${file:/etc/lothub/netsuite-key.pem}")
	}
	signer, err := parsePrivateKey(key)
	if err != nil {
		return m, sdk.InvalidConfig("private_key", "%v", err)
	}
	m.key = signer
	m.keyHash = cfg.Fingerprint("private_key")[:16]
	if !slices.Contains(scopes, "rest_webservices") {
		return m, sdk.InvalidConfig("scope", "%q lacks rest_webservices, which SuiteQL over REST needs", scope)
	}
	m.scope = strings.Join(scopes, ",")
	return m, nil
}

// session is what one call needs: the options and an API client.
func (c *Connector) session(cfg sdk.Config) (*options, *api, error) {
	o, err := optionsFrom(cfg)
	if err != nil {
		return nil, nil, err
	}
	a := &api{
		o:   o,
		hc:  &http.Client{Transport: c.transport, Timeout: o.timeout, CheckRedirect: noRedirect},
		log: c.log().With("connector", "netsuite", "account", o.account),
	}
	switch o.auth {
	case "m2m":
		a.auth = c.m2mAuth(o, a.hc)
	case "tba":
		a.auth = &tbaAuth{realm: strings.ToUpper(o.account), creds: o.tba}
	}
	return o, a, nil
}

// noRedirect refuses redirects: a redirected POST would lose its body, and
// the Authorization header must not follow the request to another host.
func noRedirect(req *http.Request, via []*http.Request) error {
	return fmt.Errorf("NetSuite redirected the request to %s; set base_url to the account's REST domain (https://ACCOUNT.suitetalk.api.netsuite.com)", req.URL.Host)
}

// Check implements sdk.Connector: it logs in and runs each query the
// connector uses for one row, so that a missing permission or an unknown
// custom field shows now rather than in the first sync.
func (c *Connector) Check(ctx context.Context, cfg sdk.Config) error {
	o, a, err := c.session(cfg)
	if err != nil {
		return err
	}
	// A recent lower bound keeps NetSuite from sorting all of history to
	// find one row.
	recent := streamPos{From: time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)}
	if _, err := a.suiteql(ctx, transactionQuery(o, recent), 1); err != nil {
		return a.clean(fmt.Errorf("check NetSuite account %s: %w", o.account, err))
	}
	if o.deleted {
		if _, err := a.suiteql(ctx, deletedQuery(o, recent), 1); err != nil {
			return a.clean(fmt.Errorf("check NetSuite account %s (deleted records): %w", o.account, err))
		}
	}
	return nil
}

// Read implements sdk.Connector.
func (c *Connector) Read(ctx context.Context, cfg sdk.Config, p sdk.Position, n int) (sdk.ReadResult, error) {
	o, a, err := c.session(cfg)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	pos, err := decodePosition(p, o)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	res, err := (&reader{o: o, a: a, pos: pos}).read(ctx, max(n, 1))
	if err != nil {
		return sdk.ReadResult{}, a.clean(err)
	}
	return res, nil
}
