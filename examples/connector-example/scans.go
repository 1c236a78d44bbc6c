package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lothub/lothub/sdk"
)

// Record kinds.
const (
	KindScan    = "scan"     // one scan as the MES wrote it
	KindBadLine = "bad-line" // a line that is not a scan, kept so that it is seen and fixed, not lost
)

// SignatureHeader carries the HMAC-SHA256 of a webhook body.
const SignatureHeader = "X-Lothub-Signature"

// Scans reads MES scan exports. It keeps no state: everything it needs to
// resume is in the position, so it is safe for concurrent use.
//
// The MES exports scans as JSON Lines files into one directory, appending to
// the newest file and starting a new one from time to time; files are read
// in name order. Each line is one scan with at least a scan_id and an RFC
// 3339 time:
//
//	{"scan_id":"S-1001","time":"2026-03-01T08:00:00Z","station":"PACK-1","item":"FG-1","lot":"L1","qty":10,"uom":"EA"}
type Scans struct{}

// New returns the connector.
func New() *Scans { return &Scans{} }

var (
	_ sdk.Connector      = (*Scans)(nil)
	_ sdk.WebhookHandler = (*Scans)(nil)
)

// Spec implements sdk.Connector.
func (*Scans) Spec() sdk.Spec {
	return sdk.Spec{
		Name:        "mes-scans",
		Version:     "0.1.0",
		Description: "Reads MES scans: JSON Lines files exported into a directory, and scans POSTed by scanners.",
		Params: []sdk.Param{
			{Name: "dir", Type: sdk.TypeString, Required: true,
				Description: "Directory the MES exports scan files to (JSON Lines, one scan per line)."},
			{Name: "pattern", Type: sdk.TypeString, Default: "*.jsonl",
				Description: "Glob of the file names to read in dir; files are read in name order, so name them so that newer sorts later (scans-2026-03-01.jsonl)."},
			{Name: "lock_file", Type: sdk.TypeString, Default: ".exporting",
				Description: "Name of the file the exporter keeps in dir while it writes; while it exists, reads back off and retry."},
			{Name: "retry_wait", Type: sdk.TypeDuration, Default: "30s",
				Description: "How long the hub waits before reading again while the lock file exists."},
			{Name: "max_line_bytes", Type: sdk.TypeInt, Default: "1048576",
				Description: "Longest line accepted; a longer one becomes a bad-line record."},
			{Name: "hang_file", Type: sdk.TypeString,
				Description: "Test hook; leave empty in production. While a file of this name exists in dir, Read never answers and ignores cancellation, as a connector stuck on a dead network share would: the hub's call timeout, kill and restart are tested with it."},
			{Name: "webhook_secret", Type: sdk.TypeString, Secret: true,
				Description: "Key scanners sign POSTed scans with (HMAC-SHA256 of the body, hex, in the X-Lothub-Signature header); webhooks are refused while it is empty."},
		},
		Kinds: []string{KindScan, KindBadLine},
	}
}

// options is the configuration, checked beyond what the spec can say.
type options struct {
	dir       string
	pattern   string
	lock      string
	hang      string // test hook: Read hangs while dir/hang exists
	retryWait time.Duration
	maxLine   int
}

func optionsFrom(cfg sdk.Config) (options, error) {
	d := sdk.NewDecoder((*Scans)(nil).Spec(), cfg)
	o := options{
		dir:       d.String("dir"),
		pattern:   d.String("pattern"),
		lock:      d.String("lock_file"),
		hang:      d.String("hang_file"),
		retryWait: d.Duration("retry_wait"),
		maxLine:   d.IntAtLeast("max_line_bytes", 1),
	}
	if err := d.Err(); err != nil {
		return o, err
	}
	if _, err := filepath.Match(o.pattern, ""); err != nil || strings.ContainsAny(o.pattern, `/\`) {
		return o, sdk.InvalidConfig("pattern", "%q is not a glob of file names (such as *.jsonl)", o.pattern)
	}
	if o.lock != "" && (strings.ContainsAny(o.lock, `/\`) || o.lock == "." || o.lock == "..") {
		return o, sdk.InvalidConfig("lock_file", "%q is not a file name", o.lock)
	}
	if o.hang != "" && (strings.ContainsAny(o.hang, `/\`) || o.hang == "." || o.hang == "..") {
		return o, sdk.InvalidConfig("hang_file", "%q is not a file name", o.hang)
	}
	return o, nil
}

// Check implements sdk.Connector: the directory must exist and be listable.
func (*Scans) Check(ctx context.Context, cfg sdk.Config) error {
	o, err := optionsFrom(cfg)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := os.ReadDir(o.dir); err != nil {
		return fmt.Errorf("scan directory: %w (check that the MES export share is mounted and readable by the hub)", err)
	}
	return nil
}

// position is where reading resumes: all files named before File are read,
// and File is read up to byte Offset.
type position struct {
	V      int    `json:"v"`
	File   string `json:"file"`
	Offset int64  `json:"offset"`
}

func decodePosition(p sdk.Position) (position, error) {
	if len(p) == 0 {
		return position{V: 1}, nil
	}
	var pos position
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pos); err != nil {
		return position{}, fmt.Errorf("position %q: %w", p, sdk.ErrInvalidPosition)
	}
	if pos.V != 1 || pos.File == "" || strings.ContainsAny(pos.File, `/\`) || pos.Offset < 0 {
		return position{}, fmt.Errorf("position %q: %w", p, sdk.ErrInvalidPosition)
	}
	return pos, nil
}

func (p position) encode() sdk.Position {
	if p.File == "" {
		return nil // nothing read yet: the beginning
	}
	b, _ := json.Marshal(p) // cannot fail: strings and ints
	return b
}

// batch accumulates one Read.
type batch struct {
	max     int
	records []sdk.Record
	cur     position
	more    bool
}

func (b *batch) full() bool { return len(b.records) >= b.max }

// Read implements sdk.Connector.
func (*Scans) Read(ctx context.Context, cfg sdk.Config, p sdk.Position, max int) (sdk.ReadResult, error) {
	o, err := optionsFrom(cfg)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	start, err := decodePosition(p)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	if o.hang != "" {
		if _, err := os.Stat(filepath.Join(o.dir, o.hang)); err == nil {
			hang(ctx, o)
		}
	}
	if o.lock != "" {
		if _, err := os.Stat(filepath.Join(o.dir, o.lock)); err == nil {
			return sdk.ReadResult{}, sdk.RetryAfter(o.retryWait, fmt.Errorf("the MES is exporting (%s exists)", o.lock))
		}
	}
	files, err := listFiles(o)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	b := &batch{max: max, cur: start}
	for i, name := range files {
		if name < start.File {
			continue
		}
		var offset int64
		if name == start.File {
			offset = start.Offset
		}
		if err := ctx.Err(); err != nil {
			return sdk.ReadResult{}, fmt.Errorf("read %s: %w", name, err)
		}
		if err := readFile(ctx, o, name, offset, i == len(files)-1, b); err != nil {
			return sdk.ReadResult{}, err
		}
		if b.more {
			break
		}
	}
	slog.DebugContext(ctx, "read scans", "dir", o.dir, "records", len(b.records), "more", b.more)
	return sdk.ReadResult{Records: b.records, Next: b.cur.encode(), More: b.more}, nil
}

// hang is the hang_file test hook: it never returns, whatever ctx says,
// so that only killing the process ends the call.
func hang(ctx context.Context, o options) {
	slog.WarnContext(ctx, "hang_file exists: not answering (test hook)", "file", filepath.Join(o.dir, o.hang))
	for {
		time.Sleep(time.Hour)
	}
}

// listFiles returns the names of the scan files in dir, in name order.
func listFiles(o options) ([]string, error) {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, fmt.Errorf("list scan directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == o.lock || e.Name() == o.hang {
			continue
		}
		if ok, _ := filepath.Match(o.pattern, e.Name()); ok {
			names = append(names, e.Name())
		}
	}
	return names, nil // os.ReadDir sorts by name
}

// readFile adds the complete lines of name after offset to b. In the newest
// file a last line without a newline is still being written and is left for
// the next read; in an older file it is taken as it is.
func readFile(ctx context.Context, o options, name string, offset int64, newest bool, b *batch) error {
	path := filepath.Join(o.dir, name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // rotated away since it was listed
	}
	if err != nil {
		return fmt.Errorf("open scan file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("scan file %s: %w", name, err)
	}
	if info.Size() < offset {
		return fmt.Errorf("scan file %s is %d bytes, shorter than the saved offset %d: it was rewritten, not appended to; reset the cursor to read it again: %w",
			name, info.Size(), offset, sdk.ErrInvalidPosition)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fmt.Errorf("scan file %s: %w", name, err)
	}
	lr := &lineReader{r: bufio.NewReaderSize(f, 64<<10), limit: o.maxLine}
	for lineNo := 0; ; lineNo++ {
		if lineNo%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("read %s: %w", name, err)
			}
		}
		l, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s at byte %d: %w", name, offset, err)
		}
		if l.partial && newest {
			return nil
		}
		blank := len(bytes.TrimSpace(l.text)) == 0 && !l.tooLong
		if b.full() {
			if !blank {
				b.more = true
				return nil
			}
		}
		at := offset
		offset += l.size
		if blank {
			b.cur = position{V: 1, File: name, Offset: offset}
			continue
		}
		rec := parseLine(path, name, at, info.ModTime(), l, o.maxLine)
		b.cur = position{V: 1, File: name, Offset: offset}
		rec.Position = b.cur.encode()
		b.records = append(b.records, rec)
	}
}

// scan is what a line must hold to be a scan record.
type scan struct {
	ScanID string `json:"scan_id"`
	Time   string `json:"time"`
}

// parseScan checks one scan document and returns its id and time.
func parseScan(doc []byte) (string, time.Time, error) {
	if !json.Valid(doc) {
		return "", time.Time{}, errors.New("not a JSON document")
	}
	var s scan
	if err := json.Unmarshal(doc, &s); err != nil {
		return "", time.Time{}, fmt.Errorf("not a scan object: %w", err)
	}
	if strings.TrimSpace(s.ScanID) == "" {
		return "", time.Time{}, errors.New(`no "scan_id"`)
	}
	t, err := time.Parse(time.RFC3339Nano, s.Time)
	if err != nil {
		return "", time.Time{}, fmt.Errorf(`"time" %q is not an RFC 3339 time`, s.Time)
	}
	return strings.TrimSpace(s.ScanID), t, nil
}

// parseLine turns one line into a scan record, or a bad-line record saying
// where the line is and what is wrong with it.
func parseLine(path, name string, at int64, modTime time.Time, l line, maxLine int) sdk.Record {
	var id string
	var t time.Time
	err := fmt.Errorf("longer than max_line_bytes (%d)", maxLine)
	if !l.tooLong {
		doc := bytes.TrimSpace(l.text)
		if id, t, err = parseScan(doc); err == nil {
			return sdk.Record{Kind: KindScan, ID: "scan/" + id, Payload: append(json.RawMessage(nil), doc...), Time: t}
		}
	}
	text := string(l.text)
	if len(text) > 200 {
		text = text[:200]
	}
	payload, _ := json.Marshal(map[string]any{ // cannot fail: strings and ints
		"file":   name,
		"line":   lineNumber(path, at),
		"offset": at,
		"error":  err.Error(),
		"text":   strings.ToValidUTF8(text, "\uFFFD"),
	})
	return sdk.Record{Kind: KindBadLine, ID: fmt.Sprintf("bad-line/%s@%d", name, at), Payload: payload, Time: modTime}
}

// lineNumber returns the 1-based number of the line starting at byte at, or
// 0 if the file cannot be read. Only bad lines pay for it.
func lineNumber(path string, at int64) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 1
	r := bufio.NewReader(io.LimitReader(f, at))
	for {
		b, err := r.ReadByte()
		if err != nil {
			return n
		}
		if b == '\n' {
			n++
		}
	}
}

// line is one line of a scan file.
type line struct {
	text    []byte // without the line ending; at most limit+1 bytes
	size    int64  // bytes it takes in the file, line ending included
	tooLong bool
	partial bool // no line ending: the end of the file
}

// lineReader reads lines of any length in bounded memory.
type lineReader struct {
	r     *bufio.Reader
	limit int
}

// next returns the next line, or io.EOF when there is none.
func (lr *lineReader) next() (line, error) {
	var l line
	var length int64 // of the text, line ending excluded
	for {
		chunk, err := lr.r.ReadSlice('\n')
		l.size += int64(len(chunk))
		ended := err == nil
		if ended {
			chunk = chunk[:len(chunk)-1]
		}
		length += int64(len(chunk))
		if room := lr.limit + 1 - len(l.text); room > 0 {
			l.text = append(l.text, chunk[:min(room, len(chunk))]...)
		}
		switch {
		case ended:
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if l.size == 0 {
				return line{}, io.EOF
			}
			l.partial = true
		default:
			return line{}, err
		}
		if bytes.HasSuffix(l.text, []byte("\r")) && int64(len(l.text)) == length {
			l.text = l.text[:len(l.text)-1]
			length--
		}
		l.tooLong = length > int64(lr.limit)
		return l, nil
	}
}

// Webhook implements sdk.WebhookHandler: a scanner POSTs one scan, or
// several as JSON Lines, signed with webhook_secret.
func (*Scans) Webhook(ctx context.Context, cfg sdk.Config, req sdk.WebhookRequest) (sdk.WebhookResult, error) {
	secret := cfg.Get("webhook_secret")
	if secret == "" {
		return sdk.WebhookResult{}, sdk.InvalidConfig("webhook_secret", "is empty, so webhooks are refused; set it to the key the scanners sign with")
	}
	if req.Method != "" && req.Method != http.MethodPost {
		return sdk.WebhookResult{Status: http.StatusMethodNotAllowed}, nil
	}
	if err := sdk.VerifyHMACSHA256([]byte(secret), req.Body, req.Headers.Get(SignatureHeader)); err != nil {
		return sdk.WebhookResult{}, fmt.Errorf("scan webhook: %w", err)
	}
	var records []sdk.Record
	for i, doc := range bytes.Split(req.Body, []byte("\n")) {
		doc = bytes.TrimSpace(doc)
		if len(doc) == 0 {
			continue
		}
		id, t, err := parseScan(doc)
		if err != nil {
			return sdk.WebhookResult{}, fmt.Errorf("scan webhook: body line %d: %w", i+1, err)
		}
		records = append(records, sdk.Record{Kind: KindScan, ID: "scan/" + id, Payload: append(json.RawMessage(nil), doc...), Time: t})
	}
	if len(records) == 0 {
		return sdk.WebhookResult{}, errors.New("scan webhook: the body holds no scan")
	}
	slog.DebugContext(ctx, "scans pushed", "records", len(records))
	return sdk.WebhookResult{Records: records, Status: http.StatusAccepted}, nil
}
