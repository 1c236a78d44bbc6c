package mapping

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/lothub/lothub/internal/jsonobject"
)

// DecodeFields gives exactly what encoding/json gives, fast path or not.
func TestDecodeFieldsIsEncodingJSON(t *testing.T) {
	inputs := []string{
		`{}`, ` { } `, `{"a":"1"}`, `{"a": "1", "b" : "x y", "c":""}`,
		"{\n  \"item\": \"FLOUR\",\n  \"lot\": \"F-A\"\n}\n",
		`{"a":"1","a":"2"}`,                 // the last of a duplicate key wins
		`{"quote":"say \"hi\""}`,            // escapes
		`{"u":"caf\u00e9","e":"é € 漢"}`,     // unicode, escaped and not
		`{"n":12.5,"b":true,"z":null}`,      // other types
		`{"nested":{"a":"b"},"list":["x"]}`, // nesting
		"{\"bad\":\"\xff\xfe\"}",            // invalid UTF-8: replaced by encoding/json
		"{\"ctl\":\"a\tb\"}",                // a raw tab: invalid JSON
		`{"q":25,"f":-0.5,"e":1.5e3,"E":2E-2,"z":0,"m":-0,"big":123456789012345678901234567890}`, // numbers
		`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":+1}`, `{"a":.5}`, `{"a":0x1}`, `{"a":Infinity}`, `{"a":1e400}`, `{"a":1_0}`, // not JSON numbers, or out of range
		`{"a":tru}`, `{"a":nul}`, `{"a":falsey}`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a":[1 2]}`, `{"a":{"b":1,}}`, // broken values
		`{"lots":[{"LotNumber":"L-1","TransactionQuantity":25}],"e":[],"o":{},"n":[null,true,false,"x",[[]]]}`, // lists and objects
		`{"k\"ey":"v","caf\u00e9":"\/x\n","a\\":"b"}`,                                                          // escaped keys and values
		`{"s":"\ud800"}`, `{"s":"\ud83d\ude00"}`, "{\"s\":\"\\u00e9\xff\"}", // lone and paired surrogates, an escape beside an invalid byte
		`{"a":"\"}`, `{"a":"\`, `{"a":"\x"}`, // broken escapes
		strings.Repeat(`{"a":`, 150) + `1` + strings.Repeat(`}`, 150), // deeper than the fast path follows
		strings.Repeat(`{"a":[`, 20) + `1` + strings.Repeat(`]}`, 20),
		`{"a":"1"} trailing`, `{"a":"1",}`, `{"a" "1"}`, `{"a":}`, `{"a":"1"`, `{`, ``, `null`, `[]`, `"x"`, `{"a":1`,
	}
	for _, in := range inputs {
		var want map[string]any
		wantErr := json.Unmarshal([]byte(in), &want)
		got, err := DecodeFields([]byte(in))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%q: err = %v, encoding/json err = %v", in, err, wantErr)
			continue
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n got  %#v\n want %#v", in, got, want)
		}
	}
}

func BenchmarkDecodeFields(b *testing.B) {
	row := []byte(`{"id":"R-0000001","time":"2026-03-02T08:15:00Z","item":"RAW-001","lot":"L-0000001","qty":"100","uom":"KG","supplier_id":"V-01","supplier_name":"Supplier 01","supplier_lot":"SL-0000001","po":"PO-000001"}`)
	b.Run("DecodeFields", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeFields(row); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(row, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A REST record: numbers, nulls and a list of objects (an Oracle
	// inventory transaction with its lots).
	rest := []byte(`{"CustomerName":null,"ItemNumber":"FLOUR","LastUpdateDate":"2026-03-14T08:00:00.000+00:00","OrganizationCode":"M1","SourceReference":"PO-77","SubinventoryCode":"STORES","SupplierName":"Mill Co","TransactionDate":"2026-03-14T08:00:00+00:00","TransactionId":300100000,"TransactionQuantity":25,"TransactionSourceTypeName":"Purchase order","TransactionTypeName":"Purchase Order Receipt","TransactionUnitOfMeasure":"KG","lots":[{"LotNumber":"L-0","SupplierLotNumber":"M-7781","TransactionQuantity":25}]}`)
	b.Run("DecodeFields/rest", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeFields(rest); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json/rest", func(b *testing.B) {
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(rest, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// go test ./mapping -fuzz FuzzDecodeFields: any input decodes as with
// encoding/json.
func FuzzDecodeFields(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"1"}`, `{"a":"\u00e9"}`, `{"a":1}`, "{\"a\":\"\xff\"}", `{"a":"1",}`,
		`{"n":-1.5e-3,"b":[true,false,null],"o":{"k\"":"v"}}`, `{"a":1e400}`, `{"a":[{"b":[]}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want map[string]any
		wantErr := json.Unmarshal(b, &want)
		got, err := DecodeFields(b)
		if (err != nil) != (wantErr != nil) || err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %#v, %v; encoding/json %#v, %v", b, got, err, want, wantErr)
		}
	})
}

// What connectors send is decoded in one pass, not handed to
// encoding/json: numbers, nulls, lists of objects, escapes.
func TestDecodeFieldsOnePass(t *testing.T) {
	for _, in := range []string{
		`{"a":"1","b":"x y"}`,
		`{"TransactionId":300100000,"TransactionQuantity":25.5,"SupplierName":null,"ok":true,"lots":[{"LotNumber":"L-1","TransactionQuantity":25}],"e":[]}`,
		`{"k\"ey":"caf\u00e9 \/x","n":-1.5e-3}`,
	} {
		if _, ok := jsonobject.Decode([]byte(in), false); !ok {
			t.Errorf("%s: handed to encoding/json", in)
		}
	}
}
