package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// exampleEvents are the events of GS1's examples and of the hash
// generator's (testdata), decoded as the check decodes them, and the
// documents themselves.
func exampleEvents(t testing.TB) (events []any, docs []any) {
	t.Helper()
	files, _ := filepath.Glob("../testdata/gs1/*.jsonld")
	more, _ := filepath.Glob("../testdata/hash/*.jsonld")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no example documents")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
		m, _ := doc.(map[string]any)
		body, _ := m["epcisBody"].(map[string]any)
		list, _ := body["eventList"].([]any)
		if qr, ok := body["queryResults"].(map[string]any); ok {
			rb, _ := qr["resultsBody"].(map[string]any)
			l, _ := rb["eventList"].([]any)
			list = append(list, l...)
		}
		events = append(events, list...)
	}
	return events, docs
}

func copyValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, c := range x {
			m[k] = copyValue(c)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, c := range x {
			a[i] = copyValue(c)
		}
		return a
	}
	return v
}

// replacements are values put in place of each value of an event: of every
// JSON type, and strings that pass or fail the schema's formats, patterns
// and enums.
var replacements = []any{
	nil, true, json.Number("1"), json.Number("-2.5"), "", "x", "not a uri", "urn:uuid:1",
	"urn:epcglobal:cbv:bizstep:shipping", "https://ref.gs1.org/cbv/BizStep-shipping", "http://ns.gs1.org/cbv/x",
	"shipping", "in_transit", "owning_party", "po", "ADD", "DELETE", "OBSERVE", "KGM", "kgm", "+02:00", "+25:00",
	"2026-01-05T06:00:00Z", "2026-13-05T06:00:00Z", "2026-01-05",
	map[string]any{}, map[string]any{"id": "urn:epc:id:sgln:9506000.00001.0"}, map[string]any{"epcClass": "urn:x:y", "quantity": json.Number("3")},
	[]any{}, []any{"urn:x:1", "urn:x:1"}, []any{"urn:x:1", "urn:x:2"}, []any{map[string]any{}}, []any{json.Number("1")},
}

// newNames are members added to each object of an event.
var newNames = []string{"notAField", "example:myField", "https://ns.example.com/f", "ilmd", "action", "a b", "epcList", "quantityList", "readPoint", "set"}

// mutate calls fn with variants of v: each value replaced, each member
// deleted, members added, arrays emptied and an element repeated. fn gets
// a fresh copy of the whole.
func mutate(root any, fn func(variant any)) {
	// paths of every container and value
	type step struct {
		key string
		idx int
	}
	var walk func(v any, path []step)
	at := func(r any, path []step) any {
		for _, s := range path {
			switch x := r.(type) {
			case map[string]any:
				r = x[s.key]
			case []any:
				r = x[s.idx]
			}
		}
		return r
	}
	set := func(r any, path []step, val any, del bool) any {
		if len(path) == 0 {
			return val
		}
		parent := at(r, path[:len(path)-1])
		s := path[len(path)-1]
		switch x := parent.(type) {
		case map[string]any:
			if del {
				delete(x, s.key)
			} else {
				x[s.key] = val
			}
		case []any:
			x[s.idx] = val
		}
		return r
	}
	walk = func(v any, path []step) {
		p := append([]step(nil), path...)
		for _, r := range replacements {
			fn(set(copyValue(root), p, copyValue(r), false))
		}
		if len(p) > 0 {
			if _, inObj := at(root, p[:len(p)-1]).(map[string]any); inObj {
				fn(set(copyValue(root), p, nil, true))
			}
		}
		switch x := v.(type) {
		case map[string]any:
			for _, k := range newNames {
				if _, ok := x[k]; ok {
					continue
				}
				c := copyValue(root)
				at(c, p).(map[string]any)[k] = "urn:x:y"
				fn(c)
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(x[k], append(p, step{key: k}))
			}
		case []any:
			if len(x) > 0 {
				c := copyValue(root)
				fn(set(c, p, append(copyValue(x).([]any), copyValue(x[0])), false))
			}
			for i := range x {
				walk(x[i], append(p, step{idx: i}))
			}
		}
	}
	walk(root, nil)
}

// The proof of validity is only ever an answer the validator gives too:
// never "valid" for what the schema refuses, never "invalid" for what it
// accepts — on GS1's example events and on hundreds of thousands of
// variants, against each event type's definition, the definition of any
// document event (if/then, not), and the whole schema for lone events.
// And it is not vacuous: it proves most example events valid.
func TestEpcisProofNeverAcceptsWhatTheSchemaRefuses(t *testing.T) {
	if _, err := load(); err != nil {
		t.Fatal(err)
	}
	evs, docs := exampleEvents(t)
	var checks, proved, refuted, asIs, asIsProved int
	judge := func(what string, n *node, sch *jsonschema.Schema, v any) verdict {
		got := n.prove(v, 0)
		err := sch.Validate(v)
		checks++
		switch {
		case got == valid && err != nil:
			b, _ := json.Marshal(v)
			t.Errorf("%s: proof says valid, the validator refuses %s: %v", what, b, err)
		case got == invalid && err == nil:
			b, _ := json.Marshal(v)
			t.Errorf("%s: proof says invalid, the validator accepts %s", what, b)
		case got == valid:
			proved++
		case got == invalid:
			refuted++
		}
		return got
	}
	other := events[otherEvent]
	for i, ev := range evs {
		typ, _ := ev.(map[string]any)["type"].(string)
		es := events[typ]
		if es == nil {
			es = other
		}
		asIs++
		if judge("event "+typ, es.proof, es.full, ev) == valid {
			asIsProved++
		}
		judge("document event "+typ, other.proof, other.full, ev)
		if testing.Short() && i%4 != 0 {
			continue
		}
		k := 0
		mutate(ev, func(v any) {
			judge("variant of "+typ, es.proof, es.full, v)
			if k++; k%3 == 0 { // the if/then and not of any document event: a third of them
				judge("variant as document event "+typ, other.proof, other.full, v)
			}
		})
	}
	for _, d := range docs {
		judge("document", whole, compiled, d)
		m := copyValue(d).(map[string]any)
		m["schemaVersion"] = json.Number("2")
		judge("document with a bad schemaVersion", whole, compiled, m)
	}
	// A lone event with its @context, as POST /epcis/events takes it.
	for _, ev := range evs[:10] {
		m := copyValue(ev).(map[string]any)
		m["@context"] = []any{"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"}
		judge("lone event", whole, compiled, m)
	}
	t.Logf("%d checks: %d proved valid, %d proved invalid, the rest left to the validator; %d of %d example events proved valid", checks, proved, refuted, asIsProved, asIs)
	if asIsProved*10 < asIs*8 {
		t.Errorf("only %d of %d example events proved valid: the proof saves little", asIsProved, asIs)
	}
	if refuted == 0 || proved == 0 {
		t.Error("no variant proved valid or invalid")
	}
}

// What a partner's generated feed carries (plantgen.EPCIS's event shapes)
// is all proved valid: that is where the time goes.
func TestEpcisProofCoversCommonShapes(t *testing.T) {
	if _, err := load(); err != nil {
		t.Fatal(err)
	}
	shapes := []string{
		`{"type":"ObjectEvent","eventTime":"2026-01-05T06:00:00Z","eventTimeZoneOffset":"+00:00","eventID":"urn:uuid:00000000-0000-4000-8000-000000000000","action":"ADD","bizStep":"receiving","bizLocation":{"id":"urn:epc:id:sgln:9506000.00001.0"},"bizTransactionList":[{"type":"po","bizTransaction":"urn:lothub:po:PO-0"}],"quantityList":[{"epcClass":"urn:epc:class:lgtin:9506000.010000.R0","quantity":1000,"uom":"KGM"}],"sourceList":[{"type":"owning_party","source":"urn:epc:id:pgln:4012345.00000"}]}`,
		`{"type":"TransformationEvent","eventTime":"2026-01-05T06:00:01Z","eventTimeZoneOffset":"+00:00","eventID":"urn:uuid:00000000-0000-4000-8000-000000000001","inputQuantityList":[{"epcClass":"urn:epc:class:lgtin:9506000.010000.R0","quantity":600,"uom":"KGM"}],"outputQuantityList":[{"epcClass":"urn:epc:class:lgtin:9506000.020000.F0","quantity":1000}],"transformationID":"urn:uuid:11111111-0000-4000-8000-000000000000","bizStep":"commissioning","ilmd":{"cbvmda:itemExpirationDate":"2027-01-05"}}`,
		`{"type":"AggregationEvent","eventTime":"2026-01-05T06:00:02Z","eventTimeZoneOffset":"+00:00","eventID":"urn:uuid:00000000-0000-4000-8000-000000000002","parentID":"urn:epc:id:sscc:9506000.0000000000","action":"ADD","bizStep":"packing","childQuantityList":[{"epcClass":"urn:epc:class:lgtin:9506000.020000.F0","quantity":1000}]}`,
		`{"type":"ObjectEvent","eventTime":"2026-01-05T06:00:03Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sscc:9506000.0000000000"],"action":"OBSERVE","bizStep":"shipping","disposition":"in_transit","bizTransactionList":[{"type":"desadv","bizTransaction":"urn:lothub:desadv:D-0"}],"destinationList":[{"type":"owning_party","destination":"urn:epc:id:pgln:9506000.00100"}]}`,
		`{"type":"ObjectEvent","eventTime":"2026-01-05T06:00:03.123+02:00","eventTimeZoneOffset":"+02:00","epcList":["https://id.gs1.org/01/09506000134352/21/1001"],"action":"OBSERVE","bizStep":"https://ref.gs1.org/cbv/BizStep-shipping","disposition":"https://ref.gs1.org/cbv/Disp-in_transit","readPoint":{"id":"urn:epc:id:sgln:9506000.00001.0"},"example:myField":"x"}`,
	}
	for _, s := range shapes {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		typ := v.(map[string]any)["type"].(string)
		if got := events[typ].proof.prove(v, 0); got != valid {
			t.Errorf("%s: proof %d, want valid", s, got)
		}
		if ps, err := ValidateEvent(v); err != nil || len(ps) > 0 {
			t.Errorf("%s: ValidateEvent %v %v", s, ps, err)
		}
	}
}

// A refused event gets the validator's own problems, whichever way the
// check went.
func TestEpcisValidateEventRefusalsUnchangedByProofs(t *testing.T) {
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"type":"ObjectEvent","eventTime":"2026-01-05T06:00:00Z","eventTimeZoneOffset":"+00:00","action":"ADD","quantityList":[{"epcClass":"urn:epc:class:lgtin:9506000.010000.R0","quantity":"1000","uom":"KGM"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ValidateEvent(v)
	if err != nil {
		t.Fatal(err)
	}
	want := problemsOf(events["ObjectEvent"].full.Validate(v))
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("got %v, want %v", ps, want)
	}
	found := false
	for _, p := range ps {
		found = found || p == Problem{Pointer: "/quantityList/0/quantity", Reason: "got string, want number"}
	}
	if !found {
		t.Errorf("got %v, want the quantity's problem among them", ps)
	}
}

// FuzzEpcisProof: for any JSON value, a proof's verdict is the validator's
// (valid or invalid) or none.
func FuzzEpcisProof(f *testing.F) {
	evs, _ := exampleEvents(f)
	for _, ev := range evs {
		b, _ := json.Marshal(ev)
		f.Add(b)
	}
	f.Add([]byte(`{"type":"ObjectEvent","action":"ADD","epcList":["a:b","a:b"]}`))
	if _, err := load(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, typ := range append(eventTypes, otherEvent) {
			es := events[typ]
			got := es.proof.prove(v, 0)
			err := es.full.Validate(v)
			if (got == valid && err != nil) || (got == invalid && err == nil) {
				t.Fatalf("%s: proof %d, validator %v, for %s", typ, got, err, data)
			}
		}
		got := whole.prove(v, 0)
		err = compiled.Validate(v)
		if (got == valid && err != nil) || (got == invalid && err == nil) {
			t.Fatalf("whole schema: proof %d, validator %v, for %s", got, err, data)
		}
	})
}
