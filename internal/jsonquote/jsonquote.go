// Package jsonquote appends strings as JSON string literals, byte for byte
// as encoding/json writes them with HTML escaping off, for the encoders
// that write JSON by hand because they are on a hot path (trace results,
// filedrop records).
package jsonquote

import "unicode/utf8"

// Append appends s quoted: `"` and `\` escaped, control characters as
// \n, \r, \t, \b, \f or \u00XX, U+2028 and U+2029 as \u2028 and \u2029,
// invalid UTF-8 as \ufffd.
func Append(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	// Most strings (names, lot numbers, times) need no escape at all:
	// skip eight plain bytes at a time.
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if special(uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56) {
			break
		}
	}
	start := 0
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// special reports whether one of the eight bytes of x is one the loop of
// Append must look at: below 0x20, '"', '\\' or from 0x80 (UTF-8).
func special(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// A byte below n, for n <= 0x80, sets its high bit in (x - n*ones) &^ x;
	// a borrow reaches a higher byte only from a byte that is itself below
	// n, so the answer is exact when asked of the eight bytes at once.
	below := func(x, n uint64) uint64 { return (x - n*ones) &^ x }
	return (below(x, 0x20)|below(x^('"'*ones), 1)|below(x^('\\'*ones), 1)|x)&highs != 0
}
