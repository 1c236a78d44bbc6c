package epcis

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"
)

// errSlowPath is what fastTokens gives for anything it does not read the
// way encoding/json's decoder does: the document is read again with the
// decoder (decoderTokens), which accepts or refuses it, with its own
// messages.
var errSlowPath = errors.New("epcis: read the document with encoding/json")

// fastTokens reads a JSON document as decoderTokens does, for documents
// made as they should be, several times faster: an event's text is found
// by matching its braces and quotes, not decoded (whoever reads the event
// decodes it, in parallel, and an event that is not JSON sends the
// document to the slow path: Check). Every other value (the document's
// header, context, …) is decoded by encoding/json. It gives up with
// errSlowPath on anything else: a syntax error, a trailing comma, an event
// that is not an object, a read error — so what it reads, it reads exactly
// as decoderTokens would.
type fastTokens struct {
	r    io.Reader
	buf  []byte
	pos  int  // next byte of buf to read
	eof  bool // r has no more
	line int  // line and column (bytes, 1-based) of buf[pos]
	col  int
	// levels are the objects and arrays being read, innermost last.
	levels []level
	err    error // a failure more() found, returned by the next read
}

func newFastTokens(r io.Reader) *fastTokens {
	return &fastTokens{r: r, buf: make([]byte, 0, 256<<10), line: 1, col: 1}
}

// level is an object or array being read.
type level struct {
	close byte // '}' or ']'
	first bool // no member read yet (no comma before the next)
}

// fill reads more of the input, keeping buf[pos:]; false at the end of the
// input (or on a read error, which the slow path reports).
func (f *fastTokens) fill() bool {
	if f.eof {
		return false
	}
	if f.pos > 0 {
		n := copy(f.buf, f.buf[f.pos:])
		f.buf = f.buf[:n]
		f.pos = 0
	}
	if len(f.buf) == cap(f.buf) {
		f.buf = append(f.buf, make([]byte, cap(f.buf))...)[:len(f.buf)]
	}
	n, err := f.r.Read(f.buf[len(f.buf):cap(f.buf)])
	f.buf = f.buf[:len(f.buf)+n]
	if err != nil {
		f.eof = true
		if err != io.EOF {
			f.err = errSlowPath
		}
	}
	return n > 0 || !f.eof
}

// advance moves past n bytes, counting lines and columns.
func (f *fastTokens) advance(n int) {
	seg := f.buf[f.pos : f.pos+n]
	if k := bytes.Count(seg, []byte{'\n'}); k > 0 {
		f.line += k
		f.col = n - bytes.LastIndexByte(seg, '\n')
	} else {
		f.col += n
	}
	f.pos += n
}

// peek skips white space and returns the next byte; false at the end.
func (f *fastTokens) peek() (byte, bool) {
	for {
		i := f.pos
		for i < len(f.buf) {
			switch f.buf[i] {
			case ' ', '\t', '\r', '\n':
				i++
				continue
			}
			break
		}
		f.advance(i - f.pos)
		if f.pos < len(f.buf) {
			return f.buf[f.pos], true
		}
		if !f.fill() {
			return 0, false
		}
	}
}

func (f *fastTokens) open(want json.Delim) (bool, error) {
	if f.err != nil {
		return false, f.err
	}
	c, ok := f.peek()
	if !ok || c != byte(want) || (c != '{' && c != '[') {
		return false, errSlowPath
	}
	f.advance(1)
	close := byte('}')
	if c == '[' {
		close = ']'
	}
	f.levels = append(f.levels, level{close: close, first: true})
	return true, nil
}

// more is decoderTokens' more: another member follows (after its comma).
func (f *fastTokens) more() bool {
	if f.err != nil {
		return true // the next read returns the error
	}
	c, ok := f.peek()
	if !ok || len(f.levels) == 0 {
		f.err = errSlowPath
		return true
	}
	if c == '}' || c == ']' {
		return false
	}
	top := &f.levels[len(f.levels)-1]
	if top.first {
		top.first = false
		return true
	}
	if c != ',' {
		f.err = errSlowPath
		return true
	}
	f.advance(1)
	if c, ok := f.peek(); !ok || c == '}' || c == ']' {
		f.err = errSlowPath // a trailing comma, or the end
	}
	return true
}

// span returns the length of the value at buf[pos] (white space skipped),
// reading more input as needed; 0 when it is not a whole value.
func (f *fastTokens) span() int {
	for {
		n, whole := scanValue(f.buf[f.pos:], f.eof)
		if whole {
			return n
		}
		if n < 0 || !f.fill() {
			return 0
		}
	}
}

// scanValue measures the JSON value at the start of b: objects and arrays
// by their brackets (strings skipped whole), strings to their closing
// quote, numbers and literals to the first byte that cannot be in them. It
// does not check the value's grammar (the value's decoder does); whole is
// false when b ends before the value does (n is then 0), n < 0 when b
// cannot start a value.
func scanValue(b []byte, atEOF bool) (n int, whole bool) {
	if len(b) == 0 {
		return 0, false
	}
	switch c := b[0]; {
	case c == '{' || c == '[':
		depth := 0
		for i := 0; i < len(b); i++ {
			switch b[i] {
			case '"':
				j := endOfString(b, i)
				if j < 0 {
					return 0, false
				}
				i = j - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
		}
		return 0, false
	case c == '"':
		j := endOfString(b, 0)
		if j < 0 {
			return 0, false
		}
		return j, true
	case c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z':
		for i := 1; i < len(b); i++ {
			switch c := b[i]; {
			case c == '-' || c == '+' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
				continue
			}
			return i, true
		}
		if atEOF {
			return len(b), true
		}
		return 0, false
	}
	return -1, false
}

// endOfString is the index after the closing quote of the string that
// starts at b[i], -1 when b ends first.
func endOfString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

func (f *fastTokens) key() (string, error) {
	if f.err != nil {
		return "", f.err
	}
	if c, ok := f.peek(); !ok || c != '"' {
		return "", errSlowPath
	}
	n := f.span()
	if n == 0 {
		return "", errSlowPath
	}
	k, ok := unquote(f.buf[f.pos : f.pos+n])
	if !ok {
		return "", errSlowPath
	}
	f.advance(n)
	if c, ok := f.peek(); !ok || c != ':' {
		return "", errSlowPath
	}
	f.advance(1)
	return k, nil
}

// unquote decodes a JSON string as encoding/json does.
func unquote(q []byte) (string, bool) {
	in := q[1 : len(q)-1]
	plain := true
	for _, c := range in {
		if c == '\\' || c < 0x20 {
			plain = false
			break
		}
	}
	if plain && utf8.Valid(in) {
		return string(in), true
	}
	var s string // escapes, control characters, bytes that are not UTF-8
	if json.Unmarshal(q, &s) != nil {
		return "", false
	}
	return s, true
}

func (f *fastTokens) close() error {
	if f.err != nil {
		return f.err
	}
	c, ok := f.peek()
	if !ok || len(f.levels) == 0 || c != f.levels[len(f.levels)-1].close {
		return errSlowPath
	}
	f.advance(1)
	f.levels = f.levels[:len(f.levels)-1]
	return nil
}

func (f *fastTokens) value() (any, error) {
	if f.err != nil {
		return nil, f.err
	}
	if _, ok := f.peek(); !ok {
		return nil, errSlowPath
	}
	n := f.span()
	if n == 0 {
		return nil, errSlowPath
	}
	dec := json.NewDecoder(bytes.NewReader(f.buf[f.pos : f.pos+n]))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.InputOffset() != int64(n) {
		return nil, errSlowPath
	}
	f.advance(n)
	return v, nil
}

func (f *fastTokens) event() (json.RawMessage, int, int, error) {
	if f.err != nil {
		return nil, 0, 0, f.err
	}
	if c, ok := f.peek(); !ok || c != '{' {
		return nil, 0, 0, errSlowPath // an event that is no object: the validator's to say
	}
	line, col := f.line, f.col
	n := f.span()
	if n == 0 {
		return nil, 0, 0, errSlowPath
	}
	raw := make(json.RawMessage, n)
	copy(raw, f.buf[f.pos:])
	f.advance(n)
	return raw, line, col, nil
}

func (f *fastTokens) end() error {
	if f.err != nil {
		return f.err
	}
	if _, ok := f.peek(); ok || f.err != nil {
		return errSlowPath
	}
	return nil
}

func (f *fastTokens) fail(err error) error {
	if err == nil {
		return nil
	}
	return errSlowPath
}
