package dynamics_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/dynamics"
	"github.com/lothub/lothub/sdk"
	"github.com/lothub/lothub/sdk/sdktest"
)

// Entity sets of the fake, as the connector's defaults name them.
const (
	foTrans = "LotHubInventoryTransactions"
	bcILE   = "itemLedgerEntries"
)

// itx is an F&O inventory transaction of the LotHubInventoryTransactions
// entity; zero fields take plausible defaults.
type itx struct {
	rec                  int64
	co                   string
	item, batch          string
	cat, ref             string // ReferenceCategory, ReferenceNumber
	qty                  float64
	date                 string // physical date, 2026-03-01
	mod                  string // ModifiedDateTime
	party, partyName     string // vendor or customer
	slip                 string
	statusRcpt, statusIs string
}

func (x itx) row() map[string]any {
	if x.co == "" {
		x.co = "usmf"
	}
	rcpt, iss := "None", "None"
	if x.qty > 0 {
		rcpt = "Received"
	} else {
		iss = "Deducted"
	}
	if x.statusRcpt != "" {
		rcpt = x.statusRcpt
	}
	if x.statusIs != "" {
		iss = x.statusIs
	}
	cust, custName, vend, vendName := "", "", "", ""
	switch x.cat {
	case "Purch":
		vend, vendName = x.party, x.partyName
	case "Sales":
		cust, custName = x.party, x.partyName
	}
	unit := "kg"
	if x.item == "BREAD" {
		unit = "ea"
	}
	return map[string]any{
		"@odata.etag":      fmt.Sprintf(`W/"JzEsNTYzNzE0NDU3%d"`, x.rec),
		"dataAreaId":       x.co,
		"InventTransRecId": x.rec,
		"ItemNumber":       x.item, "ItemBatchNumber": x.batch, "VendorBatchNumber": "",
		"ReferenceCategory": x.cat, "ReferenceNumber": x.ref,
		"Quantity": x.qty, "InventoryUnitSymbol": unit,
		"StatusReceipt": rcpt, "StatusIssue": iss,
		"PhysicalDate": x.date + "T12:00:00Z", "FinancialDate": "1900-01-01T12:00:00Z",
		"PackingSlipNumber": x.slip, "PackingSlipReturned": "No",
		"InventorySiteId": "1", "InventoryWarehouseId": "11", "WarehouseLocationId": "BULK",
		"CustomerAccountNumber": cust, "CustomerName": custName,
		"VendorAccountNumber": vend, "VendorName": vendName,
		"ModifiedDateTime": x.mod,
	}
}

// plantFO is a small bakery in F&O: two flour batches and salt received,
// two production orders, three shipments, an open purchase order line that
// must not count, and a receipt in a second legal entity.
func plantFO() []map[string]any {
	rows := []itx{
		{rec: 5637144576, item: "FLOUR", batch: "F-A", cat: "Purch", ref: "PO-1", qty: 1000, date: "2026-03-01", mod: "2026-03-01T08:00:00Z", party: "V-MILL", partyName: "Mill Co", slip: "PR-1"},
		{rec: 5637144577, item: "FLOUR", batch: "F-B", cat: "Purch", ref: "PO-2", qty: 800, date: "2026-03-01", mod: "2026-03-01T08:00:00Z", party: "V-MILL", partyName: "Mill Co", slip: "PR-1"},
		{rec: 5637144578, item: "SALT", batch: "S-1", cat: "Purch", ref: "PO-3", qty: 50, date: "2026-03-01", mod: "2026-03-01T09:30:00Z", party: "V-SALT", partyName: "Salt AG", slip: "PR-2"},
		{rec: 5637144579, item: "SALT", batch: "S-2", cat: "Purch", ref: "PO-4", qty: 50, date: "2026-03-06", mod: "2026-03-01T09:31:00Z", party: "V-SALT", partyName: "Salt AG", statusRcpt: "Ordered"},
		{rec: 5637144600, item: "FLOUR", batch: "F-A", cat: "ProdLine", ref: "P-1", qty: -250, date: "2026-03-02", mod: "2026-03-02T07:00:00Z"},
		{rec: 5637144601, item: "SALT", batch: "S-1", cat: "ProdLine", ref: "P-1", qty: -5, date: "2026-03-02", mod: "2026-03-02T07:00:00Z"},
		{rec: 5637144602, item: "BREAD", batch: "BR-1", cat: "Production", ref: "P-1", qty: 480, date: "2026-03-02", mod: "2026-03-02T15:00:00Z"},
		{rec: 5637144610, item: "FLOUR", batch: "F-B", cat: "ProdLine", ref: "P-2", qty: -300, date: "2026-03-03", mod: "2026-03-03T07:00:00Z"},
		{rec: 5637144611, item: "BREAD", batch: "BR-2", cat: "Production", ref: "P-2", qty: 500, date: "2026-03-03", mod: "2026-03-03T15:00:00Z"},
		{rec: 5637144700, item: "BREAD", batch: "BR-1", cat: "Sales", ref: "SO-1", qty: -100, date: "2026-03-03", mod: "2026-03-03T16:00:00Z", party: "C-ALPHA", partyName: "Alpha Foods", slip: "PS-1"},
		{rec: 5637144701, item: "BREAD", batch: "BR-1", cat: "Sales", ref: "SO-2", qty: -50, date: "2026-03-03", mod: "2026-03-03T16:00:00Z", party: "C-BETA", partyName: "Beta Bakeries", slip: "PS-2"},
		{rec: 5637144702, item: "BREAD", batch: "BR-2", cat: "Sales", ref: "SO-3", qty: -200, date: "2026-03-04", mod: "2026-03-04T10:00:00Z", party: "C-GAMMA", partyName: "Gamma Mart", slip: "PS-3"},
		{rec: 5637144800, co: "demf", item: "SUGAR", batch: "SU-1", cat: "Purch", ref: "DE-PO-1", qty: 300, date: "2026-03-02", mod: "2026-03-02T08:00:00Z", party: "V-ZUCKER", partyName: "Zucker GmbH", slip: "DE-PR-1"},
	}
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		out[i] = r.row()
	}
	return out
}

// ile is a Business Central item ledger entry of the lothub API page.
type ile struct {
	n                int
	item, lot        string
	typ              string // escaped, as BC's OData writes enums
	qty              float64
	order, doc       string
	party, partyName string
	po, so           string
	date, mod        string
}

func (x ile) id() string { return fmt.Sprintf("44a76d24-52ff-eb11-bb76-%012d", x.n) }

func (x ile) row() map[string]any {
	srcType := "Item"
	switch x.typ {
	case "Purchase":
		srcType = "Vendor"
	case "Sale":
		srcType = "Customer"
	}
	orderType := "_x0020_"
	if x.order != "" {
		orderType = "Production"
	}
	unit := "KG"
	if x.item == "BREAD" {
		unit = "PCS"
	}
	return map[string]any{
		"@odata.etag": fmt.Sprintf(`W/"JzQ0O2ZyaTlP%d"`, x.n),
		"id":          x.id(), "entryNumber": x.n, "itemNumber": x.item, "variantCode": "",
		"postingDate": x.date, "entryType": x.typ, "documentType": "_x0020_",
		"documentNumber": x.doc, "documentLineNumber": 10000,
		"orderType": orderType, "orderNumber": x.order, "orderLineNumber": 0,
		"sourceType": srcType, "sourceNumber": x.party, "sourceName": x.partyName,
		"locationCode": "MAIN", "quantity": x.qty, "unitOfMeasureCode": unit,
		"lotNumber": x.lot, "serialNumber": "", "expirationDate": "0001-01-01",
		"externalDocumentNumber": "", "correction": false, "appliesToEntry": 0, "correctedEntryNumber": 0,
		"purchaseOrderNumber": x.po, "salesOrderNumber": x.so, "systemModifiedAt": x.mod,
	}
}

// plantBC is the same bakery in Business Central.
func plantBC() []map[string]any {
	rows := []ile{
		{n: 101, item: "FLOUR", lot: "F-A", typ: "Purchase", qty: 1000, doc: "PRCPT-1", party: "V-MILL", partyName: "Mill Co", po: "PO-1", date: "2026-03-01", mod: "2026-03-01T08:00:00.123Z"},
		{n: 102, item: "FLOUR", lot: "F-B", typ: "Purchase", qty: 800, doc: "PRCPT-1", party: "V-MILL", partyName: "Mill Co", po: "PO-2", date: "2026-03-01", mod: "2026-03-01T08:00:00.123Z"},
		{n: 103, item: "SALT", lot: "S-1", typ: "Positive_x0020_Adjmt_x002E_", qty: 50, doc: "OPENING", date: "2026-03-01", mod: "2026-03-01T09:00:00Z"},
		{n: 104, item: "FLOUR", lot: "F-A", typ: "Consumption", qty: -250, order: "RPO-1", doc: "RPO-1", date: "2026-03-02", mod: "2026-03-02T07:00:00Z"},
		{n: 105, item: "SALT", lot: "S-1", typ: "Consumption", qty: -5, order: "RPO-1", doc: "RPO-1", date: "2026-03-02", mod: "2026-03-02T07:00:01Z"},
		{n: 106, item: "BREAD", lot: "BR-1", typ: "Output", qty: 480, order: "RPO-1", doc: "RPO-1", date: "2026-03-02", mod: "2026-03-02T15:00:00Z"},
		{n: 107, item: "FLOUR", lot: "F-B", typ: "Consumption", qty: -300, order: "RPO-2", doc: "RPO-2", date: "2026-03-03", mod: "2026-03-03T07:00:00Z"},
		{n: 108, item: "BREAD", lot: "BR-2", typ: "Output", qty: 500, order: "RPO-2", doc: "RPO-2", date: "2026-03-03", mod: "2026-03-03T15:00:00Z"},
		{n: 109, item: "BREAD", lot: "BR-1", typ: "Sale", qty: -100, doc: "SSHP-1", party: "C-ALPHA", partyName: "Alpha Foods", so: "SO-1", date: "2026-03-03", mod: "2026-03-03T16:00:00Z"},
		{n: 110, item: "BREAD", lot: "BR-1", typ: "Sale", qty: -50, doc: "SSHP-2", party: "C-BETA", partyName: "Beta Bakeries", so: "SO-2", date: "2026-03-03", mod: "2026-03-03T16:00:00Z"},
		{n: 111, item: "BREAD", lot: "BR-2", typ: "Sale", qty: -200, doc: "SSHP-3", party: "C-GAMMA", partyName: "Gamma Mart", so: "SO-3", date: "2026-03-04", mod: "2026-03-04T10:00:00Z"},
	}
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		out[i] = r.row()
	}
	return out
}

// generated is n F&O transactions, four to a modified time, so that page
// and batch boundaries fall between records of equal timestamps.
func generated(from, n int) []map[string]any {
	base := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	out := make([]map[string]any, n)
	for i := range n {
		k := from + i
		co := "usmf"
		if k%5 == 4 {
			co = "demf"
		}
		out[i] = itx{rec: 5637200000 + int64(k), co: co, item: "FLOUR", batch: fmt.Sprintf("F-%03d", k), cat: "Purch",
			ref: fmt.Sprintf("PO-%d", k), qty: float64(10 + k), date: "2026-03-01", party: "V-MILL", partyName: "Mill Co",
			mod: base.Add(time.Duration(k/4) * time.Minute).Format(time.RFC3339)}.row()
	}
	return out
}

func foConfig(f *fakeMicrosoft, kv ...string) map[string]string {
	m := map[string]string{
		"system": "fo", "tenant_id": testTenant, "client_id": testClientID, "client_secret": testSecret,
		"base_url": f.srv.URL, "authority_url": f.srv.URL,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func bcConfig(f *fakeMicrosoft, kv ...string) map[string]string {
	m := map[string]string{
		"system": "bc", "tenant_id": testTenant, "client_id": testClientID, "client_secret": testSecret,
		"base_url": f.srv.URL, "authority_url": f.srv.URL, "bc_company_id": testCompany,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func parse(t testing.TB, raw map[string]string) sdk.Config {
	t.Helper()
	cfg, err := sdk.ParseConfig(dynamics.New().Spec(), raw)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// readAll reads from pos to the end in batches of max.
func readAll(t testing.TB, c *dynamics.Connector, cfg sdk.Config, pos sdk.Position, max int) ([]sdk.Record, sdk.Position) {
	t.Helper()
	return sdktest.ReadAll(t, c, cfg, pos, max)
}

func ids(rs []sdk.Record) []string { return sdktest.IDs(rs) }

// hubHooks plays the hub's webhook intake (POST /v1/webhooks/{connector}):
// it hands each request to the connector and answers as the hub does.
type hubHooks struct {
	srv  *httptest.Server
	mu   sync.Mutex
	recs []sdk.Record
}

func newHubHooks(t testing.TB, c *dynamics.Connector, cfg func() sdk.Config) *hubHooks {
	h := &hubHooks{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/webhooks/dynamics" {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		res, err := c.Webhook(r.Context(), cfg(), sdk.WebhookRequest{Method: r.Method, Headers: r.Header, Query: r.URL.Query(), Body: body})
		switch {
		case errors.Is(err, sdk.ErrInvalidSignature):
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		case errors.Is(err, sdk.ErrRetry):
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h.mu.Lock()
		h.recs = append(h.recs, res.Records...)
		h.mu.Unlock()
		status := res.Status
		if status == 0 {
			status = http.StatusAccepted
		}
		if res.Body != nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		w.WriteHeader(status)
		w.Write(res.Body)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hubHooks) url() string { return h.srv.URL + "/v1/webhooks/dynamics" }

func (h *hubHooks) records() []sdk.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdk.Record(nil), h.recs...)
}
