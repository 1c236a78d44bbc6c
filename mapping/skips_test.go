package mapping_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/mapping"
)

// movements is a mapping with every way a record can make no event:
// a declared skip, a legacy skip: true, a for_each over an empty list and
// no rule at all.
const movements = `mapping: movements
version: "1"
kinds: [movement, note]
lot_fields:
  movement: [Batch, VendorBatch]
rules:
  - name: cost centre issue
    skip_when: Mvt == '201'
    reason: cost centre issues leave the traced chain
  - name: old skip
    when: Mvt == '999'
    skip: true
  - name: note
    kind: note
    skip_when: true
    reason: notes carry no genealogy
  - name: receipt
    when: Mvt == '101'
    emit:
      - id: id('m', Doc)
        type: receive
        time: datetime(Date)
        lot: {item: Item, lot: Batch}
        qty: Qty
        uom: 'KG'
  - name: pallets
    when: Mvt == '601'
    for_each: Pallets
    emit:
      - id: id('m', Doc, index)
        type: ship
        time: datetime(Date)
        lot: {item: Item, lot: each}
        qty: 1
        uom: 'PAL'
        customer: 'C1'
`

func movement(fields map[string]any) mapping.Record {
	f := map[string]any{"Doc": "D1", "Date": "2026-03-01", "Item": "SUGAR", "Qty": 5.0}
	for k, v := range fields {
		f[k] = v
	}
	return mapping.Record{Kind: "movement", ID: "mv:1", Fields: f}
}

func TestMapRecordOutcomes(t *testing.T) {
	m := mustCompile(t, movements)
	tests := []struct {
		name   string
		rec    mapping.Record
		events int
		skip   *core.Skip
		err    string // part of the error; "" for none
	}{
		{name: "Events", rec: movement(map[string]any{"Mvt": "101", "Batch": "B1"}), events: 1},
		{name: "DeclaredSkipWithLot", rec: movement(map[string]any{"Mvt": "201", "Batch": "B1"}),
			skip: &core.Skip{Rule: "cost centre issue", Reason: "cost centre issues leave the traced chain"}},
		{name: "DeclaredSkipOtherKind", rec: mapping.Record{Kind: "note", ID: "n:1", Fields: map[string]any{"Batch": "B1"}},
			skip: &core.Skip{Rule: "note", Reason: "notes carry no genealogy"}},
		{name: "LegacySkipNoLot", rec: movement(map[string]any{"Mvt": "999"}),
			skip: &core.Skip{Rule: "old skip", Reason: mapping.NoReason}},
		{name: "LegacySkipWithLot", rec: movement(map[string]any{"Mvt": "999", "VendorBatch": "VB-7"}),
			err: `rule "old skip": the rule skips this record without a reason, but it carries lot number "VB-7" in field VendorBatch`},
		{name: "EmptyForEachNoLot", rec: movement(map[string]any{"Mvt": "601", "Pallets": []any{}}),
			skip: &core.Skip{Rule: "pallets", Reason: mapping.EmptyForEach}},
		{name: "EmptyForEachWithLot", rec: movement(map[string]any{"Mvt": "601", "Batch": "B1"}),
			err: `rule "pallets": for_each gave no elements, so the record makes no event, but it carries lot number "B1" in field Batch`},
		{name: "NoRuleWithLot", rec: movement(map[string]any{"Mvt": "311", "Batch": "B1"}),
			err: `no rule matches this record, which carries lot number "B1" in field Batch`},
		{name: "NoRuleNoLot", rec: movement(map[string]any{"Mvt": "311", "Batch": "  "}),
			err: `no rule matches this record (5 rules tried`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := m.MapRecord(tt.rec)
			if got := len(o.Events); got != tt.events {
				t.Errorf("%d events, want %d (err %v)", got, tt.events, o.Err)
			}
			switch {
			case tt.skip == nil && o.Skip != nil:
				t.Errorf("Skip = %+v, want none", *o.Skip)
			case tt.skip != nil && (o.Skip == nil || *o.Skip != *tt.skip):
				t.Errorf("Skip = %+v, want %+v (err %v)", o.Skip, *tt.skip, o.Err)
			}
			var re *mapping.RecordError
			switch {
			case tt.err == "" && o.Err != nil:
				t.Errorf("Err = %v, want none", o.Err)
			case tt.err != "" && (!errors.As(o.Err, &re) || !strings.Contains(re.Reason, tt.err)):
				t.Errorf("Err = %v, want a *RecordError containing %q", o.Err, tt.err)
			}
			// Map agrees with MapRecord.
			evs, err := m.Map(tt.rec)
			if len(evs) != len(o.Events) || (err == nil) != (o.Err == nil) {
				t.Errorf("Map = %d events, %v; MapRecord = %d events, %v", len(evs), err, len(o.Events), o.Err)
			}
			// Explain, in its one pass over the rules, comes to the same
			// outcome, and its last rule tried is the one that decided.
			x := m.Explain(tt.rec)
			if !reflect.DeepEqual(x.Outcome, o) {
				t.Errorf("Explain outcome = %+v, MapRecord = %+v", x.Outcome, o)
			}
			if o.Rule != "" && (len(x.Rules) == 0 || x.Rules[len(x.Rules)-1].Rule != o.Rule) {
				t.Errorf("Explain tried %+v; want the last to be rule %q", x.Rules, o.Rule)
			}
		})
	}
}

func TestCompileSkipErrors(t *testing.T) {
	top := "mapping: t\nversion: \"1\"\nkinds: [r]\n"
	tests := []struct {
		name, src, want string
	}{
		{"SkipWhenNeedsReason", top + "rules:\n  - name: a\n    skip_when: X == '1'\n",
			"m.yaml:6:5: skip_when: needs reason:"},
		{"WhenAndSkipWhen", top + "rules:\n  - name: a\n    when: true\n    skip_when: X == '1'\n    reason: r\n",
			"m.yaml:7:5: a rule has when: or skip_when:, not both"},
		{"ReasonOnEmittingRule", top + "rules:\n  - name: a\n    reason: r\n    emit:\n      - {id: X, type: hold, time: T, lot: {item: I, lot: L}}\n",
			"m.yaml:6:5: reason: goes with skip_when:"},
		{"EmptyReason", top + "rules:\n  - name: a\n    skip_when: true\n    reason: '  '\n",
			"m.yaml:7:13: reason is empty"},
		{"LotFieldsUnknownKind", top + "lot_fields:\n  rr: [Batch]\nrules:\n  - name: a\n    skip_when: true\n    reason: r\n",
			`m.yaml:5:3: kind "rr" is not one of the mapping's kinds (did you mean "r"?)`},
		{"SkipWhenNotBool", top + "rules:\n  - name: a\n    skip_when: upper(X)\n    reason: r\n",
			"m.yaml:6:16:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mapping.Compile("m.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Compile error = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	m := mustCompile(t, movements)
	x := m.Explain(movement(map[string]any{"Mvt": "601", "Batch": "B1", "Pallets": []any{"P1"}}))
	var got []string
	for _, r := range x.Rules {
		got = append(got, r.Rule+": "+r.Result)
	}
	want := []string{
		"cost centre issue: skip_when is false",
		"old skip: when is false",
		"note: not for kind movement",
		"receipt: when is false",
		"pallets: matched",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rules tried:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if x.LotField != "Batch" || x.Lot != "B1" || len(x.Outcome.Events) != 1 || x.Outcome.Rule != "pallets" {
		t.Errorf("Explain = lot %s=%v, %d events by %q; want Batch=B1, 1 event by pallets", x.LotField, x.Lot, len(x.Outcome.Events), x.Outcome.Rule)
	}
	x = m.Explain(movement(map[string]any{"Mvt": "311"}))
	if len(x.Rules) != 5 || x.Outcome.Err == nil {
		t.Errorf("Explain of an unmatched record: %d rules tried, err %v; want all 5 and an error", len(x.Rules), x.Outcome.Err)
	}
}

// TestMapAccountsForEveryRecord is the property of issue 15: for random
// mappings and random records, every record is accounted for exactly once
// — as events, as a quarantine entry (an error) or as a skip — and a
// record that carries a lot number is skipped only by a rule that
// declared a reason.
func TestMapAccountsForEveryRecord(t *testing.T) {
	seen := map[string]int{} // outcomes, so that the test proves it tried each
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 15))
		src := randomMapping(rng)
		m, err := mapping.Compile("rand.yaml", []byte(src))
		if err != nil {
			t.Fatalf("seed %d: the generated mapping does not compile: %v\n%s", seed, err, src)
		}
		for i := range 40 {
			r := randomRecord(rng, i)
			o := m.MapRecord(r)
			n := 0
			if len(o.Events) > 0 {
				n++
			}
			if o.Skip != nil {
				n++
			}
			if o.Err != nil {
				n++
			}
			if n != 1 {
				t.Fatalf("seed %d, record %v: %d events, skip %+v, err %v: want exactly one outcome\n%s", seed, r.Fields, len(o.Events), o.Skip, o.Err, src)
			}
			if _, _, lot := m.CarriesLot(r); lot && o.Skip != nil && (o.Skip.Reason == mapping.NoReason || o.Skip.Reason == mapping.EmptyForEach) {
				t.Fatalf("seed %d, record %v carries a lot but was skipped without a declared reason (%+v)\n%s", seed, r.Fields, *o.Skip, src)
			}
			if o.Skip != nil && o.Skip.Rule == "" {
				t.Fatalf("seed %d: a skip names no rule: %+v", seed, *o.Skip)
			}
			switch {
			case len(o.Events) > 0:
				seen["events"]++
			case o.Err != nil:
				seen["error"]++
			default:
				seen[o.Skip.Reason]++
			}
		}
	}
	for _, want := range []string{"events", "error", mapping.NoReason, mapping.EmptyForEach} {
		if seen[want] == 0 {
			t.Errorf("no record had the outcome %q (outcomes: %v): the generator misses a path", want, seen)
		}
	}
	t.Logf("outcomes: %v", seen)
}

// randomMapping writes a mapping of 1–6 rules of every form over the
// fields randomRecord fills.
func randomMapping(rng *rand.Rand) string {
	var b strings.Builder
	b.WriteString("mapping: rand\nversion: \"1\"\nkinds: [a, b]\n")
	switch rng.IntN(3) {
	case 0:
		b.WriteString("lot_fields: [Lot]\n")
	case 1:
		b.WriteString("lot_fields:\n  a: [Lot, Lot2]\n")
	}
	b.WriteString("rules:\n")
	conds := []string{"Mvt == '1'", "Mvt == '2'", "Mvt in ['1', '3']", "not empty(Lot)", "empty(List)", "true", "Flag == 'X'"}
	for i := range 1 + rng.IntN(6) {
		fmt.Fprintf(&b, "  - name: r%d\n", i)
		if rng.IntN(3) == 0 {
			fmt.Fprintf(&b, "    kind: %s\n", []string{"a", "b"}[rng.IntN(2)])
		}
		cond := conds[rng.IntN(len(conds))]
		switch rng.IntN(5) {
		case 0:
			fmt.Fprintf(&b, "    skip_when: %q\n    reason: skipped by r%d\n", cond, i)
		case 1:
			fmt.Fprintf(&b, "    when: %q\n    skip: true\n", cond)
		case 2:
			fmt.Fprintf(&b, "    when: %q\n    for_each: List\n    emit:\n      - {id: \"id('x', Doc, index)\", type: hold, time: '2026-03-01T00:00:00Z', lot: {item: \"'I'\", lot: each}}\n", cond)
		default:
			if rng.IntN(2) == 0 {
				fmt.Fprintf(&b, "    when: %q\n", cond)
			}
			// Fails when Lot is empty: an invalid event is an error.
			b.WriteString("    emit:\n      - {id: \"id('x', Doc)\", type: hold, time: '2026-03-01T00:00:00Z', lot: {item: \"'I'\", lot: Lot}}\n")
		}
	}
	return b.String()
}

func randomRecord(rng *rand.Rand, i int) mapping.Record {
	f := map[string]any{"Doc": fmt.Sprint("D", i)}
	pick := func(vals ...any) any { return vals[rng.IntN(len(vals))] }
	if v := pick(nil, "1", "2", "3", "4"); v != nil {
		f["Mvt"] = v
	}
	if v := pick(nil, "", " ", "L1", "L2"); v != nil {
		f["Lot"] = v
	}
	if v := pick(nil, "", "L9"); v != nil {
		f["Lot2"] = v
	}
	if v := pick(nil, []any{}, []any{"P1"}, []any{"P1", "P2"}, []any{""}); v != nil {
		f["List"] = v
	}
	if v := pick(nil, "X", "Y"); v != nil {
		f["Flag"] = v
	}
	return mapping.Record{Kind: pick("a", "b").(string), ID: fmt.Sprint("rec:", i), Fields: f}
}

func TestReworkTemplate(t *testing.T) {
	src := `mapping: mes
version: "1"
kinds: [batch]
rules:
  - name: batch
    emit:
      - id: id('mes', BatchNo)
        type: transform
        time: '2026-03-01T00:00:00Z'
        rework: Rework == 'Y'
        inputs: [{item: Item, lot: In}]
        outputs: [{item: Item, lot: Out}]
`
	m := mustCompile(t, src)
	rec := func(rework, in, out string) mapping.Record {
		return mapping.Record{Kind: "batch", ID: "b:1", Fields: map[string]any{"BatchNo": "B1", "Item": "DOUGH", "Rework": rework, "In": in, "Out": out}}
	}
	evs, err := m.Map(rec("Y", "D-1", "D-1"))
	if err != nil || len(evs) != 1 || !evs[0].Rework {
		t.Errorf("declared rework: %v, %v; want one transform with rework", evs, err)
	}
	_, err = m.Map(rec("N", "D-1", "D-1"))
	if err == nil || !strings.Contains(err.Error(), "a self-loop") {
		t.Errorf("undeclared self-loop: err = %v, want it refused", err)
	}
	_, err = mapping.Compile("m.yaml", []byte(strings.Replace(src, "type: transform", "type: hold", 1)))
	if err == nil || !strings.Contains(err.Error(), "m.yaml:10:9: rework: declares a transform") {
		t.Errorf("rework on a hold: err = %v", err)
	}
}
