package sdk_test

import (
	"encoding/json"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goCommand returns the path of the go command, which the tests that build
// code need.
func goCommand(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test builds code and needs the go command: %v", err)
	}
	return goBin
}

var goBlockRE = regexp.MustCompile("(?s)```go\n(.*?)```")

// TestDocsCompile keeps docs/connectors.md true: every Go block that is a
// whole file is gofmt-formatted and compiles, and the example connector's
// test (the conformance kit) passes. The files are laid over the module
// with go build -overlay, under sdk/internal/, without being written there.
func TestDocsCompile(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(root, "docs", "connectors.md"))
	if err != nil {
		t.Fatal(err)
	}
	const (
		docModule = `"example.com/lothub-connector-receipts"`
		connector = "github.com/lothub/lothub/sdk/internal/docexample"
		host      = "github.com/lothub/lothub/sdk/internal/dochost"
	)
	tmp := t.TempDir()
	overlay := map[string]string{}
	for i, m := range goBlockRE.FindAllStringSubmatch(string(md), -1) {
		src := m[1]
		f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.PackageClauseOnly)
		if err != nil {
			continue // a fragment, such as the interface
		}
		if formatted, err := format.Source([]byte(src)); err != nil || string(formatted) != src {
			t.Errorf("Go block %d (package %s) is not gofmt-formatted: %v", i, f.Name.Name, err)
		}
		var path string
		switch f.Name.Name {
		case "main":
			path = filepath.Join(root, "sdk", "internal", "docexample", "main.go")
		case "main_test":
			path = filepath.Join(root, "sdk", "internal", "docexample", "main_test.go")
		default:
			path = filepath.Join(root, "sdk", "internal", "dochost", f.Name.Name+".go")
		}
		if _, dup := overlay[path]; dup {
			t.Fatalf("two Go blocks of package %s", f.Name.Name)
		}
		file := filepath.Join(tmp, filepath.Base(path))
		if err := os.WriteFile(file, []byte(strings.ReplaceAll(src, docModule, `"`+connector+`"`)), 0o644); err != nil {
			t.Fatal(err)
		}
		overlay[path] = file
	}
	if len(overlay) != 3 {
		t.Fatalf("found %d whole Go files in docs/connectors.md, want 3 (connector, its test, host)", len(overlay))
	}
	ov, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		t.Fatal(err)
	}
	ovFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ovFile, ov, 0o644); err != nil {
		t.Fatal(err)
	}

	goBin := goCommand(t)
	run := func(dir string, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
	}
	run(root, goBin, "build", "-overlay", ovFile, connector, host)
	// go test would run the test in the package directory, which exists
	// only in the overlay: compile the test, then run it elsewhere.
	testBin := filepath.Join(tmp, "docexample.test")
	run(root, goBin, "test", "-c", "-vet=off", "-overlay", ovFile, "-o", testBin, connector)
	run(t.TempDir(), testBin, "-test.count=1")
}
