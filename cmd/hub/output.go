package main

import (
	"bytes"
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
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	if err := indentJSON(w, compact.Bytes()); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// indentJSON writes compact JSON (as encoding/json writes it) indented by
// two spaces, byte for byte as json.Indent would, in one pass: json.Indent
// validates as it goes and took most of the time of printing a recall of
// 70,000 lots.
func indentJSON(w io.Writer, src []byte) error {
	out := make([]byte, 0, min(len(src)*2, 1<<20))
	depth, open, inString, escaped := 0, false, false, false
	newline := func() {
		out = append(out, '\n')
		for range depth {
			out = append(out, ' ', ' ')
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inString {
			// Copy the string up to its closing quote at once.
			j := i
			for ; j < len(src); j++ {
				if escaped {
					escaped = false
				} else if src[j] == '\\' {
					escaped = true
				} else if src[j] == '"' {
					inString = false
					break
				}
			}
			out = append(out, src[i:min(j+1, len(src))]...)
			i = j
		} else {
			if open && c != '}' && c != ']' {
				open = false
				depth++
				newline()
			}
			switch c {
			case '"':
				inString = true
				out = append(out, c)
			case '{', '[':
				out = append(out, c)
				open = true // an empty {} or [] stays on one line
			case ',':
				out = append(out, c)
				newline()
			case ':':
				out = append(out, c, ' ')
			case '}', ']':
				if open {
					open = false
				} else {
					depth--
					newline()
				}
				out = append(out, c)
			case ' ', '\t', '\r':
				// encoding/json writes none outside strings
			default:
				out = append(out, c) // digits, letters of true/false/null, and the final newline
			}
		}
		if len(out) >= 1<<20 {
			if _, err := w.Write(out); err != nil {
				return err
			}
			out = out[:0]
		}
	}
	_, err := w.Write(out)
	return err
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
