package rest_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/rest"
	"github.com/lothub/lothub/sdk"
)

// oracleTokenPath is Oracle IAM's (IDCS's) token endpoint.
const oracleTokenPath = "/oauth2/v1/token"

const (
	iamClientID     = "lothub-fusion-client"
	iamClientSecret = "iam-client-secret-for-tests"
	iamKeyID        = "lothub-fusion-cert"
	iamAudience     = "https://identity.oraclecloud.com/"
	iamScope        = "urn:opc:resource:fa:instanceid=123456 urn:opc:resource:consumer::all"
)

// fakeIAM is the token endpoint of Oracle IAM for a confidential
// application trusting a client certificate: it takes the JWT bearer
// grant (RFC 7523 §2.1) with the client authenticated by HTTP Basic,
// verifies the assertion's RS256 signature with the public key of the
// certificate named by kid and its claims (iss the client, sub the
// integration user, aud, exp in the future and at most an hour away), and
// issues access tokens valid for expiresIn seconds.
type fakeIAM struct {
	mu        sync.Mutex
	pub       *rsa.PublicKey
	expiresIn int
	issued    int
	tokens    map[string]bool
	claims    []map[string]any // of each accepted assertion
	refusals  []string         // why assertions were refused
	revokeAt  int              // revoke every token before this API request (0: never)
	apiCalls  int
	rejectAll bool // the API takes no token
}

func newFakeIAM(pub *rsa.PublicKey) *fakeIAM {
	return &fakeIAM{pub: pub, expiresIn: 3600, tokens: map[string]bool{}}
}

func (m *fakeIAM) token(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	refuse := func(code, why string) {
		m.refusals = append(m.refusals, why)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		if code == "invalid_client" {
			w.WriteHeader(http.StatusUnauthorized)
		}
		fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, code, why)
	}
	if id, secret, ok := r.BasicAuth(); !ok || id != iamClientID || secret != iamClientSecret {
		refuse("invalid_client", "Client authentication failed.")
		return
	}
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		refuse("invalid_request", "not a form POST")
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		refuse("unsupported_grant_type", "grant_type "+g)
		return
	}
	claims, err := m.verify(r.PostForm.Get("assertion"))
	if err != nil {
		refuse("invalid_grant", err.Error())
		return
	}
	if s := claims["scope"]; s != iamScope {
		refuse("invalid_scope", fmt.Sprintf("scope %v", s))
		return
	}
	m.claims = append(m.claims, claims)
	m.issued++
	tok := fmt.Sprintf("iam-token-%d", m.issued)
	m.tokens[tok] = true
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":%d}`, tok, m.expiresIn)
}

// verify checks the assertion's header, signature and claims.
func (m *fakeIAM) verify(assertion string) (map[string]any, error) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("the assertion is not a signed JWT")
	}
	var hdr struct{ Alg, Typ, Kid string }
	if err := decodePart(parts[0], &hdr); err != nil {
		return nil, err
	}
	if hdr.Alg != "RS256" || hdr.Kid != iamKeyID {
		return nil, fmt.Errorf("header alg %q kid %q: no such certificate", hdr.Alg, hdr.Kid)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(m.pub, crypto.SHA256, sum[:], sig); err != nil {
		return nil, fmt.Errorf("the assertion's signature does not verify with the certificate")
	}
	var c map[string]any
	if err := decodePart(parts[1], &c); err != nil {
		return nil, err
	}
	now := float64(time.Now().Unix())
	exp, _ := c["exp"].(float64)
	switch {
	case c["iss"] != iamClientID:
		return nil, fmt.Errorf("iss %v is not the client", c["iss"])
	case c["sub"] != oracleUser:
		return nil, fmt.Errorf("sub %v is not a user", c["sub"])
	case c["aud"] != iamAudience:
		return nil, fmt.Errorf("aud %v", c["aud"])
	case exp <= now || exp > now+3600:
		return nil, fmt.Errorf("exp %v is not within the next hour", c["exp"])
	}
	return c, nil
}

func decodePart(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// accepts says whether an API request carries a valid token.
func (m *fakeIAM) accepts(r *http.Request) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.apiCalls++
	if m.apiCalls == m.revokeAt {
		m.tokens = map[string]bool{}
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && m.tokens[tok] && !m.rejectAll
}

// jwtProfile is the shipped Oracle profile with the JWT bearer grant of
// Oracle IAM instead of basic authentication, as docs/connectors/rest.md
// says to copy it.
func jwtProfile(t testing.TB) string {
	t.Helper()
	src, ok := rest.ShippedProfile("oracle-fusion-scm")
	if !ok {
		t.Fatal("no shipped Oracle profile")
	}
	jwtAuth := "auth:\n  type: oauth2_jwt_bearer\n" +
		"  token_url: https://idcs-0123456789abcdef.identity.oraclecloud.com/oauth2/v1/token\n" +
		"  audience: " + iamAudience + "\n" +
		"  scopes: [\"" + strings.ReplaceAll(iamScope, " ", "\", \"") + "\"]\n"
	s := strings.Replace(string(src), "auth:\n", jwtAuth, 1)
	s = strings.Replace(s, "  type: basic\n", "", 1)
	file := filepath.Join(t.TempDir(), "fusion-jwt.yaml")
	if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := rest.LoadProfile(file); err != nil {
		t.Fatalf("the JWT profile: %v\n%s", err, s)
	}
	return file
}

// rsaPEM is a new RSA key, PKCS #8 PEM, and its public key.
func rsaPEM(t testing.TB) (string, *rsa.PublicKey) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), &k.PublicKey
}

// jwtOracle is the Oracle fake behind Oracle IAM with the client's
// certificate, and the configuration of the connector signing with key.
func jwtOracle(t testing.TB, txns []oracleTxn) (*fakeOracle, map[string]string) {
	t.Helper()
	key, pub := rsaPEM(t)
	f := newFakeOracle(t, txns)
	f.iam = newFakeIAM(pub)
	return f, map[string]string{"profile": jwtProfile(t), "base_url": f.URL, "token_url": f.URL + oracleTokenPath,
		"client_id": iamClientID, "client_secret": iamClientSecret, "private_key": key,
		"jwt_subject": oracleUser, "jwt_key_id": iamKeyID}
}

// From Oracle IAM's JWT bearer grant to a recall: 1,200 transactions in
// three pages of 500, read in batches of 50 with one access token; the
// token revoked mid-run gets one new assertion and token and the sync
// goes on.
func TestOracleJWTEndToEnd(t *testing.T) {
	f, raw := jwtOracle(t, oracleData(1200))
	f.iam.revokeAt = 2 // the second page
	c := rest.New()
	st := openStore(t)
	stats, _ := syncInto(t, st, mustConfig(t, c, raw), "profiles/oracle-fusion-scm.mapping.yaml", "fusion")
	if stats.Records != 1200 || stats.Quarantined != 0 || stats.New != 1200 {
		t.Fatalf("records %d, new events %d, quarantined %d; want 1200, 1200, 0", stats.Records, stats.New, stats.Quarantined)
	}
	if f.iam.issued != 2 || len(f.iam.refusals) != 0 {
		t.Errorf("%d tokens issued (refused: %v); want 2: the first, and one after the revocation", f.iam.issued, f.iam.refusals)
	}
	for _, c := range f.iam.claims {
		if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat > 6*60 {
			t.Errorf("the assertion is valid for %v s; want a short-lived one (5 minutes)", exp-iat)
		}
	}
	// The work order WO-1001 consumes flour lot L-1 and produces L-2.
	if rec := recallOf(t, st, "FLOUR", "L-1"); len(rec.Lots) == 0 {
		t.Error("the recall of L-1 reaches no lot")
	}
}

// An access token is used only while it has time left: one that expires
// in 5 seconds is replaced, with a new assertion, before the next read
// (x/oauth2 renews 10 s before the expiry); one valid for an hour serves
// every read.
func TestOracleJWTRefreshBeforeExpiry(t *testing.T) {
	for _, tc := range []struct {
		expiresIn, tokens int
	}{{5, 4}, {3600, 1}} {
		f, raw := jwtOracle(t, oracleData(40))
		f.iam.expiresIn = tc.expiresIn
		c := rest.New()
		cfg := mustConfig(t, c, raw)
		var pos sdk.Position
		for range 4 {
			res, err := c.Read(context.Background(), cfg, pos, 10)
			if err != nil {
				t.Fatal(err)
			}
			pos = res.Next
		}
		if f.iam.issued != tc.tokens {
			t.Errorf("tokens valid %d s: %d issued for 4 reads, want %d", tc.expiresIn, f.iam.issued, tc.tokens)
		}
	}
}

// A key the token endpoint does not trust, an unknown key id, a wrong
// subject: the login is refused, naming what to check and never the key;
// a token the API refuses twice fails after one new token; a private_key
// that is not an RSA PEM is a configuration error that does not quote it.
func TestOracleJWTRefused(t *testing.T) {
	otherKey, _ := rsaPEM(t)
	for name, change := range map[string][2]string{
		"other key":    {"private_key", otherKey},
		"other kid":    {"jwt_key_id", "old-cert"},
		"other sub":    {"jwt_subject", "someone.else"},
		"other secret": {"client_secret", "not-the-secret"},
	} {
		t.Run(name, func(t *testing.T) {
			f, raw := jwtOracle(t, oracleData(3))
			raw[change[0]] = change[1]
			c := rest.New()
			_, err := c.Read(context.Background(), mustConfig(t, c, raw), nil, 10)
			if err == nil || !strings.Contains(err.Error(), "the token endpoint refused the login") ||
				!strings.Contains(err.Error(), "private_key belongs to the certificate") {
				t.Fatalf("err = %v", err)
			}
			if _, retry := sdk.RetryDelay(err); retry {
				t.Errorf("a refused login is retried: %v", err)
			}
			noSecrets(t, err.Error(), raw)
			if f.iam.issued != 0 || len(f.iam.refusals) == 0 {
				t.Errorf("issued %d, refusals %v", f.iam.issued, f.iam.refusals)
			}
		})
	}
	t.Run("api refuses", func(t *testing.T) {
		f, raw := jwtOracle(t, oracleData(3))
		f.iam.rejectAll = true
		c := rest.New()
		_, err := c.Read(context.Background(), mustConfig(t, c, raw), nil, 10)
		if err == nil || !strings.Contains(err.Error(), "again, with a new access token") {
			t.Fatalf("err = %v", err)
		}
		noSecrets(t, err.Error(), raw)
		if f.iam.issued != 2 {
			t.Errorf("%d tokens issued, want 2 (one new on the 401)", f.iam.issued)
		}
	})
	key, _ := rsaPEM(t)
	body := strings.Split(key, "\n")[1]
	for name, bad := range map[string]string{
		"not PEM":        body,
		"certificate":    "-----BEGIN CERTIFICATE-----\n" + body + "\n-----END CERTIFICATE-----\n",
		"broken key":     "-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----\n",
		"no private_key": "",
	} {
		t.Run(name, func(t *testing.T) {
			_, raw := jwtOracle(t, nil)
			raw["private_key"] = bad
			c := rest.New()
			cfg, err := sdk.ParseConfig(c.Spec(), raw)
			if err == nil {
				_, err = c.Read(context.Background(), cfg, nil, 10)
			}
			if err == nil || !strings.Contains(err.Error(), "private_key") {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(err.Error(), body[:20]) {
				t.Errorf("the error quotes the key: %v", err)
			}
		})
	}
}

// noSecrets fails if msg holds the private key (any line of it) or the
// client secret.
func noSecrets(t *testing.T, msg string, raw map[string]string) {
	t.Helper()
	for _, line := range strings.Split(raw["private_key"], "\n") {
		if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(msg, line) {
			t.Errorf("the error quotes the private key: %s", msg)
		}
	}
	if strings.Contains(msg, iamClientSecret) {
		t.Errorf("the error quotes the client secret: %s", msg)
	}
}
