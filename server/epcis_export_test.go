package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/epcis"
	"github.com/lothub/lothub/epcis/schema"
)

// exportPlant: flour and salt (lot S/1, a slash in it) into WO-1 make
// BREAD B-1 (a GTIN in the env's gtin_items), shipped to a customer.
const exportPlantJSONL = `{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG","supplier":{"id":"V-MILL"},"po":"PO-1"}
{"id":"r2","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"SALT","lot":"S/1"},"qty":5,"uom":"KG"}
{"id":"c1","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":40,"uom":"KG","order":"WO-1"}
{"id":"c2","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"SALT","lot":"S/1"},"qty":1,"uom":"KG","order":"WO-1"}
{"id":"p1","type":"produce","time":"2026-03-02T09:00:00Z","lot":{"item":"BREAD","lot":"B-1"},"qty":100,"uom":"EA","order":"WO-1"}
{"id":"s1","type":"ship","time":"2026-03-03T09:00:00Z","lot":{"item":"BREAD","lot":"B-1"},"qty":60,"uom":"EA","customer":{"id":"C-1"},"sales_order":"SO-1"}
`

func (e *epcisEnv) get(t *testing.T, path, accept string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer scanner-secret")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// creationDate is the one part of two exports of one genealogy that
// differs.
var creationDate = regexp.MustCompile(`"creationDate": "[^"]*"|creationDate="[^"]*"`)

func traceOf(t *testing.T, db core.Store, dir core.Direction, ref core.LotRef) []string {
	t.Helper()
	res, err := (&core.Queries{Store: db}).Trace(context.Background(), dir, core.Selector{Lot: &ref})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range res.Lots {
		out = append(out, l.Item+"/"+l.Lot)
	}
	for _, l := range res.Links {
		out = append(out, l.Parent.String()+" -> "+l.Child.String()+" "+l.Order)
	}
	sort.Strings(out)
	return out
}

func TestEpcisExportEndpoint(t *testing.T) {
	e := newEpcisEnv(t)
	ctx := context.Background()
	if _, err := (&core.Ingester{Store: e.store}).IngestJSONL(ctx, strings.NewReader(exportPlantJSONL), "plant.jsonl"); err != nil {
		t.Fatal(err)
	}
	bread := core.LotRef{Item: "BREAD", Lot: "B-1"}
	path := "/v1/lots/BREAD/B-1/epcis"

	if code, _, _ := e.do(t, "GET", path, "", nil); code != http.StatusUnauthorized {
		t.Errorf("without a token: %d", code)
	}
	// JSON-LD by default: the document hub export epcis writes, valid
	// against GS1's schema.
	code, hdr, body := e.get(t, path+"?direction=backward", "")
	if code != http.StatusOK || hdr.Get("Content-Type") != "application/ld+json" || hdr.Get("GS1-EPCIS-Version") != "2.0.0" {
		t.Fatalf("GET %s: %d %v %s", path, code, hdr, body)
	}
	if probs, err := schema.ValidateJSON(body); err != nil || len(probs) > 0 {
		t.Fatalf("export invalid: %v %v", err, probs)
	}
	g, err := (&core.Queries{Store: e.store}).Genealogy(ctx, bread, core.Backward)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := epcis.Export(g, epcis.ExportOptions{GTINItems: map[string]string{"09506000134352": "BREAD"}})
	if err != nil {
		t.Fatal(err)
	}
	if creationDate.ReplaceAllString(string(body), "") != creationDate.ReplaceAllString(string(cli.Document), "") {
		t.Errorf("the endpoint's document is not the export's:\n%s\n---\n%s", body, cli.Document)
	}
	if hdr.Get("Lothub-Items-Without-GTIN") != "FLOUR,SALT" {
		t.Errorf("Lothub-Items-Without-GTIN = %q, want FLOUR,SALT", hdr.Get("Lothub-Items-Without-GTIN"))
	}
	// direction defaults to both: the lot's own shipment and its
	// ancestors (the salt, written as lothub's private class).
	_, _, both := e.get(t, path, "")
	if !bytes.Contains(both, []byte(`"shipping"`)) || !bytes.Contains(both, []byte("urn:lothub:lot:SALT:S%2F1")) {
		t.Errorf("direction both lacks the shipment or the salt:\n%s", both)
	}

	// XML when the client prefers it; captured into an empty store it
	// gives the same traces.
	for _, accept := range []string{"application/xml", "text/xml;q=0.9, application/json;q=0.5", "application/ld+json;q=0.2, application/xml"} {
		code, hdr, xmlDoc := e.get(t, path, accept)
		if code != http.StatusOK || hdr.Get("Content-Type") != "application/xml" || !bytes.HasPrefix(xmlDoc, []byte("<?xml")) {
			t.Fatalf("Accept %s: %d %v %.200s", accept, code, hdr, xmlDoc)
		}
	}
	_, _, xmlDoc := e.get(t, path, "application/xml")
	dst, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "empty.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	res, err := epcis.Capture(xmlDoc, "export.xml", epcis.Options{GTINItems: map[string]string{"09506000134352": "BREAD"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&core.Ingester{Store: dst}).IngestRecords(ctx, res.Records, "epcis", nil); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []core.Direction{core.Backward, core.Forward} {
		if got, want := traceOf(t, dst, dir, bread), traceOf(t, e.store, dir, bread); !reflect.DeepEqual(got, want) {
			t.Errorf("%s after the XML round trip:\n got %v\nwant %v", dir, got, want)
		}
	}
	// JSON is preferred when asked for, or on a tie listed first.
	for _, accept := range []string{"application/json", "application/json, application/xml", "application/xml;q=0.5, */*", "text/html"} {
		if _, hdr, _ := e.get(t, path, accept); hdr.Get("Content-Type") != "application/ld+json" {
			t.Errorf("Accept %s: %s", accept, hdr.Get("Content-Type"))
		}
	}

	// A lot with a slash, percent-escaped in the path.
	if code, _, body := e.get(t, "/v1/lots/SALT/"+url.PathEscape("S/1")+"/epcis?direction=forward", ""); code != http.StatusOK || !bytes.Contains(body, []byte("urn:lothub:lot:SALT:S%2F1")) {
		t.Errorf("SALT S/1: %d %.300s", code, body)
	}
	if code, _, body := e.get(t, "/v1/lots/BREAD/NOPE/epcis", ""); code != http.StatusNotFound || !bytes.Contains(body, []byte("NOPE")) {
		t.Errorf("unknown lot: %d %s", code, body)
	}
	if code, _, body := e.get(t, path+"?direction=up", ""); code != http.StatusBadRequest || !bytes.Contains(body, []byte("backward, forward or both")) {
		t.Errorf("direction=up: %d %s", code, body)
	}
}
