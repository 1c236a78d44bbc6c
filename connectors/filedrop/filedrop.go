// Package filedrop is lothub's connector for exported files: it picks up
// the CSV, JSON Lines and Excel files an ERP, MES or spreadsheet drops on an
// SFTP server (github.com/pkg/sftp over golang.org/x/crypto/ssh) or into a
// local directory, and turns every row into a source record whose id is
// file:line, keyed by the file's header.
//
// What it guarantees, and how:
//
//   - A file still being written is never read: it must sit unchanged
//     (size and modification time) across two listings stable_wait apart,
//     or have its trigger file (X.csv.done), and names of files still being
//     uploaded (X.csv.tmp) are ignored.
//   - Exactly once: the position (see position.go) lists the files fully
//     ingested with their size, modification time and content hash, and the
//     byte offset and hash state inside the file being read. The hub commits
//     it with the events, so a lost connection or a killed hub resumes after
//     the last committed row. An unchanged file dropped again is skipped; a
//     file whose content changed is read again, and its rows supersede the
//     earlier ones because event ids come from the rows' document keys.
//   - After-processing (move to an archive folder, delete) happens only in
//     Ack, when the hub says a position that lists the file as ingested is
//     committed. A Read changes nothing in the folder: the hub reads ahead
//     of its commits, so reading from a position proves nothing.
//   - Memory stays constant whatever the file size: rows are streamed.
//
// The connector keeps no state the hub relies on. It does keep open SFTP
// connections, and the file being read at the offset reached, between
// calls, only as a cache: a call that finds nothing cached connects again.
//
// docs/connectors/filedrop.md is the admin's guide.
package filedrop

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/sdk"
)

// Version is the connector's version, recorded with every run.
const Version = "1.1.0"

// DefaultMapping is the default mapping (mapping.yaml): the canonical CSV
// layout, one file kind per event type, columns named after the canonical
// fields.
//
//go:embed mapping.yaml
var DefaultMapping []byte

// Connector reads files. It is safe for concurrent use.
type Connector struct {
	mu   sync.Mutex
	idle map[string][]*session // open sessions by configuration

	// wait sleeps between the two listings of the stable check. Tests
	// replace it to change files in between.
	wait func(ctx context.Context, d time.Duration) error
	// now is the clock; time.Now when nil.
	now func() time.Time
}

// New returns the connector.
func New() *Connector { return &Connector{idle: map[string][]*session{}} }

var (
	_ sdk.Connector    = (*Connector)(nil)
	_ sdk.Acknowledger = (*Connector)(nil)
)

// Spec implements sdk.Connector.
func (c *Connector) Spec() sdk.Spec {
	kinds := slices.Concat(canonicalKinds, genericKinds, []string{KindBadRow})
	return sdk.Spec{
		Name:        "filedrop",
		Version:     Version,
		Description: "Reads CSV, JSON Lines and Excel files dropped on an SFTP server or in a directory, one record per row, exactly once.",
		Params:      params(),
		Kinds:       kinds,
	}
}

// Check implements sdk.Connector: it connects, logs in, checks the host
// key and lists the folder.
func (c *Connector) Check(ctx context.Context, cfg sdk.Config) error {
	o, err := parseOptions(cfg)
	if err != nil {
		return err
	}
	fsys, err := connect(ctx, o)
	if err != nil {
		return err
	}
	defer fsys.close()
	if _, err := fsys.readDir(ctx, ""); err != nil {
		return fmt.Errorf("list %s: %w (check that the folder exists and that the user may read it)", o.where(), err)
	}
	return nil
}

// Close closes the idle connections. The connector stays usable.
func (c *Connector) Close() error {
	c.mu.Lock()
	idle := c.idle
	c.idle = map[string][]*session{}
	c.mu.Unlock()
	for _, ss := range idle {
		for _, s := range ss {
			s.close()
		}
	}
	return nil
}

func (c *Connector) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func (c *Connector) sleep(ctx context.Context, d time.Duration) error {
	if c.wait != nil {
		return c.wait(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// session is an open source, and the file a Read stopped in, kept for
// the next Read of the same configuration.
type session struct {
	key  string
	fs   fsys
	open rowReader // nil, or positioned at openAt
	at   curFile
	idle *time.Timer
}

func (s *session) closeOpen() {
	if s.open != nil {
		s.open.close()
		s.open = nil
	}
}

func (s *session) close() {
	s.closeOpen()
	s.fs.close()
}

// idleTimeout is how long an unused session stays open.
const idleTimeout = 30 * time.Second

// take returns an idle session for o, or a new one; pooled reports which.
func (c *Connector) take(ctx context.Context, o *options) (*session, bool, error) {
	c.mu.Lock()
	if ss := c.idle[o.key]; len(ss) > 0 {
		s := ss[len(ss)-1]
		c.idle[o.key] = ss[:len(ss)-1]
		c.mu.Unlock()
		s.idle.Stop()
		return s, true, nil
	}
	c.mu.Unlock()
	fsys, err := connect(ctx, o)
	if err != nil {
		return nil, false, err
	}
	return &session{key: o.key, fs: fsys}, false, nil
}

// put keeps s for the next call, closing it after idleTimeout.
func (c *Connector) put(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idle[s.key] = append(c.idle[s.key], s)
	s.idle = time.AfterFunc(idleTimeout, func() {
		c.mu.Lock()
		ss := c.idle[s.key]
		i := slices.Index(ss, s)
		if i >= 0 {
			c.idle[s.key] = slices.Delete(ss, i, i+1)
		}
		c.mu.Unlock()
		if i >= 0 {
			s.close()
		}
	})
}

// Read implements sdk.Connector.
func (c *Connector) Read(ctx context.Context, cfg sdk.Config, p sdk.Position, limit int) (sdk.ReadResult, error) {
	o, err := parseOptions(cfg)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	start, err := decodePosition(p)
	if err != nil {
		return sdk.ReadResult{}, err
	}
	limit = min(max(limit, 1), 100_000)
	for attempt := 0; ; attempt++ {
		s, pooled, err := c.take(ctx, o)
		if err != nil {
			return sdk.ReadResult{}, readError(ctx, o, err)
		}
		r := &reading{c: c, o: o, s: s, pos: start.clone(), max: limit, now: c.clock()}
		aborted := false
		stop := context.AfterFunc(ctx, func() { s.fs.close() })
		err = r.run(ctx)
		if !stop() {
			aborted = true
		}
		if err == nil && !aborted {
			c.put(s)
			return r.result(start, p), nil
		}
		s.close()
		if err == nil {
			err = ctx.Err()
		}
		if pooled && attempt == 0 && transient(err) && ctx.Err() == nil {
			// The idle connection died (the server closed it): connect
			// again, once.
			continue
		}
		return sdk.ReadResult{}, readError(ctx, o, err)
	}
}

// Ack implements sdk.Acknowledger: the rows of every file that pos lists
// as ingested are committed, so those files (and their trigger files) are
// moved to the archive folder or deleted, as after says. Files that
// changed since are left alone (they are read again as a new version),
// and files already gone are fine: Ack may repeat a position.
func (c *Connector) Ack(ctx context.Context, cfg sdk.Config, p sdk.Position) error {
	o, err := parseOptions(cfg)
	if err != nil {
		return err
	}
	if o.after == afterLeave || len(p) == 0 {
		return nil
	}
	pos, err := decodePosition(p)
	if err != nil {
		return err
	}
	if len(pos.Done) == 0 {
		return nil
	}
	s, _, err := c.take(ctx, o)
	if err != nil {
		return readError(ctx, o, err)
	}
	r := &reading{c: c, o: o, s: s, pos: pos, now: c.clock()}
	stop := context.AfterFunc(ctx, func() { s.fs.close() })
	files, triggers, err := r.list(ctx)
	if err == nil {
		err = r.afterProcessing(ctx, files, triggers)
	}
	if !stop() {
		s.close()
		return readError(ctx, o, ctx.Err())
	}
	if err != nil {
		s.close()
		return readError(ctx, o, err)
	}
	c.put(s)
	return nil
}

// readError says where a Read failed; lost connections are transient.
func readError(ctx context.Context, o *options, err error) error {
	var ic *sdk.InvalidConfigError
	var re *sdk.RetryError
	var hk *hostKeyError
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("read %s: %w", o.where(), ctx.Err())
	case errors.As(err, &ic), errors.As(err, &hk), errors.Is(err, sdk.ErrInvalidPosition):
		return err
	case errors.As(err, &re):
		return err
	case transient(err):
		return sdk.RetryAfter(0, fmt.Errorf("read %s: %w (the connection was lost; reading resumes after the last committed row)", o.where(), err))
	}
	return fmt.Errorf("read %s: %w", o.where(), err)
}

// maxBatchBytes bounds the payload of one batch, well below the plugin
// protocol's message limit.
const maxBatchBytes = 16 << 20

// checkpointEvery is how often a record carries its own position (besides
// the last record of a batch), so that a hub may commit part of a batch.
// Not every record: the position holds the list of ingested files.
const checkpointEvery = 100

// reading is one Read.
type reading struct {
	c     *Connector
	o     *options
	s     *session
	pos   *position
	max   int
	now   time.Time
	recs  []sdk.Record
	bytes int
	more  bool
}

func (r *reading) full() bool { return len(r.recs) >= r.max || r.bytes >= maxBatchBytes }

func (r *reading) result(start *position, p sdk.Position) sdk.ReadResult {
	next := r.pos.encode()
	if len(r.recs) == 0 && string(next) == string(start.encode()) {
		next = p // nothing changed: hand the position back as it came
	}
	if n := len(r.recs); n > 0 {
		r.recs[n-1].Position = next
	}
	return sdk.ReadResult{Records: r.recs, Next: next, More: r.more}
}

func (r *reading) run(ctx context.Context) error {
	files, triggers, err := r.list(ctx)
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	r.expire(files)

	// The file being read comes first, if it is still the same version.
	if cur := r.pos.Cur; cur != nil {
		e, ok := files[cur.Name]
		switch {
		case !ok:
			slog.WarnContext(ctx, "file left the folder while it was being read; the rows read from it stay", "file", cur.Name, "line", cur.Line)
			r.pos.Cur = nil
		case !e.stamp().same(cur.stamp):
			slog.WarnContext(ctx, "file changed while it was being read: reading it again from the start; its rows supersede", "file", cur.Name, "line", cur.Line)
			r.pos.Cur = nil
		default:
			if err := r.file(ctx, e, cur); err != nil {
				return err
			}
			if r.full() {
				r.more = true
				return nil
			}
		}
	}

	var todo []entry
	for _, name := range sortedNames(files) {
		e := files[name]
		if d := r.pos.done(name); d != nil && d.same(e.stamp()) {
			continue
		}
		todo = append(todo, e)
	}
	ready, err := r.readiness(ctx, todo, triggers)
	if err != nil {
		return err
	}
	for i, e := range ready {
		if r.full() {
			r.more = true
			return nil
		}
		if err := r.file(ctx, e, nil); err != nil {
			return err
		}
		if r.full() && (r.pos.Cur != nil || i < len(ready)-1) {
			r.more = true
			return nil
		}
	}
	return nil
}

// list returns the data files of the source that match a kind's glob, and
// the names of the files whose trigger file exists.
func (r *reading) list(ctx context.Context) (map[string]entry, map[string]bool, error) {
	files := map[string]entry{}
	triggers := map[string]bool{}
	archive := r.archiveRel()
	var walk func(dir string) error
	walk = func(dir string) error {
		es, err := r.s.fs.readDir(ctx, dir)
		if err != nil {
			return err
		}
		for _, e := range es {
			base := path.Base(e.name)
			switch {
			case strings.HasPrefix(base, "."):
				// Hidden: editors' and uploaders' scratch files.
			case e.dir:
				if r.o.recursive && e.name != archive {
					if err := walk(e.name); err != nil {
						return err
					}
				}
			case r.o.readySuffix != "" && strings.HasSuffix(base, r.o.readySuffix):
				triggers[strings.TrimSuffix(e.name, r.o.readySuffix)] = true
			case r.o.temporary(base):
			case r.o.kindOf(e.name) != "":
				files[e.name] = e
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, nil, err
	}
	return files, triggers, nil
}

// archiveRel is the archive folder as a path below the root, or "" when
// it is elsewhere.
func (r *reading) archiveRel() string {
	a := r.o.archive
	if !strings.HasPrefix(a, "/") {
		return path.Clean(a)
	}
	root := strings.TrimSuffix(filepath.ToSlash(r.o.root), "/") + "/"
	if strings.HasPrefix(a, root) {
		return strings.TrimPrefix(a, root)
	}
	return ""
}

// afterProcessing moves or deletes the files that the acknowledged
// position lists as ingested and that are still in the folder unchanged,
// with their trigger files. A file that cannot be moved stays (it is not
// read again while unchanged) and is tried again at the next Ack; the
// first such error is returned once all were tried.
func (r *reading) afterProcessing(ctx context.Context, files map[string]entry, triggers map[string]bool) error {
	var first error
	for i := range r.pos.Done {
		d := &r.pos.Done[i]
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e, ok := files[d.Name]
		if !ok || !e.stamp().same(d.stamp) {
			continue // gone already, or replaced by a version read as such
		}
		if err := r.act(ctx, d.Name); err != nil {
			slog.WarnContext(ctx, "after-processing failed: the file stays (it is not read again while unchanged), and is tried again at the next acknowledgement",
				"file", d.Name, "after", r.o.after, "err", err)
			if first == nil {
				first = fmt.Errorf("%s %s: %w", r.o.after, d.Name, err)
			}
			continue
		}
		delete(files, d.Name)
		if r.o.readySuffix != "" && triggers[d.Name] {
			if err := r.act(ctx, d.Name+r.o.readySuffix); err != nil {
				slog.WarnContext(ctx, "after-processing of the trigger file failed", "file", d.Name+r.o.readySuffix, "err", err)
			}
			delete(triggers, d.Name)
		}
	}
	return first
}

func (r *reading) act(ctx context.Context, name string) error {
	switch r.o.after {
	case afterDelete:
		err := r.s.fs.remove(ctx, name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err == nil {
			slog.InfoContext(ctx, "deleted ingested file", "file", name)
		}
		return err
	case afterMove:
		to := path.Join(r.o.archive, name)
		err := r.s.fs.move(ctx, name, to)
		if errors.Is(err, fs.ErrExist) {
			// An earlier version is archived under that name: keep both.
			to += "." + r.now.UTC().Format("20060102T150405.000000000Z")
			err = r.s.fs.move(ctx, name, to)
		}
		if err == nil {
			slog.InfoContext(ctx, "archived ingested file", "file", name, "to", to)
		}
		return err
	}
	return nil
}

// expire forgets files that left the folder more than the retention ago.
func (r *reading) expire(files map[string]entry) {
	limit := r.now.Add(-r.o.retention).Unix()
	r.pos.Done = slices.DeleteFunc(r.pos.Done, func(d doneFile) bool {
		_, present := files[d.Name]
		return !present && d.At < limit
	})
}

// readiness returns the files of todo that are complete: their trigger
// file exists, or two listings stable_wait apart agree on their size and
// modification time. Proofs are kept in the position until the file is
// read.
func (r *reading) readiness(ctx context.Context, todo []entry, triggers map[string]bool) ([]entry, error) {
	var ready, unproven []entry
	for _, e := range todo {
		switch {
		case r.o.formatOf(e.name) == "":
			slog.WarnContext(ctx, "skipping file: its extension names no format (use .csv, .jsonl or .xlsx, or set format)", "file", e.name)
		case r.o.readySuffix != "":
			if triggers[e.name] {
				ready = append(ready, e)
			}
		case r.o.stableWait <= 0 || r.pos.ready(e.stamp()):
			ready = append(ready, e)
		default:
			unproven = append(unproven, e)
		}
	}
	if len(unproven) > 0 {
		if err := r.c.sleep(ctx, r.o.stableWait); err != nil {
			return nil, err
		}
		for _, e := range unproven {
			again, err := r.s.fs.stat(ctx, e.name)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				continue // renamed or removed since
			case err != nil:
				return nil, fmt.Errorf("stat %s: %w", e.name, err)
			case again.stamp().same(e.stamp()):
				ready = append(ready, e)
			default:
				slog.InfoContext(ctx, "file is still being written: it is read once it stops changing", "file", e.name, "size", again.size)
			}
		}
		slices.SortFunc(ready, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	}
	r.pos.Ready = nil
	if r.o.readySuffix == "" && r.o.stableWait > 0 {
		for _, e := range ready {
			r.pos.Ready = append(r.pos.Ready, e.stamp())
		}
	}
	return ready, nil
}

// file reads rows of e into the batch, from cur (nil: from the start),
// until the batch is full or the file ends.
func (r *reading) file(ctx context.Context, e entry, cur *curFile) error {
	kind := r.o.kindOf(e.name)
	if cur == nil {
		if d := r.pos.done(e.name); d != nil {
			same, err := r.sameContent(ctx, e, d.Hash)
			if err != nil {
				return err
			}
			if same {
				slog.InfoContext(ctx, "file dropped again with the same content: skipped", "file", e.name)
				r.finish(e, d.Hash)
				return nil
			}
			slog.InfoContext(ctx, "file changed since it was ingested: reading it again; its rows supersede the earlier ones", "file", e.name)
		}
	}
	rr, err := r.open(ctx, e, kind, cur)
	var bad *badFileError
	if errors.As(err, &bad) {
		r.add(sdk.Record{Kind: KindBadRow, ID: e.name + ":1", Payload: badRow(e.name, kind, 1, bad.why, nil), Time: e.mtime})
		sum, err := r.hash(ctx, e)
		if err != nil {
			return err
		}
		r.finish(e, sum)
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", e.name, err)
	}
	for {
		rw, err := rr.next(ctx)
		if errors.Is(err, io.EOF) {
			st := rr.resume()
			if st.Off != e.size && r.o.formatOf(e.name) != formatXLSX {
				slog.WarnContext(ctx, "file changed size while it was read: the rows of the new version are read at the next sync", "file", e.name, "listed", e.size, "read", st.Off)
			}
			r.finish(e, rr.sum())
			rr.close()
			return nil
		}
		if err != nil {
			rr.close()
			return fmt.Errorf("%s line %d: %w", e.name, rr.resume().Line+1, err)
		}
		st := rr.resume()
		r.pos.Cur = &st
		rec := sdk.Record{Kind: kind, ID: fmt.Sprintf("%s:%d", e.name, rw.line), Payload: rw.payload, Time: e.mtime}
		if rw.bad {
			rec.Kind = KindBadRow
		}
		r.add(rec)
		if r.full() {
			if rr.atEOF() {
				r.finish(e, rr.sum())
				rr.close()
				return nil
			}
			r.s.open, r.s.at = rr, st // the next Read goes on from here
			return nil
		}
	}
}

// open returns a reader of e at cur: the session's cached reader when it
// stands exactly there, or a new one.
func (r *reading) open(ctx context.Context, e entry, kind string, cur *curFile) (rowReader, error) {
	if s := r.s; s.open != nil {
		if cur != nil && s.at.same(cur.stamp) && s.at.Off == cur.Off && s.at.Line == cur.Line && string(s.at.Hash) == string(cur.Hash) {
			rr := s.open
			s.open = nil
			return rr, nil
		}
		s.closeOpen()
	}
	if r.o.formatOf(e.name) == formatXLSX {
		return openXLSX(ctx, r.s.fs, e, kind, r.o, cur)
	}
	return openStream(ctx, r.s.fs, e, kind, r.o.formatOf(e.name), r.o, cur)
}

// add appends rec to the batch; every checkpointEvery records, it carries
// the position after it.
func (r *reading) add(rec sdk.Record) {
	r.recs = append(r.recs, rec)
	r.bytes += len(rec.Payload)
	if len(r.recs)%checkpointEvery == 0 {
		rec := &r.recs[len(r.recs)-1]
		rec.Position = r.pos.encode()
	}
}

// finish records e as fully ingested with content hash sum.
func (r *reading) finish(e entry, sum string) {
	r.pos.setDone(doneFile{stamp: e.stamp(), Hash: sum, At: r.now.Unix()})
	r.pos.Cur = nil
	r.pos.Ready = slices.DeleteFunc(r.pos.Ready, func(s stamp) bool { return s.Name == e.name })
}

// sameContent reports whether e's content hashes to sum.
func (r *reading) sameContent(ctx context.Context, e entry, sum string) (bool, error) {
	got, err := r.hash(ctx, e)
	return got == sum, err
}

// hash returns the hex SHA-256 of e's content.
func (r *reading) hash(ctx context.Context, e entry) (string, error) {
	f, err := r.s.fs.open(ctx, e.name)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", e.name, err)
	}
	defer f.Close()
	h, _ := restoreHash(nil)
	if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: io.LimitReader(f, e.size)}); err != nil {
		return "", fmt.Errorf("read %s: %w", e.name, err)
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

func sortedNames(files map[string]entry) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
