package sap_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/lothub/lothub/connectors/sap"
	"github.com/lothub/lothub/connectors/sap/internal/fake"
	"github.com/lothub/lothub/mapping"
	"github.com/lothub/lothub/sdk"
)

// TestDefaultMappings runs the golden tests beside each default mapping.
func TestDefaultMappings(t *testing.T) {
	spec := sap.New().Spec()
	for _, file := range []string{"mapping.yaml", "b1-mapping.yaml"} {
		t.Run(file, func(t *testing.T) {
			m, err := mapping.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range m.Kinds() {
				if !spec.HasKind(k) {
					t.Errorf("the mapping maps kind %q, which the connector does not emit (%v)", k, spec.Kinds)
				}
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

// TestDefaultMappingsMapEveryRecord maps every record the connector reads
// from the fake plants: none may fail.
func TestDefaultMappingsMapEveryRecord(t *testing.T) {
	s4 := fake.NewS4(t, false)
	s4.Add(fake.PlantDocs()...)
	b1 := fake.NewB1(t, "v1")
	fake.B1Plant(b1)
	for _, tc := range []struct {
		file string
		cfg  map[string]string
	}{
		{"mapping.yaml", s4.Config()},
		{"b1-mapping.yaml", fake.B1Config(b1.URL)},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m, err := mapping.Load(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			recs, _ := readAll(t, sap.New(), parse(t, tc.cfg), nil, 100)
			events := 0
			for _, r := range recs {
				evs, err := m.Map(record(t, r))
				if err != nil {
					t.Errorf("record %s: %v", r.ID, err)
				}
				events += len(evs)
			}
			if events == 0 {
				t.Error("no events")
			}
		})
	}
}

func TestEmbeddedMappings(t *testing.T) {
	entries, err := sap.DefaultMappings.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	for _, want := range []string{"mapping.yaml", "mapping.test.yaml", "b1-mapping.yaml", "b1-mapping.test.yaml"} {
		if !slices.Contains(names, want) {
			t.Errorf("DefaultMappings lacks %s (has %v)", want, names)
		}
	}
}

func record(t *testing.T, r sdk.Record) mapping.Record {
	t.Helper()
	fields, err := decodeFields(r.Payload)
	if err != nil {
		t.Fatalf("record %s: %v", r.ID, err)
	}
	return mapping.Record{Kind: r.Kind, ID: r.ID, Fields: fields}
}

func decodeFields(payload []byte) (map[string]any, error) {
	var m map[string]any
	err := json.Unmarshal(payload, &m)
	return m, err
}
