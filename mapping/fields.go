package mapping

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// DecodeFields decodes a record's payload, a JSON object, into its fields
// exactly as encoding/json decodes it into a map[string]any. What
// connectors send — objects of strings, numbers, booleans, nulls, nested
// objects and lists, strings mostly without escapes — is decoded in one
// pass (a sync decodes a million of them); a string with escapes is
// handed to encoding/json alone; anything else (invalid input, numbers out
// of range, deep nesting) goes through encoding/json whole, for its exact
// result and error.
func DecodeFields(b []byte) (map[string]any, error) {
	if m, ok := fastObject(b); ok {
		return m, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// fastObject decodes b, a JSON object and nothing else; ok is false for
// anything it does not decode exactly as encoding/json would, to be
// decoded by encoding/json.
func fastObject(b []byte) (map[string]any, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	// One string for the whole payload: keys and plain values are slices
	// of it.
	d := fastDecoder{b: b, all: string(b)}
	v, j, ok := d.value(i, 0)
	if !ok || skipSpace(b, j) != len(b) {
		return nil, false
	}
	return v.(map[string]any), true
}

// fastDecoder decodes JSON values of b (all is b as a string).
type fastDecoder struct {
	b   []byte
	all string
}

// maxFastDepth bounds the nesting the fast path follows; deeper input goes
// to encoding/json, which has its own limit and error.
const maxFastDepth = 100

// value decodes the value at b[i] (no space before it) and returns it and
// the index after it.
func (d *fastDecoder) value(i, depth int) (any, int, bool) {
	b := d.b
	if i >= len(b) {
		return nil, 0, false
	}
	switch c := b[i]; {
	case c == '"':
		return d.str(i)
	case c == '{':
		if depth >= maxFastDepth {
			return nil, 0, false
		}
		m := make(map[string]any, 16)
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
		if depth >= maxFastDepth {
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

// number reads a JSON number at b[i] as encoding/json does: a float64,
// refusing what is not JSON's grammar (strconv.ParseFloat accepts more)
// and what is out of range.
func (d *fastDecoder) number(i int) (any, int, bool) {
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
func (d *fastDecoder) str(i int) (any, int, bool) {
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
