package server

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/lothub/lothub/core"
)

// FuzzSplitEvents cuts hostile POST /v1/events bodies into events: a list
// of events or an error saying why (invalid, or over a limit), never a
// panic; never more than core.MaxEventsPerRequest events, none longer than
// core.MaxEventSize unless marked too long, lines in body order.
func FuzzSplitEvents(f *testing.F) {
	b, err := os.ReadFile("../cmd/hub/testdata/movements.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	f.Add(b)
	f.Add(append(append([]byte("[\n"), bytes.Join(lines, []byte(",\n"))...), "\n]"...))
	f.Add(lines[0])
	f.Add([]byte("{\n  \"id\": \"a\",\n  \"type\": \"hold\"\n}"))
	f.Add([]byte("[{}, {\"id\":1}, []]"))
	f.Add([]byte("\r\n\r\n{}\r\n{"))
	f.Fuzz(func(t *testing.T, body []byte) {
		inputs, err := splitEvents(body, "fuzz")
		if err != nil {
			var tl *tooLarge
			if core.ErrorCode(err) != core.EINVALID && !errors.As(err, &tl) {
				t.Fatalf("error %v is neither invalid nor over a limit", err)
			}
			return
		}
		if len(inputs) == 0 || len(inputs) > core.MaxEventsPerRequest {
			t.Fatalf("%d events from a body of %d bytes", len(inputs), len(body))
		}
		line := 0
		for i, in := range inputs {
			if len(in.Raw) > core.MaxEventSize && !in.TooLong {
				t.Fatalf("event %d of %d bytes not marked too long", i, len(in.Raw))
			}
			if in.Line < 1 || in.Line < line {
				t.Fatalf("event %d at line %d after line %d", i, in.Line, line)
			}
			line = in.Line
			if !in.TooLong && !bytes.Contains(body, in.Raw) {
				t.Fatalf("event %d is not a piece of the body: %q", i, in.Raw)
			}
			if _, err := core.DecodeEvent(in.Raw); err != nil && core.ErrorCode(err) != core.EINVALID {
				t.Fatalf("event %d: %v", i, err)
			}
		}
	})
}
