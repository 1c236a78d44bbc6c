package epcis_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/lothub/lothub/epcis"
)

func TestEpcisScanForms(t *testing.T) {
	want := "gtin=09506000134352 lot=L42 expiry=2027-02-28 count=12"
	for _, s := range []string{
		"]d2010950600013435210L42\x1d1727020030" + "12",
		"]C1010950600013435217270200" + "10L42\x1d3012",
		"\x1d010950600013435210L42\x1d172702003012",
		"(01)09506000134352(10)L42(17)270200(30)12",
		"https://id.example.com/01/09506000134352/10/L42?17=270200&30=12",
		"https://id.gs1.org/01/9506000134352/10/L42?17=270200&30=12",
	} {
		sc, err := epcis.ParseScan(s)
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		got := "gtin=" + sc.GTIN + " lot=" + sc.Lot + " expiry=" + sc.Expiry
		if sc.Count != nil {
			got += " count=" + strconv.Itoa(*sc.Count)
		}
		if got != want {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
	sc, err := epcis.ParseScan("]C100095060000000000015\x1d4140950600000002\x1d400PO-77\x1d3103012500\x1d11260301\x1d21SN1")
	if err != nil {
		t.Fatal(err)
	}
	if sc.SSCC != "095060000000000015" || sc.GLN != "0950600000002" || sc.PO != "PO-77" || sc.NetKG == nil || *sc.NetKG != 12.5 || sc.ProdDate != "2026-03-01" || sc.Serial != "SN1" {
		t.Errorf("got %+v", sc)
	}
}

func TestEpcisScanErrors(t *testing.T) {
	for _, c := range []struct{ scan, ai, why string }{
		{"(01)09506000134353(10)L42", "01", "check digit"},
		{"]C100095060000000000014", "00", "check digit"},
		{"4140950600000006", "414", "check digit"},
		{"01095060001343", "01", "want 14 characters"},
		{"(17)271301", "17", "month 13"},
		{"(11)260230", "11", "day 30"},
		{"(99)X", "99", "not an application identifier"},
		{"0109506000134352" + "10" + strings.Repeat("L", 25), "10", "at most 20"},
		{"(30)12a", "30", "want digits"},
		{"", "", "empty"},
	} {
		_, err := epcis.ParseScan(c.scan)
		var se *epcis.ScanError
		if !errors.As(err, &se) || se.AI != c.ai || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%q: err %v, want AI %q and %q", c.scan, err, c.ai, c.why)
		}
	}
}

func FuzzEpcisParseScan(f *testing.F) {
	for _, s := range []string{
		"]d2010950600013435210L42\x1d172702003012", "(01)09506000134352(10)L42", "https://id.gs1.org/01/09506000134352/10/L42?17=270200",
		"]C100095060000000000014", "3103012500", "(", "https://x/01/", "\x1d\x1d",
		"3074257BF7194E4000001A85", "307C257BF7194E4000001A85", "30FFFFFFFFFFFFFFFFFFFFFF",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := epcis.ParseScan(s)
		if err == nil && sc == nil {
			t.Fatal("nil scan without error")
		}
		if err != nil {
			var se *epcis.ScanError
			if !errors.As(err, &se) {
				t.Fatalf("error not a *ScanError: %v", err)
			}
		}
	})
}

// The worked example of the EPC Tag Data Standard (TDS 2.x, "Example of a
// specific trade item (SGTIN)"): GTIN 80614141123458, serial 6789, filter 3
// (unit of sale), company prefix 0614141 (partition 5) is the SGTIN-96
// 3074257BF7194E4000001A85.
func TestEpcisScanSGTIN96(t *testing.T) {
	for _, s := range []string{"3074257BF7194E4000001A85", "3074257bf7194e4000001a85", " 3074257BF7194E4000001A85\r\n"} {
		sc, err := epcis.ParseScan(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if sc.GTIN != "80614141123458" || sc.Serial != "6789" || sc.Lot != "" || sc.Filter == nil || *sc.Filter != 3 || sc.EPC != "urn:epc:id:sgtin:0614141.812345.6789" {
			t.Errorf("%q: got %+v", s, sc)
		}
		if id := epcis.ParseID(sc.EPC); id.GTIN != sc.GTIN || id.Serial != sc.Serial {
			t.Errorf("the EPC URN reads as %+v", id)
		}
	}
	for _, c := range []struct{ scan, why string }{
		// Partition 7 does not exist: 0x30, filter 3, partition 7.
		{"307C257BF7194E4000001A85", "partition 7"},
		// Partition 5 with a company prefix of 2^24-1 = 16777215: 8 digits, not 7.
		{"3077FFFFF7194E4000001A85", "more digits"},
	} {
		_, err := epcis.ParseScan(c.scan)
		var se *epcis.ScanError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: err %v, want %q", c.scan, err, c.why)
		}
	}
	// A short element string starting with AI 30 is still a count.
	if sc, err := epcis.ParseScan("3012"); err != nil || sc.Count == nil || *sc.Count != 12 {
		t.Errorf("AI 30 element string: %+v %v", sc, err)
	}
}

// SerialLot: which archived events give a serialised item's lot.
func TestSerialLot(t *testing.T) {
	const gtin, serial = "80614141123458", "6789"
	tests := []struct {
		name  string
		event string
		lot   string // "" for none
	}{
		{"CommissioningURN", `{"type":"ObjectEvent","action":"ADD","bizStep":"commissioning","epcList":["urn:epc:id:sgtin:0614141.812345.6789"],"ilmd":{"cbvmda:lotNumber":"L1"}}`, "L1"},
		{"CommissioningDigitalLinkWebURI", `{"type":"ObjectEvent","action":"ADD","bizStep":"https://ref.gs1.org/cbv/BizStep-commissioning","epcList":["https://id.gs1.org/01/80614141123458/21/6789"],"ilmd":{"https://ref.gs1.org/cbv/mda#lotNumber":"L2"}}`, "L2"},
		{"PackingDigitalLinkWithLot", `{"type":"AggregationEvent","action":"ADD","bizStep":"packing","parentID":"urn:epc:id:sscc:0614141.1234567890","childEPCs":["https://id.gs1.org/01/80614141123458/10/L3/21/6789"]}`, "L3"},
		{"OtherSerial", `{"type":"ObjectEvent","action":"ADD","bizStep":"commissioning","epcList":["urn:epc:id:sgtin:0614141.812345.67890"],"ilmd":{"cbvmda:lotNumber":"L1"}}`, ""},
		{"OtherGTIN", `{"type":"ObjectEvent","action":"ADD","bizStep":"commissioning","epcList":["urn:epc:id:sgtin:0614141.712345.6789"],"ilmd":{"cbvmda:lotNumber":"L1"}}`, ""},
		{"NotCommissioning", `{"type":"ObjectEvent","action":"ADD","bizStep":"receiving","epcList":["urn:epc:id:sgtin:0614141.812345.6789"],"ilmd":{"cbvmda:lotNumber":"L1"}}`, ""},
		{"Observe", `{"type":"ObjectEvent","action":"OBSERVE","bizStep":"shipping","epcList":["https://id.gs1.org/01/80614141123458/10/L3/21/6789"]}`, ""},
		{"NoLot", `{"type":"ObjectEvent","action":"ADD","bizStep":"commissioning","epcList":["urn:epc:id:sgtin:0614141.812345.6789"]}`, ""},
		{"Declared", `{"type":"ObjectEvent","action":"ADD","bizStep":"commissioning","epcList":["urn:epc:id:sgtin:0614141.812345.6789"],"ilmd":{"cbvmda:lotNumber":"L1"},"errorDeclaration":{"declarationTime":"2026-03-01T00:00:00Z"}}`, ""},
		{"NotJSON", `{"type":`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lot, _, ok := epcis.SerialLot([]byte(tt.event), gtin, serial)
			if ok != (tt.lot != "") || lot != tt.lot {
				t.Errorf("SerialLot = %q, %v; want %q", lot, ok, tt.lot)
			}
		})
	}
}
