package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rivo/uniseg"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or writes it there with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -run %s -update rewrites it):\n got:\n%s\n want:\n%s", file, t.Name(), got, want)
	}
}

// aligned checks that in every block of table lines (a header in capitals
// and the lines under it, up to an empty line), each column starts at the
// same display column as in the header.
func aligned(t *testing.T, out string) {
	t.Helper()
	starts := func(line string) []int {
		// A column starts at the line's first non-space or after two
		// spaces or more (names hold single spaces).
		var s []int
		col, spaces := 0, 0
		g := uniseg.NewGraphemes(line)
		for g.Next() {
			if g.Str() == " " {
				spaces++
			} else {
				if len(s) == 0 || spaces >= 2 {
					s = append(s, col)
				}
				spaces = 0
			}
			col += g.Width()
		}
		return s
	}
	blocks := 0
	for _, block := range strings.Split(out, "\n\n") {
		lines := strings.Split(strings.Trim(block, "\n"), "\n")
		if len(lines) < 3 || !strings.Contains(lines[1], "  ") {
			continue
		}
		head := lines[1] // lines[0] is the block's title
		if strings.ToUpper(head) != head {
			continue
		}
		blocks++
		want := starts(head)
		for _, l := range lines[2:] {
			got := starts(l)
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Errorf("column %d starts at %d, under a header that starts it at %d:\n%s\n%s", i+1, got[i], want[i], head, l)
					break
				}
			}
		}
	}
	if blocks == 0 {
		t.Errorf("no table found in:\n%s", out)
	}
}

// Wide (CJK), accented and combining characters: tables line up by
// display width.
const widePlant = `{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"OIL","lot":"Ö-1"},"qty":100,"uom":"L","supplier":{"id":"V-ÖL","name":"Müller Ölmühle"},"supplier_lot":"批次-7","po":"PO-1"}
{"id":"r2","type":"receive","time":"2026-03-01T09:00:00Z","lot":{"item":"SALT","lot":"塩-1"},"qty":20,"uom":"KG","supplier":{"id":"V-SEL","name":"Sel de Gue` + "\u0301" + `rande"},"supplier_lot":"G-1","po":"PO-2"}
{"id":"c1","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"OIL","lot":"Ö-1"},"qty":40,"uom":"L","order":"WO-1"}
{"id":"c2","type":"consume","time":"2026-03-02T08:05:00Z","lot":{"item":"SALT","lot":"塩-1"},"qty":2,"uom":"KG","order":"WO-1"}
{"id":"p1","type":"produce","time":"2026-03-02T09:00:00Z","lot":{"item":"DRESSING","lot":"Müller-Öl ß 批次-7"},"qty":40,"uom":"EA","order":"WO-1"}
{"id":"s1","type":"ship","time":"2026-03-03T10:00:00Z","lot":{"item":"DRESSING","lot":"Müller-Öl ß 批次-7"},"qty":12,"uom":"EA","customer":{"id":"C-東京","name":"東京食品株式会社"},"sales_order":"SO-1"}
{"id":"s2","type":"ship","time":"2026-03-03T11:00:00Z","lot":{"item":"DRESSING","lot":"Müller-Öl ß 批次-7"},"qty":8,"uom":"EA","customer":{"id":"C-CAFE","name":"Cafe` + "\u0301" + ` Noe` + "\u0308" + `l"},"sales_order":"SO-2"}
`

func TestTraceTextWideCharacters(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hub.db")
	if _, errs, code := hub(t, db, widePlant, "ingest", "--events", "-"); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errs)
	}
	out, errs, code := hub(t, db, "", "trace", "backward", "DRESSING", "Müller-Öl ß 批次-7")
	if code != 0 {
		t.Fatalf("trace: exit %d: %s", code, errs)
	}
	golden(t, "trace-backward-wide.golden", out)
	aligned(t, out)
}

func TestTableDisplayWidth(t *testing.T) {
	var b strings.Builder
	tb := newTable(&b, "LOT", "NAME", "QTY")
	tb.row("A-1", "plain", "1 EA")
	tb.row("Ö-1", "Müller Ölmühle", "2 L")      // accented: one column each
	tb.row("塩-1", "東京食品", "3 KG")               // CJK: two columns each
	tb.row("E-1", "Cafe\u0301 Noe\u0308l", "4") // combining accents: none
	tb.row("tab\tin", "new\nline", "5")
	tb.flush()
	want := "" +
		"LOT     NAME            QTY\n" +
		"A-1     plain           1 EA\n" +
		"Ö-1     Müller Ölmühle  2 L\n" +
		"塩-1    東京食品        3 KG\n" +
		"E-1     Cafe\u0301 Noe\u0308l       4\n" +
		"tab in  new line        5\n"
	if got := b.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc…"},
		{"批次批次", 5, "批次…"},                // a wide character that does not fit is left out whole
		{"Cafe\u0301s", 4, "Cafe\u0301…"}, // the accent stays with its letter
		{"Müller", 2, "Mü…"},
	}
	for _, tt := range tests {
		if got := truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}
