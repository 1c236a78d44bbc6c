package mapping

import (
	"encoding/json"
	"reflect"
	"testing"
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
}

// go test ./mapping -fuzz FuzzDecodeFields: any input decodes as with
// encoding/json.
func FuzzDecodeFields(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"1"}`, `{"a":"\u00e9"}`, `{"a":1}`, "{\"a\":\"\xff\"}", `{"a":"1",}`} {
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
