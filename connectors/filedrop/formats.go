package filedrop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/lothub/lothub/internal/jsonquote"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
)

// row is one row of a file: a record payload, or a bad row.
type row struct {
	line    int
	payload []byte // a JSON object
	bad     bool   // the payload describes a row that could not be read
}

// rowReader reads the rows of one version of one file, in order, in
// constant memory.
type rowReader interface {
	// next returns the next row, or io.EOF after the last one.
	next(ctx context.Context) (row, error)
	// resume is where reading stands: after the last row returned.
	resume() curFile
	// atEOF reports, cheaply, that no row follows.
	atEOF() bool
	// sum is the hex SHA-256 of the file's content; valid after io.EOF.
	sum() string
	close() error
}

// badRow is the payload of a row that cannot be read, kept so that the
// hub archives and quarantines it under its file:line id.
func badRow(name, kind string, line int, why string, text []byte) []byte {
	const keep = 512
	if len(text) > keep {
		text = text[:keep]
	}
	b, _ := json.Marshal(map[string]any{ // cannot fail: strings and ints
		"file":  name,
		"line":  line,
		"kind":  kind,
		"error": why,
		"text":  strings.ToValidUTF8(string(text), "\uFFFD"),
	})
	return b
}

// Quote-aware record splitting. A CSV record ends at a line break outside
// a quoted field; a quote opens a quoted field only at the start of a field
// (elsewhere it is a literal character, as spreadsheets write 5" pipe); a
// doubled quote inside a quoted field is one quote.
const (
	stFieldStart = iota // at the start of a field
	stField             // inside an unquoted field
	stQuoted            // inside a quoted field
	stQuote             // just after a quote inside a quoted field
)

// advance runs the state machine over b and returns the state after it.
func advance(st int, b []byte, delim, quote byte) int {
	if st != stQuoted && st != stQuote && bytes.IndexByte(b, quote) < 0 {
		// No quote: the state can only be at a field start or inside one;
		// either way not quoted, which is all the caller needs.
		return stField
	}
	for _, c := range b {
		switch st {
		case stFieldStart:
			switch c {
			case quote:
				st = stQuoted
			case delim, '\n':
			default:
				st = stField
			}
		case stField:
			if c == delim || c == '\n' {
				st = stFieldStart
			}
		case stQuoted:
			if c == quote {
				st = stQuote
			}
		case stQuote:
			switch c {
			case quote:
				st = stQuoted
			case delim, '\n':
				st = stFieldStart
			default:
				st = stField // text after a closing quote: kept as is
			}
		}
	}
	return st
}

// splitFields splits one CSV record (without its line break) into fields.
// It reports an unterminated quoted field.
func splitFields(rec string, delim, quote byte, dst []string) ([]string, error) {
	fields := dst[:0]
	if quote == 0 || strings.IndexByte(rec, quote) < 0 {
		for {
			i := strings.IndexByte(rec, delim)
			if i < 0 {
				return append(fields, rec), nil
			}
			fields = append(fields, rec[:i])
			rec = rec[i+1:]
		}
	}
	var b strings.Builder
	st := stFieldStart
	for i := 0; i < len(rec); i++ {
		c := rec[i]
		switch st {
		case stFieldStart, stField:
			switch {
			case c == delim:
				fields = append(fields, b.String())
				b.Reset()
				st = stFieldStart
			case c == quote && st == stFieldStart:
				st = stQuoted
			default:
				b.WriteByte(c)
				st = stField
			}
		case stQuoted:
			switch {
			case c == quote:
				st = stQuote
			case c == '\r' && i+1 < len(rec) && rec[i+1] == '\n':
				// CRLF inside a quoted field is a line break, as encoding/csv reads it.
			default:
				b.WriteByte(c)
			}
		case stQuote:
			switch c {
			case quote:
				b.WriteByte(quote)
				st = stQuoted
			case delim:
				fields = append(fields, b.String())
				b.Reset()
				st = stFieldStart
			default:
				b.WriteByte(c)
				st = stField
			}
		}
	}
	if st == stQuoted {
		return nil, errors.New("a quoted field is not closed (a missing quote, or a quote that should be doubled)")
	}
	return append(fields, b.String()), nil
}

// rowObject encodes a row as a JSON object keyed by the header, in header
// order.
func rowObject(header, fields []string) []byte {
	n := 2
	for i := range header {
		n += len(header[i]) + len(fields[i]) + 6
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, h := range header {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonquote.Append(b, h)
		b = append(b, ':')
		b = jsonquote.Append(b, fields[i])
	}
	return append(b, '}')
}

// checkHeader cleans a header row: names are trimmed, an empty name
// becomes column_N, and a name used twice is an error (rows would lose a
// value).
func checkHeader(fields []string) ([]string, error) {
	h := make([]string, len(fields))
	seen := make(map[string]int, len(fields))
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" {
			f = "column_" + strconv.Itoa(i+1)
		}
		if j, dup := seen[f]; dup {
			return nil, fmt.Errorf("the header names column %q twice (columns %d and %d): rename one so that every value has its own name", f, j+1, i+1)
		}
		seen[f] = i
		h[i] = f
	}
	return h, nil
}

// delimiterMismatch refuses a header that is one column holding another
// delimiter: a European export separated by ';' (Excel writes ';' where
// the decimal separator is a comma) read with the default ','. Its rows
// would be one column too, or split at their decimal commas, and every
// one would fail in the mapping for a reason that does not say why.
func delimiterMismatch(header []string, delim byte) error {
	if len(header) != 1 {
		return nil
	}
	best, most := byte(0), 0
	for _, d := range []byte{';', '\t', '|', ','} {
		if d == delim {
			continue
		}
		if n := strings.Count(header[0], string(d)); n > most {
			best, most = d, n
		}
	}
	if most == 0 {
		return nil
	}
	name := string(best)
	if best == '\t' {
		name = "tab"
	}
	return fmt.Errorf("the header is one column, %q, with %d %q in it: the file looks %q-separated, but the delimiter is %q; "+
		"set delimiter: %q in the connector's config, then drop the file again under a new name or run hub cursor reset (ids are stable: nothing doubles)",
		header[0], most, name, name, string(delim), name)
}

// decoders turn single-byte encodings into UTF-8 with a table per
// charmap.
var (
	decodersMu sync.Mutex
	decoders   = map[*charmap.Charmap]*[256]string{}
)

func decodeTable(cm *charmap.Charmap) *[256]string {
	decodersMu.Lock()
	defer decodersMu.Unlock()
	if t, ok := decoders[cm]; ok {
		return t
	}
	t := new([256]string)
	for i := range t {
		t[i] = string(cm.DecodeByte(byte(i)))
	}
	decoders[cm] = t
	return t
}

// streamReader reads CSV and JSON Lines files: records are found in the
// raw bytes (quote, delimiter and line break are ASCII in every supported
// encoding), so the offset after each record is exact, and only then
// decoded.
type streamReader struct {
	name, kind, format string
	o                  *options
	f                  file
	br                 *bufio.Reader
	h                  hashState
	off                int64 // bytes consumed (and hashed)
	line               int   // lines consumed
	size               int64 // of the version listed; reading stops there
	mtime              int64
	header             []string
	buf                []byte
	fields             []string
	table              *[256]string
	warnedUTF8         bool
	drained            bool // the rest of the file was hashed without reading rows
	sumHex             string
}

const readBuffer = 256 << 10

func openStream(ctx context.Context, fsys fsys, e entry, kind, format string, o *options, cur *curFile) (*streamReader, error) {
	f, err := fsys.open(ctx, e.name)
	if err != nil {
		return nil, err
	}
	s := &streamReader{name: e.name, kind: kind, format: format, o: o, f: f, size: e.size, mtime: e.mtime.UnixNano()}
	if o.charset != nil {
		s.table = decodeTable(o.charset)
	}
	if cur == nil || cur.Off == 0 {
		s.h, _ = restoreHash(nil)
		s.br = bufio.NewReaderSize(io.LimitReader(f, e.size), readBuffer)
		if err := s.skipBOM(); err != nil {
			f.Close()
			return nil, err
		}
		return s, nil
	}
	if cur.Off > e.size {
		f.Close()
		return nil, fmt.Errorf("%s: the saved offset %d is past its end (%d bytes)", e.name, cur.Off, e.size)
	}
	if format == formatCSV {
		// The header is before the offset: read it again, without hashing.
		s.h, _ = restoreHash(nil)
		s.br = bufio.NewReaderSize(io.LimitReader(f, e.size), 64<<10)
		if err := s.skipBOM(); err != nil {
			f.Close()
			return nil, err
		}
		for s.header == nil && s.off < cur.Off {
			rec, _, _, _, err := s.scan()
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: read the header again: %w", e.name, err)
			}
			if len(bytes.TrimSpace(rec)) == 0 {
				continue
			}
			fields, err := splitFields(s.decode(rec), o.delim, o.quote, nil)
			if err != nil {
				break
			}
			if s.header, err = checkHeader(fields); err != nil {
				break
			}
		}
		if _, err := f.Seek(cur.Off, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	} else if _, err := f.Seek(cur.Off, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	h, err := restoreHash(cur.Hash)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.h, s.off, s.line = h, cur.Off, cur.Line
	s.br = bufio.NewReaderSize(io.LimitReader(f, e.size-cur.Off), readBuffer)
	return s, nil
}

// skipBOM consumes a UTF-8 byte order mark at the start of the file.
func (s *streamReader) skipBOM() error {
	if s.o.charset != nil {
		return nil
	}
	b, err := s.br.Peek(3)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return err
	}
	if bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		s.br.Discard(3)
		s.h.Write(b)
		s.off += 3
	}
	return nil
}

// scan returns the next record's raw bytes without its line break, the
// line it starts on, and whether it was cut at max_row_bytes or ends
// inside a quoted field. It returns io.EOF when no byte is left.
func (s *streamReader) scan() (rec []byte, start int, tooLong, open bool, err error) {
	s.buf = s.buf[:0]
	start = s.line + 1
	quoted := s.format == formatCSV && s.o.quote != 0
	st := stFieldStart
	total := 0
	for {
		chunk, err := s.br.ReadSlice('\n')
		if len(chunk) > 0 {
			s.h.Write(chunk)
			s.off += int64(len(chunk))
			total += len(chunk)
			if room := s.o.maxRow + 1 - len(s.buf); room > 0 {
				s.buf = append(s.buf, chunk[:min(room, len(chunk))]...)
			}
			if quoted {
				st = advance(st, chunk, s.o.delim, s.o.quote)
			}
		}
		switch {
		case err == nil:
			s.line++
			if st == stQuoted {
				continue // a line break inside a quoted field
			}
			return s.record(), start, len(s.buf) > s.o.maxRow, false, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if total == 0 {
				return nil, start, false, false, io.EOF
			}
			s.line++ // a last line without a line break
			return s.record(), start, len(s.buf) > s.o.maxRow, st == stQuoted, nil
		default:
			return nil, start, false, false, err
		}
	}
}

// record returns the accumulated record without its line break.
func (s *streamReader) record() []byte {
	b := s.buf
	if len(b) > s.o.maxRow {
		return b
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// decode turns raw record bytes into valid UTF-8 text.
func (s *streamReader) decode(b []byte) string {
	if s.table != nil {
		ascii := true
		for _, c := range b {
			if c >= utf8.RuneSelf {
				ascii = false
				break
			}
		}
		if ascii {
			return string(b)
		}
		var sb strings.Builder
		sb.Grow(len(b) + 8)
		for _, c := range b {
			if c < utf8.RuneSelf {
				sb.WriteByte(c)
			} else {
				sb.WriteString(s.table[c])
			}
		}
		return sb.String()
	}
	if utf8.Valid(b) {
		return string(b)
	}
	if !s.warnedUTF8 {
		s.warnedUTF8 = true
		slog.Warn("file is not valid UTF-8: bad bytes become U+FFFD; if it comes from Windows, set encoding: windows-1252",
			"file", s.name, "line", s.line)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func (s *streamReader) next(ctx context.Context) (row, error) {
	for n := 0; ; n++ {
		if n%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return row{}, err
			}
		}
		if s.drained {
			return row{}, io.EOF
		}
		rec, line, tooLong, open, err := s.scan()
		if err != nil {
			return row{}, err
		}
		if !tooLong && !open && len(bytes.TrimSpace(rec)) == 0 {
			continue // blank lines separate nothing
		}
		bad := func(why string) (row, error) {
			return row{line: line, bad: true, payload: badRow(s.name, s.kind, line, why, rec)}, nil
		}
		if tooLong {
			return bad(fmt.Sprintf("the row is longer than max_row_bytes (%d bytes)%s", s.o.maxRow, map[bool]string{true: "; a quote may be missing", false: ""}[s.format == formatCSV]))
		}
		if s.format == formatJSONL {
			text := bytes.TrimSpace([]byte(s.decode(rec)))
			if line == 1 {
				text = bytes.TrimPrefix(text, []byte("\uFEFF"))
			}
			if len(text) == 0 || text[0] != '{' || !json.Valid(text) {
				return bad("the line is not a JSON object")
			}
			return row{line: line, payload: text}, nil
		}
		if open {
			return bad("a quoted field is not closed at the end of the file (a missing quote, or a quote that should be doubled)")
		}
		text := s.decode(rec)
		fields, err := splitFields(text, s.o.delim, s.o.quote, s.fields)
		if err != nil {
			return bad(err.Error())
		}
		s.fields = fields
		if blankCells(fields) {
			// A row of delimiters only (";;;;"): Excel writes one for every
			// formatted but empty row below the data. It holds nothing, like
			// a blank line, and a blank row of a workbook.
			continue
		}
		if s.header == nil {
			h, err := checkHeader(fields)
			if err == nil {
				err = delimiterMismatch(h, s.o.delim)
			}
			if err != nil {
				// Without a usable header no row can be read: report it on
				// the header's line, hash the rest so that the file counts
				// as ingested, and wait for a corrected file.
				if derr := s.drain(); derr != nil {
					return row{}, derr
				}
				return bad(err.Error())
			}
			s.header = h
			continue
		}
		if len(fields) != len(s.header) {
			return bad(fmt.Sprintf("the row has %d fields, the header %d (check the delimiter %q and the quotes)", len(fields), len(s.header), string(s.o.delim)))
		}
		return row{line: line, payload: rowObject(s.header, fields)}, nil
	}
}

// drain hashes the rest of the file without reading rows.
func (s *streamReader) drain() error {
	n, err := io.Copy(s.h, s.br)
	s.off += n
	s.drained = true
	return err
}

func (s *streamReader) resume() curFile {
	state, _ := s.h.MarshalBinary() // sha256 always marshals
	return curFile{stamp: stamp{Name: s.name, Size: s.size, Mtime: s.mtime}, Off: s.off, Line: s.line, Hash: state}
}

func (s *streamReader) atEOF() bool {
	if s.drained {
		return true
	}
	_, err := s.br.Peek(1)
	return errors.Is(err, io.EOF)
}

func (s *streamReader) sum() string {
	if s.sumHex == "" {
		s.sumHex = hex.EncodeToString(s.h.Sum(nil))
	}
	return s.sumHex
}

func (s *streamReader) close() error { return s.f.Close() }

// xlsxReader reads one sheet of an Excel workbook. The workbook is copied
// to a local temporary file first (a zip file needs random access), hashing
// it on the way; excelize then streams the sheet's rows, spilling large
// sheets to temporary files, so memory stays bounded.
type xlsxReader struct {
	name, kind string
	size       int64
	mtime      int64
	tmp        string
	wb         *excelize.File
	rows       *excelize.Rows
	rowNo      int // rows consumed
	header     []string
	sumHex     string
	done       bool
}

func openXLSX(ctx context.Context, fsys fsys, e entry, kind string, o *options, cur *curFile) (*xlsxReader, error) {
	f, err := fsys.open(ctx, e.name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tmp, err := os.CreateTemp("", "lothub-filedrop-*.xlsx")
	if err != nil {
		return nil, fmt.Errorf("copy %s to a temporary file: %w", e.name, err)
	}
	x := &xlsxReader{name: e.name, kind: kind, size: e.size, mtime: e.mtime.UnixNano(), tmp: tmp.Name()}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), &ctxReader{ctx: ctx, r: io.LimitReader(f, e.size)})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		x.close()
		return nil, fmt.Errorf("copy %s: %w", e.name, err)
	}
	x.sumHex = hex.EncodeToString(h.Sum(nil))
	wb, err := openWorkbook(x.tmp)
	if err != nil {
		x.close()
		return nil, &badFileError{why: fmt.Sprintf("not a readable Excel workbook: %v", err)}
	}
	x.wb = wb
	sheet := o.sheet
	if sheet == "" {
		sheet = wb.GetSheetName(0)
	}
	if x.rows, err = wb.Rows(sheet); err != nil {
		x.close()
		return nil, &badFileError{why: fmt.Sprintf("sheet %q: %v (sheets: %s)", sheet, err, strings.Join(wb.GetSheetList(), ", "))}
	}
	if cur != nil {
		// Skip what was read, finding the header again on the way.
		for int64(x.rowNo) < cur.Off {
			if !x.rows.Next() {
				x.close()
				return nil, fmt.Errorf("%s: the saved row %d is past the end of the sheet", e.name, cur.Off)
			}
			x.rowNo++
			if x.header == nil {
				cells, err := x.rows.Columns()
				if err != nil {
					x.close()
					return nil, err
				}
				if !blankCells(cells) {
					x.header, _ = checkHeader(cells)
				}
			}
		}
	}
	return x, nil
}

// maxUnzipped bounds what an Excel workbook (a zip file) may hold once
// unpacked: 1 GiB, far above a plant's export and far below what a zip
// bomb of a few kilobytes claims (excelize's own default is 16 GB).
// Sheets over 16 MiB unpacked are unpacked to temporary files, not memory.
var maxUnzipped int64 = 1 << 30

// openWorkbook opens an Excel file; a workbook that makes the library
// panic is reported as unreadable, not allowed to stop the connector.
func openWorkbook(path string) (wb *excelize.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			wb, err = nil, fmt.Errorf("the workbook is malformed (%v)", p)
		}
	}()
	wb, err = excelize.OpenFile(path, excelize.Options{UnzipSizeLimit: maxUnzipped})
	if err != nil && strings.Contains(err.Error(), "unzip size exceeds") {
		err = fmt.Errorf("it unpacks to more than %d MiB, the most a workbook may hold (is it a zip bomb? export the sheet as CSV): %w", maxUnzipped>>20, err)
	}
	return wb, err
}

// badFileError is a file that cannot be read at all: it becomes one bad
// row.
type badFileError struct{ why string }

func (e *badFileError) Error() string { return e.why }

func blankCells(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

func (x *xlsxReader) next(ctx context.Context) (r row, err error) {
	defer func() {
		if p := recover(); p != nil {
			// A malformed sheet: report the row, and read no further.
			x.done = true
			r, err = row{line: x.rowNo, bad: true, payload: badRow(x.name, x.kind, x.rowNo, fmt.Sprintf("the sheet is malformed here (%v)", p), nil)}, nil
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return row{}, err
		}
		if x.done || !x.rows.Next() {
			x.done = true
			if err := x.rows.Error(); err != nil {
				return row{}, fmt.Errorf("%s row %d: %w", x.name, x.rowNo+1, err)
			}
			return row{}, io.EOF
		}
		x.rowNo++
		cells, err := x.rows.Columns()
		if err != nil {
			return row{line: x.rowNo, bad: true, payload: badRow(x.name, x.kind, x.rowNo, err.Error(), nil)}, nil
		}
		if blankCells(cells) {
			continue
		}
		text := []byte(strings.Join(cells, "\t"))
		if x.header == nil {
			h, err := checkHeader(cells)
			if err != nil {
				x.done = true
				return row{line: x.rowNo, bad: true, payload: badRow(x.name, x.kind, x.rowNo, err.Error(), text)}, nil
			}
			x.header = h
			continue
		}
		// Excel leaves empty cells out: a short row has empty values.
		if len(cells) > len(x.header) {
			if !blankCells(cells[len(x.header):]) {
				return row{line: x.rowNo, bad: true, payload: badRow(x.name, x.kind, x.rowNo,
					fmt.Sprintf("the row has values in %d columns, the header names %d", len(cells), len(x.header)), text)}, nil
			}
			cells = cells[:len(x.header)]
		}
		for len(cells) < len(x.header) {
			cells = append(cells, "")
		}
		return row{line: x.rowNo, payload: rowObject(x.header, cells)}, nil
	}
}

func (x *xlsxReader) resume() curFile {
	return curFile{stamp: stamp{Name: x.name, Size: x.size, Mtime: x.mtime}, Off: int64(x.rowNo), Line: x.rowNo}
}

func (x *xlsxReader) atEOF() bool { return x.done }

func (x *xlsxReader) sum() string { return x.sumHex }

func (x *xlsxReader) close() error {
	var err error
	if x.rows != nil {
		err = x.rows.Close()
	}
	if x.wb != nil {
		if cerr := x.wb.Close(); err == nil {
			err = cerr
		}
	}
	os.Remove(x.tmp)
	return err
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
