package core

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

// jsonlSeeds are the canonical events of the test fixtures, one a line.
func jsonlSeeds(f *testing.F) [][]byte {
	b, err := os.ReadFile("../cmd/hub/testdata/movements.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// FuzzDecodeEvent decodes hostile lines as canonical events: a valid
// event or an error, never a panic; an event that validates has a hash,
// lots and a body that decodes to the same hash.
func FuzzDecodeEvent(f *testing.F) {
	for _, l := range jsonlSeeds(f) {
		f.Add(l)
	}
	f.Add([]byte(`{"id":"x","type":"transform","time":"2026-01-01T00:00:00Z","inputs":[{"item":"A","lot":"1","qty":1e308,"uom":"KG"}],"outputs":[{"item":"A","lot":"1"}],"rework":true}`))
	f.Add([]byte(`{"id":"r","type":"reverse","time":"2026-01-01T00:00:00+14:00","reverses":"x"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := DecodeEvent(line)
		if err != nil {
			if ErrorCode(err) != EINVALID {
				t.Fatalf("a bad line is %s, want invalid: %v", ErrorCode(err), err)
			}
			return
		}
		if e.Validate() != nil {
			return
		}
		p := Prepare(e)
		_ = e.Lots()
		again, err := DecodeEvent(p.Body)
		if err != nil {
			t.Fatalf("the stored body of a valid event does not decode: %v\n%s", err, p.Body)
		}
		if h := again.ContentHash(); h != p.Hash {
			t.Fatalf("the stored body hashes to %s, the event to %s", h, p.Hash)
		}
	})
}

// FuzzReadLine cuts hostile JSON Lines input as hub ingest does: every
// line comes back whole, or marked too long with no more than
// MaxEventSize bytes kept, never a panic.
func FuzzReadLine(f *testing.F) {
	for _, l := range jsonlSeeds(f) {
		f.Add(append(l, '\n'), 16)
	}
	f.Add([]byte("a\r\nb\n\n\nc"), 16)
	f.Add([]byte(strings.Repeat("x", 100)), 16)
	f.Fuzz(func(t *testing.T, in []byte, size int) {
		size = 16 + (size&0xffff)%4096 // the reader's buffer; lines longer than it come in pieces
		br := bufio.NewReaderSize(bytes.NewReader(in), size)
		var lines [][]byte
		for {
			l, tooLong, err := readLine(br)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("readLine: %v", err)
			}
			if tooLong || len(l) > MaxEventSize {
				t.Fatalf("a line of at most %d bytes reported too long (%d bytes kept)", len(in), len(l))
			}
			lines = append(lines, l)
		}
		// Every line, with its \n or \r\n end, in order.
		want := bytes.Split(in, []byte("\n"))
		last := len(want) - 1 // the line after the last \n: no \r\n end
		if len(want[last]) == 0 {
			want, last = want[:last], -1
		}
		if len(lines) != len(want) {
			t.Fatalf("%d lines, want %d", len(lines), len(want))
		}
		for i := range want {
			w := want[i]
			if i != last {
				w = bytes.TrimSuffix(w, []byte("\r"))
			}
			if !bytes.Equal(lines[i], w) {
				t.Fatalf("line %d = %q, want %q", i+1, lines[i], w)
			}
		}
	})
}
