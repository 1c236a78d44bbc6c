package mapping_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/lothub/lothub/mapping"
)

// sapIssue is an A_MaterialDocumentItem as API_MATERIAL_DOCUMENT_SRV
// returns it (OData v2 JSON decoded by encoding/json): a goods issue (261)
// to a production order, with the fields the API sends that the mapping
// does not use.
func sapIssue() map[string]any {
	return map[string]any{
		"__metadata":                   map[string]any{"id": "https://s4/sap/opu/odata/sap/API_MATERIAL_DOCUMENT_SRV/A_MaterialDocumentItem(MaterialDocumentYear='2026',MaterialDocument='4900001299',MaterialDocumentItem='2')", "type": "API_MATERIAL_DOCUMENT_SRV.A_MaterialDocumentItemType"},
		"MaterialDocumentYear":         "2026",
		"MaterialDocument":             "4900001299",
		"MaterialDocumentItem":         "2",
		"Material":                     "000000000000012345",
		"Plant":                        "1010",
		"StorageLocation":              "RM01",
		"Batch":                        "0000000042",
		"GoodsMovementType":            "261",
		"InventoryStockType":           "01",
		"InventoryValuationType":       "",
		"InventorySpecialStockType":    "",
		"Supplier":                     "",
		"Customer":                     "",
		"SalesOrder":                   "",
		"SalesOrderItem":               "0",
		"PurchaseOrder":                "",
		"PurchaseOrderItem":            "0",
		"ManufacturingOrder":           "000001000123",
		"ManufacturingOrderItem":       "0",
		"GoodsMovementRefDocType":      "F",
		"GoodsMovementReasonCode":      "0",
		"Delivery":                     "",
		"DeliveryItem":                 "0",
		"CostCenter":                   "",
		"ControllingArea":              "A000",
		"GLAccount":                    "0051100000",
		"ProfitCenter":                 "YB101",
		"MaterialBaseUnit":             "KG",
		"QuantityInBaseUnit":           "250.500",
		"EntryUnit":                    "KG",
		"QuantityInEntryUnit":          "250.500",
		"CompanyCodeCurrency":          "EUR",
		"GdsMvtExtAmtInCoCodeCrcy":     "0.00",
		"IsCompletelyDelivered":        false,
		"MaterialDocumentItemText":     "",
		"Reservation":                  "0000012345",
		"ReservationItem":              "1",
		"IsAutomaticallyCreated":       "",
		"GoodsMovementIsCancelled":     false,
		"ReversedMaterialDocumentYear": "",
		"ReversedMaterialDocument":     "",
		"ReversedMaterialDocumentItem": "0",
		"PostingDate":                  "/Date(1772409600000)/",
		"DebitCreditCode":              "H",
	}
}

// BenchmarkMap maps an SAP goods issue through the example SAP mapping:
// ten rules, the fifth matches. It reports records/s for one core; run
//
//	go test ./mapping/ -run '^$' -bench BenchmarkMap -benchmem -cpu 1
func BenchmarkMap(b *testing.B) {
	m, err := mapping.Load("../examples/mappings/sap-material-documents.yaml")
	if err != nil {
		b.Fatal(err)
	}
	rec := mapping.Record{Kind: "a_materialdocumentitem", ID: "2026/4900001299/0002", Fields: sapIssue()}
	evs, err := m.Map(rec)
	if err != nil || len(evs) != 1 || evs[0].Type != "consume" {
		b.Fatalf("Map = %v, %v; want one consume", evs, err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Map(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	// On a shared machine wall time counts the time other processes had
	// the core; CPU time (GC included) is what mapping costs.
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "records/cpu-s")
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
