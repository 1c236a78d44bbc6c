package dynamics

import (
	"fmt"
	"slices"
	"strings"
)

// Record kinds: one per entity the connector can read. A kind names what the
// record is, whatever the entity set is called in a given environment.
const (
	// KindFOInventoryTransaction is an F&O inventory transaction (InventTrans)
	// with its origin (InventTransOrigin) and batch (InventDim), read from
	// the LotHubInventoryTransactions entity documented in
	// docs/connectors/dynamics.md.
	KindFOInventoryTransaction = "fo.inventory-transaction"
	// KindFOProductReceiptLine is a posted product receipt line
	// (ProductReceiptLinesV2).
	KindFOProductReceiptLine = "fo.product-receipt-line"
	// KindFOPickingListLine is a production picking list journal line
	// (ProductionPickingListJournalEntries): material issued to an order.
	KindFOPickingListLine = "fo.picking-list-line"
	// KindFOReportAsFinishedLine is a report-as-finished journal line
	// (ProdReportAsFinishedProductionJournalEntryEntity): output of an order.
	KindFOReportAsFinishedLine = "fo.report-as-finished-line"
	// KindBCItemLedgerEntry is a Business Central item ledger entry.
	KindBCItemLedgerEntry = "bc.item-ledger-entry"
)

// Systems.
const (
	systemFO = "fo"
	systemBC = "bc"
)

// kind describes how to read one entity incrementally.
type kind struct {
	name   string // record kind
	short  string // its name in the entities parameter
	system string
	entity string // default entity set (public collection) name

	// modified is the field filtered and ordered on for incremental reads,
	// and the record's source time. It must be an Edm.DateTimeOffset.
	modified string
	// seq, for an entity without a modified time, is an ascending integer
	// key (an entry number) read incrementally instead, and date the
	// record's source time (an Edm.Date). Such a kind has modified "".
	seq, date string
	// keys identify a record; with modified they give a total order.
	keys []string
	// filter is always applied (only posted journal lines count).
	filter string
	// fields are requested with $select (when select is on); expand with
	// $expand.
	fields []string
	expand string
}

// noYes is how F&O's OData filters on an enum: the value is qualified by the
// enum's namespace and name (Microsoft.Dynamics.DataEntities.NoYes'Yes');
// a bare 'Yes' is a type error.
const noYes = "Microsoft.Dynamics.DataEntities.NoYes"

// kinds are every kind the connector knows, in the order their records are
// read when several are configured.
var kinds = []kind{
	{
		name: KindFOInventoryTransaction, short: "inventory-transaction", system: systemFO,
		// No standard public entity exposes InventTrans with its batch and
		// modified time (InventTransArchiveEntities holds archived
		// transactions, with InventDimId only), so this is the small custom
		// entity docs/connectors/dynamics.md describes.
		entity:   "LotHubInventoryTransactions",
		modified: "ModifiedDateTime",
		keys:     []string{"dataAreaId", "InventTransRecId"},
		fields: []string{"dataAreaId", "InventTransRecId", "ItemNumber", "ItemBatchNumber", "VendorBatchNumber",
			"ReferenceCategory", "ReferenceNumber", "Quantity", "InventoryUnitSymbol", "StatusReceipt", "StatusIssue",
			"PhysicalDate", "FinancialDate", "PackingSlipNumber", "PackingSlipReturned", "InventorySiteId",
			"InventoryWarehouseId", "WarehouseLocationId", "CustomerAccountNumber", "CustomerName",
			"VendorAccountNumber", "VendorName", "ModifiedDateTime"},
	},
	{
		name: KindFOProductReceiptLine, short: "product-receipt-line", system: systemFO,
		entity: "ProductReceiptLinesV2",
		// The entity has no modified time: ProductReceiptDate (a date, sent
		// as noon UTC) is the best there is. Back-dated receipts older than
		// the overlap window are missed; see the docs.
		modified: "ProductReceiptDate",
		keys:     []string{"dataAreaId", "RecordId"},
		fields: []string{"dataAreaId", "RecordId", "ProductReceiptNumber", "ProductReceiptDate", "PurchaseOrderNumber",
			"PurchaseOrderLineNumber", "LineNumber", "ItemNumber", "ItemBatchNumber", "ReceivedPurchaseQuantity",
			"PurchaseUnitSymbol", "ReceivingSiteId", "ReceivingWarehouseId", "ReceivingWarehouseLocationId"},
	},
	{
		name: KindFOPickingListLine, short: "picking-list-line", system: systemFO,
		entity:   "ProductionPickingListJournalEntries",
		modified: "PostedDateTime",
		keys:     []string{"dataAreaId", "JournalNumber", "JournalLineNumber"},
		filter:   "IsPosted eq " + noYes + "'Yes'",
		fields: []string{"dataAreaId", "JournalNumber", "JournalLineNumber", "IsPosted", "PostedDateTime",
			"ConsumptionDate", "ProductionOrderNumber", "ItemNumber", "ItemBatchNumber", "ConsumptionBOMQuantity",
			"BOMUnitSymbol", "IsConsumptionReturned", "ProductionSiteId", "WarehouseId"},
	},
	{
		name: KindFOReportAsFinishedLine, short: "report-as-finished-line", system: systemFO,
		// Public collection of ProdReportAsFinishedProductionJournalEntryEntity;
		// check the name in /data/$metadata of your version.
		entity:   "ProductionReportAsFinishedJournalEntries",
		modified: "PostedDateTime",
		keys:     []string{"dataAreaId", "JournalNumber", "JournalLineNumber"},
		filter:   "IsPosted eq " + noYes + "'Yes'",
		fields: []string{"dataAreaId", "JournalNumber", "JournalLineNumber", "IsPosted", "PostedDateTime",
			"ReportAsFinishedDate", "ProductionOrderNumber", "ItemNumber", "ItemBatchNumber",
			"ReportedGoodInventoryQuantity", "IsReceiptReturned", "ProductionSiteId", "WarehouseId"},
		// The journal has no unit: the released product has.
		expand: "ReleasedProductV2($select=InventoryUnitSymbol)",
	},
	{
		name: KindBCItemLedgerEntry, short: "item-ledger-entry", system: systemBC,
		// Fields of the lothub API page (api/lothub/traceability/v1.0); the
		// standard API v2.0 page has no lot number (see bcStandardILE).
		entity:   "itemLedgerEntries",
		modified: "systemModifiedAt",
		keys:     []string{"entryNumber"},
		fields: []string{"id", "entryNumber", "itemNumber", "variantCode", "postingDate", "entryType", "documentType",
			"documentNumber", "documentLineNumber", "orderType", "orderNumber", "orderLineNumber", "sourceType",
			"sourceNumber", "sourceName", "locationCode", "quantity", "unitOfMeasureCode", "lotNumber", "serialNumber",
			"expirationDate", "externalDocumentNumber", "correction", "appliesToEntry", "correctedEntryNumber",
			"purchaseOrderNumber", "salesOrderNumber", "systemModifiedAt"},
	},
}

// bcStandardILE is the item ledger entry of the standard API v2.0
// (api/v2.0/companies({id})/itemLedgerEntries): its modified time is
// lastModifiedDateTime and it has no lot, serial or order number, which is
// why the lothub API page exists.
var bcStandardILE = kind{
	name: KindBCItemLedgerEntry, short: "item-ledger-entry", system: systemBC,
	entity:   "itemLedgerEntries",
	modified: "lastModifiedDateTime",
	keys:     []string{"entryNumber"},
	fields: []string{"id", "entryNumber", "itemNumber", "postingDate", "entryType", "sourceNumber", "sourceType",
		"documentNumber", "documentType", "description", "quantity", "lastModifiedDateTime"},
}

// bcAnalyticsILE is the item ledger entry of Microsoft's analytics API
// (api/microsoft/analytics/v1.0/companies({id})/itemLedgerEntries), the
// API query behind the Power BI inventory reports, which many tenants
// already use for item ledger exports. Field names are those of
// https://learn.microsoft.com/dynamics365/business-central/dev-itpro/api-analytics/resources/dynamics_itemledgerentry
// (query 36968 "Item Ledger Entries", ALAppExtensions
// Apps/W1/PowerBIReports). It has lot and serial numbers, but no id, no
// modified time, no order number, no correction flag and no names: it is
// read by entry number, and the mapping makes do (docs/connectors/dynamics.md).
var bcAnalyticsILE = kind{
	name: KindBCItemLedgerEntry, short: "item-ledger-entry", system: systemBC,
	entity: "itemLedgerEntries",
	seq:    "entryNo",
	date:   "postingDate",
	keys:   []string{"entryNo"},
	fields: []string{"entryNo", "entryType", "sourceType", "sourceNo", "documentNo", "documentType", "postingDate",
		"itemNo", "locationCode", "serialNo", "expirationDate", "lotNo", "quantity", "unitOfMeasureCode", "positive"},
}

// bcAnalytics reports whether route is Microsoft's analytics API.
func bcAnalytics(route string) bool {
	return strings.HasPrefix(route, "microsoft/analytics/")
}

// Kinds returns the record kinds the connector emits, in spec order.
func Kinds() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.name
	}
	return out
}

// defaultEntities is the entities parameter when none is given.
func defaultEntities(system string) string {
	if system == systemBC {
		return "item-ledger-entry"
	}
	return "inventory-transaction"
}

// parseEntities reads the entities parameter: a comma-separated list of
// kinds (their short names), each optionally renamed to the entity set of
// this environment: "inventory-transaction=MyInventTransEntities,
// picking-list-line". It returns the kinds in the order of the kinds table.
func parseEntities(system, spec, bcAPI string) ([]kind, error) {
	if strings.TrimSpace(spec) == "" {
		spec = defaultEntities(system)
	}
	var known []string
	for _, k := range kinds {
		if k.system == system {
			known = append(known, k.short)
		}
	}
	chosen := map[string]string{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		short, entity, _ := strings.Cut(part, "=")
		short, entity = strings.TrimSpace(short), strings.TrimSpace(entity)
		if !slices.Contains(known, short) {
			return nil, fmt.Errorf("%q is not an entity the %s connector reads (it reads %s)", short, system, strings.Join(known, ", "))
		}
		if _, dup := chosen[short]; dup {
			return nil, fmt.Errorf("%q is listed twice", short)
		}
		if entity != "" && !validEntityName(entity) {
			return nil, fmt.Errorf("%q is not an entity set name (letters, digits and _ only)", entity)
		}
		chosen[short] = entity
	}
	if len(chosen) == 0 {
		return nil, fmt.Errorf("no entity to read (list at least one of %s)", strings.Join(known, ", "))
	}
	var out []kind
	for _, k := range kinds {
		entity, ok := chosen[k.short]
		if !ok || k.system != system {
			continue
		}
		switch {
		case k.name == KindBCItemLedgerEntry && bcAPI == "v2.0":
			k = bcStandardILE
		case k.name == KindBCItemLedgerEntry && bcAnalytics(bcAPI):
			k = bcAnalyticsILE
		}
		if entity != "" {
			k.entity = entity
		}
		out = append(out, k)
	}
	return out, nil
}

func validEntityName(s string) bool {
	for _, r := range s {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}
