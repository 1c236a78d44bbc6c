package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/lothub/lothub/connectors/netsuite"
)

// netsuiteReceipt receives a purchase order line in NetSuite through the
// REST record API: POST /services/rest/record/v1/purchaseOrder/{id}/
// !transform/itemReceipt, with the lot in the line's inventoryDetail
// (inventoryAssignment: receiptInventoryNumber and quantity) and the
// idempotency key as the receipt's externalId. NetSuite answers 204 with
// the new record's URL in Location; GET itemReceipt/eid:KEY finds it again
// by its external id.
//
// Credentials: token (an OAuth 2.0 access token), or client_id,
// certificate_id and private_key for the client credentials (M2M) grant,
// signed as the netsuite connector signs its own.
type netsuiteReceipt struct{}

func nsBase(d *Delivery) (string, error) {
	if u := d.Action.URL.Value(); u != "" {
		return strings.TrimRight(u, "/"), nil
	}
	if d.Conn != nil {
		if u := d.Conn.Config["base_url"].Value(); u != "" {
			return strings.TrimRight(u, "/"), nil
		}
		if acct := d.Conn.Config["account_id"].Value(); acct != "" {
			return "https://" + strings.ToLower(strings.ReplaceAll(acct, "_", "-")) + ".suitetalk.api.netsuite.com", nil
		}
	}
	return "", permanent("action %s has no NetSuite URL: set account_id or base_url on connector %s", d.Action.Name, d.Action.Connector)
}

// bearer returns the Authorization header of an OAuth 2.0 access token.
func nsAuth(ctx context.Context, d *Delivery, base string) (http.Header, error) {
	tok := d.Action.Credential("token")
	if tok == "" {
		var err error
		tok, err = netsuite.M2MToken(ctx, d.Client, base, d.Action.Credential("client_id"), d.Action.Credential("certificate_id"),
			d.Action.Credential("private_key"), d.Action.Options["scope"])
		if err != nil {
			return nil, err
		}
	}
	return http.Header{"Authorization": {"Bearer " + tok}}, nil
}

func (netsuiteReceipt) lookup(ctx context.Context, d *Delivery) (string, bool, error) {
	base, err := nsBase(d)
	if err != nil {
		return "", false, err
	}
	h, err := nsAuth(ctx, d, base)
	if err != nil {
		return "", false, err
	}
	resp, b, err := call(ctx, d, http.MethodGet, base+"/services/rest/record/v1/itemReceipt/eid:"+url.PathEscape(d.Key), h, nil, http.StatusNotFound)
	if err != nil {
		return "", false, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return "", false, nil
	}
	var v struct {
		ID     string `json:"id"`
		TranID string `json:"tranId"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return "", false, fmt.Errorf("read item receipt eid:%s: %w", d.Key, err)
	}
	return nsDoc(v.ID, v.TranID), true, nil
}

func nsDoc(id, tranID string) string {
	if tranID != "" {
		return tranID + " (id " + id + ")"
	}
	return id
}

func (netsuiteReceipt) deliver(ctx context.Context, d *Delivery) (string, error) {
	base, err := nsBase(d)
	if err != nil {
		return "", err
	}
	if err := require(d, "purchase_order_id", "order_line", "lot", "quantity"); err != nil {
		return "", err
	}
	qty, err := number(d, "quantity")
	if err != nil {
		return "", err
	}
	orderLine, err := number(d, "order_line")
	if err != nil {
		return "", err
	}
	evTime, _ := d.Event.Timestamp()
	line := map[string]any{
		"orderLine": int(orderLine), "itemReceive": true, "quantity": qty,
		"inventoryDetail": map[string]any{"inventoryAssignment": map[string]any{"items": []any{
			map[string]any{"receiptInventoryNumber": field(d, "lot"), "quantity": qty},
		}}},
	}
	if s := field(d, "location"); s != "" {
		line["location"] = map[string]any{"id": s}
	}
	if s := field(d, "expiry_date"); s != "" {
		line["inventoryDetail"].(map[string]any)["inventoryAssignment"].(map[string]any)["items"].([]any)[0].(map[string]any)["expirationDate"] = s
	}
	body := map[string]any{
		"externalId": d.Key,
		"tranDate":   evTime.Format(time.DateOnly),
		"item":       map[string]any{"items": []any{line}},
	}
	if s := field(d, "memo"); s != "" {
		body["memo"] = s
	}
	h, err := nsAuth(ctx, d, base)
	if err != nil {
		return "", err
	}
	u := base + "/services/rest/record/v1/purchaseOrder/" + url.PathEscape(field(d, "purchase_order_id")) + "/!transform/itemReceipt"
	resp, _, err := call(ctx, d, http.MethodPost, u, h, body)
	if err != nil {
		return "", err
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		return path.Base(loc), nil
	}
	if d.Dry != nil {
		return "", nil
	}
	return "", fmt.Errorf("NetSuite answered %d without a Location: the next attempt looks the receipt up by its externalId %s", resp.StatusCode, d.Key)
}
