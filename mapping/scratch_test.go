package mapping_test

import (
	"fmt"
	"testing"

	"github.com/lothub/lothub/mapping"
)

func TestScratch(t *testing.T) {
	m, err := mapping.Load("../examples/mappings/csv-export.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := mapping.LoadTests("../examples/mappings/csv-export.test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.RunTests(cases)
	for _, r := range res {
		fmt.Println(r.Pass, r.Pos, r.Name)
		fmt.Print(r.Diff)
	}
}
