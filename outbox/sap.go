package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// s4Receipt posts a goods movement to SAP S/4HANA: API_MATERIAL_DOCUMENT_SRV
// (OData v2, communication scenario SAP_COM_0108), a deep insert of
// A_MaterialDocumentHeader with its to_MaterialDocumentItem, after creating
// the batch through API_BATCH_SRV (SAP_COM_0329) when it is new.
//
// Movement types: 101 against a purchase order (GoodsMovementCode 01,
// GoodsMovementRefDocType B), 101 from a production order (code 02, ref
// type F, field manufacturing_order), 261 issue to a production order
// (code 03). The idempotency key is the MaterialDocumentHeaderText (25
// characters), which is how a delivery of unknown outcome is looked up.
type s4Receipt struct{}

func (s4Receipt) auth(d *Delivery) http.Header {
	h := http.Header{}
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(d.Action.Credential("user"), d.Action.Credential("password"))
	h.Set("Authorization", req.Header.Get("Authorization"))
	return h
}

// s4URL adds sap-client to a service URL.
func s4URL(d *Delivery, base, path string, q url.Values) string {
	if q == nil {
		q = url.Values{}
	}
	if c := connValue(d, "sap_client"); c != "" {
		q.Set("sap-client", c)
	}
	u := base + path
	if len(q) > 0 {
		u += "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
	}
	return u
}

// csrf fetches a CSRF token for a service: SAP Gateway refuses a write
// without the token fetched in the same session (its cookies, kept by the
// client's jar).
func (t s4Receipt) csrf(ctx context.Context, d *Delivery, service string) (string, error) {
	h := t.auth(d)
	h.Set("x-csrf-token", "Fetch")
	resp, _, err := call(ctx, d, http.MethodGet, s4URL(d, service, "/", nil), h, nil)
	if err != nil {
		return "", fmt.Errorf("fetch a CSRF token from %s: %w", redactURL(service), err)
	}
	tok := resp.Header.Get("x-csrf-token")
	if tok == "" || strings.EqualFold(tok, "required") {
		return "", permanent("SAP gave no CSRF token at %s: check that the communication user may write to the service", redactURL(service))
	}
	return tok, nil
}

// post sends a write with a CSRF token, fetching a new one once when SAP
// answers 403 "x-csrf-token: Required" (the token expired with its
// session).
func (t s4Receipt) post(ctx context.Context, d *Delivery, service, path string, body any) ([]byte, error) {
	for try := 0; ; try++ {
		tok, err := t.csrf(ctx, d, service)
		if err != nil {
			return nil, err
		}
		h := t.auth(d)
		h.Set("x-csrf-token", tok)
		_, b, err := call(ctx, d, http.MethodPost, s4URL(d, service, path, nil), h, body)
		if f, ok := err.(*Failure); ok && f.Status == http.StatusForbidden && try == 0 && strings.Contains(strings.ToLower(f.Message), "csrf") {
			continue
		}
		return b, err
	}
}

// odataKey quotes a string key for an OData v2 URL: single quotes
// doubled, then escaped for the path.
func odataKey(s string) string {
	return url.PathEscape("'" + strings.ReplaceAll(s, "'", "''") + "'")
}

// odataDate writes a day as OData v2 JSON writes Edm.DateTime.
func odataDate(t time.Time) string {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return fmt.Sprintf("/Date(%d)/", d.UnixMilli())
}

// dateField reads a date field (RFC 3339 or YYYY-MM-DD); def when empty.
func dateField(d *Delivery, name string, def time.Time) (time.Time, error) {
	s := field(d, name)
	if s == "" {
		return def, nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, permanent("field %s is %q, not a date (write it as 2026-03-01 or RFC 3339)", name, s)
}

// batchService is API_BATCH_SRV beside the material document service, or
// the action's batch_url option.
func batchService(d *Delivery, base string) string {
	if u := d.Action.Options["batch_url"]; u != "" {
		return strings.TrimRight(u, "/")
	}
	i := strings.LastIndex(base, "/")
	return base[:i] + "/API_BATCH_SRV"
}

func (t s4Receipt) lookup(ctx context.Context, d *Delivery) (string, bool, error) {
	base, err := baseURL(d)
	if err != nil {
		return "", false, err
	}
	q := url.Values{
		"$filter": {"MaterialDocumentHeaderText eq '" + d.Key + "'"},
		"$select": {"MaterialDocument,MaterialDocumentYear"},
		"$format": {"json"},
	}
	_, b, err := call(ctx, d, http.MethodGet, s4URL(d, base, "/A_MaterialDocumentHeader", q), t.auth(d), nil)
	if err != nil {
		return "", false, err
	}
	var v struct {
		D struct {
			Results []struct {
				MaterialDocument, MaterialDocumentYear string
			} `json:"results"`
		} `json:"d"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return "", false, fmt.Errorf("read material documents by header text %s: %w", d.Key, err)
	}
	if len(v.D.Results) == 0 {
		return "", false, nil
	}
	r := v.D.Results[0]
	return r.MaterialDocument + "/" + r.MaterialDocumentYear, true, nil
}

func (t s4Receipt) deliver(ctx context.Context, d *Delivery) (string, error) {
	base, err := baseURL(d)
	if err != nil {
		return "", err
	}
	if err := require(d, "material", "plant", "quantity", "unit"); err != nil {
		return "", err
	}
	qty, err := number(d, "quantity")
	if err != nil {
		return "", err
	}
	evTime, _ := d.Event.Timestamp()
	posting, err := dateField(d, "posting_date", evTime)
	if err != nil {
		return "", err
	}
	mvt := field(d, "movement_type")
	if mvt == "" {
		mvt = "101"
	}
	item := map[string]any{
		"Material": field(d, "material"), "Plant": field(d, "plant"), "GoodsMovementType": mvt,
		"QuantityInEntryUnit": fmt.Sprint(qty), "EntryUnit": field(d, "unit"),
	}
	if s := field(d, "storage_location"); s != "" {
		item["StorageLocation"] = s
	}
	batch := field(d, "batch")
	if batch != "" {
		item["Batch"] = batch
	}
	code := "01"
	switch order, po := field(d, "manufacturing_order"), field(d, "purchase_order"); {
	case mvt == "261":
		code = "03" // goods issue to a production order
		if order == "" {
			return "", permanent("movement type 261 needs the field manufacturing_order")
		}
		item["ManufacturingOrder"] = order
	case order != "":
		code = "02" // goods receipt from a production order
		item["ManufacturingOrder"], item["GoodsMovementRefDocType"] = order, "F"
	case po != "":
		if err := require(d, "purchase_order_item"); err != nil {
			return "", err
		}
		item["PurchaseOrder"], item["PurchaseOrderItem"], item["GoodsMovementRefDocType"] = po, field(d, "purchase_order_item"), "B"
	default:
		return "", permanent("a goods receipt needs purchase_order (101 against a PO) or manufacturing_order (101 from an order)")
	}
	if batch != "" && mvt != "261" && d.Action.Options["create_batch"] != "false" {
		if err := t.ensureBatch(ctx, d, base, batch, evTime); err != nil {
			return "", err
		}
	}
	header := map[string]any{
		"GoodsMovementCode":          code,
		"PostingDate":                odataDate(posting),
		"DocumentDate":               odataDate(evTime),
		"MaterialDocumentHeaderText": d.Key,
		"to_MaterialDocumentItem":    map[string]any{"results": []any{item}},
	}
	if ref := field(d, "reference"); ref != "" {
		header["ReferenceDocument"] = ref // e.g. the supplier's delivery note
	}
	b, err := t.post(ctx, d, base, "/A_MaterialDocumentHeader", header)
	if err != nil {
		return "", err
	}
	var v struct {
		D struct{ MaterialDocument, MaterialDocumentYear string } `json:"d"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.D.MaterialDocument == "" {
		if d.Dry != nil {
			return "", nil
		}
		// Posted, but the answer is unreadable: the lookup of the next
		// attempt finds it by its header text.
		return "", fmt.Errorf("SAP answered the goods movement without a material document number (%v): the next attempt looks it up by its header text %s", err, d.Key)
	}
	return v.D.MaterialDocument + "/" + v.D.MaterialDocumentYear, nil
}

// ensureBatch creates the batch through API_BATCH_SRV unless it exists:
// the batch's key is (Material, BatchIdentifyingPlant, Batch), so creating
// it is idempotent by itself.
func (t s4Receipt) ensureBatch(ctx context.Context, d *Delivery, base, batch string, evTime time.Time) error {
	svc := batchService(d, base)
	plant := field(d, "plant")
	if d.Action.Options["batch_level"] == "material" {
		plant = "" // batches unique per material, not per plant
	}
	path := fmt.Sprintf("/A_Batch(Material=%s,BatchIdentifyingPlant=%s,Batch=%s)", odataKey(field(d, "material")), odataKey(plant), odataKey(batch))
	resp, _, err := call(ctx, d, http.MethodGet, s4URL(d, svc, path, url.Values{"$format": {"json"}}), t.auth(d), nil, http.StatusNotFound)
	if err != nil {
		return fmt.Errorf("look up batch %s: %w", batch, err)
	}
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	body := map[string]any{"Material": field(d, "material"), "BatchIdentifyingPlant": plant, "Batch": batch}
	if s := field(d, "supplier_batch"); s != "" {
		body["BatchBySupplier"] = s
	}
	if s := field(d, "supplier"); s != "" {
		body["Supplier"] = s
	}
	for f, prop := range map[string]string{"manufacture_date": "ManufactureDate", "expiry_date": "ShelfLifeExpirationDate"} {
		if field(d, f) != "" {
			t, err := dateField(d, f, evTime)
			if err != nil {
				return err
			}
			body[prop] = odataDate(t)
		}
	}
	if _, err := t.post(ctx, d, svc, "/A_Batch", body); err != nil {
		return fmt.Errorf("create batch %s: %w", batch, err)
	}
	return nil
}
