package jsonobject

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/lothub/lothub/internal/jsonquote"
)

// Marshal encodes v byte for byte as json.Marshal does, for what Decode
// and encoding/json's decoding into any give: maps with string keys (in
// sorted order), lists, strings (HTML characters escaped), json.Number,
// float64, booleans and nil. Anything else is handed to json.Marshal
// whole.
func Marshal(v any) ([]byte, error) {
	return AppendMarshal(make([]byte, 0, 512), v)
}

// AppendMarshal appends what Marshal returns for v to b: a connector
// encodes the records of a page one after another into one buffer. On an
// error b is returned as it was.
func AppendMarshal(b []byte, v any) ([]byte, error) {
	n := len(b)
	if out, ok := appendValue(b, v); ok {
		return out, nil
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return b[:n], err
	}
	return append(b[:n], enc...), nil
}

// appendValue appends v as JSON; ok is false for a value it leaves to
// json.Marshal.
func appendValue(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendString(b, x), true
	case bool:
		if x {
			return append(b, "true"...), true
		}
		return append(b, "false"...), true
	case json.Number:
		s := string(x)
		if s == "" {
			s = "0" // as json.Marshal writes an empty Number
		}
		if !validNumber(s) {
			return nil, false // not a number: json.Marshal's error
		}
		return append(b, s...), true
	case float64:
		// json.Marshal's own formatting (and its error for NaN and
		// infinities): rare in a decoded page, read with numbers as
		// json.Number.
		f, err := json.Marshal(x)
		if err != nil {
			return nil, false
		}
		return append(b, f...), true
	case []any:
		if x == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, el := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendValue(b, el); !ok {
				return nil, false
			}
		}
		return append(b, ']'), true
	case map[string]any:
		if x == nil {
			return append(b, "null"...), true
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			var ok bool
			if b, ok = appendValue(b, x[k]); !ok {
				return nil, false
			}
		}
		return append(b, '}'), true
	}
	return nil, false
}

// appendString quotes s as json.Marshal does: jsonquote's escapes, and
// <, > and & as \u003c, \u003e and \u0026.
func appendString(b []byte, s string) []byte {
	// Most strings of a record (codes, numbers, dates, names) are
	// printable ASCII with nothing to escape: written as they are, after
	// one look at each byte.
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			plain = false
			break
		}
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	if !strings.ContainsAny(s, "<>&") {
		return jsonquote.Append(b, s)
	}
	start := len(b)
	b = jsonquote.Append(b, s)
	// jsonquote writes <, > and & as they are, and its escapes contain
	// none of them.
	quoted := string(b[start:])
	b = b[:start]
	for i := 0; i < len(quoted); i++ {
		switch c := quoted[i]; c {
		case '<':
			b = append(b, `\u003c`...)
		case '>':
			b = append(b, `\u003e`...)
		case '&':
			b = append(b, `\u0026`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// validNumber reports whether s is a JSON number (json.Number's own check
// before json.Marshal writes it).
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = digitsIn(s, i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		j := digitsIn(s, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digitsIn(s, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(s)
}

func digitsIn(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
