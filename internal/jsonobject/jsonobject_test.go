package jsonobject

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

// inputs are JSON texts, valid and not, of the shapes records take.
var inputs = []string{
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
	`{"html":"<b>A & B</b>","<k>":"\u2028\u2029","ctl":"\u0001\b\f"}`, // what json.Marshal escapes
	`{"a":"\"}`, `{"a":"\`, `{"a":"\x"}`, // broken escapes
	strings.Repeat(`{"a":`, 150) + `1` + strings.Repeat(`}`, 150), // deeper than Decode follows
	strings.Repeat(`{"a":[`, 20) + `1` + strings.Repeat(`]}`, 20),
	`{"a":"1"} trailing`, `{"a":"1",}`, `{"a" "1"}`, `{"a":}`, `{"a":"1"`, `{`, ``, `null`, `[]`, `"x"`, `{"a":1`,
}

// check compares Decode and Marshal with encoding/json on one input.
func check(t *testing.T, in []byte) {
	t.Helper()
	for _, useNumber := range []bool{false, true} {
		var want map[string]any
		dec := json.NewDecoder(bytes.NewReader(in))
		if useNumber {
			dec.UseNumber()
		}
		wantErr := dec.Decode(&want)
		if wantErr == nil && dec.InputOffset() != int64(len(bytes.TrimRight(in, " \t\r\n"))) {
			wantErr = json.Unmarshal(in, &want) // trailing data: invalid for Unmarshal
		}
		got, ok := Decode(in, useNumber)
		if ok && wantErr != nil {
			t.Fatalf("%q (numbers %v): Decode gave %#v, encoding/json fails: %v", in, useNumber, got, wantErr)
		}
		if ok && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q (numbers %v):\n Decode       %#v\n encoding/json %#v", in, useNumber, got, want)
		}
		if wantErr != nil {
			continue
		}
		// Marshal writes what json.Marshal writes, of what either decoder
		// gave.
		wantB, wantMErr := json.Marshal(want)
		gotB, err := Marshal(want)
		if (err != nil) != (wantMErr != nil) || !bytes.Equal(gotB, wantB) {
			t.Fatalf("Marshal of %q (numbers %v):\n got  %s, %v\n want %s, %v", in, useNumber, gotB, err, wantB, wantMErr)
		}
	}
}

// Decode gives exactly what encoding/json gives, or says it does not;
// Marshal writes exactly what json.Marshal writes.
func TestLikeEncodingJSON(t *testing.T) {
	for _, in := range inputs {
		check(t, []byte(in))
	}
}

// What connectors send is decoded in one pass, not left to encoding/json.
func TestDecodeOnePass(t *testing.T) {
	for _, in := range []string{
		`{"a":"1","b":"x y"}`,
		`{"TransactionId":300100000,"TransactionQuantity":25.5,"SupplierName":null,"ok":true,"lots":[{"LotNumber":"L-1","TransactionQuantity":25}],"e":[]}`,
		`{"k\"ey":"caf\u00e9 \/x","n":-1.5e-3}`,
	} {
		for _, useNumber := range []bool{false, true} {
			if _, ok := Decode([]byte(in), useNumber); !ok {
				t.Errorf("%s (numbers %v): left to encoding/json", in, useNumber)
			}
		}
	}
}

// Values Decode never gives are written as json.Marshal writes them, or
// refused as it refuses them.
func TestMarshalOtherValues(t *testing.T) {
	for _, v := range []any{
		map[string]any{"f": 1e21, "g": 0.000001, "h": -3.25, "n": json.Number(""), "i": 7, "t": []string{"x"}},
		map[string]any{"nan": math.NaN()},
		map[string]any{"bad": json.Number("12abc")},
		map[string]any{"n1": json.Number("-0.5e+10"), "n2": json.Number("0"), "n3": json.Number("12E3")},
		map[string]any{"bad": json.Number("1.")}, map[string]any{"bad": json.Number("-")}, map[string]any{"bad": json.Number("01")},
		map[string]any{"bad": json.Number("1e")}, map[string]any{"bad": json.Number(" 1")}, map[string]any{"bad": json.Number(".5")},
		map[string]any{"s": "plain ASCII, 25 KG", "h": "<a href='x'>&amp;</a>", "q": `say "hi" \ ok`, "c": "tab\there\n", "u": "café \u2028 \xff"},
		[]any{nil, map[string]any(nil), []any(nil)},
	} {
		want, wantErr := json.Marshal(v)
		got, err := Marshal(v)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Errorf("Marshal(%#v) = %s, %v; json.Marshal %s, %v", v, got, err, want, wantErr)
		}
	}
}

// go test ./internal/jsonobject -fuzz FuzzJSONObject: any input decodes as
// with encoding/json, and encodes back as json.Marshal does.
func FuzzJSONObject(f *testing.F) {
	for _, in := range inputs {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, b []byte) { check(t, b) })
}

func BenchmarkRecord(b *testing.B) {
	rec := []byte(`{"CustomerName":null,"ItemNumber":"FLOUR","LastUpdateDate":"2026-03-14T08:00:00.000+00:00","OrganizationCode":"M1","SourceReference":"PO-77","SubinventoryCode":"STORES","SupplierName":"Mill Co","TransactionDate":"2026-03-14T08:00:00+00:00","TransactionId":300100000,"TransactionQuantity":25,"TransactionSourceTypeName":"Purchase order","TransactionTypeName":"Purchase Order Receipt","TransactionUnitOfMeasure":"KG","lots":[{"LotNumber":"L-0","SupplierLotNumber":"M-7781","TransactionQuantity":25}]}`)
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		b.Fatal(err)
	}
	b.Run("Decode", func(b *testing.B) {
		for b.Loop() {
			if _, ok := Decode(rec, true); !ok {
				b.Fatal("not decoded")
			}
		}
	})
	b.Run("json.Decoder", func(b *testing.B) {
		for b.Loop() {
			var m map[string]any
			dec := json.NewDecoder(bytes.NewReader(rec))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
