// Package jsonobject decodes and encodes JSON objects as map[string]any
// exactly as encoding/json does, faster, for the hot paths of a sync: a
// connector decoding its source's pages and encoding each record, the hub
// decoding each record's payload. What it does not handle exactly, it
// says so, and the caller uses encoding/json.
package jsonobject

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Decode decodes b, a JSON object and nothing else around it but space,
// as json.Unmarshal decodes it into a map[string]any (with useNumber, as a
// json.Decoder with UseNumber does: numbers as json.Number). ok is false
// for anything it does not decode exactly so — invalid JSON, numbers out
// of float64's range, nesting deeper than 100 — and then the caller
// decodes b with encoding/json, for its result and its error. Strings
// without escapes are slices of one copy of b.
func Decode(b []byte, useNumber bool) (m map[string]any, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	// One string for the whole payload: keys and plain values are slices
	// of it.
	d := decoder{b: b, all: string(b), useNumber: useNumber}
	v, j, ok := d.value(i, 0)
	if !ok || skipSpace(b, j) != len(b) {
		return nil, false
	}
	return v.(map[string]any), true
}

// decoder decodes JSON values of b (all is b as a string).
type decoder struct {
	b         []byte
	all       string
	useNumber bool
}

// maxDepth bounds the nesting Decode follows; deeper input goes to
// encoding/json, which has its own limit and error.
const maxDepth = 100

// value decodes the value at b[i] (no space before it) and returns it and
// the index after it.
func (d *decoder) value(i, depth int) (any, int, bool) {
	b := d.b
	if i >= len(b) {
		return nil, 0, false
	}
	switch c := b[i]; {
	case c == '"':
		return d.str(i)
	case c == '{':
		if depth >= maxDepth {
			return nil, 0, false
		}
		var m map[string]any
		if depth == 0 {
			m = make(map[string]any, 16) // a record's fields
		} else {
			m = map[string]any{} // mostly a few: one group, grown if need be
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return m, i + 1, true
		}
		for {
			key, j, ok := d.str(i)
			if !ok {
				return nil, 0, false
			}
			i = skipSpace(b, j)
			if i >= len(b) || b[i] != ':' {
				return nil, 0, false
			}
			v, j, ok := d.value(skipSpace(b, i+1), depth+1)
			if !ok {
				return nil, 0, false
			}
			m[key.(string)] = v
			i = skipSpace(b, j)
			if i >= len(b) {
				return nil, 0, false
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case '}':
				return m, i + 1, true
			default:
				return nil, 0, false
			}
		}
	case c == '[':
		if depth >= maxDepth {
			return nil, 0, false
		}
		l := make([]any, 0) // encoding/json gives [] as an empty, non-nil list
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return l, i + 1, true
		}
		for {
			v, j, ok := d.value(i, depth+1)
			if !ok {
				return nil, 0, false
			}
			l = append(l, v)
			i = skipSpace(b, j)
			if i >= len(b) {
				return nil, 0, false
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case ']':
				return l, i + 1, true
			default:
				return nil, 0, false
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		return d.number(i)
	case c == 't':
		return literal(b, i, "true", true)
	case c == 'f':
		return literal(b, i, "false", false)
	case c == 'n':
		return literal(b, i, "null", nil)
	}
	return nil, 0, false
}

func literal(b []byte, i int, word string, v any) (any, int, bool) {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return nil, 0, false
	}
	return v, i + len(word), true
}

// number reads a JSON number at b[i] as encoding/json does: a float64
// (json.Number with useNumber), refusing what is not JSON's grammar
// (strconv.ParseFloat accepts more) and what is out of range.
func (d *decoder) number(i int) (any, int, bool) {
	b, start := d.b, i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return nil, 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return nil, 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return nil, 0, false
		}
		i = j
	}
	if d.useNumber {
		return json.Number(d.all[start:i]), i, true
	}
	f, err := strconv.ParseFloat(d.all[start:i], 64)
	if err != nil {
		return nil, 0, false
	}
	return f, i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// str reads a JSON string at b[i] and returns it and the index after its
// closing quote. A string without escapes or control characters, in valid
// UTF-8, is a slice of all; one with escapes is unquoted by encoding/json,
// so every escape and invalid byte comes out as it would there.
func (d *decoder) str(i int) (any, int, bool) {
	b := d.b
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	escaped, ascii := false, true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if escaped {
				var s string
				if json.Unmarshal(b[i:j+1], &s) != nil {
					return nil, 0, false
				}
				return s, j + 1, true
			}
			if !ascii && !utf8.Valid(b[i+1:j]) {
				return nil, 0, false // encoding/json replaces invalid bytes
			}
			return d.all[i+1 : j], j + 1, true
		case c == '\\':
			escaped = true
			j++ // the escaped character, a quote or a backslash among them
		case c < 0x20:
			return nil, 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, 0, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
