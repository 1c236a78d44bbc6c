package filedrop

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/lothub/lothub/mapping"
)

// The golden tests of the mappings the connector ships.
func TestMappings(t *testing.T) {
	for _, file := range []string{"mapping.yaml", "mappings/legacy-erp.yaml"} {
		t.Run(file, func(t *testing.T) {
			m, err := mapping.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			cases, err := mapping.LoadTests(mapping.TestFile(file))
			if err != nil {
				t.Fatal(err)
			}
			results, err := m.RunTests(cases)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range results {
				if !r.Pass {
					t.Errorf("%s: %s:\n%s", r.Pos, r.Name, r.Diff)
				}
			}
		})
	}
}

// The embedded default mapping is mapping.yaml.
func TestDefaultMappingEmbedded(t *testing.T) {
	b, err := os.ReadFile("mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, DefaultMapping) {
		t.Error("DefaultMapping differs from mapping.yaml")
	}
}

// The legacy journal, read by the connector (Windows-1252, ';', CRLF) and
// mapped: every traceability row becomes its event, the cycle count is
// skipped, and the row with an unknown unit fails naming file:line.
func TestLegacyJournalEndToEnd(t *testing.T) {
	m, err := mapping.Load("mappings/legacy-erp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := New()
	defer c.Close()
	cfg := mustConfig(t, localConfig("testdata/legacy", map[string]string{
		"kinds": "inventory=TRANS_*.CSV", "delimiter": ";", "encoding": "windows-1252",
	}))
	recs, _ := readAll(t, c, cfg, nil, 100)
	var events []string
	var failures []string
	for _, r := range recs {
		var fields map[string]any
		if err := json.Unmarshal(r.Payload, &fields); err != nil {
			t.Fatal(err)
		}
		evs, err := m.Map(mapping.Record{Kind: r.Kind, ID: r.ID, Fields: fields})
		if err != nil {
			failures = append(failures, err.Error())
			continue
		}
		for _, e := range evs {
			events = append(events, e.ID+" "+e.Lot.String())
			if e.Customer != nil && e.Customer.ID == "C-007" && e.Customer.Name != "Café Crème" {
				t.Errorf("customer name %q: Windows-1252 not decoded", e.Customer.Name)
			}
		}
	}
	want := []string{
		"legacy:RC:88812:1 FLOUR/4711",
		"legacy:RC:88812:2 YEAST/4712",
		"legacy:IS:88813:1 FLOUR/4711",
		"legacy:IS:88813:2 YEAST/4712",
		"legacy:PR:88814:1 BREAD/20260302-BREAD-007",
		"legacy:SH:88901:3 BREAD/20260302-BREAD-007",
	}
	if strings.Join(events, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}
	if len(failures) != 1 || !strings.Contains(failures[0], "TRANS_20260302.CSV:9") || !strings.Contains(failures[0], "SACK") {
		t.Errorf("failures = %q, want one naming TRANS_20260302.CSV:9 and its unit", failures)
	}
}
