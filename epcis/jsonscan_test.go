package epcis

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lothub/lothub/plantgen"
)

// readBoth reads data with fastTokens and with encoding/json's decoder.
// fastOK: the fast read went through, and each event it gave is JSON (the
// check's condition for keeping it).
func readBoth(t *testing.T, data []byte) (fastOK bool, fast, slow []rawEvent, fastInfo, slowInfo *docInfo, slowErr error) {
	t.Helper()
	fastInfo, err := readDocument(bytes.NewReader(data), "doc", true, func(ev rawEvent) error {
		fast = append(fast, ev)
		return nil
	})
	fastOK = err == nil
	if err != nil && !errors.Is(err, errSlowPath) && fastInfo != nil {
		t.Fatalf("fast read failed with %v, not errSlowPath", err)
	}
	for _, ev := range fast {
		if _, err := decodeTree(ev.JSON); err != nil {
			fastOK = false
		}
	}
	slowInfo, slowErr = readDocument(bytes.NewReader(data), "doc", false, func(ev rawEvent) error {
		slow = append(slow, ev)
		return nil
	})
	return
}

// sameReads: where the fast read goes through, it gives exactly what the
// decoder gives: the events' text, pointers, lines and columns, and the
// document around them.
func sameReads(t *testing.T, name string, data []byte) bool {
	t.Helper()
	fastOK, fast, slow, fi, si, slowErr := readBoth(t, data)
	if !fastOK {
		return false
	}
	if slowErr != nil {
		t.Fatalf("%s: the fast read went through, the decoder refuses: %v", name, slowErr)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%s: events differ:\nfast %+v\nslow %+v", name, fast, slow)
	}
	if !reflect.DeepEqual(fi, si) {
		t.Fatalf("%s: document differs:\nfast %+v\nslow %+v", name, fi, si)
	}
	return true
}

// The fast reader gives what the decoder gives, on GS1's examples (pretty
// printed: lines and columns), the hash generator's, and generated feeds;
// and gives up (for the decoder to refuse) on broken ones.
func TestEpcisFastTokensReadAsTheDecoder(t *testing.T) {
	files, _ := filepath.Glob("testdata/gs1/*.jsonld")
	more, _ := filepath.Glob("testdata/hash/*.jsonld")
	files = append(files, more...)
	var gen bytes.Buffer
	if err := plantgen.EPCIS(context.Background(), &gen, 2000, false); err != nil {
		t.Fatal(err)
	}
	docs := map[string][]byte{"generated": gen.Bytes()}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[filepath.Base(f)] = b
	}
	fastRead := 0
	for name, data := range docs {
		if sameReads(t, name, data) {
			fastRead++
		}
		// The same with CRLF line ends and tabs.
		crlf := bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")), []byte("  "), []byte("\t"))
		sameReads(t, name+" (CRLF)", crlf)
	}
	if fastRead != len(docs) {
		t.Errorf("%d of %d documents read the fast way, want all", fastRead, len(docs))
	}
	// Broken documents: the fast read gives up, the decoder refuses.
	base := `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2005-07-11T11:30:47.0Z",
"epcisBody":{"eventList":[
 {"type":"ObjectEvent","eventTime":"2005-04-03T20:33:31.116-06:00","eventTimeZoneOffset":"-06:00","epcList":["urn:epc:id:sgtin:0614141.107346.2017"],"action":"OBSERVE"},
 {"type":"ObjectEvent","eventTime":"2005-04-03T20:33:31.116-06:00","eventTimeZoneOffset":"-06:00","epcList":["urn:epc:id:sgtin:0614141.107346.2018"],"action":"OBSERVE"}
 ]}}
`
	if !sameReads(t, "base", []byte(base)) {
		t.Fatal("the base of the broken documents is not read the fast way")
	}
	broken := map[string]string{
		"TrailingComma":     strings.Replace(base, "}\n ]", "},\n ]", 1),
		"MissingComma":      strings.Replace(base, "},\n", "}\n", 1),
		"WrongClose":        strings.Replace(base, "}\n ]", "}\n }", 1),
		"CommaFirst":        strings.Replace(base, "[\n {", "[\n ,{", 1),
		"Truncated":         base[:len(base)/2],
		"BadLiteral":        strings.Replace(base, `"eventTime"`, `"eventTime":tru, "x"`, 1),
		"MoreAfterTheEnd":   base + "{}",
		"ControlInString":   strings.Replace(base, `"ObjectEvent"`, "\"Object\x01Event\"", 1),
		"EventNotAnObject":  strings.Replace(base, `"eventList":[`, `"eventList":[ 1,`, 1),
		"BodyNotAnObject":   `{"type":"EPCISDocument","epcisBody":[]}`,
		"UnclosedString":    `{"type":"EPCISDocument","epcisBody":{"eventList":[{"type":"ObjectEvent}]}}`,
		"BadNumberInHeader": `{"type":"EPCISDocument","schemaVersion":2.0.0,"epcisBody":{"eventList":[]}}`,
	}
	for name, doc := range broken {
		if doc == base {
			t.Fatalf("%s: the case does not change the document", name)
		}
		fastOK, _, _, _, _, slowErr := readBoth(t, []byte(doc))
		if fastOK && slowErr != nil {
			t.Errorf("%s: the fast read went through, the decoder refuses: %v", name, slowErr)
		}
		if name != "EventNotAnObject" && fastOK {
			t.Errorf("%s: the fast read went through a broken document", name)
		}
	}
}

// FuzzEpcisFastTokens: whatever the input, a fast read that goes through
// gives what the decoder gives.
func FuzzEpcisFastTokens(f *testing.F) {
	files, _ := filepath.Glob("testdata/gs1/*.jsonld")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"type":"EPCISDocument","epcisBody":{"queryResults":{"resultsBody":{"eventList":[{"a":"\u00e9\"}"},{}]},"x":[1,2]}},"@context":["a",{"b":"c"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameReads(t, "fuzz", data)
	})
}
