package rest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lothub/lothub/mapping"
)

// The golden tests of the shipped profiles' default mappings.
func TestMappings(t *testing.T) {
	for _, file := range []string{
		"profiles/oracle-fusion-scm.mapping.yaml",
		"profiles/epicor-kinetic.mapping.yaml",
		"profiles/infor-csi.mapping.yaml",
	} {
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

// What the connector reads from the fake Fusion maps without error, and
// the record whose key is missing is a bad-record, which the mapping
// does not list, so the hub quarantines it with its page and index.
func TestOracleRecordsMap(t *testing.T) {
	m, err := mapping.Load("profiles/oracle-fusion-scm.mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data := oracleData(8)
	data[5].Lots[0]["TransactionQuantity"] = "n/a"
	f := newFakeOracle(t, data)
	c := newConnector()
	recs, _ := readAll(t, c, mustConfig(t, c, f.config("page_size", "3")), nil, 100)
	events, failed := 0, 0
	for _, r := range recs {
		var fields map[string]any
		if err := json.Unmarshal(r.Payload, &fields); err != nil {
			t.Fatal(err)
		}
		evs, err := m.Map(mapping.Record{Kind: r.Kind, ID: r.ID, Fields: fields})
		if err != nil {
			failed++
			if !strings.Contains(err.Error(), "inventoryCompletedTransactions:300100005") {
				t.Errorf("error %v does not name the record", err)
			}
			continue
		}
		events += len(evs)
	}
	if events != 7 || failed != 1 {
		t.Errorf("%d events, %d failures; want 7 and 1", events, failed)
	}
}
