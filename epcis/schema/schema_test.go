package schema_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lothub/lothub/epcis/schema"
)

func TestEpcisSchemaAcceptsGS1Examples(t *testing.T) {
	files, _ := filepath.Glob("../testdata/gs1/*.jsonld")
	if len(files) == 0 {
		t.Fatal("no GS1 examples found")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		probs, err := schema.ValidateJSON(data)
		if err != nil {
			t.Fatal(err)
		}
		if len(probs) > 0 {
			t.Errorf("%s: %v", filepath.Base(f), probs)
		}
	}
}

func TestEpcisSchemaRefusesWithPointer(t *testing.T) {
	data, err := os.ReadFile("../testdata/gs1/Example_9.6.1-ObjectEvent.jsonld")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, old, new, pointer, reason string
	}{
		{"BadAction", `"action": "OBSERVE"`, `"action": "LOOK"`, "/epcisBody/eventList/0/action", "value must be one of"},
		{"CBVURNInJSON", `"bizStep": "shipping"`, `"bizStep": "urn:epcglobal:cbv:bizstep:shipping"`, "/epcisBody/eventList/0/bizStep", ""},
		{"BadTime", `"eventTime": "2005-04-04T20:33:31.116-06:00"`, `"eventTime": "yesterday"`, "/epcisBody/eventList/1/eventTime", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(string(data), tc.old, tc.new, 1)
			if doc == string(data) {
				t.Fatalf("fixture has no %s", tc.old)
			}
			probs, err := schema.ValidateJSON([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range probs {
				if p.Pointer == tc.pointer && strings.Contains(p.Reason, tc.reason) {
					found = true
				}
			}
			if !found {
				t.Errorf("problems %v, want one at %s", probs, tc.pointer)
			}
		})
	}
}
