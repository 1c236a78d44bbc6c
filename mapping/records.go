package mapping

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lothub/lothub/core"
)

// ReadRecords reads source records from r and calls fn with each one and
// the line it starts on. The format comes from name's extension:
//
//   - .csv: a header row naming the columns, then one record a row; every
//     field is text. UTF-8 with or without a byte-order mark, LF or CRLF,
//     comma or semicolon separated (whichever the header uses), RFC 4180
//     quoting. Rows with no text at all are skipped; a short row lacks the
//     missing columns; a row with more cells than the header is an error.
//   - .jsonl (also .ndjson, or name "-"): one JSON object a line; blank
//     lines are skipped.
//   - .json: an array of objects, an OData v2 response ({"d": {"results":
//     [...]}}), an OData v4 response ({"value": [...]}), or one object.
//
// Each record gets Kind kind and ID "name:line". Numbers in JSON are
// float64, as encoding/json decodes them. A malformed file stops the read
// with an error naming name:line:col (core.EINVALID); the records before
// it have been delivered. An error from fn stops the read and is returned
// as is.
func ReadRecords(ctx context.Context, r io.Reader, name, kind string, fn func(Record, int) error) error {
	rr := recordReader{ctx: ctx, name: name, kind: kind, fn: fn}
	switch ext := strings.ToLower(filepath.Ext(name)); {
	case ext == ".csv":
		return rr.csv(r)
	case ext == ".jsonl" || ext == ".ndjson" || name == "-":
		return rr.jsonl(r)
	case ext == ".json":
		return rr.json(r)
	default:
		return core.Errorf(core.EINVALID, "%s: cannot tell the record format from the name (use .csv, .jsonl or .json)", name)
	}
}

type recordReader struct {
	ctx        context.Context
	name, kind string
	fn         func(Record, int) error
	n          int
}

func (rr *recordReader) deliver(fields map[string]any, line int) error {
	rr.n++
	if rr.n%1024 == 0 {
		if err := rr.ctx.Err(); err != nil {
			return err
		}
	}
	return rr.fn(Record{Kind: rr.kind, ID: rr.name + ":" + strconv.Itoa(line), Fields: fields}, line)
}

func (rr *recordReader) fail(line, col int, format string, args ...any) error {
	return core.Errorf(core.EINVALID, "%s:%d:%d: %s", rr.name, line, col, fmt.Sprintf(format, args...))
}

var bom = []byte("\xef\xbb\xbf")

func (rr *recordReader) csv(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, bom) {
		br.Discard(3)
	}
	head, err := br.Peek(64 << 10)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return core.Errorf(core.EINVALID, "%s: %v", rr.name, err)
	}
	cr := csv.NewReader(br)
	cr.Comma = csvDelimiter(head)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return rr.csvError(err)
	}
	cols := make([]string, len(header))
	seen := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if h == "" {
			continue // a trailing delimiter: a column nobody named
		}
		if prev, dup := seen[h]; dup {
			return rr.fail(1, i+1, "column %q appears twice in the header (columns %d and %d; rename one)", h, prev+1, i+1)
		}
		seen[h] = i
		cols[i] = h
	}
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return rr.csvError(err)
		}
		line, _ := cr.FieldPos(0)
		blank := true
		for _, c := range row {
			if strings.TrimSpace(c) != "" {
				blank = false
				break
			}
		}
		if blank {
			continue
		}
		fields := make(map[string]any, len(cols))
		for i, c := range row {
			if i >= len(cols) {
				if strings.TrimSpace(c) != "" {
					_, col := cr.FieldPos(i)
					return rr.fail(line, col, "the row has %d cells but the header names %d columns (quote cells that contain %q)", len(row), len(cols), string(cr.Comma))
				}
				continue
			}
			if cols[i] != "" {
				fields[cols[i]] = c
			}
		}
		if err := rr.deliver(fields, line); err != nil {
			return err
		}
	}
}

func (rr *recordReader) csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return rr.fail(pe.Line, pe.Column, "CSV: %v (quote cells containing the delimiter, quotes or line breaks, and double the quotes inside: \"a \"\"b\"\"\")", pe.Err)
	}
	return core.Errorf(core.EINVALID, "%s: %v", rr.name, err)
}

// csvDelimiter picks the delimiter the header line uses most: spreadsheets
// in locales with a decimal comma write semicolons.
func csvDelimiter(head []byte) rune {
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	counts := map[rune]int{}
	quoted := false
	for _, c := range string(head) {
		switch {
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ',' || c == ';' || c == '\t'):
			counts[c]++
		}
	}
	best := ','
	for _, c := range []rune{';', '\t'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return best
}

func (rr *recordReader) jsonl(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			if line == 1 {
				b = bytes.TrimPrefix(b, bom)
			}
			text := bytes.TrimSpace(b)
			if len(text) > 0 {
				fields, jerr := decodeObject(text)
				if jerr != nil {
					return rr.jsonError(text, line, 1+leading(b), jerr)
				}
				if derr := rr.deliver(fields, line); derr != nil {
					return derr
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return core.Errorf(core.EINVALID, "%s:%d: %v", rr.name, line, err)
		}
	}
}

func leading(b []byte) int { return len(b) - len(bytes.TrimLeft(b, " \t\r\n")) }

func decodeObject(b []byte) (map[string]any, error) {
	if len(b) > 0 && b[0] != '{' {
		return nil, errNotObject
	}
	return DecodeFields(b)
}

var errNotObject = errors.New("a record must be a JSON object {...}")

func (rr *recordReader) jsonError(text []byte, line, col int, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off := int(se.Offset) - 1
		off = min(max(off, 0), len(text))
		return rr.fail(line, col+utf8.RuneCount(text[:off]), "invalid JSON: %v", se)
	}
	return rr.fail(line, col, "%v", err)
}

func (rr *recordReader) json(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return core.Errorf(core.EINVALID, "%s: %v", rr.name, err)
	}
	data = bytes.TrimPrefix(data, bom)
	var top any
	if err := json.Unmarshal(data, &top); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(data, int(se.Offset))
			return rr.fail(line, col, "invalid JSON: %v", se)
		}
		return rr.fail(1, 1, "%v", err)
	}
	var path []string
	switch x := top.(type) {
	case []any:
	case map[string]any:
		if d, ok := x["d"].(map[string]any); ok {
			if _, ok := d["results"].([]any); ok {
				path = []string{"d", "results"}
			} else {
				return rr.deliver(d, 1)
			}
		} else if _, ok := x["value"].([]any); ok {
			path = []string{"value"}
		} else {
			return rr.deliver(x, 1)
		}
	default:
		return rr.fail(1, 1, "want an array of objects, an OData response or an object, got a JSON %T", top)
	}
	// Walk to the array again, token by token, to know where each element
	// starts, so every record has its line.
	dec := json.NewDecoder(bytes.NewReader(data))
	for _, key := range path {
		if _, err := dec.Token(); err != nil { // {
			return rr.fail(1, 1, "%v", err)
		}
		for {
			t, err := dec.Token()
			if err != nil {
				return rr.fail(1, 1, "%v", err)
			}
			if t == key {
				break
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return rr.fail(1, 1, "%v", err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // [
		return rr.fail(1, 1, "%v", err)
	}
	lineAt, lineOff := 1, 0
	for dec.More() {
		off := int(dec.InputOffset())
		for off < len(data) && (data[off] == ' ' || data[off] == '\t' || data[off] == '\r' || data[off] == '\n' || data[off] == ',') {
			off++
		}
		lineAt += bytes.Count(data[lineOff:off], []byte("\n"))
		lineOff = off
		var el any
		if err := dec.Decode(&el); err != nil {
			return rr.fail(lineAt, 1, "%v", err)
		}
		obj, ok := el.(map[string]any)
		if !ok {
			_, col := lineCol(data, off+1)
			return rr.fail(lineAt, col, "%v", errNotObject)
		}
		if err := rr.deliver(obj, lineAt); err != nil {
			return err
		}
	}
	return nil
}

// lineCol converts a 1-based byte offset (as json.SyntaxError gives it) to
// a line and character column.
func lineCol(data []byte, off int) (int, int) {
	off = min(max(off-1, 0), len(data))
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return line, utf8.RuneCount(data[start:off]) + 1
}
