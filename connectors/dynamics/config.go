package dynamics

import (
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/sdk"
)

// Version is the connector's version, recorded with every run.
const Version = "0.1.0"

// Defaults that depend on nothing else.
const (
	defaultAuthority = "https://login.microsoftonline.com"
	bcAPIHost        = "https://api.businesscentral.dynamics.com"
	// bcScope is the Business Central resource for every environment: the
	// token is for the service, the URL path picks tenant and environment.
	bcScope = bcAPIHost + "/.default"
)

var spec = sdk.Spec{
	Name:        "dynamics",
	Version:     Version,
	Description: "Reads inventory transactions with their batches from Microsoft Dynamics 365 Finance & Operations (OData v4) or item ledger entries with lot numbers from Business Central (API), incrementally, and takes Business Central's change notifications.",
	Params: []sdk.Param{
		{Name: "system", Type: sdk.TypeString, Required: true,
			Description: "Which Dynamics 365: fo for Finance & Operations / Supply Chain Management, bc for Business Central."},
		{Name: "tenant_id", Type: sdk.TypeString, Required: true,
			Description: "Microsoft Entra tenant the app is registered in: its id (a GUID) or a verified domain such as contoso.onmicrosoft.com."},
		{Name: "client_id", Type: sdk.TypeString, Required: true,
			Description: "Application (client) id of the Entra app registration the hub signs in as (a GUID)."},
		{Name: "client_secret", Type: sdk.TypeString, Secret: true,
			Description: "A client secret of the app registration (Certificates & secrets); give this or client_certificate, as a reference such as ${env:DYNAMICS_SECRET}."},
		{Name: "client_certificate", Type: sdk.TypeString, Secret: true,
			Description: "PEM with the certificate uploaded to the app registration and its RSA private key, used instead of a secret; give it as ${file:/path/to/app.pem}."},
		{Name: "base_url", Type: sdk.TypeURL,
			Description: "F&O: the environment URL, https://<env>.operations.dynamics.com (required). BC: the API host; leave empty for https://api.businesscentral.dynamics.com."},
		{Name: "authority_url", Type: sdk.TypeURL, Default: defaultAuthority,
			Description: "Entra ID sign-in host; change it only for national clouds (https://login.microsoftonline.us)."},
		{Name: "scope", Type: sdk.TypeString,
			Description: "OAuth scope of the token; empty for <base_url>/.default (F&O) or https://api.businesscentral.dynamics.com/.default (BC)."},
		{Name: "entities", Type: sdk.TypeString,
			Description: "What to read, comma-separated, each optionally with this environment's entity set name: F&O inventory-transaction (default), product-receipt-line, picking-list-line, report-as-finished-line; BC item-ledger-entry (default). Example: picking-list-line=ProductionPickingListJournalEntries."},
		{Name: "overlap", Type: sdk.TypeDuration, Default: "10m",
			Description: "How far back each read looks before the last modified time it saw, to catch records committed late; records already read are skipped."},
		{Name: "start", Type: sdk.TypeString,
			Description: "Read nothing modified before this date (2026-01-01 or an RFC 3339 time) on the first sync; empty reads all history."},
		{Name: "page_size", Type: sdk.TypeInt, Default: "1000",
			Description: "Records per page asked of the server (Prefer: odata.maxpagesize), at most 10000."},
		{Name: "select", Type: sdk.TypeBool, Default: "true",
			Description: "Ask only for the fields the default mapping uses ($select); set false when your entity version lacks one of them, or your mapping needs more."},
		{Name: "request_timeout", Type: sdk.TypeDuration, Default: "60s",
			Description: "Bound on one HTTP request to Entra ID or Dynamics."},
		{Name: "fo_cross_company", Type: sdk.TypeBool, Default: "true",
			Description: "F&O: read every legal entity (cross-company=true); false reads only the default company of the user the app is mapped to."},
		{Name: "fo_companies", Type: sdk.TypeString,
			Description: "F&O: read only these legal entities (dataAreaId), comma-separated, e.g. usmf,demf; empty for all."},
		{Name: "bc_environment", Type: sdk.TypeString, Default: "production",
			Description: "BC: environment name as in the admin center (production, sandbox, …)."},
		{Name: "bc_company_id", Type: sdk.TypeString,
			Description: "BC: id (GUID) of the company to read; GET …/api/v2.0/companies lists them. Required for bc."},
		{Name: "bc_api", Type: sdk.TypeString, Default: "lothub/traceability/v1.0",
			Description: "BC: API route: publisher/group/version of the lothub API page (default); microsoft/analytics/v1.0 for Microsoft's analytics API (lot numbers, but no order numbers, names or corrections; no webhooks); or v2.0 for the standard API, whose item ledger entries have no lot numbers."},
		{Name: "bc_webhook_secret", Type: sdk.TypeString, Secret: true,
			Description: "BC: clientState sent with the webhook subscription and checked on every notification (at least 16 random characters); empty turns webhooks off."},
		{Name: "bc_webhook_url", Type: sdk.TypeURL,
			Description: "BC: public https URL of the hub's webhook endpoint for this connector (…/v1/webhooks/<name>); when set, each sync creates the subscription and renews it before it expires."},
		{Name: "bc_webhook_renew_before", Type: sdk.TypeDuration, Default: "36h",
			Description: "BC: renew the subscription when it expires within this time (BC subscriptions expire after three days); keep it longer than the time between syncs."},
	},
	Kinds: Kinds(),
}

// options is a configuration checked beyond what the spec can say.
type options struct {
	system      string
	tenant      string
	clientID    string
	secret      string
	cert        *certificate
	authority   *url.URL
	scope       string
	base        *url.URL
	kinds       []kind
	overlap     time.Duration
	start       time.Time
	pageSize    int
	selectOn    bool
	timeout     time.Duration
	redact      func(string) string
	foCross     bool
	foCompanies []string
	bcEnv       string
	bcCompany   string
	bcAPI       string
	hookSecret  string
	hookURL     *url.URL
	renewBefore time.Duration
}

var (
	guidRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	})
	tenantRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*$`) })
	companyRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_]{1,8}$`) })
	envRE     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`) })
	apiRE     = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(v2\.0|[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/v[0-9]+\.[0-9]+)$`)
	})
)

// optionsFrom reads cfg with an sdk.Decoder (which checks required
// parameters again: a plugin must not rely on the hub) and checks what
// only this connector knows.
func optionsFrom(cfg sdk.Config) (options, error) {
	d := sdk.NewDecoder(spec, cfg)
	o := options{
		system:      d.OneOf("system", "a Dynamics 365 system (fo is Finance & Operations, bc Business Central)", systemFO, systemBC),
		tenant:      d.String("tenant_id"),
		clientID:    d.String("client_id"),
		secret:      d.Secret("client_secret"),
		scope:       d.String("scope"),
		overlap:     d.Duration("overlap"),
		pageSize:    d.IntBetween("page_size", 1, 10000),
		selectOn:    d.Bool("select"),
		timeout:     d.PositiveDuration("request_timeout"),
		redact:      cfg.Redact,
		foCross:     d.Bool("fo_cross_company"),
		bcEnv:       d.String("bc_environment"),
		bcCompany:   d.String("bc_company_id"),
		bcAPI:       strings.Trim(d.String("bc_api"), "/"),
		hookSecret:  d.Secret("bc_webhook_secret"),
		hookURL:     d.URL("bc_webhook_url"),
		renewBefore: d.Duration("bc_webhook_renew_before"),
		start:       d.DateOrTime("start", time.UTC),
	}
	pem := d.Secret("client_certificate")
	authority := d.URL("authority_url")
	entities := d.String("entities")
	base := d.URL("base_url")
	companies := d.List("fo_companies")
	if err := d.Err(); err != nil {
		return o, err
	}
	switch {
	case !tenantRE().MatchString(o.tenant):
		return o, sdk.InvalidConfig("tenant_id", "%q is neither a tenant id (GUID) nor a domain", o.tenant)
	case !guidRE().MatchString(o.clientID):
		return o, sdk.InvalidConfig("client_id", "%q is not an application id: copy the GUID from the app registration's Overview", o.clientID)
	}
	switch {
	case o.secret == "" && pem == "":
		return o, sdk.InvalidConfig("client_secret", "give client_secret or client_certificate, the credential of the app registration")
	case o.secret != "" && pem != "":
		return o, sdk.InvalidConfig("client_certificate", "give client_secret or client_certificate, not both")
	case pem != "":
		c, err := parseCertificate([]byte(pem))
		if err != nil {
			return o, sdk.InvalidConfig("client_certificate", "%v", err)
		}
		o.cert = c
	}
	var err error
	if o.authority, err = httpsURL(authority, "authority_url"); err != nil {
		return o, err
	}
	if o.kinds, err = parseEntities(o.system, entities, o.bcAPI); err != nil {
		return o, sdk.InvalidConfig("entities", "%v", err)
	}
	if o.system == systemFO {
		return o, o.foOptions(base, companies)
	}
	return o, o.bcOptions(base)
}

func (o *options) foOptions(base *url.URL, companies []string) error {
	if base == nil {
		return sdk.InvalidConfig("base_url", "required for F&O: the environment URL, such as https://contoso.operations.dynamics.com")
	}
	var err error
	if o.base, err = httpsURL(base, "base_url"); err != nil {
		return err
	}
	if p := strings.Trim(o.base.Path, "/"); p != "" {
		return sdk.InvalidConfig("base_url", "give the environment URL without a path (%q, not …/%s); the connector adds /data", o.base.Scheme+"://"+o.base.Host, p)
	}
	o.base.Path = ""
	if o.scope == "" {
		// F&O's resource is the environment URL itself.
		o.scope = o.base.Scheme + "://" + o.base.Host + "/.default"
	}
	for _, c := range companies {
		if !companyRE().MatchString(c) {
			return sdk.InvalidConfig("fo_companies", "%q is not a legal entity id (dataAreaId, such as usmf)", c)
		}
		o.foCompanies = append(o.foCompanies, c)
	}
	if o.hookSecret != "" || o.hookURL != nil {
		return sdk.InvalidConfig("bc_webhook_url", "webhooks are for Business Central; F&O is read on the schedule (remove bc_webhook_url and bc_webhook_secret)")
	}
	return nil
}

func (o *options) bcOptions(base *url.URL) error {
	if base == nil {
		base, _ = url.Parse(bcAPIHost)
	}
	var err error
	if o.base, err = httpsURL(base, "base_url"); err != nil {
		return err
	}
	o.base.Path = strings.TrimRight(o.base.Path, "/")
	if o.scope == "" {
		o.scope = bcScope
	}
	switch {
	case !envRE().MatchString(o.bcEnv):
		return sdk.InvalidConfig("bc_environment", "%q is not an environment name (see the Business Central admin center)", o.bcEnv)
	case o.bcCompany == "":
		return sdk.InvalidConfig("bc_company_id", "required for Business Central: the company id (GUID); GET %s/v2.0/%s/%s/api/v2.0/companies lists them", bcAPIHost, o.tenant, o.bcEnv)
	case !guidRE().MatchString(o.bcCompany):
		return sdk.InvalidConfig("bc_company_id", "%q is not a company id: the API wants the GUID (the id field of …/api/v2.0/companies), not the company name", o.bcCompany)
	case !apiRE().MatchString(o.bcAPI):
		return sdk.InvalidConfig("bc_api", "%q is not an API route: write publisher/group/version (lothub/traceability/v1.0) or v2.0", o.bcAPI)
	}
	if bcAnalytics(o.bcAPI) && (o.hookURL != nil || o.hookSecret != "") {
		// Change notifications exist for API pages only; the analytics
		// API is made of API queries.
		return sdk.InvalidConfig("bc_webhook_url", "Business Central sends no change notifications for the analytics API (%s): remove bc_webhook_url and bc_webhook_secret, and schedule syncs instead", o.bcAPI)
	}
	if o.hookURL != nil {
		if o.hookURL, err = httpsURL(o.hookURL, "bc_webhook_url"); err != nil {
			return err
		}
		if o.hookSecret == "" {
			return sdk.InvalidConfig("bc_webhook_secret", "required with bc_webhook_url: the clientState notifications must carry")
		}
	}
	if o.renewBefore <= 0 {
		return sdk.InvalidConfig("bc_webhook_renew_before", "want a positive duration such as 36h")
	}
	if o.hookSecret != "" && len(o.hookSecret) < 16 {
		return sdk.InvalidConfig("bc_webhook_secret", "too short (%d characters): use at least 16 random characters", len(o.hookSecret))
	}
	return nil
}

// httpsURL refuses plain http except on the loopback interface (tests, a
// local proxy): bearer tokens must not cross a network in clear.
func httpsURL(u *url.URL, param string) (*url.URL, error) {
	cp := *u
	cp.RawQuery, cp.Fragment = "", ""
	if cp.Scheme == "https" {
		return &cp, nil
	}
	host := cp.Hostname()
	if ip := net.ParseIP(host); cp.Scheme == "http" && (host == "localhost" || ip != nil && ip.IsLoopback()) {
		return &cp, nil
	}
	return nil, sdk.InvalidConfig(param, "%s: want an https URL (tokens must not travel in clear)", cp.Redacted())
}

// tokenURL is Entra ID's v2.0 token endpoint for the tenant.
func (o *options) tokenURL() string {
	return strings.TrimRight(o.authority.String(), "/") + "/" + url.PathEscape(o.tenant) + "/oauth2/v2.0/token"
}

// collectionURL is where kind k's records are listed.
func (o *options) collectionURL(k kind) string {
	if o.system == systemFO {
		return o.base.String() + "/data/" + k.entity
	}
	return o.bcRoot() + "/api/" + o.bcAPI + "/companies(" + o.bcCompany + ")/" + k.entity
}

// bcRoot is the environment's root: …/v2.0/{tenant}/{environment}.
func (o *options) bcRoot() string {
	return o.base.String() + "/v2.0/" + url.PathEscape(o.tenant) + "/" + url.PathEscape(o.bcEnv)
}

// name says which system, for messages.
func (o *options) name() string {
	if o.system == systemFO {
		return "Dynamics 365 F&O"
	}
	return "Business Central"
}
