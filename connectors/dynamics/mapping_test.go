package dynamics_test

import (
	"slices"
	"testing"

	"github.com/lothub/lothub/connectors/dynamics"
	"github.com/lothub/lothub/mapping"
)

// TestDefaultMappings runs the golden tests of the default mappings, and
// checks that together they map every kind the connector emits.
func TestDefaultMappings(t *testing.T) {
	var mapped []string
	for _, file := range []string{"dynamics-fo.yaml", "dynamics-bc.yaml"} {
		t.Run(file, func(t *testing.T) {
			m, err := mapping.Load(file)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			mapped = append(mapped, m.Kinds()...)
			cases, err := mapping.LoadTests(mapping.TestFile(file))
			if err != nil {
				t.Fatalf("load tests: %v", err)
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
	for _, k := range dynamics.Kinds() {
		if !slices.Contains(mapped, k) {
			t.Errorf("kind %s has no default mapping", k)
		}
	}
}
