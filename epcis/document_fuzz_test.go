package epcis

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
)

// FuzzEpcisReadDocument fuzzes the two document readers (the JSON token
// walk and the XML reader with its conversion) and the mapping of whatever
// events they give, without the schema check in front (which FuzzEpcisCapture
// and FuzzEpcisCaptureXML go through, far slower): no input panics, a
// refusal is an InvalidError or an EINVALID, every event given is JSON the
// mapping reads or quarantines.
func FuzzEpcisReadDocument(f *testing.F) {
	for _, glob := range []string{"testdata/gs1/*.jsonld", "testdata/xml/*.xml"} {
		files, _ := filepath.Glob(glob)
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(`{"type":"ObjectEvent","action":"ADD","eventTime":"2026-01-01T00:00:00Z","quantityList":[{"epcClass":"urn:epc:class:lgtin:9506000.013435.L1","quantity":1e400}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := &mapper{instLot: map[string]string{}}
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		_, err := readDocument(bytes.NewReader(data), "fuzz", false, func(ev rawEvent) error {
			rec := m.record(ev.JSON, ev.Ptr, ev.Line, "fuzz", at)
			if rec.Raw.RecordID == "" {
				t.Fatalf("event without a record id: %s", ev.JSON)
			}
			for _, e := range rec.Events {
				_ = e.Validate()
			}
			return nil
		})
		var inv *InvalidError
		if err != nil && !errors.As(err, &inv) && core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("refusal %v is neither an InvalidError nor EINVALID", err)
		}
		// The check reads JSON the fast way first (fastTokens), the
		// decoder's way when that gives up: no panic, and a refusal is
		// one.
		if _, err := Check(bytes.NewReader(data), "fuzz"); err != nil && !errors.As(err, &inv) && core.ErrorCode(err) != core.EINVALID {
			t.Fatalf("check: refusal %v is neither an InvalidError nor EINVALID", err)
		}
	})
}
