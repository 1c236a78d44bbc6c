package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// b1Receipt creates a Goods Receipt PO in SAP Business One through the
// Service Layer: POST /Login (CompanyDB, UserName, Password) opens a
// session (the B1SESSION and ROUTEID cookies), then POST
// /PurchaseDeliveryNotes copies the purchase order's line (BaseType 22 =
// purchase order, BaseEntry = its DocEntry, BaseLine = its LineNum) with
// the batch in DocumentLines[].BatchNumbers, and POST /Logout ends the
// session (each open session holds a licence).
//
// The idempotency key goes into a header field that can be filtered on:
// JournalMemo by default (50 characters), or a user-defined field
// (options.key_field: U_LotHubKey) where the administrator created one.
type b1Receipt struct{}

// b1Root is the Service Layer's root: the connector's base_url (the host,
// or the host with /b1s/v1 or /b1s/v2).
func b1Root(d *Delivery) (string, error) {
	base, err := baseURL(d)
	if err != nil {
		return "", err
	}
	if !strings.Contains(base, "/b1s/") {
		base += "/b1s/v1"
	}
	return base, nil
}

func b1KeyField(d *Delivery) string {
	if f := d.Action.Options["key_field"]; f != "" {
		return f
	}
	return "JournalMemo"
}

func (b1Receipt) login(ctx context.Context, d *Delivery, root string) error {
	company := connValue(d, "company_db")
	if c := d.Action.Credential("company_db"); c != "" {
		company = c
	}
	body := map[string]string{"CompanyDB": company, "UserName": d.Action.Credential("user"), "Password": d.Action.Credential("password")}
	if _, _, err := call(ctx, d, http.MethodPost, root+"/Login", nil, body); err != nil {
		if f, ok := err.(*Failure); ok && f.Status == http.StatusUnauthorized {
			f.Message += " (check the write credentials user and password, and company_db)"
		}
		return fmt.Errorf("log in to the Service Layer: %w", err)
	}
	return nil
}

func (b1Receipt) logout(d *Delivery, root string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	call(ctx, d, http.MethodPost, root+"/Logout", nil, nil)
}

func (t b1Receipt) lookup(ctx context.Context, d *Delivery) (string, bool, error) {
	root, err := b1Root(d)
	if err != nil {
		return "", false, err
	}
	if err := t.login(ctx, d, root); err != nil {
		return "", false, err
	}
	defer t.logout(d, root)
	q := url.Values{"$filter": {b1KeyField(d) + " eq '" + d.Key + "'"}, "$select": {"DocEntry,DocNum"}}
	_, b, err := call(ctx, d, http.MethodGet, root+"/PurchaseDeliveryNotes?"+strings.ReplaceAll(q.Encode(), "+", "%20"), nil, nil)
	if err != nil {
		return "", false, err
	}
	var v struct {
		Value []struct {
			DocEntry, DocNum int
		} `json:"value"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return "", false, fmt.Errorf("read Goods Receipt POs by %s: %w", b1KeyField(d), err)
	}
	if len(v.Value) == 0 {
		return "", false, nil
	}
	return strconv.Itoa(v.Value[0].DocNum), true, nil
}

func (t b1Receipt) deliver(ctx context.Context, d *Delivery) (string, error) {
	root, err := b1Root(d)
	if err != nil {
		return "", err
	}
	if err := require(d, "po_doc_entry", "po_line", "item", "batch", "quantity"); err != nil {
		return "", err
	}
	qty, err := number(d, "quantity")
	if err != nil {
		return "", err
	}
	entry, err := number(d, "po_doc_entry")
	if err != nil {
		return "", err
	}
	line, err := number(d, "po_line")
	if err != nil {
		return "", err
	}
	evTime, _ := d.Event.Timestamp()
	batch := map[string]any{"BatchNumber": field(d, "batch"), "Quantity": qty}
	if s := field(d, "supplier_batch"); s != "" {
		batch["ManufacturerSerialNumber"] = s
	}
	if s := field(d, "expiry_date"); s != "" {
		batch["ExpiryDate"] = s
	}
	docLine := map[string]any{
		"BaseType": 22, "BaseEntry": int(entry), "BaseLine": int(line),
		"ItemCode": field(d, "item"), "Quantity": qty, "BatchNumbers": []any{batch},
	}
	if w := field(d, "warehouse"); w != "" {
		docLine["WarehouseCode"] = w
	}
	doc := map[string]any{
		"DocDate":       evTime.Format(time.DateOnly),
		b1KeyField(d):   d.Key,
		"DocumentLines": []any{docLine},
	}
	if s := field(d, "supplier"); s != "" {
		doc["CardCode"] = s
	}
	if s := field(d, "supplier_ref"); s != "" {
		doc["NumAtCard"] = s
	}
	if err := t.login(ctx, d, root); err != nil {
		return "", err
	}
	defer t.logout(d, root)
	_, b, err := call(ctx, d, http.MethodPost, root+"/PurchaseDeliveryNotes", nil, doc)
	if err != nil {
		return "", err
	}
	var v struct{ DocEntry, DocNum int }
	if err := json.Unmarshal(b, &v); err != nil || v.DocNum == 0 {
		if d.Dry != nil {
			return "", nil
		}
		return "", fmt.Errorf("the Service Layer answered without a DocNum (%v): the next attempt looks the document up by %s", err, b1KeyField(d))
	}
	return strconv.Itoa(v.DocNum), nil
}
