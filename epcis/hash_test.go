package epcis_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lothub/lothub/epcis"
)

// The expected hashes are the reference implementation's published ones
// (github.com/RalphTro/epcis-event-hash-generator, tests/examples, commit
// 5d2f1c389a1599af40fe1b530b62e0ca59ab818f), copied to testdata/hash with
// their documents. Every one of the 43 events must get its published hash.
func TestEpcisHashIDReference(t *testing.T) {
	files, _ := filepath.Glob("testdata/hash/*.jsonld")
	if len(files) == 0 {
		t.Fatal("no reference documents")
	}
	total := 0
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
			var whole any
			if err := json.Unmarshal(data, &whole); err != nil {
				t.Fatal(err)
			}
			prefixes, ignore := epcis.ContextPrefixes(doc.Context), epcis.IgnoreFields(whole)
			if len(doc.Body.EventList) != len(want) {
				t.Fatalf("%d events in the document, %d published hashes", len(doc.Body.EventList), len(want))
			}
			total += len(doc.Body.EventList)
			for i, ev := range doc.Body.EventList {
				got, err := epcis.HashID(ev, prefixes, ignore...)
				if err != nil {
					t.Fatal(err)
				}
				if got != want[i] {
					pre, _ := epcis.PreHash(ev, prefixes, ignore...)
					t.Errorf("event %d: got %s, want %s\npre-hash: %s", i, got, want[i], pre)
				}
			}
		})
	}
	if total != 43 {
		t.Errorf("%d events checked, want the reference's 43", total)
	}
}
