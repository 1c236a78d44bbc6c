package netsuite

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/lothub/lothub/sdk"
)

// OAuth 2.0 client credentials (machine to machine), as NetSuite does it
// ("OAuth 2.0 Client Credentials Flow"): the client proves who it is with a
// JWT signed by the private key of a certificate uploaded to the account,
// and gets an access token valid for 60 minutes. There is no refresh
// token: a new assertion gets a new token. golang.org/x/oauth2 has no
// client-assertion flow, so assertionSource is the TokenSource and
// oauth2.ReuseTokenSourceWithExpiry the cache.
const (
	tokenPath         = "/services/rest/auth/oauth2/v1/token"
	assertionType     = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	assertionLifetime = 5 * time.Minute // NetSuite accepts exp up to 60 minutes after iat
	// earlyExpiry renews a token this long before it expires, so that a
	// request never starts with a token about to lapse.
	earlyExpiry = 2 * time.Minute
)

// signer signs JWTs with the certificate's private key. NetSuite accepts
// PS256/384/512 and ES256/384/512 (RSA with PKCS #1 v1.5, RS256, is
// refused for client credentials), so RSA keys sign PS256 and EC keys the
// ES algorithm of their curve.
type signer struct {
	alg  string
	key  crypto.Signer
	hash crypto.Hash
}

// parsePrivateKey reads a PEM private key: PKCS #8 (BEGIN PRIVATE KEY, what
// openssl req -newkey writes), PKCS #1 (BEGIN RSA PRIVATE KEY) or SEC 1
// (BEGIN EC PRIVATE KEY). Errors never show the key.
func parsePrivateKey(text string) (*signer, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("is not a PEM private key (-----BEGIN PRIVATE KEY-----); give the file's content as a reference, ${file:/path/key.pem}")
	}
	if strings.Contains(block.Type, "ENCRYPTED") || block.Headers["Proc-Type"] != "" {
		return nil, errors.New("is an encrypted private key; decrypt it (openssl pkey -in key.pem -out plain.pem) and keep the file readable only by the hub")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("is a PEM block of type %q, not a private key", block.Type)
	}
	if err != nil {
		return nil, errors.New("is a PEM block that does not hold a valid private key")
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		// The M2M setup takes RSA certificates of 3072 or 4096 bits only.
		if n := k.N.BitLen(); n != 3072 && n != 4096 {
			return nil, fmt.Errorf("is a %d-bit RSA key; NetSuite accepts RSA keys of 3072 or 4096 bits (or EC keys)", n)
		}
		return &signer{alg: "PS256", key: k, hash: crypto.SHA256}, nil
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return &signer{alg: "ES256", key: k, hash: crypto.SHA256}, nil
		case elliptic.P384():
			return &signer{alg: "ES384", key: k, hash: crypto.SHA384}, nil
		case elliptic.P521():
			return &signer{alg: "ES512", key: k, hash: crypto.SHA512}, nil
		}
		return nil, errors.New("is an EC key on a curve NetSuite does not accept (use P-256, P-384 or P-521)")
	}
	return nil, fmt.Errorf("is a %T key; NetSuite accepts RSA (PS256) and EC (ES256) keys", key)
}

func (s *signer) newHash() hash.Hash {
	switch s.hash {
	case crypto.SHA384:
		return sha512.New384()
	case crypto.SHA512:
		return sha512.New()
	}
	return sha256.New()
}

// sign returns the compact JWS of claims with header fields.
func (s *signer) sign(kid string, claims any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": s.alg, "typ": "JWT", "kid": kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	h := s.newHash()
	h.Write([]byte(input))
	digest := h.Sum(nil)
	var sig []byte
	switch k := s.key.(type) {
	case *rsa.PrivateKey:
		// JWS PS256: RSASSA-PSS with the salt as long as the hash (RFC 7518 §3.5).
		sig, err = rsa.SignPSS(rand.Reader, k, s.hash, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case *ecdsa.PrivateKey:
		// JWS ES256: R and S as fixed-width big-endian integers, not
		// ASN.1 (RFC 7518 §3.4).
		var r, sv *big.Int
		if r, sv, err = ecdsa.Sign(rand.Reader, k, digest); err == nil {
			size := (k.Curve.Params().BitSize + 7) / 8
			sig = make([]byte, 2*size)
			r.FillBytes(sig[:size])
			sv.FillBytes(sig[size:])
		}
	}
	if err != nil {
		return "", fmt.Errorf("sign the client assertion: %w", err)
	}
	return input + "." + enc.EncodeToString(sig), nil
}

// assertionSource is an oauth2.TokenSource that gets tokens with signed
// client assertions. ctx is the context of the call that needs a token;
// the tokenCache sets it under its lock.
type assertionSource struct {
	ctx      context.Context
	hc       *http.Client
	tokenURL string
	creds    m2mCreds
	now      func() time.Time
}

// tokenResponse is the token endpoint's answer. NetSuite sends expires_in
// as a JSON string ("3600"), which oauth2's own decoding does not expect.
type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	Error       string          `json:"error"`
	Description string          `json:"error_description"`
}

func (s *assertionSource) Token() (*oauth2.Token, error) {
	ctx := s.ctx
	if ctx == nil {
		return nil, errors.New("netsuite: token requested outside a call")
	}
	now := s.now()
	claims := map[string]any{
		"iss":   s.creds.clientID,
		"scope": strings.Split(s.creds.scope, ","),
		"aud":   s.tokenURL,
		"iat":   now.Unix(),
		"exp":   now.Add(assertionLifetime).Unix(),
	}
	jwt, err := s.creds.key.sign(s.creds.certID, claims)
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {assertionType},
		"client_assertion":      {jwt},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("get a NetSuite access token: %w", ctx.Err())
		}
		return nil, sdk.RetryAfter(0, fmt.Errorf("get a NetSuite access token from %s (check account_id, base_url and the network): %w", req.URL.Host, err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, sdk.RetryAfter(0, fmt.Errorf("read the NetSuite token response: %w", err))
	}
	if err := sdk.RetryFromResponse(resp); err != nil {
		return nil, fmt.Errorf("get a NetSuite access token: %w", err)
	}
	var tr tokenResponse
	_ = json.Unmarshal(data, &tr)
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		return nil, tokenError(resp.Status, tr)
	}
	secs, err := strconv.ParseInt(strings.Trim(string(tr.ExpiresIn), `"`), 10, 64)
	if err != nil || secs <= 0 {
		secs = 3600 // "The access token is valid for 60 minutes."
	}
	return &oauth2.Token{AccessToken: tr.AccessToken, TokenType: "Bearer", Expiry: now.Add(time.Duration(secs) * time.Second)}, nil
}

// tokenError explains a refused client assertion.
func tokenError(status string, tr tokenResponse) error {
	what := "NetSuite refused the client assertion (" + status
	if tr.Error != "" {
		what += " " + tr.Error
	}
	what += ")"
	if tr.Description != "" {
		what += ": " + tr.Description
	}
	switch tr.Error {
	case "invalid_scope":
		return fmt.Errorf("%s: the integration record does not allow the scope asked for: check REST Web Services under Scope on the integration record, and the scope parameter", what)
	case "unauthorized_client":
		return fmt.Errorf("%s: check 'Client Credentials (Machine to Machine) Grant' on the integration record, and that it is enabled", what)
	}
	return fmt.Errorf("%s: check client_id (the integration record's Client ID), certificate_id (the Certificate ID of the mapping in Setup > Integration > Manage Authentication > OAuth 2.0 Client Credentials (M2M) Setup), that private_key belongs to the uploaded certificate, that the mapping is neither revoked nor expired, and that its entity and role can log in (role permission Log in using OAuth 2.0 Access Tokens)", what)
}

// tokenCache caches one credential's access token across calls.
type tokenCache struct {
	mu    sync.Mutex
	src   *assertionSource
	reuse oauth2.TokenSource
}

func (t *tokenCache) token(ctx context.Context) (*oauth2.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.src.ctx = ctx
	defer func() { t.src.ctx = nil }()
	return t.reuse.Token()
}

func (t *tokenCache) drop() {
	t.mu.Lock()
	t.reuse = oauth2.ReuseTokenSourceWithExpiry(nil, t.src, earlyExpiry)
	t.mu.Unlock()
}

// m2mAuth returns the authorizer for o's client credentials, sharing the
// connector's cached token for them.
func (c *Connector) m2mAuth(o *options, hc *http.Client) *m2mAuth {
	tokenURL := o.base + tokenPath
	h := sha256.Sum256([]byte(tokenURL + "\x00" + o.m2m.clientID + "\x00" + o.m2m.certID + "\x00" + o.m2m.keyHash + "\x00" + o.m2m.scope))
	k := hex.EncodeToString(h[:])
	c.mu.Lock()
	defer c.mu.Unlock()
	tc, ok := c.tokens[k]
	if !ok {
		src := &assertionSource{hc: hc, tokenURL: tokenURL, creds: o.m2m, now: time.Now}
		tc = &tokenCache{src: src, reuse: oauth2.ReuseTokenSourceWithExpiry(nil, src, earlyExpiry)}
		c.tokens[k] = tc
	}
	return &m2mAuth{cache: tc}
}

type m2mAuth struct{ cache *tokenCache }

func (m *m2mAuth) authorize(ctx context.Context, req *http.Request) error {
	tok, err := m.cache.token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return nil
}

func (m *m2mAuth) refresh() bool { m.cache.drop(); return true }

func (m *m2mAuth) loginHint() string {
	return "the access token was refused even after getting a new one; check that the M2M mapping's certificate is neither revoked nor expired and that its entity is active"
}

// tbaAuth signs requests with token-based authentication: OAuth 1.0a
// (RFC 5849) with HMAC-SHA256, the account ID in upper case as the realm
// (1234567_SB1), and the query parameters in the signature base string.
type tbaAuth struct {
	realm string
	creds tbaCreds
}

func (t *tbaAuth) authorize(_ context.Context, req *http.Request) error {
	params := map[string]string{
		"oauth_consumer_key":     t.creds.consumerKey,
		"oauth_token":            t.creds.tokenID,
		"oauth_signature_method": "HMAC-SHA256",
		"oauth_timestamp":        strconv.FormatInt(time.Now().Unix(), 10),
		"oauth_nonce":            randomNonce(),
		"oauth_version":          "1.0",
	}
	params["oauth_signature"] = tbaSignature(req.Method, req.URL, params, t.creds.consumerSecret, t.creds.tokenSecret)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(`OAuth realm="` + oauthEscape(t.realm) + `"`)
	for _, k := range keys {
		b.WriteString(", " + k + `="` + oauthEscape(params[k]) + `"`)
	}
	req.Header.Set("Authorization", b.String())
	return nil
}

func (t *tbaAuth) refresh() bool { return false }

func (t *tbaAuth) loginHint() string {
	return "check consumer_key, consumer_secret, token_id and token_secret, that the access token is not revoked, that account_id is right (the realm), and that the hub's clock is right (signatures carry a timestamp)"
}

// tbaSignature is the OAuth 1.0a HMAC-SHA256 signature of a request.
func tbaSignature(method string, u *url.URL, oauthParams map[string]string, consumerSecret, tokenSecret string) string {
	var pairs []string
	for k, v := range oauthParams {
		if k != "oauth_signature" {
			pairs = append(pairs, oauthEscape(k)+"="+oauthEscape(v))
		}
	}
	for k, vs := range u.Query() {
		for _, v := range vs {
			pairs = append(pairs, oauthEscape(k)+"="+oauthEscape(v))
		}
	}
	sort.Strings(pairs)
	base := strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + u.EscapedPath()
	text := strings.ToUpper(method) + "&" + oauthEscape(base) + "&" + oauthEscape(strings.Join(pairs, "&"))
	mac := hmac.New(sha256.New, []byte(oauthEscape(consumerSecret)+"&"+oauthEscape(tokenSecret)))
	mac.Write([]byte(text))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// oauthEscape percent-encodes s as RFC 5849 §3.6 asks: everything but
// ALPHA, DIGIT, '-', '.', '_' and '~'.
func oauthEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func randomNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
