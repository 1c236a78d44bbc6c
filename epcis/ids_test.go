package epcis_test

import (
	"testing"

	"github.com/lothub/lothub/epcis"
)

func TestEpcisParseID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want epcis.Ident
	}{
		// GTIN 09506000134352 is GS1's own example GTIN (company prefix
		// 9506000, item reference 013435, indicator 0).
		{"urn:epc:class:lgtin:9506000.013435.L42", epcis.Ident{Kind: "lot", GTIN: "09506000134352", Lot: "L42"}},
		{"urn:epc:id:sgtin:9506000.013435.1001", epcis.Ident{Kind: "instance", GTIN: "09506000134352", Serial: "1001"}},
		{"https://id.gs1.org/01/09506000134352/10/L42", epcis.Ident{Kind: "lot", GTIN: "09506000134352", Lot: "L42"}},
		{"https://example.com/dl/01/9506000134352/10/A%2F1/21/7", epcis.Ident{Kind: "instance", GTIN: "09506000134352", Lot: "A/1", Serial: "7"}},
		{"urn:epc:id:sscc:0614141.1234567890", epcis.Ident{Kind: "sscc", SSCC: "106141412345678908"}},
		{"https://id.gs1.org/00/106141412345678908", epcis.Ident{Kind: "sscc", SSCC: "106141412345678908"}},
		{"urn:epc:idpat:sgtin:4012345.066666.*", epcis.Ident{}},
		{"urn:epc:id:giai:952005385.w2", epcis.Ident{}},
		{"https://id.gs1.org/01/09506000134352", epcis.Ident{}},
	} {
		if got := epcis.ParseID(tc.in); got != tc.want {
			t.Errorf("ParseID(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestEpcisBare(t *testing.T) {
	for in, want := range map[string]string{
		"shipping":                                 "shipping",
		"urn:epcglobal:cbv:bizstep:shipping":       "shipping",
		"https://ref.gs1.org/cbv/BizStep-shipping": "shipping",
		"urn:epcglobal:cbv:disp:in_transit":        "in_transit",
		"https://ref.gs1.org/cbv/Disp-in_transit":  "in_transit",
		"http://epcis.example.org/hc/bizstep/x":    "http://epcis.example.org/hc/bizstep/x",
	} {
		if got := epcis.Bare(in); got != want {
			t.Errorf("Bare(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEpcisLocation(t *testing.T) {
	for _, c := range []struct{ in, gln, ext string }{
		{"urn:epc:id:sgln:9506000.00001.0", "9506000000015", ""},
		{"urn:epc:id:sgln:0614141.07346.1234", "0614141073467", "1234"},
		{"https://id.gs1.org/414/9506000000015", "9506000000015", ""},
		{"https://example.com/414/0614141073467/254/1234", "0614141073467", "1234"},
	} {
		gln, ext, ok := epcis.Location(c.in)
		if !ok || gln != c.gln || ext != c.ext {
			t.Errorf("%s: %s %s %v, want %s %s", c.in, gln, ext, ok, c.gln, c.ext)
		}
	}
	for _, bad := range []string{"urn:epc:id:sgln:95060.00001", "https://id.gs1.org/01/09506000134352", "Dock 4"} {
		if _, _, ok := epcis.Location(bad); ok {
			t.Errorf("%s read as a location", bad)
		}
	}
}
