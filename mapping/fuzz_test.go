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

// lotRules normalises lot numbers the ways mappings do (docs/mapping.md,
// Lot numbers): trim and case, SAP's zero padding both ways, and a
// standard format built from the record's fields.
const lotRules = `mapping: lots
version: "1"
kinds: [receipt]
rules:
  - name: receipt
    emit:
      - id: id('r', Doc)
        type: receive
        time: '2026-03-01T08:00:00Z'
        lot: {item: upper(trim(Item)), lot: upper(trim(unpad(Lot)))}
        qty: 1
        uom: EA
      - id: id('p', Doc)
        type: receive
        time: '2026-03-01T08:00:00Z'
        lot:
          item: pad(trim(Item), 18)
          lot: "lot_format('{date:YYYYMMDD}-{product}-{seq:000}', {date: Date, product: Item, seq: Seq})"
        qty: 1
        uom: EA
`

// FuzzLotNormalise maps records with hostile lot numbers, items, dates and
// sequence numbers through the lot normalising functions: an event or a
// record error, never a panic; and normalising a normalised lot again
// changes nothing.
func FuzzLotNormalise(f *testing.F) {
	m, err := mapping.Compile("lots.yaml", []byte(lotRules))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][4]string{
		{"0000012345", "000000000000004711", "2026-03-01", "7"},
		{" l-100 ", "flour", "2026-03-01T08:00:00Z", "12"},
		{"", "", "", ""},
		{"\u00e9\u0301", "\xff", "20260301", "-1"},
		{"0", "{x}", "9999-99-99", "1e400"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, lot, item, date, seq string) {
		evs, err := m.Map(mapping.Record{Kind: "receipt", ID: "x", Fields: map[string]any{"Doc": "1", "Lot": lot, "Item": item, "Date": date, "Seq": seq}})
		if err != nil || len(evs) == 0 {
			return
		}
		first := evs[0].Lot
		again, err := m.Map(mapping.Record{Kind: "receipt", ID: "x", Fields: map[string]any{"Doc": "1", "Lot": first.Lot, "Item": first.Item, "Date": date, "Seq": seq}})
		if err != nil || len(again) == 0 {
			t.Fatalf("a normalised lot %q of %q does not map again: %v", first.Lot, first.Item, err)
		}
		if again[0].Lot != first {
			t.Fatalf("normalising %+v again gives %+v", first, again[0].Lot)
		}
	})
}
