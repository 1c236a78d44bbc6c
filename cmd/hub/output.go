package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/rivo/uniseg"

	"github.com/lothub/lothub/core"
)

func writeJSON(w io.Writer, v any) error {
	if r, ok := v.(*core.TraceResult); ok {
		return r.WriteJSON(w) // the same bytes, streamed: a recall can be 80 MB
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// table writes aligned columns; rows are cells. Columns line up by
// display width, not by bytes or runes (text/tabwriter counts runes): a
// CJK character takes two columns of a terminal, a combining accent none,
// so lot and customer names in any script keep the columns straight.
type table struct {
	w    io.Writer
	rows [][]string
}

// tablePadding is the space between two columns.
const tablePadding = 2

func newTable(w io.Writer, header ...string) *table {
	t := &table{w: w}
	t.row(header...)
	return t
}

var cellSpace = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

func (t *table) row(cells ...string) {
	r := make([]string, len(cells))
	for i, c := range cells {
		r[i] = cellSpace.Replace(c)
	}
	t.rows = append(t.rows, r)
}

// flush writes the rows: every cell but a row's last is padded to its
// column's widest cell (the last is not, so lines carry no trailing
// spaces), and forgets them.
func (t *table) flush() {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r[:max(len(r)-1, 0)] {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], uniseg.StringWidth(c))
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-uniseg.StringWidth(c)+tablePadding))
			}
		}
		b.WriteByte('\n')
	}
	io.WriteString(t.w, b.String())
	t.rows = nil
}

// truncate cuts s to at most n columns of display width, at a grapheme
// cluster boundary (never inside a character or between a letter and its
// accent), ending it with "…" when it was cut.
func truncate(s string, n int) string {
	if uniseg.StringWidth(s) <= n {
		return s
	}
	var b strings.Builder
	width := 0
	g := uniseg.NewGraphemes(s)
	for g.Next() {
		if width+g.Width() > n {
			break
		}
		width += g.Width()
		b.WriteString(g.Str())
	}
	return b.String() + "…"
}

func qtys(q []core.Qty) string {
	if len(q) == 0 {
		return "-"
	}
	parts := make([]string, len(q))
	for i, v := range q {
		parts[i] = fmt.Sprintf("%g %s", v.Qty, v.UOM)
	}
	return strings.Join(parts, ", ")
}

func num(v float64) string { return fmt.Sprintf("%g", v) }

// writeSkips prints skip counts, one a line: how many records which rule
// skipped, and why.
func writeSkips(w io.Writer, indent string, skips []core.SkipCount) {
	for _, s := range skips {
		rule := "no rule"
		if s.Rule != "" {
			rule = fmt.Sprintf("rule %q", s.Rule)
		}
		fmt.Fprintf(w, "%sskipped %d by %s: %s\n", indent, s.Records, rule, s.Reason)
	}
}

// skippedText is ", N skipped" when records were skipped, else "".
func skippedText(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", %d skipped", n)
}
