package sap

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lothub/lothub/sdk"
)

// S/4HANA: API_MATERIAL_DOCUMENT_SRV (OData v2, communication scenario
// SAP_COM_0108). The item entity A_MaterialDocumentItem has no creation
// date or time, and posting dates are back-dated at will, so documents are
// listed from the header entity A_MaterialDocumentHeader, by CreationDate
// and CreationTime (when the document was entered), with the items expanded
// ($expand=to_MaterialDocumentItem). Each item becomes one record, with the
// header's fields (posting date, creation date and time, …) copied into it.

// Fields asked for ($select): those the default mapping uses, and a few an
// admin may want in an adjusted one. The names are A_MaterialDocumentHeader's
// and A_MaterialDocumentItem's as SAP publishes them.
var (
	s4HeaderFields = []string{
		"MaterialDocumentYear", "MaterialDocument", "InventoryTransactionType", "DocumentDate", "PostingDate",
		"CreationDate", "CreationTime", "CreatedByUser", "MaterialDocumentHeaderText", "ReferenceDocument", "GoodsMovementCode",
	}
	s4ItemFields = []string{
		"MaterialDocumentYear", "MaterialDocument", "MaterialDocumentItem", "Material", "Plant", "StorageLocation", "Batch",
		"GoodsMovementType", "InventoryStockType", "InventorySpecialStockType", "Supplier", "Customer",
		"SalesOrder", "SalesOrderItem", "PurchaseOrder", "PurchaseOrderItem", "ManufacturingOrder", "ManufacturingOrderItem",
		"GoodsMovementRefDocType", "Delivery", "DeliveryItem", "MaterialBaseUnit", "QuantityInBaseUnit", "EntryUnit",
		"QuantityInEntryUnit", "IssgOrRcvgMaterial", "IssgOrRcvgBatch", "IssuingOrReceivingPlant", "IssuingOrReceivingStorageLoc",
		"ShelfLifeExpirationDate", "ManufactureDate", "IsAutomaticallyCreated", "GoodsMovementIsCancelled",
		"ReversedMaterialDocumentYear", "ReversedMaterialDocument", "ReversedMaterialDocumentItem",
		"InvtryMgmtReferenceDocument", "InvtryMgmtRefDocumentItem", "ReferenceDocumentFiscalYear", "DebitCreditCode",
	}
)

const (
	s4HeaderSet = "A_MaterialDocumentHeader"
	s4ItemsNav  = "to_MaterialDocumentItem"
)

// s4Get GETs u with the configured authentication. With OAuth, a 401 is
// retried once with a new token (the cached one may have been revoked).
func (cl *client) s4Get(ctx context.Context, u *url.URL) ([]byte, *http.Response, error) {
	u = withParam(u, "sap-client", cl.o.sapClient)
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest(http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, nil, fmt.Errorf("SAP S/4HANA: build request for %s: %w", where("GET", u), err)
		}
		req.Header.Set("Accept", "application/json")
		if cl.o.auth == "oauth2" {
			tok, err := cl.bearer(ctx, attempt > 0)
			if err != nil {
				return nil, nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
		} else {
			req.SetBasicAuth(cl.o.user, cl.o.password)
		}
		body, resp, err := cl.send(ctx, req)
		if err != nil && resp != nil && resp.StatusCode == http.StatusUnauthorized && cl.o.auth == "oauth2" && attempt == 0 {
			continue
		}
		return body, resp, err
	}
}

// s4Page is an OData v2 collection in JSON: {"d": {"results": [...],
// "__next": "...", "__count": "..."}}.
type s4Page struct {
	D struct {
		Results []map[string]json.RawMessage `json:"results"`
		Next    string                       `json:"__next"`
		Count   string                       `json:"__count"`
	} `json:"d"`
}

func (cl *client) s4Check(ctx context.Context) error {
	// The query of a read, for one document: it tests the fields asked for
	// too (extra_fields), not only the credentials.
	u := (&s4Lister{cl: cl}).query("", 1)
	u.RawQuery += "&$inlinecount=allpages"
	body, resp, err := cl.s4Get(ctx, u)
	if err != nil {
		return err
	}
	var p s4Page
	if err := cl.decodeJSON(resp, body, &p); err != nil {
		return err
	}
	cl.log.InfoContext(ctx, "sap: connection checked", "material_documents", p.D.Count)
	return nil
}

func (cl *client) s4URL(rawQuery string) *url.URL {
	u := *cl.o.base
	u.Path += "/" + s4HeaderSet
	u.RawQuery = rawQuery
	return &u
}

// s4Lister lists material documents by creation date and time. Paging is
// the server's when it sends __next (server-driven paging with
// $skiptoken), else the connector's: $top documents a request, then $skip.
type s4Lister struct {
	cl   *client
	skip int // $skip of the client page being read
	got  int // documents received in it, over its server pages
}

func (*s4Lister) name() string           { return s4HeaderSet }
func (*s4Lister) floor(ts string) string { return exact(ts) }

// first is the URL of the first page of the client page being read.
func (l *s4Lister) first(from string) *url.URL { return l.query(from, l.cl.o.pageSize) }

// query asks for top documents created at or after from, after l.skip.
func (l *s4Lister) query(from string, top int) *url.URL {
	sel := slices.Clone(s4HeaderFields)
	for _, f := range append(slices.Clone(s4ItemFields), l.cl.o.extraFields...) {
		sel = append(sel, s4ItemsNav+"/"+f)
	}
	return l.cl.s4URL(query(
		"$format", "json",
		"$filter", creationFilter(from),
		"$orderby", "CreationDate asc,CreationTime asc,MaterialDocumentYear asc,MaterialDocument asc",
		"$expand", s4ItemsNav,
		"$select", strings.Join(sel, ","),
		"$top", strconv.Itoa(top),
		"$skip", strconv.Itoa(l.skip),
	))
}

// creationFilter selects documents created at or after the wall clock
// from. CreationDate is an Edm.DateTime holding the date, CreationTime an
// Edm.Time; OData v2 has no function to join them, so the filter compares
// the date first and the time on the same date.
func creationFilter(from string) string {
	if from == "" {
		return ""
	}
	t, err := time.Parse(wallLayout, from)
	if err != nil {
		return "" // validated in decodePosition and optionsFrom
	}
	day := t.Format(time.DateOnly) + "T00:00:00"
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
		return fmt.Sprintf("CreationDate ge datetime'%s'", day)
	}
	return fmt.Sprintf("CreationDate gt datetime'%s' or (CreationDate eq datetime'%s' and CreationTime ge time'%s')", day, day, edmTimeLiteral(t))
}

func (l *s4Lister) page(ctx context.Context, from, next string) ([]document, string, error) {
	var u *url.URL
	if next == "" {
		l.skip, l.got = 0, 0
		u = l.first(from)
	} else {
		var err error
		if u, err = url.Parse(next); err != nil {
			return nil, "", fmt.Errorf("SAP S/4HANA: the next page's link %q is not a URL: %w", next, err)
		}
	}
	body, resp, err := l.cl.s4Get(ctx, u)
	if err != nil {
		return nil, "", err
	}
	var p s4Page
	if err := l.cl.decodeJSON(resp, body, &p); err != nil {
		return nil, "", err
	}
	docs := make([]document, 0, len(p.D.Results))
	for _, h := range p.D.Results {
		d, err := l.cl.s4Document(h)
		if err != nil {
			return nil, "", fmt.Errorf("SAP S/4HANA: %s: %w", where("GET", u), err)
		}
		docs = append(docs, d)
	}
	l.got += len(p.D.Results)
	switch {
	case p.D.Next != "":
		nu, err := resp.Request.URL.Parse(p.D.Next) // may be relative
		if err != nil {
			return nil, "", fmt.Errorf("SAP S/4HANA: the answer's __next %q is not a URL: %w", p.D.Next, err)
		}
		return docs, nu.String(), nil
	case l.got >= l.cl.o.pageSize:
		// A full client page without __next: there may be more.
		l.skip += l.got
		l.got = 0
		return docs, l.first(from).String(), nil
	}
	return docs, "", nil
}

// s4Document turns a header with its expanded items into a document whose
// lines are the items, each with the header's fields.
func (cl *client) s4Document(h map[string]json.RawMessage) (document, error) {
	year, num := text(h["MaterialDocumentYear"]), text(h["MaterialDocument"])
	if year == "" || num == "" {
		return document{}, fmt.Errorf("a material document header without MaterialDocumentYear or MaterialDocument")
	}
	key := year + "/" + num
	date, err := odataDate(text(h["CreationDate"]))
	if err != nil {
		return document{}, fmt.Errorf("material document %s: CreationDate: %w", key, err)
	}
	at, err := clock(text(h["CreationTime"]))
	if err != nil {
		return document{}, fmt.Errorf("material document %s: CreationTime: %w", key, err)
	}
	wall := date.Truncate(24 * time.Hour).Add(at)
	d := document{key: key, ts: wall.Format(wallLayout)}
	created := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, cl.o.loc)

	var items struct {
		Results []map[string]json.RawMessage `json:"results"`
	}
	if raw, ok := h[s4ItemsNav]; !ok || json.Unmarshal(raw, &items) != nil || items.Results == nil {
		return document{}, fmt.Errorf("material document %s came without its items (%s): the server did not expand them", key, s4ItemsNav)
	}
	header := make(map[string]json.RawMessage, len(h))
	for k, v := range h {
		if !strings.HasPrefix(k, "__") && !strings.HasPrefix(k, "to_") {
			header[k] = v
		}
	}
	slices.SortFunc(items.Results, func(a, b map[string]json.RawMessage) int {
		return compareLineNumbers(text(a["MaterialDocumentItem"]), text(b["MaterialDocumentItem"]))
	})
	for _, it := range items.Results {
		item := text(it["MaterialDocumentItem"])
		if item == "" {
			return document{}, fmt.Errorf("material document %s has an item without MaterialDocumentItem", key)
		}
		fields := make(map[string]json.RawMessage, len(header)+len(it))
		for k, v := range header {
			fields[k] = v
		}
		for k, v := range it {
			if !strings.HasPrefix(k, "__") && !strings.HasPrefix(k, "to_") {
				fields[k] = v
			}
		}
		payload, err := json.Marshal(fields)
		if err != nil {
			return document{}, fmt.Errorf("material document %s item %s: %w", key, item, err)
		}
		d.lines = append(d.lines, line{sub: item, rec: sdk.Record{
			Kind:    KindMaterialDocumentItem,
			ID:      key + "/" + item, // 2026/4900001234/0001
			Payload: payload,
			Time:    created,
		}})
	}
	return d, nil
}

// compareLineNumbers orders item and line numbers numerically when they
// are numbers ("2" before "10"), else as text.
func compareLineNumbers(a, b string) int {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	if errA == nil && errB == nil {
		return x - y
	}
	return strings.Compare(a, b)
}
