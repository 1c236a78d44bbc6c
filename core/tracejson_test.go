package core_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
)

// wantJSON is what `hub --json` (indent "  ") and the HTTP API (indent "")
// printed before TraceResult wrote its own JSON: encoding/json, no HTML
// escaping.
func wantJSON(t *testing.T, v any, indent string) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func checkWriteJSON(t *testing.T, r *core.TraceResult) {
	t.Helper()
	var got bytes.Buffer
	if err := r.WriteJSON(&got); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	compare(t, "WriteJSON", got.Bytes(), wantJSON(t, r, "  "))
	got.Reset()
	if err := r.WriteCompactJSON(&got); err != nil {
		t.Fatalf("WriteCompactJSON: %v", err)
	}
	compare(t, "WriteCompactJSON", got.Bytes(), wantJSON(t, r, ""))
	prefix := []byte("answer so far:")
	b, err := r.AppendCompactJSON(prefix)
	if err != nil {
		t.Fatalf("AppendCompactJSON: %v", err)
	}
	if !bytes.HasPrefix(b, prefix) {
		t.Fatalf("AppendCompactJSON lost what the buffer held: %q", b[:min(len(b), 40)])
	}
	compare(t, "AppendCompactJSON", b[len(prefix):], wantJSON(t, r, ""))
}

func compare(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s differs from encoding/json at byte %d:\n got  …%q\n want …%q", what, i,
			got[max(0, i-80):min(len(got), i+40)], want[max(0, i-80):min(len(want), i+40)])
	}
}

func TestWriteJSONMatchesEncodingJSON(t *testing.T) {
	empty := []core.Qty{}
	held := []core.Qty{{Qty: 12.5, UOM: "KG"}, {Qty: -0.000001, UOM: "EA"}}
	customers := []core.Customer{{ID: "C-1", Name: "Bäckerei <Nord> & Co", Shipped: []core.Qty{{Qty: 1e21, UOM: "G"}}}, {ID: "C-2", Shipped: nil}}
	var nilCustomers []core.Customer
	cases := map[string]*core.TraceResult{
		"empty trace": {Direction: core.Forward, Lots: []core.TracedLot{}, Links: []core.Link{}, Suppliers: []core.SupplierLot{}, Shipments: []core.Shipment{}},
		"nil lists":   {Direction: core.Backward},
		"recall": {
			Root:      &core.RootLot{Item: "FLOUR", Lot: "F-1", OnHand: &held, OnHold: true},
			Direction: core.Forward,
			Lots:      []core.TracedLot{{Item: "DOUGH", Lot: "D\t1", Depth: 1, OnHand: &empty}, {Item: "BREAD", Lot: "B\"1\"", Depth: 2, OnHand: &held, OnHold: true}},
			Links: []core.Link{
				{Parent: core.LotRef{Item: "FLOUR", Lot: "F-1"}, Child: core.LotRef{Item: "DOUGH", Lot: "D\t1"}, Order: "WO-1", Confirmed: true},
				{Parent: core.LotRef{Item: "DOUGH", Lot: "D\t1"}, Child: core.LotRef{Item: "BREAD", Lot: "B\"1\""}, Transform: "ev\\1"},
			},
			Suppliers: []core.SupplierLot{{ID: "V-1", Name: "Mühle", Item: "FLOUR", Lot: "F-1", SupplierLot: "S\u20281", PO: "PO\x01", Qty: 0.1 + 0.2, UOM: "KG", Time: "2026-03-01T06:00:00Z"}},
			Shipments: []core.Shipment{
				{Item: "BREAD", Lot: "B\"1\"", Qty: 3e-7, UOM: "EA", Customer: core.Party{ID: "C-1", Name: "Bäckerei <Nord> & Co"}, SalesOrder: "SO-1", Delivery: "DL-1", Time: "2026-03-02T06:00:00Z"},
				{Item: "BREAD", Lot: "B\"1\"", Qty: 123456789012, UOM: "EA", Customer: core.Party{ID: "C-2"}, SalesOrder: "SO-2\xff", Time: "2026-03-03T06:00:00Z"},
			},
			Customers: &customers,
		},
		"several roots, customers null": {
			Roots:     []core.RootLot{{Item: "A", Lot: "1"}, {Item: "B", Lot: "\u2029"}},
			Direction: core.Forward,
			Lots:      []core.TracedLot{},
			Customers: &nilCustomers,
		},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) { checkWriteJSON(t, r) })
	}
}

// TestWriteJSONRandom fills every field of a TraceResult (found by
// reflection, so a field added later is filled too) with random values,
// nil and empty lists and pointers included, and compares with
// encoding/json.
func TestWriteJSONRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		var r core.TraceResult
		fill(rng, reflect.ValueOf(&r).Elem())
		checkWriteJSON(t, &r)
	}
}

var (
	pieces = []string{"", "a", "FLOUR", "F-0001", " ", "\"", "\\", "\n", "\t", "\b", "\f", "\x00", "\x1f", "<", ">", "&", "é", "日本", "\u2028", "\u2029", "\xff", "\xe2\x82", "🍞", "\u007f"}
	floats = []float64{0, 1, -1, 0.1 + 0.2, 1e-6, 9.99e-7, 1e-7, -3e-9, 1e20, 1e21, 123456.789, -2.5, 1e300, 5e-324, 100, 0.001}
)

func fill(rng *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		var b strings.Builder
		for range rng.IntN(4) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		v.SetString(b.String())
	case reflect.Float64:
		v.SetFloat(floats[rng.IntN(len(floats))])
	case reflect.Int:
		v.SetInt(rng.Int64N(2000) - 2)
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Pointer:
		if rng.IntN(3) == 0 {
			return // nil
		}
		p := reflect.New(v.Type().Elem())
		fill(rng, p.Elem())
		v.Set(p)
	case reflect.Slice:
		switch n := rng.IntN(5); {
		case n == 0:
			return // nil
		default:
			s := reflect.MakeSlice(v.Type(), n-1, n-1) // 0–3 elements
			for i := range n - 1 {
				fill(rng, s.Index(i))
			}
			v.Set(s)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(rng, v.Field(i))
			}
		}
	default:
		panic("fill: add a case for " + v.Kind().String())
	}
}

func TestWriteJSONRefusesNaN(t *testing.T) {
	r := &core.TraceResult{Direction: core.Forward, Shipments: []core.Shipment{{Qty: math.NaN()}}}
	if err := r.WriteJSON(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "unsupported quantity") {
		t.Fatalf("WriteJSON with a NaN quantity: err = %v, want unsupported quantity", err)
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n += len(p); w.n > 1<<16 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteJSONReportsWriteErrors(t *testing.T) {
	r := &core.TraceResult{Direction: core.Forward}
	for i := range 20000 {
		r.Lots = append(r.Lots, core.TracedLot{Item: "SALT", Lot: strings.Repeat("x", i%30), Depth: i})
	}
	if err := r.WriteJSON(&failingWriter{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("WriteJSON to a full disk: err = %v, want disk full", err)
	}
}

// TestWriteJSONWide checks an answer wide enough that WriteJSON writes its
// shipments on a goroutine of their own (4,096 or more): the same bytes
// as encoding/json, and a bad quantity among the shipments still refused.
func TestWriteJSONWide(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{4095, 4096, 20000} {
		var r core.TraceResult
		fill(rng, reflect.ValueOf(&r).Elem())
		r.Shipments = make([]core.Shipment, n)
		for i := range r.Shipments {
			fill(rng, reflect.ValueOf(&r.Shipments[i]).Elem())
		}
		t.Run(fmt.Sprint(n, " shipments"), func(t *testing.T) { checkWriteJSON(t, &r) })
		r.Shipments[n-1].Qty = math.Inf(1)
		if err := r.WriteJSON(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "unsupported quantity") {
			t.Fatalf("WriteJSON of %d shipments, the last infinite: err = %v, want unsupported quantity", n, err)
		}
	}
}
