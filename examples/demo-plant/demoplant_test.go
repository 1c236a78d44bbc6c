package demoplant_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	demoplant "github.com/lothub/lothub/examples/demo-plant"
	"github.com/lothub/lothub/mapping"
)

// The CSV files in this folder are what hub demo writes: regenerate them
// with hub demo (in the repository) if the generator changes.
func TestCommittedFilesAreGenerated(t *testing.T) {
	p := demoplant.Generate(demoplant.Config{})
	for _, name := range p.Names() {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, p.Files[name]) {
			t.Errorf("%s differs from the generator's output: run 'go run ./cmd/hub demo' in the repository to write it again", name)
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, b := demoplant.Generate(demoplant.Config{Days: 30}), demoplant.Generate(demoplant.Config{Days: 30})
	for name := range a.Files {
		if !bytes.Equal(a.Files[name], b.Files[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
	if c := demoplant.Generate(demoplant.Config{Days: 30, Seed: 2}); bytes.Equal(c.Files["ship.csv"], a.Files["ship.csv"]) {
		t.Error("another seed gives the same plant")
	}
}

// Every row maps with the filedrop connector's default mapping, but the
// one with the typo, which fails naming its line.
func TestRowsMap(t *testing.T) {
	m, err := mapping.Load(filepath.Join("..", "..", "connectors", "filedrop", "mapping.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := demoplant.Generate(demoplant.Config{})
	if p.Rows < 300 || p.Contaminated.Lot == "" || p.ComplaintOrder == "" || p.BadRow == "" {
		t.Fatalf("plant = %d rows, contaminated %v, complaint %q, bad row %q", p.Rows, p.Contaminated, p.ComplaintOrder, p.BadRow)
	}
	var failed []string
	events := 0
	for _, name := range p.Names() {
		kind := strings.TrimSuffix(name, ".csv")
		err := mapping.ReadRecords(t.Context(), bytes.NewReader(p.Files[name]), name, kind, func(r mapping.Record, line int) error {
			evs, err := m.Map(r)
			if err != nil {
				failed = append(failed, err.Error())
			}
			events += len(evs)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0], "record "+p.BadRow+" ") {
		t.Errorf("failures = %q, want one, for %s", failed, p.BadRow)
	}
	if events != p.Rows-1 {
		t.Errorf("%d events from %d rows", events, p.Rows)
	}
}
