package mapping

import (
	"encoding/json"
	"unicode/utf8"
)

// DecodeFields decodes a record's payload, a JSON object, into its fields
// exactly as encoding/json decodes it into a map[string]any. Flat objects
// of plain strings — what file connectors and most ERP connectors send —
// take a fast path (a sync decodes a million of them); anything else
// (numbers, nesting, escapes, invalid input) goes through encoding/json.
func DecodeFields(b []byte) (map[string]any, error) {
	if m, ok := flatStrings(b); ok {
		return m, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// flatStrings parses {"k": "v", …} whose keys and values are strings
// without escapes, in valid UTF-8. ok is false for anything else, to be
// decoded by encoding/json.
func flatStrings(b []byte) (m map[string]any, ok bool) {
	// One string for the whole object: keys and values are slices of it.
	all := string(b)
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	m = make(map[string]any, 16)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return m, skipSpace(b, i+1) == len(b)
	}
	for {
		key, j, ok := plainString(b, all, i)
		if !ok {
			return nil, false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		val, j, ok := plainString(b, all, skipSpace(b, i+1))
		if !ok {
			return nil, false
		}
		m[key] = val
		i = skipSpace(b, j)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return m, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

// plainString reads a JSON string at b[i] that has no escapes and no
// control characters, and returns it and the index after its closing
// quote, as a slice of all (b as a string).
func plainString(b []byte, all string, i int) (s string, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !utf8.Valid(b[i+1 : j]) {
				return "", 0, false // encoding/json replaces invalid bytes
			}
			return all[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
