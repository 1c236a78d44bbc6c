package mapping_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lothub/lothub/mapping"
)

// FuzzCompile feeds Compile mangled mapping files: it must return a
// mapping or errors, never panic; and a mapping it returns must map an
// arbitrary record without panicking.
func FuzzCompile(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "examples", "mappings", "*.yaml"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(head + receipt))
	f.Add([]byte(receipts))
	f.Fuzz(func(t *testing.T, src []byte) {
		start := time.Now()
		m, err := mapping.Compile("f.yaml", src)
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Compile of %d bytes took %v", len(src), d)
		}
		if err != nil {
			return
		}
		for _, kind := range m.Kinds() {
			_, _ = m.Map(mapping.Record{Kind: kind, ID: "x", Fields: sapIssue()})
			_, _ = m.Map(mapping.Record{Kind: kind, ID: "y", Fields: map[string]any{"Date": 1.0, "Lots": []any{nil}}})
		}
	})
}
