package dynamics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/runner"
)

// F&O as Microsoft documents its OData service
// (https://learn.microsoft.com/dynamics365/fin-ops-core/dev-itpro/data-entities/odata):
//   - "Cross-company behavior": without ?cross-company=true only the
//     default company's data is returned; every entity carries dataAreaId;
//   - server-driven paging, at most 10,000 entities a page, continued by
//     @odata.nextLink (the fake writes F&O's $skip links, with the
//     request's query, cross-company=true included);
//   - every entity of a collection carries "@odata.etag"
//     (W/"JzEsNTYzNzE0NDU3Nic=", a weak ETag over the row's version:
//     OData JSON Format v4.0 §4.5.4, odata.etag);
//   - Edm.DateTimeOffset values are RFC 3339 date-times: F&O writes UTC
//     (2026-03-01T08:00:00Z), but 2026-03-01T09:00:00+01:00 is as valid
//     and the same instant (OData JSON Format v4.0 §7.1,
//     https://docs.oasis-open.org/odata/odata-json-format/v4.0/odata-json-format-v4.0.html).

// withOffset writes an RFC 3339 UTC time as the same instant at +01:00.
func withOffset(t *testing.T, utc string) string {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, utc)
	if err != nil {
		t.Fatal(err)
	}
	return tm.In(time.FixedZone("", 3600)).Format(time.RFC3339)
}

// TestFOPublishedShapesEndToEnd syncs the F&O plant through the runner,
// the plugin process and dynamics-fo.yaml into SQLite, with every
// modified time of every other row written at +01:00, pages of 3 continued
// by $skip links, @odata.etag on every entity and two legal entities. The
// counts are those of the all-UTC plant (TestEndToEnd): nothing is lost or
// doubled by an offset. Then a cancellation modified at +01:00 reverses
// its receipt at the same instant, and the same row sent again with that
// instant written in UTC is not read again.
func TestFOPublishedShapesEndToEnd(t *testing.T) {
	hub := hubBinary(t)
	ctx := context.Background()
	f := newFake(t)
	f.skipLinks = true
	rows := plantFO()
	for i, r := range rows {
		if _, ok := r["@odata.etag"].(string); !ok {
			t.Fatalf("fixture row %d has no @odata.etag: F&O sends one on every entity", i)
		}
		if i%2 == 1 {
			r["ModifiedDateTime"] = withOffset(t, r["ModifiedDateTime"].(string))
		}
	}
	f.put(foTrans, rows...)
	dir := t.TempDir()
	t.Setenv("LOTHUB_TEST_DYNAMICS_SECRET", testSecret)
	mappingFile, err := filepath.Abs("dynamics-fo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`
connectors:
  - name: erp
    plugin: dynamics
    mapping: %s
    batch_size: 5
    timeout: 30s
    max_retry: 1m
    config:
      system: fo
      tenant_id: %s
      client_id: %s
      client_secret: ${env:LOTHUB_TEST_DYNAMICS_SECRET}
      base_url: %s
      authority_url: %s
      page_size: "3"
`, mappingFile, testTenant, testClientID, f.srv.URL, f.srv.URL)
	h, err := config.Parse(filepath.Join(dir, "hub.yaml"), []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(ctx, filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := &runner.Runner{Store: s, Config: h,
		Plugins: &runner.Plugins{Builtins: []string{"dynamics"}, Self: hub},
		Sleep:   func(ctx context.Context, d time.Duration) error { return ctx.Err() }}

	run, err := r.Sync(ctx, "erp", "manual")
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if run.Status != core.RunOK || run.Records != 13 || run.Events != 12 || run.Quarant != 0 {
		t.Fatalf("run = %+v, want ok with 13 records, 12 events (the open purchase line maps to nothing) and nothing quarantined", run)
	}
	skips := 0
	for _, req := range f.dataRequests() {
		u, err := url.Parse(req)
		if err != nil {
			t.Fatal(err)
		}
		if u.Query().Get("cross-company") != "true" {
			t.Errorf("request %s lacks cross-company=true: F&O would answer for the default company only", req)
		}
		if u.Query().Get("$skip") != "" {
			skips++
		}
	}
	if skips == 0 {
		t.Errorf("no request followed a $skip next link: %v", f.dataRequests())
	}
	if _, err := s.FindLot(ctx, core.LotRef{Item: "SUGAR", Lot: "SU-1"}); err != nil {
		t.Errorf("the demf receipt (another legal entity) is missing: %v", err)
	}

	// demf cancels the sugar receipt at 00:30 on 5 March, Berlin winter
	// time: 23:30 UTC on 4 March.
	f.update(foTrans, "InventTransRecId", 5637144800, map[string]any{
		"StatusReceipt": "Ordered", "PhysicalDate": "1900-01-01T12:00:00Z", "PackingSlipReturned": "Yes",
		"ModifiedDateTime": "2026-03-05T00:30:00+01:00", "@odata.etag": `W/"JzEsNTYzNzE0NDU4MDAn"`,
	})
	run, err = r.Sync(ctx, "erp", "schedule")
	if err != nil || run.Records != 1 || run.Events != 1 || run.Quarant != 0 {
		t.Fatalf("cancellation sync = %+v, %v; want 1 record, 1 event", run, err)
	}
	raws, err := s.RawRecords(ctx, core.RawFilter{Source: "erp"})
	if err != nil {
		t.Fatal(err)
	}
	var reverse string
	for _, raw := range raws {
		if raw.RecordID == "inventory-transaction/demf/5637144800" {
			reverse = strings.Join(raw.Events, ",")
		}
	}
	if reverse != "fo:demf:INVENTTRANS:5637144800:CANCELLED" {
		t.Fatalf("the cancelled transaction made events %q, want its reverse", reverse)
	}
	id, err := s.FindLot(ctx, core.LotRef{Item: "SUGAR", Lot: "SU-1"})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.LotEvents(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var times []string
	for _, e := range evs {
		var body struct {
			ID, Time string
		}
		if err := json.Unmarshal(e.Body, &body); err != nil {
			t.Fatal(err)
		}
		times = append(times, body.ID+" "+body.Time+" "+string(e.Status))
	}
	want := []string{
		"fo:demf:INVENTTRANS:5637144800 2026-03-02T00:00:00Z reversed",
		"fo:demf:INVENTTRANS:5637144800:CANCELLED 2026-03-04T23:30:00Z active",
	}
	if strings.Join(times, "\n") != strings.Join(want, "\n") {
		t.Errorf("events of SUGAR/SU-1:\n%s\nwant:\n%s", strings.Join(times, "\n"), strings.Join(want, "\n"))
	}

	// The same row, its modified time now written in UTC: the same
	// instant, already delivered.
	f.update(foTrans, "InventTransRecId", 5637144800, map[string]any{"ModifiedDateTime": "2026-03-04T23:30:00Z"})
	run, err = r.Sync(ctx, "erp", "schedule")
	if err != nil || run.Records != 0 {
		t.Fatalf("sync after the same instant in UTC = %+v, %v; want nothing read again", run, err)
	}
}
