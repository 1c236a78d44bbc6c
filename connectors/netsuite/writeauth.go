package netsuite

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// M2MToken gets an access token with NetSuite's OAuth 2.0 client
// credentials (M2M) grant, the way the connector does for its reads: a
// client assertion (JWT) signed with the private key of the certificate
// uploaded for the integration. The hub's write actions call it with
// their own, separate, credentials. base is the account's REST host
// (https://ACCOUNT.suitetalk.api.netsuite.com).
func M2MToken(ctx context.Context, hc *http.Client, base, clientID, certificateID, privateKey, scope string) (string, error) {
	key, err := parsePrivateKey(privateKey)
	if err != nil {
		return "", fmt.Errorf("NetSuite private_key: %w", err)
	}
	if scope == "" {
		scope = "rest_webservices"
	}
	src := &assertionSource{ctx: ctx, hc: hc, tokenURL: strings.TrimRight(base, "/") + tokenPath,
		creds: m2mCreds{clientID: clientID, certID: certificateID, scope: scope, key: key}, now: time.Now}
	tok, err := src.Token()
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}
