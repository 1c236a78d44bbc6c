package epcis_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/epcis"
)

func readXML(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/xml", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The XML binding of an example and its JSON-LD give the same canonical
// events, the same skips and the same event hash IDs: one mapping for both.
func TestEpcisCaptureXMLMatchesJSON(t *testing.T) {
	files, _ := filepath.Glob("testdata/xml/Example_*.xml")
	if len(files) < 4 {
		t.Fatalf("%d XML examples", len(files))
	}
	opt := epcis.Options{GTINItems: map[string]string{"04012345123456": "FLOUR"}}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			jsonDoc := readGS1(t, strings.TrimSuffix(name, ".xml")+".jsonld")
			fromJSON, err := epcis.Capture([]byte(jsonDoc), "example.jsonld", opt)
			if err != nil {
				t.Fatal(err)
			}
			fromXML, err := epcis.Capture([]byte(readXML(t, name)), name, opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(fromXML.Records) != len(fromJSON.Records) {
				t.Fatalf("%d records from XML, %d from JSON", len(fromXML.Records), len(fromJSON.Records))
			}
			var head struct {
				Context any `json:"@context"`
			}
			json.Unmarshal([]byte(jsonDoc), &head)
			for i, x := range fromXML.Records {
				j := fromJSON.Records[i]
				if x.Raw.RecordID != j.Raw.RecordID || x.Raw.Kind != j.Raw.Kind {
					t.Errorf("event %d: XML %s %s, JSON %s %s", i, x.Raw.Kind, x.Raw.RecordID, j.Raw.Kind, j.Raw.RecordID)
				}
				if x.Err != nil || j.Err != nil {
					t.Errorf("event %d: errors XML %v, JSON %v", i, x.Err, j.Err)
				}
				xe, _ := json.Marshal(x.Events)
				je, _ := json.Marshal(j.Events)
				if string(xe) != string(je) {
					t.Errorf("event %d: canonical events\nXML  %s\nJSON %s", i, xe, je)
				}
				if (x.Skip == nil) != (j.Skip == nil) || (x.Skip != nil && *x.Skip != *j.Skip) {
					t.Errorf("event %d: skip XML %+v, JSON %+v", i, x.Skip, j.Skip)
				}
				// Without its eventID, the event's hash ID is the same
				// in both bindings (the XML event carries its
				// extensions' namespaces in its own @context).
				hx, err := epcis.HashID(x.Raw.Payload, nil)
				if err != nil {
					t.Fatal(err)
				}
				hj, err := epcis.HashID(j.Raw.Payload, epcis.ContextPrefixes(head.Context))
				if err != nil {
					t.Fatal(err)
				}
				if hx != hj {
					px, _ := epcis.PreHash(x.Raw.Payload, nil)
					pj, _ := epcis.PreHash(j.Raw.Payload, epcis.ContextPrefixes(head.Context))
					t.Errorf("event %d: hash IDs differ\nXML  %s\nJSON %s", i, px, pj)
				}
			}
		})
	}
}

// The XML form of the pallet document joins the ERP's lot as the JSON one
// does: a recall of the raw material reaches the pallet and both customers.
func TestEpcisCaptureXMLJoinsERPLotAndRecallReachesCustomer(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	erp := `{"id":"erp:1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"WHEAT","lot":"W1"},"qty":1000,"uom":"KG","supplier":{"id":"V-FARM"}}
{"id":"erp:2","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"WHEAT","lot":"W1"},"qty":1000,"uom":"KG","order":"WO-1"}
{"id":"erp:3","type":"produce","time":"2026-03-02T10:00:00Z","lot":{"item":"FLOUR","lot":"L42"},"qty":40,"uom":"EA","order":"WO-1"}
`
	in := &core.Ingester{Store: db}
	if _, err := in.IngestJSONL(ctx, strings.NewReader(erp), "erp.jsonl"); err != nil {
		t.Fatal(err)
	}
	res, st := capture(t, db, readXML(t, "Pallet-ERP-join.xml"), epcis.Options{GTINItems: map[string]string{"09506000134352": "FLOUR"}})
	if st.New != 3 || st.Quarantined != 0 || st.Skipped != 0 {
		t.Fatalf("stats %+v, unusable %v", st, res.Unusable)
	}
	tr, err := (&core.Queries{Store: db}).Recall(ctx, core.Selector{Lot: &core.LotRef{Item: "WHEAT", Lot: "W1"}})
	if err != nil {
		t.Fatal(err)
	}
	customers := map[string]bool{}
	for _, s := range tr.Shipments {
		customers[s.Customer.ID] = true
	}
	for _, c := range []string{"https://id.gs1.org/417/9506000000012", "https://id.gs1.org/417/9506000000029"} {
		if !customers[c] {
			t.Errorf("recall of WHEAT/W1 misses customer %s: shipments %+v", c, tr.Shipments)
		}
	}
	pallet := epcis.ParseID("urn:epc:id:sscc:9506000.0000000001").SSCC
	found := false
	for _, l := range tr.Lots {
		found = found || (l.Item == "SSCC" && l.Lot == pallet)
	}
	if !found {
		t.Errorf("recall lots %+v miss the pallet", tr.Lots)
	}
}

func TestEpcisCaptureXMLRefusals(t *testing.T) {
	good := readXML(t, "Example_9.6.2-ObjectEvent.xml")
	cases := []struct {
		name, doc string
		want      []string // in the error's text
	}{
		{"NotWellFormed", strings.Replace(good, "</quantity>", "</quantty>", 1),
			[]string{"line 19:", "not well-formed XML", "nothing was stored"}},
		{"QuantityNotANumber", strings.Replace(good, "<quantity>200</quantity>", "<quantity>two hundred</quantity>", 1),
			[]string{"line 19:", "/epcisBody/eventList/0/quantityList/0/quantity", "want number"}},
		{"UnknownAction", strings.Replace(good, "<action>OBSERVE</action>", "<action>LOOK</action>", 1),
			[]string{"line 11:", "/epcisBody/eventList/0/action"}},
		{"NoCreationDate", strings.Replace(good, ` creationDate="2005-07-11T11:30:47.0Z"`, "", 1),
			[]string{"creationDate", "root element"}},
		{"NotAnEvent", strings.Replace(strings.Replace(good, "<ObjectEvent>", "<ObjectEvnt>", 1), "</ObjectEvent>", "</ObjectEvnt>", 1),
			[]string{"line 6:", "<ObjectEvnt> in the EventList is not an EPCIS event"}},
		{"Latin1", `<?xml version="1.0" encoding="ISO-8859-1"?>` + good[strings.Index(good, "?>")+2:],
			[]string{"line 1:", `encoding "ISO-8859-1" is not read: send the document in UTF-8`}},
		{"WrongRoot", `<?xml version="1.0"?><order><line/></order>`,
			[]string{"line 1:", "<order> is not an EPCIS document"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := epcis.Capture([]byte(c.doc), "partner.xml", epcis.Options{})
			var inv *epcis.InvalidError
			if !errors.As(err, &inv) || core.ErrorCode(err) != core.EINVALID {
				t.Fatalf("err %v, want an InvalidError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// A JSON problem names the line of its event.
func TestEpcisCaptureJSONProblemHasLine(t *testing.T) {
	data := strings.Replace(readGS1(t, "Example_9.6.1-ObjectEvent.jsonld"), `"disposition": "in_progress"`, `"disposition": 7`, 1)
	_, err := epcis.Capture([]byte(data), "bad.jsonld", epcis.Options{})
	if err == nil || !strings.Contains(err.Error(), "line 23:6:") || !strings.Contains(err.Error(), "/epcisBody/eventList/1/disposition") {
		t.Errorf("error %v, want line 23:6 (the second event's start) and its pointer", err)
	}
}

// FuzzEpcisCaptureXML: no XML input panics, and whatever is refused is
// refused as a document error (EINVALID), never anything else.
func FuzzEpcisCaptureXML(f *testing.F) {
	files, _ := filepath.Glob("testdata/xml/*.xml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"/>`))
	f.Add([]byte(`<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2026-01-01T00:00:00Z"><EPCISBody><EventList><extension><TransformationEvent/></extension></EventList></EPCISBody></epcis:EPCISDocument>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := epcis.Capture(data, "fuzz.xml", epcis.Options{})
		if err != nil {
			if core.ErrorCode(err) != core.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if res.Events != len(res.Records) {
			t.Fatalf("%d events, %d records", res.Events, len(res.Records))
		}
		for _, r := range res.Records {
			for _, e := range r.Events {
				_ = e.Validate()
			}
		}
	})
}
