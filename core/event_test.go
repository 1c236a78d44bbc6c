package core_test

import (
	"math"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
)

func TestValidate(t *testing.T) {
	const lot = `"lot":{"item":"FLOUR","lot":"F-A"}`
	const tm = `"time":"2026-03-01T08:00:00Z"`
	tests := []struct {
		name, json, wantErr string
	}{
		{"OK receive", `{"id":"r1","type":"receive",` + tm + `,` + lot + `,"qty":1,"uom":"KG"}`, ""},
		{"OK step", `{"id":"s1","type":"step",` + tm + `,` + lot + `,"step":"MIX","params":{"t":1}}`, ""},
		{"OK time offset", `{"id":"h1","type":"hold","time":"2026-03-01T08:00:00.5+02:00",` + lot + `}`, ""},
		{"OK transform", `{"id":"t1","type":"transform",` + tm + `,"inputs":[{"item":"A","lot":"1","qty":2,"uom":"KG"}],"outputs":[{"item":"B","lot":"2"}]}`, ""},
		{"OK reverse", `{"id":"x1","type":"reverse",` + tm + `,"reverses":"r1"}`, ""},
		{"ErrIDRequired", `{"type":"hold",` + tm + `,` + lot + `}`, `"id" is required`},
		{"ErrUnknownType", `{"id":"a","type":"scrap",` + tm + `,` + lot + `}`, `unknown type "scrap"`},
		{"ErrTimeRequired", `{"id":"a","type":"hold",` + lot + `}`, `"time" is required`},
		{"ErrBadTime", `{"id":"a","type":"hold","time":"03/01/2026",` + lot + `}`, `not RFC 3339`},
		{"ErrLotRequired", `{"id":"a","type":"hold",` + tm + `}`, `"lot" is required`},
		{"ErrLotHalf", `{"id":"a","type":"hold",` + tm + `,"lot":{"item":"FLOUR"}}`, `both item and lot`},
		{"ErrQtyRequired", `{"id":"a","type":"ship",` + tm + `,` + lot + `,"uom":"KG","customer":{"id":"C"}}`, `"qty" is required`},
		{"ErrUOMWithQty", `{"id":"a","type":"receive",` + tm + `,` + lot + `,"qty":1}`, `"uom" is required`},
		{"ErrNegativeQty", `{"id":"a","type":"receive",` + tm + `,` + lot + `,"qty":-1,"uom":"KG"}`, `≥ 0`},
		{"ErrOrderRequired", `{"id":"a","type":"consume",` + tm + `,` + lot + `,"qty":1,"uom":"KG"}`, `"order" is required`},
		{"ErrCustomerRequired", `{"id":"a","type":"ship",` + tm + `,` + lot + `,"qty":1,"uom":"KG"}`, `"customer"`},
		{"ErrStepRequired", `{"id":"a","type":"step",` + tm + `,` + lot + `}`, `"step" is required`},
		{"ErrMoveTo", `{"id":"a","type":"move",` + tm + `,` + lot + `,"from":"A"}`, `"to" is required`},
		{"ErrTransformLot", `{"id":"a","type":"transform",` + tm + `,` + lot + `,"inputs":[{"item":"A","lot":"1"}],"outputs":[{"item":"B","lot":"2"}]}`, `not in "lot"`},
		{"ErrTransformEmpty", `{"id":"a","type":"transform",` + tm + `,"inputs":[{"item":"A","lot":"1"}]}`, `at least one input and one output`},
		{"ErrTransformQtyUOM", `{"id":"a","type":"transform",` + tm + `,"inputs":[{"item":"A","lot":"1"}],"outputs":[{"item":"B","lot":"2","qty":3}]}`, `outputs[0] has qty but no uom`},
		{"ErrLotBlank", `{"id":"a","type":"hold",` + tm + `,"lot":{"item":"FLOUR","lot":"  "}}`, `both item and lot (blank text is no lot number)`},
		{"ErrInputLotBlank", `{"id":"a","type":"transform",` + tm + `,"inputs":[{"item":"A","lot":" "}],"outputs":[{"item":"B","lot":"2"}]}`, `inputs[0] needs both item and lot`},
		{"ErrNegativeConsume", `{"id":"a","type":"consume",` + tm + `,` + lot + `,"qty":-0.5,"uom":"KG","order":"WO"}`, `≥ 0`},
		{"ErrNegativeProduce", `{"id":"a","type":"produce",` + tm + `,` + lot + `,"qty":-2,"uom":"KG","order":"WO"}`, `≥ 0`},
		{"ErrNegativeShip", `{"id":"a","type":"ship",` + tm + `,` + lot + `,"qty":-2,"uom":"KG","customer":{"id":"C"}}`, `≥ 0`},
		{"ErrNegativeInput", `{"id":"a","type":"transform",` + tm + `,"inputs":[{"item":"A","lot":"1","qty":-1,"uom":"KG"}],"outputs":[{"item":"B","lot":"2"}]}`, `inputs[0].qty must be a finite number ≥ 0`},
		{"OK adjust negative", `{"id":"a","type":"adjust",` + tm + `,` + lot + `,"qty":-2,"uom":"KG"}`, ""},
		{"ErrSelfLoop", `{"id":"a","type":"transform",` + tm + `,"inputs":[{"item":"A","lot":"1"},{"item":"C","lot":"3"}],"outputs":[{"item":"B","lot":"2"},{"item":"A","lot":"1"}]}`, `input and output are the same lot A/1 (a self-loop): if the lot was reworked into itself, declare it with "rework": true`},
		{"OK rework", `{"id":"a","type":"transform",` + tm + `,"rework":true,"inputs":[{"item":"A","lot":"1"}],"outputs":[{"item":"A","lot":"1"}]}`, ""},
		{"OK same lot number, other item", `{"id":"a","type":"transform",` + tm + `,"inputs":[{"item":"A","lot":"1"}],"outputs":[{"item":"B","lot":"1"}]}`, ""},
		{"ErrReworkNotTransform", `{"id":"a","type":"hold",` + tm + `,` + lot + `,"rework":true}`, `a hold has no rework`},
		{"ErrReverseTarget", `{"id":"a","type":"reverse",` + tm + `}`, `"reverses"`},
		{"ErrReverseSelf", `{"id":"a","type":"reverse",` + tm + `,"reverses":"a"}`, `cannot reverse itself`},
		{"ErrWrongType", `{"id":"a","type":"receive",` + tm + `,` + lot + `,"qty":"1","uom":"KG"}`, `field "qty" must be a number, not a JSON string`},
		{"ErrUnknownField", `{"id":"a","type":"receive",` + tm + `,` + lot + `,"quantity":1,"uom":"KG"}`, `unknown field "quantity"`},
		{"ErrSyntax", `{"id":"a",`, `not a canonical event`},
		{"ErrTwoValues", `{"id":"a"} {"id":"b"}`, `more than one JSON value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := core.DecodeEvent([]byte(tt.json))
			if err == nil {
				err = e.Validate()
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("got no error, want one containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("got error %q, want it to contain %q", err, tt.wantErr)
			case err != nil && core.ErrorCode(err) != core.EINVALID:
				t.Fatalf("error code %q, want %q", core.ErrorCode(err), core.EINVALID)
			}
		})
	}
}

func TestContentHashIgnoresSource(t *testing.T) {
	a, err := core.DecodeEvent([]byte(`{"id":"r1","type":"hold","time":"2026-03-01T08:00:00Z","lot":{"item":"A","lot":"1"},"source":{"connector":"sap","record":"x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := core.DecodeEvent([]byte(`{"type":"hold","id":"r1","lot":{"lot":"1","item":"A"},"time":"2026-03-01T08:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.ContentHash() != b.ContentHash() {
		t.Error("same content, different source or key order: hashes differ")
	}
	b.Reason = "changed"
	if a.ContentHash() == b.ContentHash() {
		t.Error("different content: hashes equal")
	}
}

// TestNaNQuantity: JSON cannot carry NaN, but a mapping or a Go caller can
// make one; it is refused like a negative quantity.
func TestNaNQuantity(t *testing.T) {
	nan := math.NaN()
	for _, typ := range []core.EventType{core.Receive, core.Consume, core.Produce, core.Ship, core.Adjust} {
		e := &core.Event{ID: "a", Type: typ, Time: "2026-03-01T08:00:00Z", Lot: &core.LotRef{Item: "F", Lot: "1"},
			Qty: &nan, UOM: "KG", Order: "WO", Customer: &core.Party{ID: "C"}}
		if err := e.Validate(); err == nil || !strings.Contains(err.Error(), "finite number") {
			t.Errorf("%s with qty NaN: err = %v, want a finite number", typ, err)
		}
	}
}

func TestLotPlaceholders(t *testing.T) {
	ev := func(lot string) *core.Event {
		return &core.Event{ID: "e1", Type: core.Hold, Time: "2026-03-01T08:00:00Z", Lot: &core.LotRef{Item: "FLOUR", Lot: lot}}
	}
	def := core.NewLotPlaceholders(nil)
	for _, lot := range []string{"*", "N/A", "n/a", " - ", "0"} {
		err := def.Check(ev(lot))
		if err == nil || core.ErrorCode(err) != core.EINVALID || !strings.Contains(err.Error(), "is a placeholder, not a lot number") {
			t.Errorf("lot %q: err = %v, want a placeholder EINVALID", lot, err)
		}
	}
	for _, lot := range []string{"F-A", "00", "NA", "0-1"} {
		if err := def.Check(ev(lot)); err != nil {
			t.Errorf("lot %q: %v, want none", lot, err)
		}
	}
	// Transforms: every input and output is checked.
	tr := &core.Event{ID: "t1", Type: core.Transform, Time: "2026-03-01T08:00:00Z",
		Inputs: []core.LotQty{{Item: "A", Lot: "1"}}, Outputs: []core.LotQty{{Item: "B", Lot: "*"}}}
	if err := def.Check(tr); err == nil || !strings.Contains(err.Error(), `lot number "*" of item B`) {
		t.Errorf("transform output *: err = %v", err)
	}
	// A configured list replaces the default.
	own := core.NewLotPlaceholders([]string{"NOLOT", "tbd"})
	if err := own.Check(ev("0")); err != nil {
		t.Errorf("configured list: lot 0 refused: %v", err)
	}
	if err := own.Check(ev("TBD")); err == nil || !strings.Contains(err.Error(), `placeholders: "NOLOT", "tbd"`) {
		t.Errorf("configured list: lot TBD: err = %v", err)
	}
	if err := core.NewLotPlaceholders([]string{}).Check(ev("*")); err != nil {
		t.Errorf("empty list: lot * refused: %v", err)
	}
}
