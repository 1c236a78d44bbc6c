package epcis

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/lothub/lothub/plantgen"
)

// sameAsUnmarshal: where decodeEvent decodes, it decodes what
// json.Unmarshal does, and json.Unmarshal has no error.
func sameAsUnmarshal(t *testing.T, raw []byte) bool {
	t.Helper()
	var got epcisEvent
	if !decodeEvent(raw, &got) {
		return false
	}
	var want epcisEvent
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("decodeEvent decoded what json.Unmarshal refuses (%v): %s", err, raw)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeEvent %+v, json.Unmarshal %+v, of %s", got, want, raw)
	}
	return true
}

// eventTexts are the events of the example documents and of a generated
// feed, as the reader gives them.
func eventTexts(t *testing.T) [][]byte {
	t.Helper()
	files, _ := filepath.Glob("testdata/gs1/*.jsonld")
	more, _ := filepath.Glob("testdata/hash/*.jsonld")
	xml, _ := filepath.Glob("testdata/xml/*.xml")
	files = append(append(files, more...), xml...)
	var docs [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, b)
	}
	var gen bytes.Buffer
	if err := plantgen.EPCIS(context.Background(), &gen, 400, false); err != nil {
		t.Fatal(err)
	}
	docs = append(docs, gen.Bytes())
	var out [][]byte
	for _, d := range docs {
		if _, err := readDocument(bytes.NewReader(d), "doc", false, func(ev rawEvent) error {
			out = append(out, ev.JSON)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// decodeEvent decodes every example event as json.Unmarshal does, and
// variants of them: values of other types, null, members twice or in
// another case, escapes, white space; what it leaves to json.Unmarshal is
// the unusual.
func TestEpcisDecodeEventAsUnmarshal(t *testing.T) {
	evs := eventTexts(t)
	decoded := 0
	for _, raw := range evs {
		if sameAsUnmarshal(t, raw) {
			decoded++
		}
	}
	if decoded != len(evs) {
		t.Errorf("decodeEvent decoded %d of %d example events, want all", decoded, len(evs))
	}
	replacements := []string{`null`, `1`, `-2.5e3`, `1e400`, `"x"`, `"\u00e9\n"`, `true`, `{}`, `[]`, `[null]`, `["a"]`, `[1]`, `[{}]`, `{"id":"x"}`, `{"ID":"x"}`, `{"id":null}`, `[{"epcClass":"x","quantity":"1"}]`, `[{"epcClass":"x","Quantity":1}]`, `[{"type":"po","type":"inv"}]`, `{"a":{"b":[1e400]}}`}
	variants, left := 0, 0
	for _, raw := range evs[:60] {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		try := func(b []byte) {
			variants++
			if !sameAsUnmarshal(t, b) {
				left++
			}
		}
		for _, k := range keys {
			for _, r := range replacements {
				c := map[string]json.RawMessage{}
				for k2, v := range m {
					c[k2] = v
				}
				c[k] = json.RawMessage(r)
				b, err := json.Marshal(c)
				if err != nil {
					t.Fatal(err)
				}
				try(b)
			}
			// the member twice; in another case; with an escape in its name
			try([]byte(`{"` + k + `":` + string(m[k]) + "," + string(raw[1:])))
			try(bytes.Replace(raw, []byte(`"`+k+`"`), []byte(`"`+strings.ToUpper(k)+`"`), 1))
			try(bytes.Replace(raw, []byte(`"`+k+`"`), []byte(`"\u00`+hex2(k[0])+k[1:]+`"`), 1))
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, raw, "\r\n", "\t"); err != nil {
			t.Fatal(err)
		}
		try(pretty.Bytes())
		try(append(append([]byte(nil), raw...), " x"...))
		try(raw[:len(raw)-1])
	}
	t.Logf("%d variants, %d left to json.Unmarshal", variants, left)
	if left == 0 || left == variants {
		t.Error("want some variants decoded and some left to json.Unmarshal")
	}
}

// hex2 is a byte's two hex digits.
func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}

// FuzzEpcisDecodeEvent: for any text, decodeEvent decodes what
// json.Unmarshal does, or leaves it to json.Unmarshal.
func FuzzEpcisDecodeEvent(f *testing.F) {
	files, _ := filepath.Glob("testdata/gs1/*.jsonld")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		_, _ = readDocument(bytes.NewReader(b), "seed", false, func(ev rawEvent) error {
			f.Add([]byte(ev.JSON))
			return nil
		})
	}
	f.Add([]byte(`{"type":"ObjectEvent","readPoint":{"id":"a","id":"b"},"ilmd":{"x":1},"quantityList":[{"epcClass":"c","quantity":1.5e3,"uom":"KGM"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsUnmarshal(t, data)
	})
}
