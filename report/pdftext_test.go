package report

import (
	"strings"
	"testing"
)

// TestSplitByCoverage: CJK runes are measured in the fallback font, and
// wrapping a long CJK cell keeps every rune, each line within the width.
func TestSplitByCoverage(t *testing.T) {
	p := newPDF("lot", Meta{})
	p.f.SetFont(fontFamily, "", 7.5)
	if p.needsFallback("Müller-Öl ß Ωμέγα Жук") || !p.needsFallback("批次-7") {
		t.Fatal("coverage: DejaVu text must not need the fallback, CJK must")
	}
	runs := p.runs("批次-7 Müller")
	if len(runs) != 2 || runs[0] != (textRun{"批次", true}) || runs[1] != (textRun{"-7 Müller", false}) {
		t.Errorf("runs = %+v", runs)
	}
	_, size := p.f.GetFontSize()
	if w := p.stringWidth("東京"); w < 1.9*size || w > 2.1*size {
		t.Errorf("width of two ideographs = %.2f mm, want about 2 em (%.2f mm)", w, 2*size)
	}
	long := strings.Repeat("東京食品株式会社", 6) + " Müller-Öl ß " + strings.Repeat("批次", 10)
	const w = 30.0
	lines := p.split(long, w)
	if len(lines) < 3 {
		t.Fatalf("split into %d lines: %q", len(lines), lines)
	}
	if got, want := strings.ReplaceAll(strings.Join(lines, ""), " ", ""), strings.ReplaceAll(long, " ", ""); got != want {
		t.Errorf("split lost runes:\n got %q\nwant %q", got, want)
	}
	for _, l := range lines {
		if lw := p.stringWidth(l); lw > w-2*p.f.GetCellMargin()+0.01 {
			t.Errorf("line %q is %.2f mm wide, more than %.2f", l, lw, w)
		}
	}
	p.cell(w, 4, "批次-7 Müller", "1", 1, "R", false)
	if err := p.f.Error(); err != nil || !p.fallbackAdded {
		t.Errorf("cell: err %v, fallback registered %v", err, p.fallbackAdded)
	}
}
