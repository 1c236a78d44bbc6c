package dynamics

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/lothub/lothub/sdk"
)

// certificate is an app registration's certificate credential.
type certificate struct {
	thumbprint string // base64url SHA-1 of the DER certificate: the JWT x5t
	key        *rsa.PrivateKey
}

// parseCertificate reads a PEM holding the certificate and its RSA private
// key (PKCS #1 or #8). Its errors never quote the PEM.
func parseCertificate(data []byte) (*certificate, error) {
	var c certificate
	var der []byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			if der == nil {
				der = b.Bytes
			}
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				return nil, errors.New("the RSA PRIVATE KEY block does not parse")
			}
			c.key = k
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, errors.New("the PRIVATE KEY block does not parse")
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, errors.New("the private key is not RSA (Entra ID signs client assertions with RS256)")
			}
			c.key = rk
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the private key is encrypted: export it without a password (and protect the file instead)")
		}
	}
	if der == nil {
		return nil, errors.New("no CERTIFICATE block: give the PEM with the certificate uploaded to the app registration and its private key")
	}
	if c.key == nil {
		return nil, errors.New("no private key block: the PEM needs the certificate's private key too")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, errors.New("the CERTIFICATE block does not parse")
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&c.key.PublicKey) {
		return nil, errors.New("the private key does not belong to the certificate")
	}
	sum := sha1.Sum(der) // x5t is defined as the SHA-1 thumbprint (RFC 7515 §4.1.7)
	c.thumbprint = base64.RawURLEncoding.EncodeToString(sum[:])
	return &c, nil
}

// assertion is a client assertion (RFC 7523) for Entra ID: a JWT signed
// with the certificate's key, valid for ten minutes, for the token endpoint.
func (c *certificate) assertion(clientID, audience string, now time.Time) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("client assertion: %w", err)
	}
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "x5t": c.thumbprint})
	claims, _ := json.Marshal(map[string]any{
		"aud": audience, "iss": clientID, "sub": clientID, "jti": hex.EncodeToString(jti),
		"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	})
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, c.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("client assertion: sign: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// tokenKey identifies a cached token: same endpoint, app, credential and
// scope. The credential is hashed so that the map holds no secret.
func (o *options) tokenKey() string {
	h := sha256.New()
	for _, s := range []string{o.tokenURL(), o.clientID, o.scope, o.secret} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	if o.cert != nil {
		h.Write([]byte(o.cert.thumbprint))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// tokenMargin: a token that expires within this is fetched again, so that a
// long page download does not outlive it.
const tokenMargin = 2 * time.Minute

// token returns a bearer token for o, from the cache when it is still good.
// Tokens are cached per process: within a sync the hub keeps one plugin
// process, so a sync signs in once an hour, not once a page.
func (c *Connector) token(ctx context.Context, o *options) (string, error) {
	key := o.tokenKey()
	c.mu.Lock()
	t := c.tokens[key]
	c.mu.Unlock()
	if t != nil && t.Expiry.After(c.now().Add(tokenMargin)) {
		return t.AccessToken, nil
	}
	t, err := c.fetchToken(ctx, o)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.tokens == nil {
		c.tokens = map[string]*oauth2.Token{}
	}
	c.tokens[key] = t
	c.mu.Unlock()
	return t.AccessToken, nil
}

// forgetToken drops o's cached token, after the API refused it.
func (c *Connector) forgetToken(o *options) {
	c.mu.Lock()
	delete(c.tokens, o.tokenKey())
	c.mu.Unlock()
}

func (c *Connector) fetchToken(ctx context.Context, o *options) (*oauth2.Token, error) {
	cc := clientcredentials.Config{
		ClientID:     o.clientID,
		ClientSecret: o.secret,
		TokenURL:     o.tokenURL(),
		Scopes:       []string{o.scope},
		// Entra ID takes the credential in the form body; saying so spares
		// the library's auto-detection a failed first request.
		AuthStyle: oauth2.AuthStyleInParams,
	}
	if o.cert != nil {
		a, err := o.cert.assertion(o.clientID, cc.TokenURL, c.now())
		if err != nil {
			return nil, err
		}
		cc.EndpointParams = url.Values{
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {a},
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	// clientcredentials reads the HTTP client from the context.
	t, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, c.httpClient()))
	if err != nil {
		return nil, tokenError(o, err)
	}
	if t.Expiry.IsZero() {
		t.Expiry = c.now().Add(time.Hour) // Entra always says; be safe if not
	}
	return t, nil
}

// tokenError says what Entra ID refused and what to check. Entra's
// error_description starts with an AADSTS code that names the cause
// precisely; it is kept (it never holds the secret).
func tokenError(o *options, err error) error {
	where := "sign in to Entra ID at " + o.tokenURL()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("%s: %w", where, err)
		}
		// Network trouble reaching login.microsoftonline.com: transient.
		return sdk.RetryAfter(0, fmt.Errorf("%s: %s (check that the hub can reach %s)", where, o.redact(err.Error()), o.authority.Host))
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
		if status == http.StatusTooManyRequests || status >= 500 {
			return fmt.Errorf("%s: %w", where, sdk.RetryFromResponse(re.Response))
		}
	}
	desc := firstLine(o.redact(re.ErrorDescription))
	var advice string
	switch code := re.ErrorCode; {
	case code == "invalid_client" && o.cert != nil:
		advice = "Entra ID rejected the certificate: upload its public part to the app registration (Certificates & secrets) and check client_id"
	case code == "invalid_client":
		advice = "Entra ID rejected the client secret: check client_secret holds the secret's Value (not its Secret ID) and that it has not expired (app registration > Certificates & secrets)"
	case code == "unauthorized_client" || strings.Contains(desc, "AADSTS700016"):
		advice = "no app with this client_id in the tenant: check client_id and tenant_id against the app registration's Overview"
	case code == "invalid_scope" || strings.Contains(desc, "AADSTS500011") || strings.Contains(desc, "AADSTS70011"):
		advice = fmt.Sprintf("Entra ID does not know the scope %q: for F&O it is the environment URL + /.default, for BC %s", o.scope, bcScope)
	case code == "invalid_request" && strings.Contains(desc, "AADSTS90002"):
		advice = "no such tenant: check tenant_id"
	default:
		advice = "check tenant_id, client_id and the credential of the app registration"
	}
	if desc == "" {
		desc = re.ErrorCode
	}
	return fmt.Errorf("%s: %s (%s): %s", where, statusText(status), desc, advice)
}

func statusText(code int) string {
	if code == 0 {
		return "no response"
	}
	return fmt.Sprintf("%d %s", code, http.StatusText(code))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s = strings.TrimSpace(strings.TrimSuffix(s, "\r"))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
