package sdk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// VerifyHMACSHA256 checks that signature is the HMAC-SHA256 of body under
// secret, comparing in constant time. It accepts the forms webhook senders
// use: hex (either case) or base64 (standard or URL alphabet, padded or
// not), with an optional "sha256=" prefix. It returns nil when the signature
// matches and an error wrapping [ErrInvalidSignature] otherwise, including
// when secret or signature is empty.
//
// Sign the exact bytes received: verify before parsing the body. When the
// sender signs a timestamp with the body (to stop replays), build that
// message and check the timestamp's age yourself.
func VerifyHMACSHA256(secret, body []byte, signature string) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: no signing secret is configured", ErrInvalidSignature)
	}
	sig := strings.TrimSpace(signature)
	sig = strings.TrimPrefix(sig, "sha256=")
	if sig == "" {
		return fmt.Errorf("%w: the request is not signed", ErrInvalidSignature)
	}
	got, ok := decodeMAC(sig)
	if !ok {
		return fmt.Errorf("%w: the signature is neither hex nor base64 of a SHA-256 MAC", ErrInvalidSignature)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: the signature does not match the body", ErrInvalidSignature)
	}
	return nil
}

// SignHMACSHA256 returns "sha256=" and the hex HMAC-SHA256 of body under
// secret: what a sender puts in its signature header, and what tests use.
func SignHMACSHA256(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// decodeMAC decodes a 32-byte MAC from hex or any base64 variant.
func decodeMAC(s string) ([]byte, bool) {
	if len(s) == 2*sha256.Size {
		if b, err := hex.DecodeString(s); err == nil {
			return b, true
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == sha256.Size {
			return b, true
		}
	}
	return nil, false
}
