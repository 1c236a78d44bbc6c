package mapping_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/lothub/lothub/mapping"
)

// evalHeader is the part of a mapping before rules: for the functions
// that read the time zone, tables and units.
const evalHeader = `timezone: Europe/Berlin
tables:
  sites: {"0010": PLANT-A, "1010": HAMBURG}
  customers:
    C1: {id: C1, name: Alpha Foods}
units:
  G: {KG: 0.001}
vars:
  pair: "{a: 'A', b: 'B'}"
`

// eval compiles expression into a mapping that puts its value in a param
// and maps one record with fields: the value as JSON would give it back,
// nil for nothing or "" (fields that are empty are omitted).
func eval(t *testing.T, expression string, fields map[string]any) (any, error) {
	t.Helper()
	return evalIn(t, evalHeader, expression, fields)
}

func evalIn(t *testing.T, header, expression string, fields map[string]any) (any, error) {
	t.Helper()
	src := "mapping: f\nversion: 1\nkinds: [r]\n" + header + `rules:
  - name: eval
    emit:
      - id: 'x'
        type: step
        time: '2026-03-01T00:00:00Z'
        lot: {item: 'I', lot: 'L'}
        step: 's'
        params:
          v: ` + strconv.Quote(expression) + "\n"
	m, err := mapping.Compile("f.yaml", []byte(src))
	if err != nil {
		t.Fatalf("compile %s: %v", expression, err)
	}
	evs, err := m.Map(mapping.Record{Kind: "r", ID: "rec-1", Fields: fields})
	if err != nil {
		return nil, err
	}
	return evs[0].Params["v"], nil
}

type funcCase struct {
	expr    string
	fields  map[string]any
	want    any    // as JSON gives it back: string, float64, bool, []any, map[string]any, nil
	wantErr string // a part of the error; "" for none
}

func runFuncCases(t *testing.T, cases []funcCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := eval(t, tt.expr, tt.fields)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("%s = %v, %v; want an error containing %q", tt.expr, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tt.expr, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s = %#v, want %#v", tt.expr, got, tt.want)
			}
		})
	}
}

func TestTextFunctions(t *testing.T) {
	runFuncCases(t, []funcCase{
		{expr: "trim('  a b  ')", want: "a b"},
		{expr: "trim(Missing)", want: nil},
		{expr: "trim('xxaxx', 'x')", want: "a"},
		{expr: "trim(N)", fields: map[string]any{"N": 12.0}, want: "12"},
		{expr: "upper('Flour')", want: "FLOUR"},
		{expr: "lower('Flour')", want: "flour"},
		{expr: "upper(Missing)", want: nil},
		{expr: "pad('42', 5)", want: "00042"},
		{expr: "pad('123456', 3)", want: "123456"},
		{expr: "pad('7', 3, ' ')", want: "  7"},
		{expr: "pad(Missing, 3)", want: nil},
		{expr: "pad('7', 3, 'ab')", wantErr: "the fill must be one character"},
		{expr: "unpad('000000000000012345')", want: "12345"},
		{expr: "unpad('0000')", want: "0"},
		{expr: "unpad('00A1')", want: "00A1"},
		{expr: "unpad(' 0042 ')", want: "42"},
		{expr: "unpad(N)", fields: map[string]any{"N": 12345.0}, want: "12345"},
		{expr: "split('a,b,,c', ',')", want: []any{"a", "b", "", "c"}},
		{expr: "split(Missing, ',')", want: nil},
		{expr: "join(['a', 'b'], '-')", want: "a-b"},
		{expr: "join(split('a b', ' '), '+')", want: "a+b"},
		{expr: "join('x', '-')", wantErr: "join: want a list"},
		{expr: "replace('a-b-c', '-', '/')", want: "a/b/c"},
		{expr: "empty(Missing)", want: true},
		{expr: "empty('  ')", want: true},
		{expr: "empty('x')", want: false},
		{expr: "empty([])", want: true},
		{expr: "id('sap', 2026, '4900001234', '0001')", want: "sap:2026:4900001234:0001"},
		{expr: "id('sap', Year)", fields: map[string]any{"Year": 2026.0}, want: "sap:2026"},
		{expr: "id('a', Missing)", wantErr: "id: part 2 is empty"},
		{expr: "id('a', ' ')", wantErr: "id: part 2 is empty"},
		{expr: "coalesce(Missing, '', 'x', 'y')", want: "x"},
		{expr: "coalesce(Missing, ' ')", want: nil},
		{expr: "default(Missing, 'd')", want: "d"},
		{expr: "default('v', 'd')", want: "v"},
		{expr: "Q matches ',' ? fail('qty ' + Q + ' has a comma') : number(Q)", fields: map[string]any{"Q": "1,500"}, wantErr: "qty 1,500 has a comma"},
		{expr: "Q matches ',' ? fail('qty ' + Q + ' has a comma') : number(Q)", fields: map[string]any{"Q": "1.5"}, want: 1.5},
		{expr: "len('abc')", want: 3.0},
		{expr: "Item ?? 'none'", want: "none"},
		{expr: "upper(Item) + '-' + Lot", fields: map[string]any{"Item": "flour", "Lot": "A"}, want: "FLOUR-A"},
		{expr: "let x = upper(Item); x + '!'", fields: map[string]any{"Item": "a"}, want: "A!"},
		{expr: "join(map(L, upper(#)), ',')", fields: map[string]any{"L": []any{"a", "b"}}, want: "A,B"},
		{expr: "len(filter(L, # != 'a'))", fields: map[string]any{"L": []any{"a", "b", "c"}}, want: 2.0},
		{expr: "record['Lot No']", fields: map[string]any{"Lot No": "L-1"}, want: "L-1"},
		{expr: "kind + ':' + record_id", want: "r:rec-1"},
		{expr: "Item matches '^[A-Z]+$'", fields: map[string]any{"Item": "FLOUR"}, want: true},
	})
}

func TestNumberFunctions(t *testing.T) {
	runFuncCases(t, []funcCase{
		{expr: "number('1234.5')", want: 1234.5},
		{expr: "number(' 12 ')", want: 12.0},
		{expr: "number('1,234.50')", want: 1234.5},
		{expr: "number('1,234,567')", want: 1234567.0},
		{expr: "number('12,5')", wantErr: "for a decimal comma write number(x, ',')"},
		{expr: "number('1,23')", wantErr: "not a thousands separator"},
		{expr: "number('12,5', ',')", want: 12.5},
		{expr: "number('1.234,50', ',')", want: 1234.5},
		{expr: "number('1 234,5', ',')", want: 1234.5},
		{expr: "number('12.500-')", want: -12.5},
		{expr: "number('-3')", want: -3.0},
		{expr: "number('+3')", want: 3.0},
		{expr: "number('.5')", want: 0.5},
		{expr: "number('1e3')", want: 1000.0},
		{expr: "number('')", want: nil},
		{expr: "number(Missing)", want: nil},
		{expr: "number(N)", fields: map[string]any{"N": 7.0}, want: 7.0},
		{expr: "number('abc')", wantErr: `"abc" is not a number`},
		{expr: "number('1..2')", wantErr: "is not a number"},
		{expr: "number('12', Sep)", fields: map[string]any{"Sep": ";"}, wantErr: "the decimal separator must be"},
		{expr: "convert(1500, 'G', 'KG')", want: 1.5},
		{expr: "convert(2, 'KG', 'G')", want: 2000.0},
		{expr: "convert('2.5', 'KG', 'G')", want: 2500.0},
		{expr: "convert(1, 'KG', 'KG')", want: 1.0},
		{expr: "convert(Missing, 'KG', 'G')", want: nil},
		{expr: "convert(1, 'LB', 'KG')", wantErr: `convert: no factor from "LB" to "KG"`},
	})
}

func TestLookupFunctions(t *testing.T) {
	runFuncCases(t, []funcCase{
		{expr: "lookup('sites', '0010')", want: "PLANT-A"},
		{expr: "lookup('sites', Plant)", fields: map[string]any{"Plant": "1010"}, want: "HAMBURG"},
		{expr: "lookup('sites', N)", fields: map[string]any{"N": 1010.0}, want: "HAMBURG"},
		{expr: "lookup('sites', 'x', 'DEFAULT')", want: "DEFAULT"},
		{expr: "lookup('sites', 'x', nil)", want: nil},
		{expr: "lookup('sites', 'x')", wantErr: `lookup: no entry "x" in table "sites"`},
		{expr: "lookup('sites', Missing)", wantErr: `the key for table "sites" is missing`},
		{expr: "lookup('customers', 'C1')", want: map[string]any{"id": "C1", "name": "Alpha Foods"}},
		{expr: "lookup('customers', 'C1').name", want: "Alpha Foods"},
	})
}

func TestLotFormat(t *testing.T) {
	runFuncCases(t, []funcCase{
		{
			expr:   "lot_format('{date:YYYYMMDD}-{product}-{seq:3}', {date: PostingDate, product: Material, seq: 7})",
			fields: map[string]any{"PostingDate": "/Date(1772323200000)/", "Material": "FLOUR"},
			want:   "20260301-FLOUR-007",
		},
		{expr: "lot_format('{date:YYMMDD}{seq:4}', {date: '2026-03-01', seq: '12'})", want: "2603010012"},
		{expr: "lot_format('{{{a}}}', {a: 'x'})", want: "{x}"},
		{expr: "lot_format('{a}-{b}', pair)", want: "A-B"},
		{expr: "lot_format('{a}-{c}', pair)", wantErr: `the values have no "c"`},
		{expr: "lot_format('{a}', {a: Missing})", wantErr: `the value "a" is empty`},
	})
}

func TestDateFunctions(t *testing.T) {
	runFuncCases(t, []funcCase{
		// SAP OData v2 Edm.DateTime: a wall clock, read in the mapping's zone.
		{expr: "datetime('/Date(1772323200000)/')", want: "2026-03-01T00:00:00+01:00"},
		{expr: `datetime('\\/Date(1772323200000)\\/')`, want: "2026-03-01T00:00:00+01:00"},
		{expr: "datetime(D)", fields: map[string]any{"D": "/Date(1772352900000)/"}, want: "2026-03-01T08:15:00+01:00"},
		// Edm.DateTimeOffset: an instant.
		{expr: "datetime('/Date(1772352000000+0060)/')", want: "2026-03-01T09:00:00+01:00"},
		{expr: "datetime('2026-03-01T08:15:00Z')", want: "2026-03-01T09:15:00+01:00"},
		{expr: "datetime('2026-03-01T08:15:00.5+01:00')", want: "2026-03-01T08:15:00.5+01:00"},
		{expr: "datetime('2026-03-01 08:15')", want: "2026-03-01T08:15:00+01:00"},
		{expr: "datetime('2026-03-01')", want: "2026-03-01T00:00:00+01:00"},
		{expr: "datetime('2026-07-01')", want: "2026-07-01T00:00:00+02:00"},
		{expr: "datetime('20260301')", want: "2026-03-01T00:00:00+01:00"},
		{expr: "datetime('20260301081500')", want: "2026-03-01T08:15:00+01:00"},
		{expr: "datetime('01.03.2026')", want: "2026-03-01T00:00:00+01:00"},
		{expr: "datetime('1.3.2026 08:15')", want: "2026-03-01T08:15:00+01:00"},
		{expr: "datetime('03/01/2026', 'MM/DD/YYYY')", want: "2026-03-01T00:00:00+01:00"},
		{expr: "datetime('3/1/2026', 'MM/DD/YYYY')", want: "2026-03-01T00:00:00+01:00"},
		{expr: "datetime('3/1/2026 2:05 PM', 'MM/DD/YYYY hh:mm A')", want: "2026-03-01T14:05:00+01:00"},
		{expr: "datetime('01-Mar-2026', 'DD-MMM-YYYY')", want: "2026-03-01T00:00:00+01:00"},
		{expr: "datetime('2026-03-01 08:15', '2006-01-02 15:04')", want: "2026-03-01T08:15:00+01:00"},
		{expr: "datetime(Missing)", want: nil},
		{expr: "datetime('03/01/2026')", wantErr: "give its layout"},
		{expr: "datetime('31.02.2026')", wantErr: "is not a date"},
		{expr: "datetime('2026-13-01', 'YYYY-MM-DD')", wantErr: `does not match the layout "YYYY-MM-DD"`},
		{expr: "datetime(N)", fields: map[string]any{"N": 20260301.0}, wantErr: "numbers are not dates"},
		{expr: "at('/Date(1772323200000)/', 'PT08H15M00S')", want: "2026-03-01T08:15:00+01:00"},
		{expr: "at('2026-03-01', '08:15')", want: "2026-03-01T08:15:00+01:00"},
		{expr: "at('20260301', '081530')", want: "2026-03-01T08:15:30+01:00"},
		{expr: "at('2026-03-29', '03:30')", want: "2026-03-29T03:30:00+02:00"},
		{expr: "at(Missing, '08:15')", want: nil},
		{expr: "at('2026-03-01', 'PT25H')", wantErr: "is not a time of day"},
		{expr: "at('2026-03-01', 'noon')", wantErr: "is not a time of day"},
		{expr: "datefmt('/Date(1772323200000)/', 'YYYYMMDD')", want: "20260301"},
		{expr: "datefmt('2026-02-28T23:30:00Z', 'YYYY-MM-DD')", want: "2026-03-01"},
		{expr: "datefmt('2026-03-01T14:05:00+01:00', 'DD.MM.YYYY HH:mm')", want: "01.03.2026 14:05"},
	})
}

// TestTimeZones checks the offsets times are written with.
func TestTimeZones(t *testing.T) {
	tests := []struct{ zone, expr, want string }{
		{"UTC", "datetime('2026-03-01 08:15')", "2026-03-01T08:15:00Z"},
		{"America/Chicago", "datetime('2026-03-01 08:15')", "2026-03-01T08:15:00-06:00"},
		{"Asia/Kolkata", "datetime('2026-03-01T00:00:00Z')", "2026-03-01T05:30:00+05:30"},
		{"Asia/Kathmandu", "datetime('2026-03-01T00:00:00Z')", "2026-03-01T05:45:00+05:45"},
		{"America/St_Johns", "datetime('2026-07-01 12:00')", "2026-07-01T12:00:00-02:30"},
		{"Europe/Berlin", "datetime('2026-03-01T08:15:00.250Z')", "2026-03-01T09:15:00.25+01:00"},
	}
	for _, tt := range tests {
		got, err := evalIn(t, "timezone: "+tt.zone+"\n", tt.expr, nil)
		if err != nil || got != tt.want {
			t.Errorf("%s in %s = %v, %v; want %s", tt.expr, tt.zone, got, err, tt.want)
		}
	}
}

// TestVMAndLoweredAgree runs expressions the mapping evaluates itself and
// the same expressions forced through expr's VM (by wrapping them in a
// list and indexing it), and wants the same values.
func TestVMAndLoweredAgree(t *testing.T) {
	fields := map[string]any{"A": "0042", "B": "x", "N": 3.0, "T": true,
		"O": map[string]any{"k": "v", "o": map[string]any{"d": "deep"}}, "L": []any{"a", "b"}, "E": []any{}, "S": "café"}
	for _, e := range []string{
		"O.k",
		"O.missing",
		"O.o.d",
		"upper(O.k) + O.o.d",
		"len(L)",
		"len(E) == 0",
		"len(O)",
		"len(S)",
		"len(Missing ?? L)",
		"unpad(A)",
		"A == '0042'",
		"A != B",
		"A in ['1', '0042']",
		"N in [1, 3]",
		"N == 3",
		"T and A == '0042'",
		"not T or B == 'x'",
		"T ? upper(B) : A",
		"Missing ?? B",
		"B + A",
		"N + 1",
		"id('x', A, N)",
		"lookup('sites', '1010')",
	} {
		lowered, err1 := eval(t, e, fields)
		vm, err2 := eval(t, "["+e+"][0]", fields)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(lowered, vm) {
			t.Errorf("%s: lowered %#v, %v; VM %#v, %v", e, lowered, err1, vm, err2)
		}
	}
	// What the lowered form leaves to the VM fails there, as it did.
	for _, e := range []string{"A.k", "Missing.k", "O.k.x", "len(N)", "len(Missing)"} {
		lowered, err1 := eval(t, e, fields)
		vm, err2 := eval(t, "["+e+"][0]", fields)
		if err1 == nil || err2 == nil {
			t.Errorf("%s: lowered %#v, %v; VM %#v, %v; want both to fail", e, lowered, err1, vm, err2)
		}
	}
}

func TestParamsKeepJSONTypes(t *testing.T) {
	got, err := eval(t, "{n: 1, s: 'a', b: true, l: [1, 'x'], o: {k: 2.5}}", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	if want := `{"b":true,"l":[1,"x"],"n":1,"o":{"k":2.5},"s":"a"}`; string(b) != want {
		t.Errorf("params.v = %s, want %s", b, want)
	}
}
