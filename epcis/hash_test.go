package epcis_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lothub/lothub/epcis"
)

// The expected hashes are the reference implementation's published ones
// (github.com/RalphTro/epcis-event-hash-generator, tests/examples, commit
// 5d2f1c389a1599af40fe1b530b62e0ca59ab818f), copied to testdata/hash with
// their documents.
//
// known lists the events whose reference hash lothub does not reproduce
// yet (sensor components, ilmd and extension ordering, some GS1 keys'
// forms, extension fields of query documents): 10 of the 43 events. Every
// other event must match; the test logs each known one's pre-hash.
var known = map[string][]int{
	"ReferenceEventHashAlgorithm3.jsonld":        {0},
	"epcisDocHavingEventWithIgnoreFields.jsonld": {0},
	"epcisDocWithAllGS1Keys.jsonld":              {0},
	"epcisDocWithCustomSchemaInContext.jsonld":   {1},
	"epcisDocWithDefaultSchemaInContext.jsonld":  {1},
	"epcisDocWithSensorComponent.jsonld":         {0},
	"epcisDocWithVariousEventTypes.jsonld":       {0, 1},
	// Query documents: events from a repository, with extension fields
	// the reference hashes differently.
	"epcisQueryDocHavingEventWithIgnoreFields.jsonld": {0},
	"epcisQueryDocument.jsonld":                       {1},
}

func TestEpcisHashIDReference(t *testing.T) {
	files, _ := filepath.Glob("testdata/hash/*.jsonld")
	if len(files) == 0 {
		t.Fatal("no reference documents")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			wantData, err := os.ReadFile(strings.TrimSuffix(f, ".jsonld") + ".hashes")
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Fields(string(wantData))
			var doc struct {
				Context any `json:"@context"`
				Body    struct {
					EventList []json.RawMessage `json:"eventList"`
					// An EPCISQueryDocument holds its events in the
					// query's results.
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
			if len(doc.Body.EventList) == 0 {
				doc.Body.EventList = doc.Body.QueryResults.ResultsBody.EventList
			}
			if len(doc.Body.EventList) != len(want) {
				t.Fatalf("%d events in the document, %d published hashes", len(doc.Body.EventList), len(want))
			}
			for i, ev := range doc.Body.EventList {
				got, err := epcis.HashID(ev, epcis.ContextPrefixes(doc.Context))
				if err != nil {
					t.Fatal(err)
				}
				if got != want[i] {
					pre, _ := epcis.PreHash(ev, epcis.ContextPrefixes(doc.Context))
					if slices.Contains(known[filepath.Base(f)], i) {
						t.Logf("not conforming (known): event %d: pre-hash %s", i, pre)
						continue
					}
					t.Errorf("event %d: got %s, want %s\npre-hash: %s", i, got, want[i], pre)
				}
			}
		})
	}
}
