// Package sap is lothub's SAP connector: it reads the goods movements lot
// genealogy is built from, from SAP S/4HANA (the released OData v2 API
// API_MATERIAL_DOCUMENT_SRV) or from SAP Business One (the Service Layer).
// One connector, two systems, chosen by the system parameter.
//
// Reads are incremental: each system's documents are listed in the order of
// a timestamp the system keeps (S/4HANA: the material document's creation
// date and time; Business One: the document's update date), and the position
// holds the last timestamp read completely, the keys of the documents read
// near it, and where a document cut by the batch size stops. Each sync
// starts an overlap window before the last timestamp, so documents that the
// system committed late (an update task that ran after the next document
// was already visible) are not missed; documents already read in the window
// are recognised by key and not returned twice.
//
// The package does HTTP and nothing else: no store, no mapping. Its default
// mappings (mapping.yaml for S/4HANA, b1-mapping.yaml for Business One) turn
// its records into canonical events; docs/connectors/sap.md is the admin's
// guide.
package sap

import (
	"context"
	"embed"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/sdk"
)

// Record kinds. SAP names its entity sets in mixed case
// (A_MaterialDocumentItem); record kinds are lower case, so the S/4HANA kind
// is the entity set's name in lower case.
const (
	KindMaterialDocumentItem = "a_materialdocumentitem"
	KindB1GoodsReceiptPO     = "b1.purchase-delivery-notes"
	KindB1GoodsReceipt       = "b1.inventory-gen-entries"
	KindB1GoodsIssue         = "b1.inventory-gen-exits"
	KindB1Delivery           = "b1.delivery-notes"
	KindB1StockTransfer      = "b1.stock-transfers"
	KindB1BatchDetails       = "b1.batch-number-details"
)

// Systems the connector reads.
const (
	SystemS4 = "s4hana"
	SystemB1 = "b1"
)

// DefaultMappings holds the default mappings and their tests:
// mapping.yaml (S/4HANA) and b1-mapping.yaml (Business One). Admins copy
// one beside hub.yaml and adjust its tables.
//
//go:embed mapping.yaml mapping.test.yaml b1-mapping.yaml b1-mapping.test.yaml
var DefaultMappings embed.FS

// Connector reads SAP. It keeps no state a read depends on: what it caches
// (HTTP clients with their connections, OAuth tokens, idle Business One
// sessions) is keyed by the configuration and only saves round trips. It is
// safe for concurrent use.
type Connector struct {
	// Logger receives the connector's logs; slog.Default() when nil. Logs
	// never hold a secret or a request's credentials.
	Logger *slog.Logger
	// Now is the clock that dates Business One batch status changes (the
	// Service Layer keeps no update time for batches); time.Now when nil.
	Now func() time.Time

	mu      sync.Mutex
	clients map[string]*client // by configuration fingerprint
}

// New returns the connector.
func New() *Connector { return &Connector{} }

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
		Name:        "sap",
		Version:     "0.1.0",
		Description: "Reads goods movements with batches from SAP S/4HANA (OData API_MATERIAL_DOCUMENT_SRV) or SAP Business One (Service Layer).",
		Params: []sdk.Param{
			{Name: "system", Type: sdk.TypeString, Required: true,
				Description: "Which SAP system to read: s4hana (S/4HANA Cloud or on-premise, OData API_MATERIAL_DOCUMENT_SRV) or b1 (Business One Service Layer)."},
			{Name: "base_url", Type: sdk.TypeURL, Required: true,
				Description: "S/4HANA: the host (https://my123456-api.s4hana.cloud.sap) or the service root ending in /API_MATERIAL_DOCUMENT_SRV. Business One: the host and port (https://b1.example.com:50000) or the Service Layer root (…/b1s/v1 or …/b1s/v2)."},
			{Name: "sap_client", Type: sdk.TypeString,
				Description: "S/4HANA on-premise: the client (sap-client, three digits) to log on to; leave empty for S/4HANA Cloud."},
			{Name: "auth", Type: sdk.TypeString, Default: "basic",
				Description: "S/4HANA: basic (communication user and password) or oauth2 (OAuth 2.0 client credentials). Business One always logs in with company_db, user and password."},
			{Name: "user", Type: sdk.TypeString,
				Description: "S/4HANA: the communication user of the communication arrangement (basic auth). Business One: the user name."},
			{Name: "password", Type: sdk.TypeString, Secret: true,
				Description: "The password of user (a reference such as ${env:SAP_PASSWORD})."},
			{Name: "oauth_url", Type: sdk.TypeURL,
				Description: "auth oauth2: the token endpoint of the communication system's OAuth 2.0 client (…/sap/bc/sec/oauth2/token)."},
			{Name: "oauth_client_id", Type: sdk.TypeString,
				Description: "auth oauth2: the OAuth 2.0 client id."},
			{Name: "oauth_client_secret", Type: sdk.TypeString, Secret: true,
				Description: "auth oauth2: the OAuth 2.0 client secret (a reference such as ${env:SAP_CLIENT_SECRET})."},
			{Name: "oauth_scope", Type: sdk.TypeString,
				Description: "auth oauth2: scopes to ask for, separated by spaces; empty for the client's default."},
			{Name: "company_db", Type: sdk.TypeString,
				Description: "Business One: the company database to log in to (CompanyDB, e.g. SBODEMOUS)."},
			{Name: "ca_file", Type: sdk.TypeString,
				Description: "PEM file of the certificate authority that signed the server's certificate, when it is not a public one (on-premise S/4HANA, Business One's self-signed certificate)."},
			{Name: "page_size", Type: sdk.TypeInt, Default: "200",
				Description: "Documents per request ($top for S/4HANA, Prefer: odata.maxpagesize for Business One)."},
			{Name: "overlap", Type: sdk.TypeDuration, Default: "1h",
				Description: "How far before the last document read each sync looks again, to catch documents the system committed late; documents already read are recognised and skipped."},
			{Name: "start_date", Type: sdk.TypeString,
				Description: "First sync only: read documents created (S/4HANA) or updated (Business One) on or after this date, YYYY-MM-DD; empty reads the whole history."},
			{Name: "timezone", Type: sdk.TypeString, Default: "UTC",
				Description: "Time zone of the SAP system's creation and update times (IANA name such as Europe/Berlin); S/4HANA Cloud keeps UTC."},
			{Name: "extra_fields", Type: sdk.TypeString,
				Description: "S/4HANA: more A_MaterialDocumentItem fields to ask for, separated by commas (BatchBySupplier on releases that have it, YY1_ custom fields); the default asks only for the fields the default mapping uses."},
			{Name: "b1_documents", Type: sdk.TypeString, Default: strings.Join(b1DefaultSets, ","),
				Description: "Business One: the document entity sets to read, separated by commas (any of " + strings.Join(b1DefaultSets, ", ") + ")."},
			{Name: "request_timeout", Type: sdk.TypeDuration, Default: "60s",
				Description: "Longest wait for one HTTP request to SAP."},
		},
		Kinds: []string{KindMaterialDocumentItem, KindB1GoodsReceiptPO, KindB1GoodsReceipt, KindB1GoodsIssue, KindB1Delivery, KindB1StockTransfer, KindB1BatchDetails},
	}
}

// options is a configuration checked beyond what the spec can say.
type options struct {
	cfg         sdk.Config
	system      string
	base        *url.URL // service root, no trailing slash
	sapClient   string
	auth        string
	user        string
	password    string
	oauthURL    *url.URL
	clientID    string
	secret      string
	scopes      []string
	companyDB   string
	caFile      string
	pageSize    int
	overlap     time.Duration
	start       string // wall clock "2006-01-02T15:04:05", or ""
	loc         *time.Location
	extraFields []string
	b1Sets      []b1Set
	timeout     time.Duration
}

// Service roots appended to a base_url that is only a host.
const (
	s4ServicePath = "/sap/opu/odata/sap/API_MATERIAL_DOCUMENT_SRV"
	b1ServicePath = "/b1s/v1"
)

func optionsFrom(cfg sdk.Config) (*options, error) {
	d := sdk.NewDecoder((*Connector)(nil).Spec(), cfg)
	o := &options{
		cfg:       cfg,
		system:    d.OneOf("system", "a system this connector reads", SystemS4, SystemB1),
		sapClient: d.String("sap_client"),
		auth:      strings.ToLower(d.String("auth")),
		user:      d.String("user"),
		password:  d.Secret("password"),
		oauthURL:  d.URL("oauth_url"),
		clientID:  d.String("oauth_client_id"),
		secret:    d.Secret("oauth_client_secret"),
		scopes:    strings.Fields(d.String("oauth_scope")),
		companyDB: d.String("company_db"),
		caFile:    d.String("ca_file"),
		pageSize:  d.IntBetween("page_size", 1, 5000),
		overlap:   d.Duration("overlap"),
		timeout:   d.Duration("request_timeout"),
		loc:       d.Location("timezone"),
	}
	base := d.URL("base_url")
	start := d.Date("start_date", time.UTC)
	fields := d.List("extra_fields")
	b1Docs := d.List("b1_documents")
	if err := d.Err(); err != nil {
		return nil, err
	}
	if base.User != nil {
		return nil, sdk.InvalidConfig("base_url", "holds credentials: put them in user and password instead")
	}
	if base.Scheme != "https" && base.Scheme != "http" {
		return nil, sdk.InvalidConfig("base_url", "scheme %q: want https (or http for a test system)", base.Scheme)
	}
	base.RawQuery, base.Fragment = "", ""
	base.Path = strings.TrimRight(base.Path, "/")
	if base.Path == "" {
		if o.system == SystemS4 {
			base.Path = s4ServicePath
		} else {
			base.Path = b1ServicePath
		}
	}
	base.RawPath = ""
	o.base = base

	if o.sapClient != "" && (len(o.sapClient) != 3 || !digits(o.sapClient)) {
		return nil, sdk.InvalidConfig("sap_client", "%q is not a client: want three digits such as 100", o.sapClient)
	}
	if o.timeout <= 0 {
		o.timeout = 60 * time.Second
	}
	if !start.IsZero() {
		o.start = start.Format(wallLayout)
	}
	if o.caFile != "" {
		if _, err := os.Stat(o.caFile); err != nil {
			return nil, sdk.InvalidConfig("ca_file", "cannot read %s: %v", o.caFile, err)
		}
	}
	for _, f := range fields {
		if !odataName(f) {
			return nil, sdk.InvalidConfig("extra_fields", "%q is not a field name (letters, digits and _)", f)
		}
		o.extraFields = append(o.extraFields, f)
	}

	var err error
	switch o.system {
	case SystemS4:
		err = o.s4Auth()
	case SystemB1:
		err = o.b1Options(b1Docs)
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

func (o *options) s4Auth() error {
	switch o.auth {
	case "", "basic":
		o.auth = "basic"
		if o.user == "" {
			return sdk.InvalidConfig("user", "auth basic needs the communication user")
		}
		if o.password == "" {
			return sdk.InvalidConfig("password", "auth basic needs the communication user's password")
		}
	case "oauth2":
		if o.oauthURL == nil {
			return sdk.InvalidConfig("oauth_url", "auth oauth2 needs the token endpoint")
		}
		if o.clientID == "" {
			return sdk.InvalidConfig("oauth_client_id", "auth oauth2 needs the client id")
		}
		if o.secret == "" {
			return sdk.InvalidConfig("oauth_client_secret", "auth oauth2 needs the client secret")
		}
	default:
		return sdk.InvalidConfig("auth", "%q: want basic or oauth2", o.auth)
	}
	return nil
}

func (o *options) b1Options(docs []string) error {
	if o.auth != "" && o.auth != "basic" {
		return sdk.InvalidConfig("auth", "Business One logs in with company_db, user and password; leave auth at basic")
	}
	switch {
	case o.companyDB == "":
		return sdk.InvalidConfig("company_db", "Business One needs the company database (CompanyDB) to log in to")
	case o.user == "":
		return sdk.InvalidConfig("user", "Business One needs a user name to log in")
	case o.password == "":
		return sdk.InvalidConfig("password", "Business One needs the user's password to log in")
	}
	for _, n := range docs {
		set, ok := b1SetNamed(n)
		if !ok {
			return sdk.InvalidConfig("b1_documents", "%q is not an entity set this connector reads: want some of %s", n, strings.Join(b1DefaultSets, ", "))
		}
		if slices.ContainsFunc(o.b1Sets, func(s b1Set) bool { return s.Name == set.Name }) {
			return sdk.InvalidConfig("b1_documents", "%s is listed twice", set.Name)
		}
		o.b1Sets = append(o.b1Sets, set)
	}
	if len(o.b1Sets) == 0 {
		return sdk.InvalidConfig("b1_documents", "lists no entity set")
	}
	return nil
}

// fingerprint identifies the configuration, for caches. It hashes the
// secrets, never keeps them.
func (o *options) fingerprint() string { return o.cfg.Fingerprint() }

// redact removes secrets from text the connector did not write (server
// messages), before it goes into an error or a log.
func (o *options) redact(s string) string { return o.cfg.Redact(s) }

// systemName is how messages name the system.
func (o *options) systemName() string {
	if o.system == SystemB1 {
		return "SAP Business One"
	}
	return "SAP S/4HANA"
}

// Check implements sdk.Connector: it logs in and reads one document, which
// tests the URL, the certificate, the credentials and the authorisations.
func (c *Connector) Check(ctx context.Context, cfg sdk.Config) error {
	o, err := optionsFrom(cfg)
	if err != nil {
		return err
	}
	cl, err := c.client(o)
	if err != nil {
		return err
	}
	if o.system == SystemB1 {
		return cl.b1Check(ctx)
	}
	return cl.s4Check(ctx)
}

// Read implements sdk.Connector.
func (c *Connector) Read(ctx context.Context, cfg sdk.Config, p sdk.Position, limit int) (sdk.ReadResult, error) {
	o, err := optionsFrom(cfg)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	pos, err := decodePosition(p, o.system)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	cl, err := c.client(o)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	b := &batch{max: max(limit, 1), pos: pos, now: time.Now}
	if c.Now != nil {
		b.now = c.Now
	}
	if o.system == SystemB1 {
		err = cl.b1Read(ctx, b)
	} else {
		err = cl.scan(ctx, &s4Lister{cl: cl}, b)
	}
	if err != nil {
		if len(b.records) == 0 || ctx.Err() != nil {
			return sdk.ReadResult{}, err
		}
		// Keep what was read: the pages before the failure are complete,
		// and the next read resumes after them.
		c.log().WarnContext(ctx, "sap: read stopped early, returning the pages read so far", "system", o.system, "records", len(b.records), "err", err)
		b.more = true
	}
	next := b.pos.encode()
	c.log().DebugContext(ctx, "sap: read", "system", o.system, "records", len(b.records), "more", b.more)
	return sdk.ReadResult{Records: b.records, Next: next, More: b.more}, nil
}

// client returns the cached client for o, creating it.
func (c *Connector) client(o *options) (*client, error) {
	key := o.fingerprint()
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[key]; ok {
		return cl, nil
	}
	cl, err := newClient(o, c.log())
	if err != nil {
		return nil, err
	}
	if c.clients == nil {
		c.clients = map[string]*client{}
	}
	c.clients[key] = cl
	return cl, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// odataName reports whether s is a plain OData property name, safe to put
// in $select.
func odataName(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r == '_':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}
