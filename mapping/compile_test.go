package mapping_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/mapping"
)

// head is the start of a valid mapping; cases append rules to it.
const head = `mapping: test
version: "1"
kinds: [receipt]
tables:
  sites: {"0010": PLANT-A}
rules:
`

// receipt is a valid rule at line 7 of head+receipt.
const receipt = `  - name: receipt
    emit:
      - id: id('r', DocNo)
        type: receive
        time: datetime(Date)
        lot: {item: Item, lot: Lot}
        qty: number(Qty)
        uom: 'EA'
`

func TestCompileOK(t *testing.T) {
	m, err := mapping.Compile("m.yaml", []byte(head+receipt))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Name(), "test"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	if got, want := m.Version(), "1"; got != want {
		t.Errorf("Version() = %q, want %q", got, want)
	}
	if got, want := m.File(), "m.yaml"; got != want {
		t.Errorf("File() = %q, want %q", got, want)
	}
	if got := m.Kinds(); len(got) != 1 || got[0] != "receipt" {
		t.Errorf("Kinds() = %v, want [receipt]", got)
	}
	if !m.Applies("receipt") || m.Applies("shipment") {
		t.Errorf("Applies(receipt), Applies(shipment) = %v, %v; want true, false", m.Applies("receipt"), m.Applies("shipment"))
	}
}

// TestCompileErrors checks that each mistake is reported at the exact
// file:line:col where it is written, with a message that says what to do.
func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		pos  string // the exact "file:line:col" the first error starts with
		msg  string // a part of its message
	}{
		{
			name: "YAMLSyntax",
			src:  head + "  - name: a\n    when: Kind: b\n    skip: true\n",
			pos:  "m.yaml:8:15",
			msg:  "mapping values are not allowed",
		},
		{
			name: "YAMLQuotedThenMore",
			src:  head + "  - name: a\n    when: 'A' + Kind == 'AB'\n    skip: true\n",
			pos:  "m.yaml:8:15",
			msg:  "quote the whole expression",
		},
		{
			name: "YAMLTab",
			src:  head + "  - name: a\n\tskip: true\n",
			pos:  "m.yaml:8:1",
			msg:  "tab",
		},
		{
			name: "UnknownFunction",
			src:  strings.Replace(head+receipt, "lot: {item: Item", "lot: {item: unpadd(Item)", 1),
			pos:  "m.yaml:12:21",
			msg:  "unknown function unpadd (did you mean unpad?)",
		},
		{
			name: "StringForQty",
			src:  strings.Replace(head+receipt, "qty: number(Qty)", "qty: upper(Qty)", 1),
			pos:  "m.yaml:13:14",
			msg:  "qty must be a number, but `upper(Qty)` gives text",
		},
		{
			name: "TextConstantForQty",
			src:  strings.Replace(head+receipt, "qty: number(Qty)", "qty: '12'", 1),
			pos:  "m.yaml:13:14",
			msg:  "qty must be a number",
		},
		{
			name: "WhenNotBool",
			src:  head + "  - name: a\n    when: trim(Kind)\n    skip: true\n",
			pos:  "m.yaml:8:11",
			msg:  "when must be true or false",
		},
		{
			name: "UnknownKeyDidYouMean",
			src:  strings.Replace(head+receipt, "qty: number(Qty)", "quantity: number(Qty)", 1),
			pos:  "m.yaml:13:9",
			msg:  `unknown key "quantity" in an event template (did you mean "qty"?)`,
		},
		{
			name: "UnknownKeyTypo",
			src:  strings.Replace(head+receipt, "uom: 'EA'", "uomm: 'EA'", 1),
			pos:  "m.yaml:14:9",
			msg:  `unknown key "uomm" in an event template (did you mean "uom"?)`,
		},
		{
			name: "UnknownTopKey",
			src:  "mapping: test\nversion: 1\nkind: [receipt]\nrules: []\n",
			pos:  "m.yaml:3:1",
			msg:  `(did you mean "kinds"?)`,
		},
		{
			name: "UnknownEventType",
			src:  strings.Replace(head+receipt, "type: receive", "type: recieve", 1),
			pos:  "m.yaml:10:15",
			msg:  `unknown event type "recieve" (did you mean "receive"?)`,
		},
		{
			name: "ExpressionSyntax",
			src:  strings.Replace(head+receipt, "time: datetime(Date)", "time: datetime(Date,)) ", 1),
			pos:  "m.yaml:11:30",
			msg:  "time: unexpected token",
		},
		{
			name: "QuotedExpressionPosition",
			src:  strings.Replace(head+receipt, "time: datetime(Date)", `time: "datetime(Dat, 'YYYYMMDDQ')"`, 1),
			pos:  "m.yaml:11:30",
			msg:  `unknown letter "Q"`,
		},
		{
			name: "BlockExpressionPosition",
			src:  strings.Replace(head+receipt, "time: datetime(Date)", "time: |\n          datetime(Date)\n            + bogus(1)", 1),
			pos:  "m.yaml:13:15",
			msg:  "unknown function bogus",
		},
		{
			name: "FoldedExpressionPosition",
			src:  strings.Replace(head+receipt, "id: id('r', DocNo)", "id: >-\n          id('r',\n          DocNo, nope())", 1),
			pos:  "m.yaml:11:18",
			msg:  "unknown function nope",
		},
		{
			name: "UnknownTable",
			src:  strings.Replace(head+receipt, "uom: 'EA'", "uom: lookup('site', Plant)", 1),
			pos:  "m.yaml:14:21",
			msg:  `no table "site" (did you mean "sites"?)`,
		},
		{
			name: "MissingRequiredField",
			src:  strings.Replace(head+receipt, "        qty: number(Qty)\n        uom: 'EA'\n", "", 1),
			pos:  "m.yaml:9:9",
			msg:  "a receive event needs qty: and uom:",
		},
		{
			name: "LotOnTransform",
			src:  strings.Replace(head+receipt, "type: receive", "type: transform", 1),
			pos:  "m.yaml:9:9",
			msg:  "a transform event needs inputs: and outputs:",
		},
		{
			name: "NoID",
			src:  strings.Replace(head+receipt, "id: id('r', DocNo)", "po: PO", 1),
			pos:  "m.yaml:9:9",
			msg:  "has no id:",
		},
		{
			name: "VarUsedBeforeDefined",
			src:  strings.Replace(head, "rules:\n", "vars:\n  a: upper(b)\n  b: Item\nrules:\n", 1) + receipt,
			pos:  "m.yaml:7:12",
			msg:  "var b is defined below this one (line 8)",
		},
		{
			name: "EachOutsideForEach",
			src:  strings.Replace(head+receipt, "id: id('r', DocNo)", "id: id('r', each)", 1),
			pos:  "m.yaml:9:21",
			msg:  "each is only bound inside a for_each",
		},
		{
			name: "NowIsNotDeterministic",
			src:  strings.Replace(head+receipt, "time: datetime(Date)", "time: now()", 1),
			pos:  "m.yaml:11:15",
			msg:  "now() is not available",
		},
		{
			name: "UnknownRuleKind",
			src:  head + "  - name: a\n    kind: reciept\n    skip: true\n",
			pos:  "m.yaml:8:11",
			msg:  `kind "reciept" is not one of the mapping's kinds (did you mean "receipt"?)`,
		},
		{
			name: "RuleWithoutEmitOrSkip",
			src:  head + "  - name: a\n    when: true\n",
			pos:  "m.yaml:7:5",
			msg:  `rule "a" has neither emit:`,
		},
		{
			name: "DuplicateKey",
			src:  strings.Replace(head+receipt, "uom: 'EA'", "uom: 'EA'\n        uom: 'KG'", 1),
			pos:  "m.yaml:15:9",
			msg:  `key "uom" appears twice`,
		},
		{
			name: "BadTimezone",
			src:  strings.Replace(head, "tables:", "timezone: Europe/Hamburg\ntables:", 1) + receipt,
			pos:  "m.yaml:4:11",
			msg:  `unknown time zone "Europe/Hamburg"`,
		},
		{
			name: "MissingKinds",
			src:  "mapping: test\nversion: 1\nrules:\n  - skip: true\n",
			pos:  "m.yaml:1:1",
			msg:  "no kinds: key",
		},
		{
			name: "SourceIsTheHubs",
			src:  strings.Replace(head+receipt, "uom: 'EA'", "uom: 'EA'\n        source: {connector: x}", 1),
			pos:  "m.yaml:15:9",
			msg:  "source is set by the hub",
		},
		{
			name: "LotFormatMissingValue",
			src:  strings.Replace(head+receipt, "lot: {item: Item, lot: Lot}", "lot:\n          item: Item\n          lot: \"lot_format('{date:YYYYMMDD}-{seq:3}', {date: Date})\"", 1),
			pos:  "m.yaml:14:28",
			msg:  "the pattern uses {seq} but the values have no seq",
		},
		{
			name: "EmptyFile",
			src:  "",
			pos:  "m.yaml:1:1",
			msg:  "the file is empty",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mapping.Compile("m.yaml", []byte(tt.src))
			if err == nil {
				t.Fatal("Compile succeeded, want an error")
			}
			var list mapping.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %v is not an ErrorList", err, err)
			}
			if got := core.ErrorCode(err); got != core.EINVALID {
				t.Errorf("core.ErrorCode = %q, want %q", got, core.EINVALID)
			}
			first := list[0].Error()
			if !strings.HasPrefix(first, tt.pos+": ") {
				t.Errorf("first error = %q\nwant it to start with %q", first, tt.pos+": ")
			}
			if !strings.Contains(first, tt.msg) {
				t.Errorf("first error = %q\nwant it to contain %q", first, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), first) {
				t.Errorf("ErrorList.Error() = %q, want it to start with the first error", err.Error())
			}
		})
	}
}

// TestCompileErrorPositionFields checks Line and Col of an Error directly.
func TestCompileErrorPositionFields(t *testing.T) {
	_, err := mapping.Compile("m.yaml", []byte(strings.Replace(head+receipt, "qty: number(Qty)", "qty: upper(Qty)", 1)))
	var e *mapping.Error
	if !errors.As(err, &e) {
		t.Fatalf("errors.As(*mapping.Error) failed on %v", err)
	}
	if got, want := e.Pos, (mapping.Pos{File: "m.yaml", Line: 13, Col: 14}); got != want {
		t.Errorf("Pos = %+v, want %+v", got, want)
	}
}

// TestCompileReportsEveryError checks that Compile does not stop at the
// first problem.
func TestCompileReportsEveryError(t *testing.T) {
	src := strings.NewReplacer(
		"type: receive", "type: recieve",
		"qty: number(Qty)", "quantity: number(Qty)",
		"time: datetime(Date)", "time: datetim(Date)",
	).Replace(head + receipt)
	_, err := mapping.Compile("m.yaml", []byte(src))
	var list mapping.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want an ErrorList, got %v", err)
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Pos.String())
	}
	want := []string{"m.yaml:10:15", "m.yaml:11:15", "m.yaml:13:9"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("error positions = %v, want %v\n%v", got, want, err)
	}
}

func TestTestFile(t *testing.T) {
	tests := []struct{ in, want string }{
		{"x.yaml", "x.test.yaml"},
		{"dir/sap.yml", "dir/sap.test.yml"},
		{"mapping", "mapping.test.yaml"},
	}
	for _, tt := range tests {
		if got := mapping.TestFile(tt.in); got != tt.want {
			t.Errorf("TestFile(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
