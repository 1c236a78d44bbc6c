package report

import (
	"encoding/binary"
	"errors"
	"math"
	"sort"
)

// sfntMetrics is what the PDF writer needs of a TrueType font to split
// text by glyph coverage and to measure it: the character map (rune →
// glyph) and the advance widths. fpdf keeps both inside its font records
// but exposes neither for a font that is not the current one, and
// golang.org/x/image is not in the module graph, so this reads the
// cmap (formats 4 and 12), hhea, hmtx and head tables directly.
type sfntMetrics struct {
	cmap     []byte // the chosen subtable
	format   uint16
	advances []uint16 // hmtx advance widths, by glyph
	upm      float64  // units per em
}

var errFont = errors.New("malformed TrueType font")

func parseSFNT(b []byte) (*sfntMetrics, error) {
	if len(b) < 12 {
		return nil, errFont
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	tables := map[string][]byte{}
	for i := range n {
		r := 12 + 16*i
		if r+16 > len(b) {
			return nil, errFont
		}
		off, ln := binary.BigEndian.Uint32(b[r+8:]), binary.BigEndian.Uint32(b[r+12:])
		if uint64(off)+uint64(ln) > uint64(len(b)) {
			return nil, errFont
		}
		tables[string(b[r:r+4])] = b[off : off+ln]
	}
	head, hhea, hmtx, cmap := tables["head"], tables["hhea"], tables["hmtx"], tables["cmap"]
	if len(head) < 20 || len(hhea) < 36 || len(cmap) < 4 {
		return nil, errFont
	}
	m := &sfntMetrics{upm: float64(binary.BigEndian.Uint16(head[18:]))}
	if m.upm == 0 {
		return nil, errFont
	}
	nh := int(binary.BigEndian.Uint16(hhea[34:]))
	if len(hmtx) < 4*nh {
		return nil, errFont
	}
	m.advances = make([]uint16, nh)
	for i := range nh {
		m.advances[i] = binary.BigEndian.Uint16(hmtx[4*i:])
	}
	// Prefer a full-Unicode subtable (format 12), else the BMP one (4).
	best := 0
	for i := range int(binary.BigEndian.Uint16(cmap[2:])) {
		r := 4 + 8*i
		if r+8 > len(cmap) {
			return nil, errFont
		}
		pid, eid := binary.BigEndian.Uint16(cmap[r:]), binary.BigEndian.Uint16(cmap[r+2:])
		off := binary.BigEndian.Uint32(cmap[r+4:])
		if pid != 0 && !(pid == 3 && (eid == 1 || eid == 10)) || int(off)+4 > len(cmap) {
			continue
		}
		sub := cmap[off:]
		format := binary.BigEndian.Uint16(sub)
		rank := map[uint16]int{4: 1, 12: 2}[format]
		if rank > best {
			best, m.cmap, m.format = rank, sub, format
		}
	}
	if best == 0 {
		return nil, errors.New("TrueType font without a Unicode cmap of format 4 or 12")
	}
	return m, nil
}

// glyph is the font's glyph index for r; 0 (.notdef) when it has none.
func (m *sfntMetrics) glyph(r rune) uint32 {
	c, u16, u32 := m.cmap, binary.BigEndian.Uint16, binary.BigEndian.Uint32
	switch m.format {
	case 4:
		if r < 0 || r > 0xffff || len(c) < 14 {
			return 0
		}
		segs := int(u16(c[6:])) / 2
		ends, starts := 14, 16+2*segs
		deltas, ranges := starts+2*segs, starts+4*segs
		if ranges+2*segs > len(c) {
			return 0
		}
		i := sort.Search(segs, func(i int) bool { return rune(u16(c[ends+2*i:])) >= r })
		if i == segs || rune(u16(c[starts+2*i:])) > r {
			return 0
		}
		delta, ro := u16(c[deltas+2*i:]), int(u16(c[ranges+2*i:]))
		if ro == 0 {
			return uint32(uint16(r) + delta)
		}
		at := ranges + 2*i + ro + 2*int(r-rune(u16(c[starts+2*i:])))
		if at+2 > len(c) {
			return 0
		}
		if g := u16(c[at:]); g != 0 {
			return uint32(g + delta)
		}
		return 0
	case 12:
		if len(c) < 16 {
			return 0
		}
		groups := int(u32(c[12:]))
		if 16+12*groups > len(c) {
			return 0
		}
		i := sort.Search(groups, func(i int) bool { return rune(u32(c[16+12*i+4:])) >= r })
		if i == groups || rune(u32(c[16+12*i:])) > r {
			return 0
		}
		return u32(c[16+12*i+8:]) + uint32(r-rune(u32(c[16+12*i:])))
	}
	return 0
}

func (m *sfntMetrics) has(r rune) bool { return m.glyph(r) != 0 }

// width is r's advance in thousandths of an em, rounded as fpdf rounds
// the widths it writes into the PDF.
func (m *sfntMetrics) width(r rune) float64 {
	g := int(m.glyph(r))
	if len(m.advances) == 0 {
		return 0
	}
	g = min(g, len(m.advances)-1)
	return math.Round(float64(m.advances[g]) * 1000 / m.upm)
}
