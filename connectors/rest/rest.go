// Package rest is the lothub connector for ERPs with a REST or OData API
// that a declarative profile can describe: base URL, login, paging,
// collections, incremental filter. It ships profiles for Oracle Fusion
// Cloud SCM, Epicor Kinetic and Infor CloudSuite Industrial
// (profiles/*.yaml) with a default mapping for each; a plant adds a fourth
// ERP with a profile file and a mapping, no Go.
//
// The connector only reads: it never writes to the ERP, so it needs no
// Ack. docs/connectors/rest.md is the profile reference.
package rest

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/lothub/lothub/sdk"
)

// Version is the connector's version.
const Version = "0.1.0"

// Record kinds. A profile's endpoints emit these; a new shipped profile
// adds its own here (Spec must not depend on a file).
const (
	KindRecord    = "record"     // a custom profile's records
	KindBadRecord = "bad-record" // a record the connector could not read: quarantined
	KindOracle    = "oracle-inventory-transaction"
	KindEpicor    = "epicor-parttran"
	KindInfor     = "infor-matltran"
)

// Kinds are every kind the connector declares.
var Kinds = []string{KindOracle, KindEpicor, KindInfor, KindRecord, KindBadRecord}

//go:embed profiles/*.yaml
var shipped embed.FS

// ShippedProfile returns the source of a shipped profile by name.
func ShippedProfile(name string) ([]byte, bool) {
	b, err := shipped.ReadFile("profiles/" + name + ".yaml")
	return b, err == nil
}

// ShippedMapping returns the default mapping of a shipped profile.
func ShippedMapping(name string) ([]byte, bool) {
	b, err := shipped.ReadFile("profiles/" + name + ".mapping.yaml")
	return b, err == nil
}

// LoadProfile returns the shipped profile called name, or reads the file
// at name.
func LoadProfile(name string) (*Profile, error) {
	if !strings.ContainsAny(name, `/\`) && !strings.HasSuffix(name, ".yaml") {
		src, ok := ShippedProfile(name)
		if !ok {
			return nil, sdk.InvalidConfig("profile", "%q is not a shipped profile (%s) nor a file path", name, strings.Join(shippedNames(), ", "))
		}
		return ParseProfile("profiles/"+name+".yaml", src)
	}
	src, err := os.ReadFile(name)
	if err != nil {
		return nil, sdk.InvalidConfig("profile", "cannot read the profile file: %v", err)
	}
	return ParseProfile(name, src)
}

func shippedNames() []string {
	ents, _ := shipped.ReadDir("profiles")
	var names []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, ".yaml") && !strings.Contains(strings.TrimSuffix(n, ".yaml"), ".") {
			names = append(names, strings.TrimSuffix(n, ".yaml"))
		}
	}
	return names
}

// Connector reads an ERP through a profile. Its only state is a cache of
// OAuth 2.0 tokens by credentials, so it is safe for concurrent use.
type Connector struct {
	Logger *slog.Logger

	mu        sync.Mutex
	tokens    map[string]oauth2.TokenSource
	transport http.RoundTripper
}

// New returns the connector.
func New() *Connector {
	return &Connector{tokens: map[string]oauth2.TokenSource{}, transport: http.DefaultTransport.(*http.Transport).Clone()}
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
		Name:    "rest",
		Version: Version,
		Description: "Reads lot transactions from an ERP's REST or OData API described by a profile " +
			"(shipped: oracle-fusion-scm, epicor-kinetic, infor-csi).",
		Params: []sdk.Param{
			{Name: "profile", Type: sdk.TypeString, Required: true,
				Description: "A shipped profile (oracle-fusion-scm, epicor-kinetic, infor-csi) or the path of a profile file (see docs/connectors/rest.md)."},
			{Name: "base_url", Type: sdk.TypeURL,
				Description: "The API's root URL, e.g. https://fa-xxxx.oraclecloud.com; overrides the profile's base_url."},
			{Name: "vars", Type: sdk.TypeString,
				Description: "Values of the profile's variables, comma-separated NAME=VALUE pairs, e.g. company=EPIC06."},
			{Name: "username", Type: sdk.TypeString,
				Description: "basic and oauth2_password: the integration user's name."},
			{Name: "password", Type: sdk.TypeString, Secret: true,
				Description: "basic and oauth2_password: the integration user's password; give it as a reference, ${env:NAME}."},
			{Name: "token", Type: sdk.TypeString, Secret: true,
				Description: "bearer: the access token."},
			{Name: "api_key", Type: sdk.TypeString, Secret: true,
				Description: "api_key, or a profile with api_key_header (Epicor X-API-Key): the API key."},
			{Name: "client_id", Type: sdk.TypeString, Secret: true,
				Description: "OAuth 2.0: the client id of the integration's app registration."},
			{Name: "client_secret", Type: sdk.TypeString, Secret: true,
				Description: "OAuth 2.0: the client secret."},
			{Name: "token_url", Type: sdk.TypeURL,
				Description: "OAuth 2.0: the token endpoint; overrides the profile's."},
			{Name: "scopes", Type: sdk.TypeString,
				Description: "OAuth 2.0: scopes, comma-separated; overrides the profile's."},
			{Name: "private_key", Type: sdk.TypeString, Secret: true,
				Description: "oauth2_jwt_bearer: the PEM RSA private key (PKCS #1 or #8) the JWT assertion is signed with; give it as a reference, ${file:/etc/lothub/fusion-key.pem}."},
			{Name: "jwt_issuer", Type: sdk.TypeString,
				Description: "oauth2_jwt_bearer: the assertion's iss, the client that signs it (default: client_id)."},
			{Name: "jwt_subject", Type: sdk.TypeString,
				Description: "oauth2_jwt_bearer: the assertion's sub, the user the token is for (the integration user); none when empty."},
			{Name: "jwt_audience", Type: sdk.TypeString,
				Description: "oauth2_jwt_bearer: the assertion's aud; overrides the profile's audience (default: the token URL)."},
			{Name: "jwt_key_id", Type: sdk.TypeString,
				Description: "oauth2_jwt_bearer: the kid header, naming the certificate the token endpoint checks the signature with (e.g. its alias)."},
			{Name: "ionapi_file", Type: sdk.TypeString,
				Description: "Infor: path of the .ionapi credentials file of a backend-service authorized app with a service account (ti, ci, cs, iu, pu, ot, saak, sask)."},
			{Name: "timezone", Type: sdk.TypeString,
				Description: "IANA zone the API writes times without an offset in (e.g. America/Chicago); overrides the profile's timezone."},
			{Name: "start", Type: sdk.TypeString,
				Description: "First sync only: the cursor value to start after (a time, RFC 3339, or a number); empty reads all history."},
			{Name: "page_size", Type: sdk.TypeInt, Default: "0",
				Description: "Records per request; 0 keeps the profile's page_size."},
			{Name: "request_timeout", Type: sdk.TypeDuration, Default: "2m",
				Description: "Longest wait for one request."},
		},
		Kinds: slices.Clone(Kinds),
	}
}

// options is one configuration, resolved against its profile.
type options struct {
	p        *Profile
	base     string
	vals     map[string]string // template values: var.X, ionapi.X
	cfg      sdk.Config
	ion      *ionapi
	start    string
	pageSize int
	timeout  time.Duration
	secrets  []string
	login    login
	// key is the parsed private_key of oauth2_jwt_bearer, PEM again.
	key []byte
}

// login holds the credential parameters; which are needed depends on the
// profile's auth type (checkAuthParams).
type login struct {
	username, password, token, apiKey, clientID, clientSecret string
	privateKey, jwtIssuer, jwtSubject, jwtAudience, jwtKeyID  string
	tokenURL                                                  *url.URL
	scopes                                                    []string
}

func optionsFrom(cfg sdk.Config) (*options, error) {
	d := sdk.NewDecoder((*Connector)(nil).Spec(), cfg)
	profile, start := d.String("profile"), d.String("start")
	loc := d.Location("timezone")
	pageSize := d.IntAtLeast("page_size", 0)
	timeout := d.PositiveDuration("request_timeout")
	vars := d.List("vars")
	ionFile := d.String("ionapi_file")
	base := d.URL("base_url")
	l := login{
		username: d.String("username"), password: d.Secret("password"), token: d.Secret("token"),
		apiKey: d.Secret("api_key"), clientID: d.Secret("client_id"), clientSecret: d.Secret("client_secret"),
		privateKey: d.Secret("private_key"), jwtIssuer: d.String("jwt_issuer"), jwtSubject: d.String("jwt_subject"),
		jwtAudience: d.String("jwt_audience"), jwtKeyID: d.String("jwt_key_id"),
		tokenURL: d.URL("token_url"), scopes: d.Words("scopes"),
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	p, err := LoadProfile(profile)
	if err != nil {
		return nil, err
	}
	o := &options{p: p, cfg: cfg, vals: map[string]string{}, start: start, login: l,
		pageSize: p.Paging.PageSize, timeout: timeout}
	if loc != nil {
		p.Timezone = loc
	}
	if pageSize > 0 {
		o.pageSize = pageSize
	}
	given := map[string]string{}
	for _, kv := range vars {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, sdk.InvalidConfig("vars", "%q is not NAME=VALUE", kv)
		}
		given[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	for _, v := range p.Variables {
		val, ok := given[v.Name]
		if !ok {
			val = v.Default
		}
		if val == "" && v.Required {
			return nil, sdk.InvalidConfig("vars", "profile %s needs %s=… (%s)", p.Name, v.Name, v.Description)
		}
		o.vals["var."+v.Name] = val
		delete(given, v.Name)
	}
	for k := range given {
		return nil, sdk.InvalidConfig("vars", "profile %s has no variable %q", p.Name, k)
	}
	if p.Auth.Credentials == "ionapi" {
		if o.ion, err = readIONAPI(ionFile); err != nil {
			return nil, err
		}
		for _, f := range ionapiPublic {
			o.vals["ionapi."+f] = o.ion.field(f)
		}
		o.secrets = append(o.secrets, o.ion.ClientID, o.ion.ClientSecret, o.ion.AccessKey, o.ion.SecretKey)
	}
	if base != nil {
		o.base = base.String()
	} else {
		o.base = render(p.BaseURL, o.vals)
	}
	if o.base == "" {
		return nil, sdk.InvalidConfig("base_url", "is required: profile %s gives none", p.Name)
	}
	o.base = strings.TrimRight(o.base, "/")
	if err := checkAuthParams(o); err != nil {
		return nil, err
	}
	return o, nil
}

func checkAuthParams(o *options) error {
	l := o.login
	given := map[string]string{"username": l.username, "password": l.password, "token": l.token, "api_key": l.apiKey,
		"client_id": l.clientID, "client_secret": l.clientSecret, "private_key": l.privateKey}
	need := func(names ...string) error {
		for _, n := range names {
			if given[n] == "" {
				return sdk.InvalidConfig(n, "is required by profile %s (auth %s)", o.p.Name, o.p.Auth.Type)
			}
		}
		return nil
	}
	var err error
	switch o.p.Auth.Type {
	case AuthBasic:
		err = need("username", "password")
	case AuthBearer:
		err = need("token")
	case AuthAPIKey:
		err = need("api_key")
	case AuthClientCredentials:
		if o.ion == nil {
			err = need("client_id", "client_secret")
		}
	case AuthPassword:
		if o.ion == nil {
			err = need("client_id", "username", "password")
		}
	case AuthJWTBearer:
		if err = need("private_key"); err == nil && o.login.jwtIssuer == "" && o.login.clientID == "" {
			err = sdk.InvalidConfig("jwt_issuer", "is required by profile %s (auth %s): the assertion's issuer, usually the client id (or set client_id)", o.p.Name, o.p.Auth.Type)
		}
		if err == nil {
			o.key, err = parseRSAKey(o.login.privateKey)
		}
	}
	if err == nil && o.p.Auth.APIKeyHeader != "" {
		err = need("api_key")
	}
	return err
}

// redact removes every secret from s: the configuration's and the .ionapi
// file's.
func (o *options) redact(s string) string {
	s = o.cfg.Redact(s)
	for _, sec := range o.secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return s
}

// credKey identifies the credentials a token belongs to, without keeping
// them.
func (o *options) credKey() string {
	key := o.cfg.Fingerprint("profile", "base_url", "client_id", "client_secret", "username", "password", "token_url", "scopes", "ionapi_file",
		"private_key", "jwt_issuer", "jwt_subject", "jwt_audience", "jwt_key_id")
	if o.ion == nil {
		return key[:24]
	}
	h := sha256.New()
	h.Write([]byte(key))
	b, _ := json.Marshal(o.ion)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// Check implements sdk.Connector: it logs in and reads one page of the
// first endpoint.
func (c *Connector) Check(ctx context.Context, cfg sdk.Config) error {
	o, err := optionsFrom(cfg)
	if err != nil {
		return err
	}
	s := c.session(o)
	ep := o.p.Endpoints[0]
	u, err := s.pageURL(ep, "", 1, "")
	if err != nil {
		return o.clean(err)
	}
	if _, err := s.get(ctx, u); err != nil {
		return o.clean(fmt.Errorf("check %s (profile %s): %w", path.Base(o.base), o.p.Name, err))
	}
	return nil
}

// Read implements sdk.Connector.
func (c *Connector) Read(ctx context.Context, cfg sdk.Config, pos sdk.Position, n int) (sdk.ReadResult, error) {
	o, err := optionsFrom(cfg)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	p, err := decodePosition(pos, o)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	res, err := (&reader{o: o, s: c.session(o), pos: p, in: pos}).read(ctx, max(n, 1))
	if err != nil {
		return sdk.ReadResult{}, o.clean(err)
	}
	return res, nil
}
