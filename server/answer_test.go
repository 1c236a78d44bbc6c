package server

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/lothub/lothub/core"
)

// The answer to POST /v1/events without quarantined events is written by
// hand: byte for byte what encoding/json writes.
func TestEventsAnswerCountsAsEncodingJSON(t *testing.T) {
	for _, a := range []eventsAnswer{
		{Read: 1, Stored: 1},
		{Read: 10000, Stored: 9000, Superseded: 500, Duplicates: 499, Quarantined: 1, ErrorsOmitted: 1},
		{},
	} {
		a.Errors = []core.InputError{}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(a); err != nil {
			t.Fatal(err)
		}
		if got := a.appendCounts(nil); string(got) != want.String() {
			t.Errorf("got  %s\nwant %s", got, want.Bytes())
		}
	}
}
