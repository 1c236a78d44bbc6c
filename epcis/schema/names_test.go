package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ValidateEvent checks an event whose property names all pass against its
// type's definition without propertyNames (eventSchema): it must find
// exactly what the whole definition finds, for valid events, invalid ones
// and ones with names that fail.
func TestEpcisValidateEventSameAsWholeDefinition(t *testing.T) {
	files, _ := filepath.Glob("../testdata/gs1/*.jsonld")
	more, _ := filepath.Glob("../testdata/hash/*.jsonld")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no example documents")
	}
	// Variants of each event: as it is, and broken or extended ways.
	variants := []struct {
		name   string
		change func(m map[string]any)
	}{
		{"AsIs", func(map[string]any) {}},
		{"UnknownName", func(m map[string]any) { m["notAField"] = "x" }},
		{"ExtensionName", func(m map[string]any) { m["example:myField"] = "x" }},
		{"BadAction", func(m map[string]any) { m["action"] = "LOOK" }},
		{"NoEventTime", func(m map[string]any) { delete(m, "eventTime") }},
		{"BadBizStep", func(m map[string]any) { m["bizStep"] = "urn:epcglobal:cbv:bizstep:shipping" }},
		{"BadNameAndValue", func(m map[string]any) { m["not a uri"] = 1; m["eventTimeZoneOffset"] = "+25:00" }},
	}
	if _, err := load(); err != nil {
		t.Fatal(err)
	}
	fast, checked := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Body struct {
				EventList    []json.RawMessage `json:"eventList"`
				QueryResults struct {
					ResultsBody struct {
						EventList []json.RawMessage `json:"eventList"`
					} `json:"resultsBody"`
				} `json:"queryResults"`
			} `json:"epcisBody"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		evs := append(doc.Body.EventList, doc.Body.QueryResults.ResultsBody.EventList...)
		for i, raw := range evs {
			for _, vr := range variants {
				v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
				if err != nil {
					t.Fatal(err)
				}
				m := v.(map[string]any)
				vr.change(m)
				es := events[otherEvent]
				if typ, _ := m["type"].(string); events[typ] != nil {
					es = events[typ]
				}
				want := problemsOf(es.full.Validate(v))
				got, err := ValidateEvent(v)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s event %d %s: ValidateEvent %v, the whole definition %v", filepath.Base(f), i, vr.name, got, want)
				}
				if es.fast != nil && es.namesPass(m) {
					fast++
				}
				checked++
			}
		}
	}
	// Not vacuous: most events took the fast way, and the unknown names did
	// not.
	if fast == 0 || fast == checked {
		t.Errorf("%d of %d checks had names that all pass: want some, not all", fast, checked)
	}
	if es := events["ObjectEvent"]; es.namesPass(map[string]any{"notAField": 1}) || !es.namesPass(map[string]any{"action": 1, "example:myField": 1}) {
		t.Error("namesPass: notAField passes, or action or an extension name does not")
	}
	t.Logf("%d checks, %d without propertyNames", checked, fast)
}
