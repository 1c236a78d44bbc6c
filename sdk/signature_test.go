package sdk_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/lothub/lothub/sdk"
)

func TestVerifyHMACSHA256(t *testing.T) {
	secret := []byte("whsec-test-0001")
	body := []byte(`{"scan_id":"S-1"}`)
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	sum := mac.Sum(nil)
	hexSum := hex.EncodeToString(sum)

	tests := []struct {
		name   string
		secret []byte
		body   []byte
		sig    string
		ok     bool
	}{
		{"Signed", secret, body, sdk.SignHMACSHA256(secret, body), true},
		{"Hex", secret, body, hexSum, true},
		{"HexUpper", secret, body, strings.ToUpper(hexSum), true},
		{"Base64", secret, body, base64.StdEncoding.EncodeToString(sum), true},
		{"Base64URLRaw", secret, body, "sha256=" + base64.RawURLEncoding.EncodeToString(sum), true},
		{"Spaces", secret, body, "  sha256=" + hexSum + "\n", true},
		{"OtherBody", secret, []byte(`{"scan_id":"S-2"}`), hexSum, false},
		{"OtherSecret", []byte("another-secret"), body, hexSum, false},
		{"Truncated", secret, body, hexSum[:40], false},
		{"Garbage", secret, body, "sha256=not-a-mac!", false},
		{"Unsigned", secret, body, "", false},
		{"NoSecret", nil, body, hexSum, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sdk.VerifyHMACSHA256(tt.secret, tt.body, tt.sig)
			if tt.ok && err != nil {
				t.Errorf("Verify: %v", err)
			}
			if !tt.ok && !errors.Is(err, sdk.ErrInvalidSignature) {
				t.Errorf("Verify = %v, want ErrInvalidSignature", err)
			}
			if err != nil && strings.Contains(err.Error(), string(secret)) {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}
