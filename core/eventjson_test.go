package core

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// slowDecode is DecodeEvent without its fast path: encoding/json.
func slowDecode(data []byte) (*Event, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var e Event
	if err := dec.Decode(&e); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, Errorf(EINVALID, "more than one value")
	}
	return &e, nil
}

// checkFastPath fails t when the hand-written decoder or encoder decides
// differently from encoding/json for line.
func checkFastPath(t testing.TB, line []byte) (fast bool) {
	t.Helper()
	slow, slowErr := slowDecode(line)
	if e, ok := decodeEventFast(line); ok {
		if slowErr != nil {
			t.Fatalf("fast path accepts what encoding/json refuses (%v):\n%s", slowErr, line)
		}
		if !reflect.DeepEqual(e, slow) {
			t.Fatalf("fast path decodes\n%s\nto %+v, encoding/json to %+v", line, e, slow)
		}
		fast = true
	}
	if slowErr != nil {
		return fast
	}
	want, err := json.Marshal(slow)
	if err != nil {
		return fast // a quantity JSON cannot hold: marshalEvent falls back too
	}
	if got := marshalEvent(slow); !bytes.Equal(got, want) {
		t.Fatalf("marshalEvent writes\n%s\njson.Marshal writes\n%s", got, want)
	}
	checkPrepare(t, slow)
	for _, src := range []*Source{{Connector: "epcis", Record: "urn:uuid:1"}, {Connector: "sap"}, {Record: "a<b"}, {Connector: "x\u2028y", Record: "r"}} {
		e := *slow
		e.Source = src
		checkPrepare(t, &e)
	}
	return fast
}

// checkPrepare fails t when Prepare's body is not json.Marshal's or its
// hash not ContentHash's (Prepare encodes an event with a source once
// for both).
func checkPrepare(t testing.TB, e *Event) {
	t.Helper()
	want, err := json.Marshal(e)
	if err != nil {
		return
	}
	p := Prepare(e)
	if !bytes.Equal(p.Body, want) {
		t.Fatalf("Prepare writes the body\n%s\njson.Marshal writes\n%s", p.Body, want)
	}
	if h := e.ContentHash(); p.Hash != h {
		t.Fatalf("Prepare hashes %s to %s, ContentHash to %s", want, p.Hash, h)
	}
}

// FuzzEventJSONFastPath: on any input, the fast decoder either declines or
// decodes exactly what encoding/json decodes, and the fast encoder writes
// exactly what json.Marshal writes.
func FuzzEventJSONFastPath(f *testing.F) {
	for _, l := range jsonlSeeds(f) {
		f.Add(l)
	}
	for _, s := range fastPathCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkFastPath(t, line) })
}

// fastPathCases are lines at the edges of what the fast path takes.
var fastPathCases = []string{
	`{"id":"r1","type":"receive","time":"2026-01-05T06:00:00Z","lot":{"item":"FLOUR","lot":"F-1"},"qty":1000,"uom":"KG","supplier":{"id":"V1","name":"Mill & Co"},"supplier_lot":"M-7","po":"PO-1"}`,
	` { "id" : "c1" , "type":"consume","time":"2026-01-05T06:00:00+01:00","lot":{"item":"A","lot":"1"},"qty":-0.000001,"uom":"KG","order":"WO-1" } `,
	`{"id":"t1","type":"transform","time":"2026-01-01T00:00:00Z","inputs":[{"item":"A","lot":"1","qty":1e21,"uom":"KG"},{"item":"B","lot":"2"}],"outputs":[],"rework":false}`,
	`{"id":"t2","type":"transform","time":"2026-01-01T00:00:00Z","inputs":[{"item":"A","lot":"1","qty":1E-7}],"outputs":[{"item":"A","lot":"1"}],"rework":true}`,
	`{"id":"s1","type":"ship","time":"2026-01-01T00:00:00Z","lot":{"item":"Ä","lot":"ü-1"},"qty":12.5,"customer":{"id":"C1"},"sales_order":"SO-1","delivery":"D-1","carrier":"UPS","ship_to":"Berlin"}`,
	`{"id":"x","type":"step","time":"t","params":{"temp":72.5},"step":"bake","operator":"op","equipment":"oven"}`,
	`{"id":"x","type":"move","time":"t","from":"A","to":"B","reason":"why","source":{"connector":"sap","record":"MSEG:1"}}`,
	`{"id":"x","ID":"y"}`,
	`{"id":"x","id":"y"}`,
	`{"id":"x","lot":{"item":"A","item":"B"}}`,
	`{"id":"x","lot":null}`,
	`{"id":"a\u00e9b","type":"hold"}`,
	`{"id":"a<b","type":"hold"}`,
	"{\"id\":\"a\xffb\"}",
	"{\"id\":\"a\u2028b\"}",
	`{"id":"x","qty":01}`,
	`{"id":"x","qty":1.}`,
	`{"id":"x","qty":-}`,
	`{"id":"x","qty":1e400}`,
	`{"id":"x","qty":"1"}`,
	`{"id":"x","rework":tru}`,
	`{"id":"x"} {"id":"y"}`,
	`{"id":"x",}`,
	`{}`,
	`[]`,
	``,
}

func TestEventJSONFastPathCases(t *testing.T) {
	fast := 0
	for _, c := range fastPathCases {
		if checkFastPath(t, []byte(c)) {
			fast++
		}
	}
	if fast < 7 { // the first seven are the common shapes
		t.Fatalf("the fast path took %d of the edge cases, want at least the 7 common shapes", fast)
	}
}

// CheckEventJSONFastPath is checkFastPath for the tests of package
// core_test, which can read a generated plant.
func CheckEventJSONFastPath(t testing.TB, line []byte) (fastDecode, fastEncode bool) {
	fastDecode = checkFastPath(t, line)
	if e, ok := decodeEventFast(line); ok {
		_, fastEncode = appendEvent(nil, e)
	}
	return fastDecode, fastEncode
}

// DecodeEventFast and SlowDecodeEvent are the two decoders, for
// benchmarks.
var (
	DecodeEventFast = decodeEventFast
	SlowDecodeEvent = slowDecode
	MarshalEvent    = marshalEvent
)
