package mapping_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/mapping"
)

func mustCompile(t *testing.T, src string) *mapping.Mapping {
	t.Helper()
	m, err := mapping.Compile("m.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return m
}

func eventsJSON(evs []*core.Event) string {
	var lines []string
	for _, e := range evs {
		b, _ := json.Marshal(e)
		lines = append(lines, string(b))
	}
	return strings.Join(lines, "\n")
}

// receipts is a mapping for the run-time cases. Positions in it are
// asserted below: the rules key is at 11:1, rule "receipt" at 13:5, its
// template at 16:9, the lookup at 20:14, the datetime at 18:15.
const receipts = `mapping: receipts
version: "1"
kinds: [receipt, adjustment]
tables:
  units: {KG: KG, LB: LBR}
vars:
  doc: id('r', DocNo)
  item: upper(trim(Item))
  lot: upper(trim(Lot))
  # comment line 10
rules:
  - name: receipt
    kind: receipt
    when: Type == 'GR'
    emit:
      - id: doc
        type: receive
        time: datetime(Date)
        lot: {item: item, lot: lot}
        uom: lookup('units', Unit)
        qty: Qty
        supplier: Supplier
        po: PO
  - name: ignore drafts
    when: Type == 'DRAFT'
    skip: true
`

func receiptRecord() mapping.Record {
	return mapping.Record{Kind: "receipt", ID: "receipts.csv:2", Fields: map[string]any{
		"DocNo": "R1", "Type": "GR", "Date": "2026-03-01", "Item": " flour", "Lot": "f-a ",
		"Unit": "KG", "Qty": 10.0, "Supplier": "V1",
	}}
}

func TestMapReceipt(t *testing.T) {
	m := mustCompile(t, receipts)
	evs, err := m.Map(receiptRecord())
	if err != nil {
		t.Fatal(err)
	}
	got := eventsJSON(evs)
	want := `{"id":"r:R1","type":"receive","time":"2026-03-01T00:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":10,"uom":"KG","supplier":{"id":"V1"}}`
	if got != want {
		t.Errorf("events =\n%s\nwant\n%s", got, want)
	}
	if evs[0].Source != nil {
		t.Errorf("Source = %+v, want nil: the hub sets it", evs[0].Source)
	}
}

func TestMapSkip(t *testing.T) {
	m := mustCompile(t, receipts)
	r := receiptRecord()
	r.Fields["Type"] = "DRAFT"
	evs, err := m.Map(r)
	if evs != nil || err != nil {
		t.Errorf("Map = %v, %v; want nil, nil", evs, err)
	}
}

// TestMapRecordErrors checks that every run-time failure is a *RecordError
// with the record's id and kind, the position of the rule, template or
// expression responsible, and a reason naming the rule.
func TestMapRecordErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *mapping.Record)
		pos    string
		reason string
	}{
		{
			name:   "NoRuleMatches",
			change: func(r *mapping.Record) { r.Fields["Type"] = "GI" },
			pos:    "m.yaml:11:1",
			reason: "no rule matches this record (2 rules tried; add a rule for it, or a skip_when: rule with a reason: to declare such records irrelevant)",
		},
		{
			name:   "KindNotMapped",
			change: func(r *mapping.Record) { r.Kind = "shipment" },
			pos:    "m.yaml:3:1",
			reason: `mapping receipts does not map kind "shipment"`,
		},
		{
			name:   "LookupMiss",
			change: func(r *mapping.Record) { r.Fields["Unit"] = "BAG" },
			pos:    "m.yaml:20:14",
			reason: `rule "receipt": uom: lookup: no entry "BAG" in table "units" (add it under tables: units:`,
		},
		{
			name:   "BadDate",
			change: func(r *mapping.Record) { r.Fields["Date"] = "03/01/2026" },
			pos:    "m.yaml:18:15",
			reason: `rule "receipt": time: datetime: "03/01/2026" is not a date`,
		},
		{
			name:   "QtyIsText",
			change: func(r *mapping.Record) { r.Fields["Qty"] = "10" },
			pos:    "m.yaml:21:14",
			reason: `rule "receipt": qty must be a number, got the text "10" (convert text with number(...))`,
		},
		{
			name:   "VarFails",
			change: func(r *mapping.Record) { delete(r.Fields, "DocNo") },
			pos:    "m.yaml:7:8",
			reason: `rule "receipt": var doc: id: part 2 is empty`,
		},
		{
			name:   "InvalidEvent",
			change: func(r *mapping.Record) { delete(r.Fields, "Qty") },
			pos:    "m.yaml:16:9",
			reason: `rule "receipt": the receive event made here is invalid: event r:R1: field "qty" is required on receive`,
		},
		{
			name:   "NotAnObject",
			change: func(r *mapping.Record) { r.Fields["Supplier"] = []any{"V1"} },
			pos:    "m.yaml:22:19",
			reason: `rule "receipt": supplier must give an object {id, name}, got a list`,
		},
	}
	m := mustCompile(t, receipts)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := receiptRecord()
			tt.change(&r)
			evs, err := m.Map(r)
			if err == nil {
				t.Fatalf("Map = %s, want an error", eventsJSON(evs))
			}
			var re *mapping.RecordError
			if !errors.As(err, &re) {
				t.Fatalf("error %T %v is not a *mapping.RecordError", err, err)
			}
			if got := core.ErrorCode(err); got != core.EINVALID {
				t.Errorf("core.ErrorCode = %q, want %q", got, core.EINVALID)
			}
			if re.RecordID != r.ID || re.Kind != r.Kind {
				t.Errorf("RecordID, Kind = %q, %q; want %q, %q", re.RecordID, re.Kind, r.ID, r.Kind)
			}
			if got := re.Pos.String(); got != tt.pos {
				t.Errorf("Pos = %s, want %s (%v)", got, tt.pos, err)
			}
			if !strings.HasPrefix(re.Reason, tt.reason) {
				t.Errorf("Reason = %q\nwant it to start with %q", re.Reason, tt.reason)
			}
			wantText := fmt.Sprintf("record %s (kind %s): %s: %s", r.ID, r.Kind, tt.pos, re.Reason)
			if err.Error() != wantText {
				t.Errorf("Error() = %q, want %q", err.Error(), wantText)
			}
		})
	}
}

func TestMapDuplicateIDs(t *testing.T) {
	m := mustCompile(t, `mapping: dup
version: 1
kinds: [k]
rules:
  - name: split
    for_each: Lots
    emit:
      - id: id('x', Doc)
        type: hold
        time: '2026-03-01T00:00:00Z'
        lot: {item: 'I', lot: each}
`)
	_, err := m.Map(mapping.Record{Kind: "k", ID: "r1", Fields: map[string]any{"Doc": "D", "Lots": []any{"A", "B"}}})
	var re *mapping.RecordError
	if !errors.As(err, &re) {
		t.Fatalf("Map error = %v, want a RecordError", err)
	}
	if got, want := re.Pos.String(), "m.yaml:8:9"; got != want {
		t.Errorf("Pos = %s, want %s", got, want)
	}
	if !strings.Contains(re.Reason, `two events of this record have the id "x:D"`) {
		t.Errorf("Reason = %q", re.Reason)
	}
}

func TestMapWhenNotBoolean(t *testing.T) {
	m := mustCompile(t, `mapping: w
version: 1
kinds: [k]
rules:
  - name: r
    when: Flag
    skip: true
`)
	_, err := m.Map(mapping.Record{Kind: "k", ID: "r1", Fields: map[string]any{"Flag": "X"}})
	var re *mapping.RecordError
	if !errors.As(err, &re) || re.Pos.String() != "m.yaml:6:11" || !strings.Contains(re.Reason, `when must give true or false, got the text "X"`) {
		t.Errorf("Map error = %v", err)
	}
}

// TestMapForEach covers a rule over the items of a header record, nested
// inputs over each item's components, index, outer, parties and params
// from expressions, and fields that are omitted when empty.
func TestMapForEach(t *testing.T) {
	m := mustCompile(t, `mapping: batches
version: 1
kinds: [batch_record]
tables:
  customers:
    C1: {id: C1, name: Alpha Foods}
rules:
  - name: blend
    for_each: Outputs
    emit:
      - id: id('mes', BatchNo, index + 1)
        type: transform
        time: datetime(End)
        inputs:
          for_each: each.Components
          item: each.Item
          lot: each.Lot
          qty: each.Qty
          uom: outer.Unit ?? 'KG'
        outputs:
          - item: each.Item
            lot: each.Lot
            qty: each.Qty
            uom: 'KG'
          - item: each.ByProduct
            lot: each.ByProductLot
      - id: id('mes', BatchNo, index + 1, 'ship')
        type: ship
        time: datetime(End)
        lot: {item: each.Item, lot: each.Lot}
        qty: each.Qty
        uom: 'KG'
        customer: lookup('customers', Customer)
        carrier: Carrier
        params:
          operator: Operator
          line: 3
          ok: true
          empty: Missing
`)
	rec := mapping.Record{Kind: "batch_record", ID: "b-1", Fields: map[string]any{
		"BatchNo": "B7", "End": "2026-03-02T10:00:00Z", "Customer": "C1", "Operator": "ann",
		"Outputs": []any{
			map[string]any{"Item": "DOUGH", "Lot": "D1", "Qty": 90.0, "Components": []any{
				map[string]any{"Item": "FLOUR", "Lot": "F1", "Qty": 60.0},
				map[string]any{"Item": "WATER", "Lot": "W1", "Qty": 30.0},
			}},
			map[string]any{"Item": "DOUGH", "Lot": "D2", "Qty": 10.0, "ByProduct": "CRUMBS", "ByProductLot": "C1", "Components": []any{
				map[string]any{"Item": "FLOUR", "Lot": "F1", "Qty": 10.0},
			}},
		},
	}}
	evs, err := m.Map(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		`{"id":"mes:B7:1","type":"transform","time":"2026-03-02T10:00:00Z","inputs":[{"item":"FLOUR","lot":"F1","qty":60,"uom":"KG"},{"item":"WATER","lot":"W1","qty":30,"uom":"KG"}],"outputs":[{"item":"DOUGH","lot":"D1","qty":90,"uom":"KG"}]}`,
		`{"id":"mes:B7:1:ship","type":"ship","time":"2026-03-02T10:00:00Z","lot":{"item":"DOUGH","lot":"D1"},"qty":90,"uom":"KG","customer":{"id":"C1","name":"Alpha Foods"},"params":{"line":3,"ok":true,"operator":"ann"}}`,
		`{"id":"mes:B7:2","type":"transform","time":"2026-03-02T10:00:00Z","inputs":[{"item":"FLOUR","lot":"F1","qty":10,"uom":"KG"}],"outputs":[{"item":"DOUGH","lot":"D2","qty":10,"uom":"KG"},{"item":"CRUMBS","lot":"C1"}]}`,
		`{"id":"mes:B7:2:ship","type":"ship","time":"2026-03-02T10:00:00Z","lot":{"item":"DOUGH","lot":"D2"},"qty":10,"uom":"KG","customer":{"id":"C1","name":"Alpha Foods"},"params":{"line":3,"ok":true,"operator":"ann"}}`,
	}, "\n")
	if got := eventsJSON(evs); got != want {
		t.Errorf("events =\n%s\nwant\n%s", got, want)
	}

	// No outputs: the rule matches and makes nothing.
	rec.Fields["Outputs"] = []any{}
	if evs, err := m.Map(rec); evs != nil || err != nil {
		t.Errorf("Map with no outputs = %v, %v; want nil, nil", evs, err)
	}
	rec.Fields["Outputs"] = "D1"
	_, err = m.Map(rec)
	var re *mapping.RecordError
	if !errors.As(err, &re) || re.Pos.String() != "m.yaml:9:15" || !strings.Contains(re.Reason, "for_each must give a list") {
		t.Errorf("Map with a text for_each = %v", err)
	}
}

// TestMapNeverPanics maps records full of values of the wrong types
// through the example SAP mapping: each gives events or a RecordError.
func TestMapNeverPanics(t *testing.T) {
	m, err := mapping.Load(filepath.Join("..", "examples", "mappings", "sap-material-documents.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	odd := []any{nil, "", " ", 0.0, -1.0, 1e308, true, "101", "/Date(-99999999999999999999)/", "/Date(1)/",
		[]any{}, []any{"101"}, map[string]any{}, map[string]any{"a": 1.0}, "\x00", "ü", "00000", "1,0", json.Number("1")}
	base := sapIssue()
	for field := range base {
		for _, v := range odd {
			fields := map[string]any{}
			for k, x := range base {
				fields[k] = x
			}
			fields[field] = v
			for _, mvt := range []string{"101", "102", "261", "311", "601", "999"} {
				if field != "GoodsMovementType" {
					fields["GoodsMovementType"] = mvt
				}
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("Map panicked with %s=%#v, movement %s: %v", field, v, mvt, p)
						}
					}()
					evs, err := m.Map(mapping.Record{Kind: "a_materialdocumentitem", ID: "x", Fields: fields})
					var re *mapping.RecordError
					if err != nil && !errors.As(err, &re) {
						t.Fatalf("%s=%#v: error %T is not a RecordError: %v", field, v, err, err)
					}
					for _, e := range evs {
						if err := e.Validate(); err != nil {
							t.Fatalf("%s=%#v: invalid event returned: %v", field, v, err)
						}
					}
				}()
			}
		}
	}
	// No fields at all: no movement type, so the catch-all skip rule.
	if evs, err := m.Map(mapping.Record{Kind: "a_materialdocumentitem", ID: "nil-fields"}); evs != nil || err != nil {
		t.Errorf("Map of a record without fields = %v, %v; want nil, nil", evs, err)
	}
}

// TestMapConcurrent maps many records from many goroutines at once (run
// with -race) and wants what mapping them one by one gives.
func TestMapConcurrent(t *testing.T) {
	m, err := mapping.Load(filepath.Join("..", "examples", "mappings", "sap-material-documents.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	records := make([]mapping.Record, 200)
	want := make([]string, len(records))
	for i := range records {
		f := sapIssue()
		f["MaterialDocument"] = fmt.Sprintf("49%08d", i)
		f["GoodsMovementType"] = []string{"101", "261", "601", "102", "311", "999", "xx"}[i%7]
		f["PurchaseOrder"] = "4500000001"
		f["Customer"] = "17100001"
		f["ReversedMaterialDocument"] = "4900000001"
		f["ReversedMaterialDocumentYear"] = "2026"
		f["IssuingOrReceivingStorageLoc"] = "PR01"
		if i%11 == 0 {
			f["Plant"] = "9999" // quarantined
		}
		records[i] = mapping.Record{Kind: "a_materialdocumentitem", ID: fmt.Sprint(i), Fields: f}
		evs, err := m.Map(records[i])
		want[i] = fmt.Sprint(eventsJSON(evs), err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for n := 0; n < 5; n++ {
				for i := range records {
					j := (i + g*13) % len(records)
					evs, err := m.Map(records[j])
					if got := fmt.Sprint(eventsJSON(evs), err); got != want[j] {
						t.Errorf("goroutine %d, record %d:\n got %s\nwant %s", g, j, got, want[j])
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
}
