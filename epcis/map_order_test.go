package epcis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/plantgen"
)

// Map parses events on parallel workers and maps them in document order:
// its records, their order and what they say must be those of mapping the
// events one after the other, whatever the batch size and the number of
// workers — also where a serialised item's lot comes from a commissioning
// many events (and parse chunks) before it.
func TestEpcisMapParallelSameAsSequential(t *testing.T) {
	var gen bytes.Buffer
	if err := plantgen.EPCIS(context.Background(), &gen, 1000, false); err != nil {
		t.Fatal(err)
	}
	// A document whose SGTINs get their lot from a commissioning 300
	// events earlier, with an unusable event and an unreadable time among
	// them.
	var evs []string
	for i := range 300 {
		evs = append(evs, fmt.Sprintf(`{"type":"ObjectEvent","eventTime":"2026-01-05T06:00:00Z","eventTimeZoneOffset":"+00:00","action":"ADD","bizStep":"commissioning","epcList":["urn:epc:id:sgtin:9506000.013435.%d"],"ilmd":{"cbvmda:lotNumber":"L%d"}}`, i, i%7))
	}
	evs = append(evs, `{"type":"ObjectEvent","eventTime":"2026-01-05T07:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","epcList":["urn:epc:id:giai:9506000.1"]}`)
	for i := range 300 {
		evs = append(evs, fmt.Sprintf(`{"type":"ObjectEvent","eventTime":"2026-01-06T06:00:%02dZ","eventTimeZoneOffset":"+00:00","action":"OBSERVE","bizStep":"shipping","epcList":["urn:epc:id:sgtin:9506000.013435.%d"],"destinationList":[{"type":"owning_party","destination":"urn:epc:id:pgln:9506000.00100"}]}`, i%60, i))
	}
	serial := `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-01-05T06:00:00Z",
"epcisBody":{"eventList":[
` + strings.Join(evs, ",\n") + "]}}"
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	for name, data := range map[string][]byte{"generated": gen.Bytes(), "serials": []byte(serial)} {
		t.Run(name, func(t *testing.T) {
			doc, err := Check(bytes.NewReader(data), name)
			if err != nil {
				t.Fatal(err)
			}
			// What mapping the events one by one gives.
			m := &mapper{instLot: map[string]string{}, prefixes: ContextPrefixes(doc.info.Context), ignore: IgnoreFields(doc.info.Wrapper)}
			var want []string
			if _, err := readDocument(bytes.NewReader(data), name, false, func(ev rawEvent) error {
				want = append(want, describe(t, m.record(ev.JSON, ev.Ptr, ev.Line, name, at)))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if name == "serials" {
				// The case is only a case if the shipments found their lots.
				ships := 0
				for _, w := range want {
					if strings.Contains(w, `"type":"ship"`) && strings.Contains(w, `"lot":"L`) {
						ships++
					}
				}
				if ships != 300 {
					t.Fatalf("%d shipments of serialised items with their lot, want 300", ships)
				}
			}
			for _, procs := range []int{1, 4} {
				for _, batch := range []int{0, 1, 63, 500} {
					prev := runtime.GOMAXPROCS(procs)
					var got []string
					calls := 0
					_, err := Map(bytes.NewReader(data), doc, Options{Now: func() time.Time { return at }}, batch, func(recs []core.MappedRecord) error {
						calls++
						if batch > 0 && len(recs) > batch {
							t.Errorf("batch of %d records, want at most %d", len(recs), batch)
						}
						for _, r := range recs {
							got = append(got, describe(t, r))
						}
						return nil
					})
					runtime.GOMAXPROCS(prev)
					if err != nil {
						t.Fatal(err)
					}
					if batch == 0 && calls != 1 {
						t.Errorf("batch 0: %d calls, want one", calls)
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("GOMAXPROCS %d, batch %d: %d records differ from the sequential mapping's %d (first: %.300s)", procs, batch, len(got), len(want), firstDiff(got, want))
					}
				}
			}
		})
	}
}

// describe is a record as the store would see it.
func describe(t *testing.T, r core.MappedRecord) string {
	t.Helper()
	evs, err := json.Marshal(r.Events)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s|%s|%s|%s|%v|%v|%s", r.Raw.RecordID, r.Raw.Kind, r.Raw.Payload, r.Raw.ReceivedAt, r.Skip, r.Err, evs)
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return "got " + got[i] + " want " + want[i]
		}
	}
	return "lengths differ"
}
