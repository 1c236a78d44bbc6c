package filedrop

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/lothub/lothub/sdk"
)

// The position says which files are fully ingested and where reading
// stands in the file being read. The hub stores it in the same transaction
// as the events made from the rows before it, so:
//
//   - a file in Done was committed whole: it is skipped while its size and
//     modification time are unchanged, and when they change it is read
//     again only if its content hash changed (a re-upload of the same file
//     is skipped, a corrected export is read and its rows supersede);
//   - Cur resumes inside a file at the byte after the last committed row,
//     with the SHA-256 state of the bytes before it, so a connection lost
//     or a hub killed mid-file neither loses nor repeats a row;
//   - after-processing (move, delete) of the files in Done happens when the
//     hub acknowledges a position (Ack), never on a Read: the hub reads
//     ahead of its commits, so a position handed to Read may not be
//     committed yet.
//
// Entries of files that have left the folder expire after the retention,
// so the position stays about as big as the folder.
type position struct {
	V     int        `json:"v"`
	Done  []doneFile `json:"done,omitempty"` // sorted by name
	Cur   *curFile   `json:"cur,omitempty"`
	Ready []stamp    `json:"ready,omitempty"` // files proven complete by two listings, not read yet
}

// stamp identifies a version of a file cheaply.
type stamp struct {
	Name  string `json:"n"` // slash-separated path below the root
	Size  int64  `json:"s"`
	Mtime int64  `json:"m"` // modification time, Unix nanoseconds
}

func (s stamp) same(t stamp) bool { return s.Name == t.Name && s.Size == t.Size && s.Mtime == t.Mtime }

type doneFile struct {
	stamp
	Hash string `json:"h"` // hex SHA-256 of the content
	At   int64  `json:"t"` // when it was ingested (its last row read), Unix seconds
	// Pending was set by version 1.0, which did after-processing on the
	// next Read; it is read and ignored (Ack acts on every file in Done).
	Pending bool `json:"p,omitempty"`
}

type curFile struct {
	stamp
	Off  int64  `json:"o"`            // bytes consumed (CSV, JSON Lines) or rows consumed (XLSX)
	Line int    `json:"l"`            // lines consumed (XLSX: rows)
	Hash []byte `json:"hs,omitempty"` // SHA-256 state of the bytes consumed (CSV, JSON Lines)
}

const positionVersion = 1

func invalidPosition(p []byte, why string) error {
	const show = 120
	text := string(p)
	if len(text) > show {
		text = text[:show] + "…"
	}
	return fmt.Errorf("position %q: %s (it was not written by this connector, or is damaged; 'hub cursor reset' reads the folder again, and rows already ingested do not double): %w",
		text, why, sdk.ErrInvalidPosition)
}

func decodePosition(p sdk.Position) (*position, error) {
	pos := &position{V: positionVersion}
	if len(p) == 0 {
		return pos, nil
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(pos); err != nil {
		return nil, invalidPosition(p, "not a filedrop position")
	}
	if dec.More() {
		return nil, invalidPosition(p, "trailing data")
	}
	if pos.V != positionVersion {
		return nil, invalidPosition(p, fmt.Sprintf("version %d, this connector reads version %d", pos.V, positionVersion))
	}
	for i, d := range pos.Done {
		if err := d.check(); err != nil || d.Hash == "" {
			return nil, invalidPosition(p, "a done entry is malformed")
		}
		if i > 0 && pos.Done[i-1].Name >= d.Name {
			return nil, invalidPosition(p, "done entries are not sorted")
		}
	}
	for _, r := range pos.Ready {
		if r.check() != nil {
			return nil, invalidPosition(p, "a ready entry is malformed")
		}
	}
	if c := pos.Cur; c != nil {
		if c.check() != nil || c.Off < 0 || c.Line < 0 {
			return nil, invalidPosition(p, "the current file is malformed")
		}
		if len(c.Hash) > 0 {
			if _, err := restoreHash(c.Hash); err != nil {
				return nil, invalidPosition(p, "the hash state is malformed")
			}
		}
	}
	return pos, nil
}

func (s stamp) check() error {
	if s.Name == "" || s.Size < 0 || strings.HasPrefix(s.Name, "/") || path.Clean(s.Name) != s.Name ||
		s.Name == ".." || strings.HasPrefix(s.Name, "../") {
		return fmt.Errorf("bad file entry %q", s.Name)
	}
	return nil
}

func (p *position) encode() sdk.Position {
	b, _ := json.Marshal(p) // cannot fail: strings, numbers, bytes
	return b
}

// clone returns a deep copy of p, for snapshots.
func (p *position) clone() *position {
	q := *p
	q.Done = slices.Clone(p.Done)
	q.Ready = slices.Clone(p.Ready)
	if p.Cur != nil {
		c := *p.Cur
		c.Hash = slices.Clone(p.Cur.Hash)
		q.Cur = &c
	}
	return &q
}

// done returns the entry of the file called name, or nil.
func (p *position) done(name string) *doneFile {
	i, ok := slices.BinarySearchFunc(p.Done, name, func(d doneFile, n string) int { return strings.Compare(d.Name, n) })
	if !ok {
		return nil
	}
	return &p.Done[i]
}

// setDone records a fully ingested file.
func (p *position) setDone(d doneFile) {
	i, ok := slices.BinarySearchFunc(p.Done, d.Name, func(e doneFile, n string) int { return strings.Compare(e.Name, n) })
	if ok {
		p.Done[i] = d
		return
	}
	p.Done = slices.Insert(p.Done, i, d)
}

// ready reports whether s was proven complete by an earlier listing.
func (p *position) ready(s stamp) bool {
	return slices.ContainsFunc(p.Ready, s.same)
}

// restoreHash returns a SHA-256 hash that continues from state.
func restoreHash(state []byte) (hashState, error) {
	h := sha256.New().(hashState)
	if len(state) == 0 {
		return h, nil
	}
	return h, h.UnmarshalBinary(state)
}

// hashState is a SHA-256 hash whose state can be saved in the position.
type hashState interface {
	Write(p []byte) (int, error)
	Sum(b []byte) []byte
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}
