package mapping_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/mapping"
)

const testCases = `- name: receipt
  kind: receipt
  record_id: receipts.csv:2
  fields: &r
    DocNo: R1
    Type: GR
    Date: "2026-03-01"
    Item: flour
    Lot: "007"
    Unit: KG
    Qty: 10
  events:
    - id: r:R1
      type: receive
      time: 2026-03-01T00:00:00Z
      lot: {item: FLOUR, lot: 007}
      qty: 10
      uom: KG
- name: wrong quantity
  kind: receipt
  fields:
    <<: *r
    Qty: 12
  events:
    - id: r:R1
      type: receive
      time: 2026-03-01T00:00:00Z
      lot: {item: FLOUR, lot: 007}
      qty: 10
      uom: KG
- name: draft
  kind: receipt
  fields: {Type: DRAFT}
  skip: true
- name: unknown unit
  kind: receipt
  fields:
    <<: *r
    Unit: BAG
  error: no entry "BAG"
- name: expects an error that does not come
  kind: receipt
  fields: *r
  error: no entry
- name: expects a skip but gets an event
  kind: receipt
  fields: *r
  skip: true
`

func TestRunTests(t *testing.T) {
	m := mustCompile(t, receipts)
	cases, err := mapping.ParseTests("m.test.yaml", []byte(testCases))
	if err != nil {
		t.Fatal(err)
	}
	results, err := m.RunTests(cases)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		pos  string
		pass bool
		diff string
	}{
		{"receipt", "m.test.yaml:1:3", true, ""},
		{"wrong quantity", "m.test.yaml:19:3", false, "event 1 (id r:R1):\n  - qty: 10\n  + qty: 12\n"},
		{"draft", "m.test.yaml:31:3", true, ""},
		{"unknown unit", "m.test.yaml:35:3", true, ""},
		{"expects an error that does not come", "m.test.yaml:41:3", false, "- error containing \"no entry\"\n+ event 1: {\"id\":\"r:R1\",\"type\":\"receive\",\"time\":\"2026-03-01T00:00:00Z\",\"lot\":{\"item\":\"FLOUR\",\"lot\":\"007\"},\"qty\":10,\"uom\":\"KG\"}\n"},
		{"expects a skip but gets an event", "m.test.yaml:45:3", false, "- no events (skipped)\n+ event 1: {\"id\":\"r:R1\",\"type\":\"receive\",\"time\":\"2026-03-01T00:00:00Z\",\"lot\":{\"item\":\"FLOUR\",\"lot\":\"007\"},\"qty\":10,\"uom\":\"KG\"}\n"},
	}
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for i, w := range want {
		r := results[i]
		if r.Name != w.name || r.Pos.String() != w.pos || r.Pass != w.pass || r.Diff != w.diff {
			t.Errorf("result %d = {%q %s %v\n%s}\nwant {%q %s %v\n%s}", i, r.Name, r.Pos, r.Pass, r.Diff, w.name, w.pos, w.pass, w.diff)
		}
	}
}

func TestRunTestsDiffsFieldsAndCounts(t *testing.T) {
	m := mustCompile(t, receipts)
	cases, err := mapping.ParseTests("m.test.yaml", []byte(`- name: two expected, one made
  kind: receipt
  fields: {DocNo: R1, Type: GR, Date: "2026-03-01", Item: flour, Lot: A, Unit: LB, Qty: 10, PO: P1}
  events:
    - {id: r:R1, type: receive, time: 2026-03-01T00:00:00Z, lot: {item: FLOUR, lot: B}, qty: 10, uom: LB}
    - {id: r:R2, type: hold, time: 2026-03-01T00:00:00Z, lot: {item: FLOUR, lot: B}}
`))
	if err != nil {
		t.Fatal(err)
	}
	results, _ := m.RunTests(cases)
	want := `event 1 (id r:R1):
  - lot.lot: "B"
  + lot.lot: "A"
  - uom: "LB"
  + uom: "LBR"
  + po: "P1"
event 2: missing
- {"id":"r:R2","type":"hold","time":"2026-03-01T00:00:00Z","lot":{"item":"FLOUR","lot":"B"}}
`
	if results[0].Pass || results[0].Diff != want {
		t.Errorf("diff =\n%s\nwant\n%s", results[0].Diff, want)
	}
}

func TestParseTestsErrors(t *testing.T) {
	tests := []struct {
		name, src, err string
	}{
		{"NotAList", "name: x\n", "t.yaml:1:1: a test file is a list of cases"},
		{"UnknownKey", "- name: x\n  feilds: {}\n  skip: true\n", `t.yaml:2:3: unknown key "feilds" in a test case (did you mean "fields"?)`},
		{"NoOutcome", "- name: x\n  fields: {}\n", `t.yaml:1:3: case "x" needs exactly one of events:, error: or skip: true`},
		{"TwoOutcomes", "- name: x\n  skip: true\n  error: e\n", `t.yaml:1:3: case "x" needs exactly one of`},
		{"ExpectedEventTypo", "- name: x\n  events:\n    - {id: a, type: receive, time: 2026-03-01T00:00:00Z, lot: {item: I, lot: L}, quantity: 1, uom: KG}\n", `t.yaml:3:7: expected event: not a canonical event`},
		{"ExpectedEventInvalid", "- name: x\n  events:\n    - {id: a, type: receive, time: 2026-03-01T00:00:00Z, lot: {item: I, lot: L}}\n", `t.yaml:3:7: expected event: event a: field "qty" is required on receive`},
		{"Empty", "[]\n", "t.yaml:1:1: the test file has no cases"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mapping.ParseTests("t.yaml", []byte(tt.src))
			if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
				t.Errorf("ParseTests error = %v\nwant it to start with %q", err, tt.err)
			}
			if core.ErrorCode(err) != core.EINVALID {
				t.Errorf("core.ErrorCode = %q, want %q", core.ErrorCode(err), core.EINVALID)
			}
		})
	}
}

func TestLoadTestsMissingFile(t *testing.T) {
	_, err := mapping.LoadTests(filepath.Join(t.TempDir(), "x.test.yaml"))
	if err == nil || !strings.Contains(err.Error(), "no test file") || core.ErrorCode(err) != core.EINVALID {
		t.Errorf("LoadTests of a missing file = %v", err)
	}
}

// exampleMappings returns the example mappings: those in examples/mappings
// and the default mapping shipped with each example under examples/ (the
// example connector's).
func exampleMappings(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{
		filepath.Join("..", "examples", "mappings", "*.yaml"),
		filepath.Join("..", "examples", "*", "mapping.yaml"),
	} {
		found, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			if !strings.HasSuffix(f, ".test.yaml") {
				files = append(files, f)
			}
		}
	}
	return files
}

// TestExamples checks every example mapping and runs its test file, as
// 'hub mapping check' and 'hub mapping test' do.
func TestExamples(t *testing.T) {
	n := 0
	for _, f := range exampleMappings(t) {
		n++
		name, _ := filepath.Rel(filepath.Join("..", "examples"), f)
		t.Run(filepath.ToSlash(name), func(t *testing.T) {
			m, err := mapping.Load(f)
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			if _, err := os.Stat(mapping.TestFile(f)); err != nil {
				t.Fatalf("no test file beside the example: %v", err)
			}
			cases, err := mapping.LoadTests(mapping.TestFile(f))
			if err != nil {
				t.Fatal(err)
			}
			results, err := m.RunTests(cases)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range results {
				if !r.Pass {
					t.Errorf("FAIL %s (%s)\n%s", r.Name, r.Pos, r.Diff)
				}
			}
		})
	}
	if n < 3 {
		t.Errorf("found %d example mappings, want at least 3 (csv-export, sap-material-documents, the example connector's)", n)
	}
}

// TestExamplesIndex checks that examples/mappings/README.md names every
// example mapping and that every file it links to exists.
func TestExamplesIndex(t *testing.T) {
	dir := filepath.Join("..", "examples", "mappings")
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range exampleMappings(t) {
		rel, err := filepath.Rel(dir, f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), "("+filepath.ToSlash(rel)+")") {
			t.Errorf("README.md does not link to %s", filepath.ToSlash(rel))
		}
	}
	links := 0
	for _, part := range strings.Split(string(readme), "](")[1:] {
		target, _, ok := strings.Cut(part, ")")
		if !ok || strings.Contains(target, "://") {
			continue
		}
		links++
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(target))); err != nil {
			t.Errorf("README.md links to %s: %v", target, err)
		}
	}
	if links == 0 {
		t.Error("README.md links to no file")
	}
}

func TestErrorsAreEINVALID(t *testing.T) {
	var list mapping.ErrorList = []*mapping.Error{{Pos: mapping.Pos{File: "a", Line: 1, Col: 2}, Msg: "x"}}
	var err error = list
	if core.ErrorCode(err) != core.EINVALID {
		t.Errorf("ErrorCode(ErrorList) = %q", core.ErrorCode(err))
	}
	var e *mapping.Error
	if !errors.As(err, &e) || e.Error() != "a:1:2: x" {
		t.Errorf("errors.As(ErrorList, *Error) = %v", e)
	}
}

func TestParseTestsAliasBomb(t *testing.T) {
	src := "- &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := 0; i < 8; i++ {
		name := string(rune('b' + i))
		src += "- &" + name + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = name
	}
	src += "- name: bomb\n  fields: {v: *" + prev + "}\n  skip: true\n"
	_, err := mapping.ParseTests("t.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "too many values") {
		t.Errorf("ParseTests = %v, want too many values", err)
	}
}
