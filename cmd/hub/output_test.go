package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
)

// writeJSON's indentation is byte for byte encoding/json's: scripts and
// people diff these outputs.
func TestWriteJSONIndentsLikeEncodingJSON(t *testing.T) {
	qty := 12.5
	values := []any{
		map[string]any{},
		[]any{},
		map[string]any{"a": []any{}, "b": map[string]any{}, "c": []any{map[string]any{}, []any{}}},
		[]any{1, -2.5e-7, true, false, nil, "x"},
		map[string]any{"quote \" and \\ back": "tab\there, newline\nthere, \\\"escaped\\\"", "unicode": "é € 漢 \u2028 <&>"},
		map[string]any{"nested": map[string]any{"deeper": map[string]any{"deepest": []any{[]any{[]any{}}}}}},
		"a lone string with a } and a ] and a , and a :",
		42,
		&core.TraceResult{Direction: core.Forward, Lots: []core.TracedLot{{Item: "FLOUR", Lot: "F-A", Depth: 1}}, Links: []core.Link{},
			Shipments: []core.Shipment{{Item: "BREAD", Lot: "B-1", Qty: qty, UOM: "EA", Customer: core.Party{ID: "C-1", Name: "Alpha \"Foods\""}}}},
	}
	for _, v := range values {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		if err := writeJSON(&got, v); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("writeJSON(%#v):\n got  %q\n want %q", v, got.String(), want.String())
		}
	}
}
