package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

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

// table writes aligned columns; rows are tab-separated cells.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() { t.tw.Flush() }

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
