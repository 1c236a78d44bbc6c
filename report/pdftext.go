package report

import (
	"sync"
	"unicode"
	"unicode/utf8"
)

// Text is written through pdfDoc.cell and measured and wrapped through
// pdfDoc.split, which split it into runs by glyph coverage: a rune the
// current DejaVu face has no glyph for goes to the fallback font (Droid
// Sans Fallback) when that one has it. Text DejaVu covers entirely, nearly
// all of it, takes fpdf's own CellFormat and SplitText unchanged.

var fontMetrics = sync.OnceValue(func() (m struct{ regular, bold, fallback *sfntMetrics }) {
	must := func(b []byte) *sfntMetrics {
		s, err := parseSFNT(b)
		if err != nil {
			panic("report: embedded font: " + err.Error())
		}
		return s
	}
	m.regular, m.bold, m.fallback = must(fontRegular), must(fontBold), must(fontFallback)
	return m
})

// primary is the metrics of the current DejaVu face.
func (p *pdfDoc) primary() *sfntMetrics {
	if p.f.GetFontStyle() == "B" {
		return fontMetrics().bold
	}
	return fontMetrics().regular
}

// useFallback reports whether r is set in the fallback font.
func useFallback(prim *sfntMetrics, r rune) bool {
	if r < 0x250 || unicode.IsControl(r) { // Latin-1 and Latin Extended: DejaVu has them
		return false
	}
	return !prim.has(r) && fontMetrics().fallback.has(r)
}

// needsFallback reports whether any rune of s is set in the fallback.
func (p *pdfDoc) needsFallback(s string) bool {
	var prim *sfntMetrics
	for _, r := range s {
		if r < 0x250 {
			continue
		}
		if prim == nil {
			prim = p.primary()
		}
		if useFallback(prim, r) {
			return true
		}
	}
	return false
}

type textRun struct {
	s        string
	fallback bool
}

// runs splits s into maximal runs set in one font.
func (p *pdfDoc) runs(s string) []textRun {
	prim := p.primary()
	var out []textRun
	start, cur := 0, false
	for i, r := range s {
		fb := useFallback(prim, r)
		if i > start && fb != cur {
			out = append(out, textRun{s[start:i], cur})
			start = i
		}
		if i == start {
			cur = fb
		}
	}
	if start < len(s) {
		out = append(out, textRun{s[start:], cur})
	}
	return out
}

// runeWidth is r's advance in thousandths of an em in the font it is set in.
func runeWidth(prim *sfntMetrics, r rune) float64 {
	if useFallback(prim, r) {
		return fontMetrics().fallback.width(r)
	}
	return prim.width(r)
}

// stringWidth is s's width in user units at the current font size, each
// run measured in its own font.
func (p *pdfDoc) stringWidth(s string) float64 {
	if !p.needsFallback(s) {
		return p.f.GetStringWidth(s)
	}
	prim := p.primary()
	var w float64
	for _, r := range s {
		w += runeWidth(prim, r)
	}
	_, size := p.f.GetFontSize()
	return w * size / 1000
}

// cell is fpdf's CellFormat (no link) with the text set run by run: the
// box, fill and cursor move are CellFormat's own, and each run is placed
// where CellFormat would have placed it.
func (p *pdfDoc) cell(w, h float64, txt, border string, ln int, align string, fill bool) {
	f := p.f
	if !p.needsFallback(txt) {
		f.CellFormat(w, h, txt, border, ln, align, fill, 0, "")
		return
	}
	x, y := f.GetXY()
	f.CellFormat(w, h, "", border, ln, align, fill, 0, "")
	ax, ay := f.GetXY()
	style := f.GetFontStyle()
	sizePt, size := f.GetFontSize()
	tw := p.stringWidth(txt)
	dx := f.GetCellMargin()
	switch align {
	case "R":
		dx = w - f.GetCellMargin() - tw
	case "C":
		dx = (w - tw) / 2
	}
	baseline := y + .5*h + .3*size
	tx := x + dx
	for _, run := range p.runs(txt) {
		if run.fallback {
			if !p.fallbackAdded {
				f.AddUTF8FontFromBytes(fallbackFont, "", fontFallback)
				p.fallbackAdded = true
			}
			f.SetFont(fallbackFont, "", sizePt)
		} else {
			f.SetFont(fontFamily, style, sizePt)
		}
		f.Text(tx, baseline, run.s)
		tx += f.GetStringWidth(run.s)
	}
	f.SetFont(fontFamily, style, sizePt)
	f.SetXY(ax, ay)
}

// split is fpdf's SplitText with each rune measured in the font it is set
// in; as SplitText, it breaks at spaces and after CJK ideographs and kana,
// and inside a word longer than the line.
func (p *pdfDoc) split(txt string, w float64) []string {
	f := p.f
	if !p.needsFallback(txt) {
		return f.SplitText(txt, w)
	}
	prim := p.primary()
	_, size := f.GetFontSize()
	wmax := (w - 2*f.GetCellMargin()) * 1000 / size
	s := []rune(txt)
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	// A line may end before a space (dropped) or after an ideograph:
	// end is where the current line would end, next where the next begins.
	var lines []string
	i, j, l := 0, 0, 0.0
	end, next := -1, -1
	for i < len(s) {
		c := s[i]
		l += runeWidth(prim, c)
		if c == '\n' || l > wmax {
			switch {
			case unicode.IsSpace(c):
				end, next = i, i+1
			case end == -1: // no break yet: cut the word here
				if i == j {
					i++ // a rune wider than the line
				}
				end, next = i, i
			}
			lines = append(lines, string(s[j:end]))
			i, j, l = next, next, 0
			end, next = -1, -1
			continue
		}
		if unicode.IsSpace(c) {
			end, next = i, i+1
		} else if breaksAfter(c) {
			end, next = i+1, i+1
		}
		i++
	}
	if i != j {
		lines = append(lines, string(s[j:i]))
	}
	return lines
}

// breaksAfter: a line may break after a Han ideograph, kana or Hangul
// syllable, scripts written without spaces between words.
func breaksAfter(r rune) bool {
	return r >= 0x2e80 && r != utf8.RuneError && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}
