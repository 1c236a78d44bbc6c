package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// httpPost posts the action's fields as a JSON object to a URL (a QMS, an
// MES), with the idempotency key as the Idempotency-Key header (the IETF
// draft's name, which Stripe-style APIs honour): a receiver that honours
// it makes a retry of unknown outcome harmless. Credentials: token
// (Authorization: Bearer) or user and password (Basic). Options:
// method (POST), document_field (the answer's field holding the
// document's id: "id"), and header.NAME for more headers.
type httpPost struct{}

func (httpPost) lookup(context.Context, *Delivery) (string, bool, error) {
	return "", false, errNoLookup
}

func (httpPost) deliver(ctx context.Context, d *Delivery) (string, error) {
	u, err := baseURL(d)
	if err != nil {
		return "", err
	}
	h := http.Header{}
	h.Set("Idempotency-Key", d.Key)
	for k, v := range d.Action.Options {
		if name, ok := strings.CutPrefix(k, "header."); ok {
			h.Set(name, v)
		}
	}
	if tok := d.Action.Credential("token"); tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	} else if user := d.Action.Credential("user"); user != "" {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(user, d.Action.Credential("password"))
		h.Set("Authorization", req.Header.Get("Authorization"))
	}
	method := d.Action.Options["method"]
	if method == "" {
		method = http.MethodPost
	}
	body := map[string]any{}
	for k, v := range d.Fields {
		body[k] = v
	}
	_, b, err := call(ctx, d, strings.ToUpper(method), u, h, body)
	if err != nil {
		return "", err
	}
	docField := d.Action.Options["document_field"]
	if docField == "" {
		docField = "id"
	}
	var v map[string]any
	if json.Unmarshal(b, &v) == nil && v[docField] != nil {
		return fmt.Sprint(v[docField]), nil
	}
	return d.Key, nil // accepted; the receiver knows it by the key
}
