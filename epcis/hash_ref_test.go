package epcis

// The pre-hash as it was written first (hash.go before it was made to
// build less): the reference the faster PreHash must equal on every event
// (TestEpcisPreHashSameAsReference, FuzzEpcisPreHash).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/internal/jsonobject"
)

type refHasher struct {
	prefixes map[string]string
}

func refPreHash(event json.RawMessage, prefixes map[string]string, ignore ...string) (string, error) {
	// jsonobject decodes an object exactly as the decoder below, faster;
	// what it does not decode exactly (or at all) goes to the decoder.
	ev, ok := jsonobject.Decode(event, true)
	if !ok {
		dec := json.NewDecoder(bytes.NewReader(event))
		dec.UseNumber()
		if err := dec.Decode(&ev); err != nil {
			return "", fmt.Errorf("event is not a JSON object: %v", err)
		}
	}
	if prefixes == nil {
		prefixes = ContextPrefixes(ev["@context"])
	}
	h := refHasher{prefixes: prefixes}
	canonValue := h.canon
	generic := h.generic
	typ, _ := ev["type"].(string)
	var b strings.Builder
	b.WriteString("eventType=" + typ)
	done := map[string]bool{"type": true, "eventID": true, "recordTime": true, "errorDeclaration": true, "@context": true, "comment": true, "rdfs:comment": true}
	if len(ignore) > 0 {
		skip := map[string]bool{}
		for _, f := range ignore {
			skip[expand(f, prefixes)] = true
		}
		for k := range ev {
			if skip[expand(k, prefixes)] {
				done[k] = true
			}
		}
	}
	scalar := func(k string) {
		done[k] = true
		if v, ok := ev[k]; ok {
			if s := canonValue(k, v); s != "" {
				b.WriteString(k + "=" + s)
			}
		}
	}
	list := func(k, elem string) {
		done[k] = true
		arr, _ := ev[k].([]any)
		var vals []string
		for _, v := range arr {
			if s := canonValue(elem, v); s != "" {
				vals = append(vals, elem+"="+s)
			}
		}
		if len(vals) > 0 {
			sort.Strings(vals)
			b.WriteString(k + strings.Join(vals, ""))
		}
	}
	quantities := func(k string) {
		done[k] = true
		arr, _ := ev[k].([]any)
		var vals []string
		for _, v := range arr {
			q, _ := v.(map[string]any)
			s := ""
			for _, f := range []string{"epcClass", "quantity", "uom"} {
				if x, ok := q[f]; ok {
					if c := canonValue(f, x); c != "" {
						s += f + "=" + c
					}
				}
			}
			if s != "" {
				vals = append(vals, "quantityElement"+s)
			}
		}
		if len(vals) > 0 {
			sort.Strings(vals)
			b.WriteString(k + strings.Join(vals, ""))
		}
	}
	// readPoint and bizLocation: the id, then any extension fields inside
	// them, sorted (the reference keeps an extension with the element that
	// encloses it).
	idOf := func(k string) {
		done[k] = true
		m, ok := ev[k].(map[string]any)
		if !ok {
			return
		}
		s := ""
		if id := canonValue("id", m["id"]); id != "" {
			s = "id=" + id
		}
		var ext []string
		for ck, cv := range m {
			if ck != "id" {
				ext = append(ext, generic(expand(ck, prefixes), cv)...)
			}
		}
		sort.Strings(ext)
		if s += strings.Join(ext, ""); s != "" {
			b.WriteString(k + s)
		}
	}
	scalar("eventTime")
	scalar("eventTimeZoneOffset")
	scalar("certificationInfo")
	scalar("parentID")
	list("epcList", "epc")
	list("inputEPCList", "epc")
	list("childEPCs", "epc")
	quantities("quantityList")
	quantities("childQuantityList")
	quantities("inputQuantityList")
	list("outputEPCList", "epc")
	quantities("outputQuantityList")
	scalar("action")
	scalar("transformationID")
	scalar("bizStep")
	scalar("disposition")
	if pd, ok := ev["persistentDisposition"].(map[string]any); ok {
		done["persistentDisposition"] = true
		var vals []string
		for _, k := range []string{"set", "unset"} {
			arr, _ := pd[k].([]any)
			var kv []string
			for _, v := range arr {
				kv = append(kv, k+"="+canonValue("disposition", v))
			}
			sort.Strings(kv)
			vals = append(vals, strings.Join(kv, ""))
		}
		if s := strings.Join(vals, ""); s != "" {
			b.WriteString("persistentDisposition" + s)
		}
	}
	idOf("readPoint")
	idOf("bizLocation")

	// The rest, as the reference implementation writes it:
	// bizTransactionList, sourceList and destinationList each as one entry,
	// the list's name then its elements (type first) sorted; then
	// everything else; the entries sorted.
	var rest []string
	for _, k := range []string{"bizTransactionList", "sourceList", "destinationList"} {
		done[k] = true
		arr, _ := ev[k].([]any)
		val := map[string]string{"bizTransactionList": "bizTransaction", "sourceList": "source", "destinationList": "destination"}[k]
		var elems []string
		for _, v := range arr {
			m, _ := v.(map[string]any)
			s := ""
			if t, ok := m["type"]; ok {
				s += "type=" + canonValue(val+"Type", t)
			}
			if x, ok := m[val]; ok {
				s += val + "=" + canonValue(val, x)
			}
			if s != "" {
				elems = append(elems, s)
			}
		}
		if len(elems) > 0 {
			sort.Strings(elems)
			rest = append(rest, k+strings.Join(elems, ""))
		}
	}
	if arr, ok := ev["sensorElementList"].([]any); ok {
		done["sensorElementList"] = true
		if s := h.sensorElements(arr); s != "" {
			rest = append(rest, "sensorElementList"+s)
		}
	}
	keys := make([]string, 0, len(ev))
	for k := range ev {
		if !done[k] {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		rest = append(rest, generic(expand(k, prefixes), ev[k])...)
	}
	sort.Strings(rest)
	b.WriteString(strings.Join(rest, ""))
	return b.String(), nil
}

func (h refHasher) generic(k string, v any) []string {
	prefixes := h.prefixes
	switch x := v.(type) {
	case map[string]any:
		var kids []string
		for ck, cv := range x {
			if ck == "@context" {
				continue
			}
			kids = append(kids, h.generic(expand(ck, prefixes), cv)...)
		}
		sort.Strings(kids)
		return []string{k + strings.Join(kids, "")}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, h.generic(k, e)...)
		}
		return out
	}
	s := h.canon(k, v)
	if s == "" {
		return []string{k}
	}
	return []string{k + "=" + s}
}

func (h refHasher) canon(k string, v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
	case json.Number:
		s = x.String()
	case bool:
		s = strconv.FormatBool(x)
	case nil:
		return ""
	default:
		return ""
	}
	if s == "" {
		return ""
	}
	// A CURIE value (cbv:Comp-latitude, gs1:Angle) whose prefix the
	// document's @context declares is its full IRI.
	if p, local, ok := strings.Cut(s, ":"); ok {
		if iri, ok := h.prefixes[p]; ok && !strings.HasPrefix(local, "//") {
			s = iri + local
		}
	}
	lk := strings.ToLower(k)
	if strings.Contains(lk, "time") && !strings.Contains(lk, "offset") {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC().Round(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		}
		return s
	}
	if p, ok := cbvPrefix[k]; ok && !strings.Contains(s, ":") {
		return p + s
	}
	s = urnPrefix.Replace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXnN") {
		if f == float64(int64(f)) {
			s = strconv.FormatInt(int64(f), 10)
		} else {
			s = strconv.FormatFloat(f, 'f', -1, 64)
		}
	}
	if dl := digitalLink(s); dl != "" {
		return dl
	}
	return s
}

func (h refHasher) sensorElements(arr []any) string {
	prefixes := h.prefixes
	fields := func(m map[string]any, order []string) string {
		var b strings.Builder
		seen := map[string]bool{}
		for _, k := range order {
			seen[k] = true
			v, ok := m[k]
			if !ok {
				continue
			}
			c := h.canon(k, v)
			if (k == "type" || k == "exception") && c != "" && !strings.Contains(c, ":") {
				c = "https://gs1.org/voc/" + c
			}
			if c != "" {
				b.WriteString(k + "=" + c)
			}
		}
		var ext []string
		for k, v := range m {
			if !seen[k] {
				ext = append(ext, h.generic(expand(k, prefixes), v)...)
			}
		}
		sort.Strings(ext)
		return b.String() + strings.Join(ext, "")
	}
	var elems []string
	for _, e := range arr {
		m, _ := e.(map[string]any)
		if m == nil {
			continue
		}
		s := "sensorElement"
		if md, ok := m["sensorMetadata"].(map[string]any); ok {
			s += "sensorMetadata" + fields(md, sensorMetadataOrder)
		}
		var reps []string
		if rs, ok := m["sensorReport"].([]any); ok {
			for _, r := range rs {
				if rm, ok := r.(map[string]any); ok {
					reps = append(reps, "sensorReport"+fields(rm, sensorReportOrder))
				}
			}
		}
		sort.Strings(reps)
		s += strings.Join(reps, "")
		var ext []string
		for k, v := range m {
			if k != "sensorMetadata" && k != "sensorReport" {
				ext = append(ext, h.generic(expand(k, prefixes), v)...)
			}
		}
		sort.Strings(ext)
		elems = append(elems, s+strings.Join(ext, ""))
	}
	sort.Strings(elems)
	return strings.Join(elems, "")
}

// samePreHash fails t when PreHash and the reference differ on raw.
func samePreHash(t *testing.T, raw []byte, prefixes map[string]string, ignore ...string) {
	t.Helper()
	got, gotErr := PreHash(raw, prefixes, ignore...)
	want, wantErr := refPreHash(raw, prefixes, ignore...)
	if (gotErr != nil) != (wantErr != nil) || got != want {
		t.Fatalf("PreHash of %s (prefixes %v, ignore %q):\n got %q (%v)\nwant %q (%v)", raw, prefixes, ignore, got, gotErr, want, wantErr)
	}
}

// PreHash writes exactly the pre-hash string the reference builds, for
// every example event and variants of them: other values and shapes in
// each member, CBV URNs, numbers, times, CURIEs, names in other cases,
// extension members, ignored fields.
func TestEpcisPreHashSameAsReference(t *testing.T) {
	evs := eventTexts(t)
	prefixSets := []map[string]string{nil, {"example": "https://ns.example.com/epcis/", "cbv": "https://ref.gs1.org/cbv/", "urn": "https://x/"}}
	for _, raw := range evs {
		for _, p := range prefixSets {
			samePreHash(t, raw, p)
			samePreHash(t, raw, p, "example:myField", "bizStep", "readPoint")
		}
	}
	replacements := []string{`null`, `1`, `-2.5e3`, `"1.50"`, `" 7 "`, `"0x10"`, `"+3"`, `".5"`, `"NaN"`, `1e400`, `true`, `"x"`, `""`, `{}`, `[]`, `[null]`, `["b","a"]`, `[1,"1"]`,
		`"urn:epcglobal:cbv:bizstep:shipping"`, `"xurn:epcglobal:cbv:disp:in_transitx"`, `"example:thing"`, `"cbv:Comp-x"`, `"urn://a"`,
		`"2026-01-05T06:00:00.1234+02:00"`, `"2026-13-05T06:00:00Z"`, `"urn:epc:id:sgtin:0614141.107346.2017"`, `"urn:epc:class:lgtin:4012345.012345.998877"`,
		`"https://example.com/01/09506000134352/10/L1?x=1"`, `"urn:epc:id:sscc:9506000.0000000000"`, `"urn:epc:idpat:sgtin:4012345.098765.*"`,
		`{"id":"urn:epc:id:sgln:9506000.00001.0","example:x":{"b":"2","a":[1,2]}}`, `{"id":"","":{}}`, `{"":{}}`,
		`[{"epcClass":"urn:epc:class:lgtin:4012345.012345.998877","quantity":5,"uom":"KGM"},{"epcClass":"urn:epc:class:lgtin:4012345.012345.1","quantity":2.50}]`,
		`[{"type":"urn:epcglobal:cbv:btt:po","bizTransaction":"urn:x:1"},{"bizTransaction":"urn:x:0"},{"type":"inv"},{}]`,
		`[{"type":"owning_party","source":"urn:epc:id:pgln:4012345.00000","destination":"urn:epc:id:pgln:4012345.00001"}]`,
		`{"set":["urn:epcglobal:cbv:disp:completeness_verified","active"],"unset":["b","a"]}`,
		`[{"sensorMetadata":{"time":"2019-04-02T13:05:00.000Z","example:a":"1"},"sensorReport":[{"type":"Temperature","value":26,"uom":"CEL"},{"type":"gs1:Humidity","value":12.1}]}]`}
	names := []string{"example:myField", "EventTime", "bizStepTime", "timeOffset", "TİME", "ſtime", "readPoint", "persistentDisposition", "sensorElementList", "comment", "ilmd"}
	variants := 0
	for _, raw := range evs[:24] {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(m)+len(names))
		for k := range m {
			keys = append(keys, k)
		}
		keys = append(keys, names...)
		sort.Strings(keys)
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
				variants++
				for _, p := range prefixSets {
					samePreHash(t, b, p)
					samePreHash(t, b, p, k, "example:myField")
				}
			}
		}
	}
	t.Logf("%d events, %d variants", len(evs), variants)
}

// FuzzEpcisPreHash: for any text, PreHash writes what the reference does.
func FuzzEpcisPreHash(f *testing.F) {
	files, _ := filepath.Glob("testdata/hash/*.jsonld")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		_, _ = readDocument(bytes.NewReader(b), "seed", false, func(ev rawEvent) error {
			f.Add([]byte(ev.JSON), "")
			return nil
		})
	}
	f.Add([]byte(`{"type":"ObjectEvent","readPoint":{"id":"a","x:y":1},"quantityList":[{"epcClass":"c","quantity":1.5e3,"uom":"KGM"}]}`), "x:y")
	prefixes := map[string]string{"example": "https://ns.example.com/epcis/", "cbv": "https://ref.gs1.org/cbv/"}
	f.Fuzz(func(t *testing.T, data []byte, ignore string) {
		samePreHash(t, data, nil)
		samePreHash(t, data, prefixes, ignore)
	})
}

// The hash ID of a generated shipping event (the events of a partner's
// feed without an eventID), by the pre-hash as written now and by the
// reference.
func BenchmarkEpcisPreHash(b *testing.B) {
	raw := []byte(`{"type":"ObjectEvent","eventTime":"2026-01-05T06:00:03Z","eventTimeZoneOffset":"+00:00","epcList":["urn:epc:id:sscc:9506000.0000000000"],"action":"OBSERVE","bizStep":"shipping","disposition":"in_transit","bizTransactionList":[{"type":"desadv","bizTransaction":"urn:lothub:desadv:D-0"}],"destinationList":[{"type":"owning_party","destination":"urn:epc:id:pgln:9506000.00100"}]}`)
	prefixes := map[string]string{}
	b.Run("now", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := HashID(raw, prefixes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := refPreHash(raw, prefixes); err != nil {
				b.Fatal(err)
			}
		}
	})
}
