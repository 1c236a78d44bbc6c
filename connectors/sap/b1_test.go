package sap_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/sap"
	"github.com/lothub/lothub/connectors/sap/internal/fake"
	"github.com/lothub/lothub/sdk"
	"github.com/lothub/lothub/sdk/sdktest"
)

func TestB1Conformance(t *testing.T) {
	for _, version := range []string{"v1", "v2"} {
		t.Run(version, func(t *testing.T) {
			s := fake.NewB1(t, version)
			n := fake.B1Plant(s)
			sdktest.Run(t, sdktest.Harness{
				New: func() sdk.Connector {
					c := sap.New()
					// Batch status changes are dated by the read that
					// finds them: two fresh reads must agree.
					c.Now = func() time.Time { return time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC) }
					return c
				},
				Config:      fake.B1Config(s.URL + "/b1s/" + version),
				BadEndpoint: fake.B1Config(s.URL+"/b1s/"+version, "password", "wrong-Passw0rd"),
				Expect:      n,
			})
		})
	}
}

func TestB1RecordsAndWire(t *testing.T) {
	s := fake.NewB1(t, "v1")
	n := fake.B1Plant(s)
	c := sap.New()
	cfg := parse(t, fake.B1Config(s.URL)) // the host only: /b1s/v1 is added
	recs, pos := readAll(t, c, cfg, nil, 5)
	if len(recs) != n {
		t.Fatalf("read %d records, want %d", len(recs), n)
	}
	want := []string{"PurchaseDeliveryNotes/1/0", "PurchaseDeliveryNotes/2/0", "InventoryGenEntries/1/0", "InventoryGenEntries/2/0",
		"InventoryGenExits/1/0", "InventoryGenExits/1/1", "InventoryGenExits/2/0", "InventoryGenExits/3/0",
		"DeliveryNotes/1/0", "DeliveryNotes/1/1", "DeliveryNotes/2/0", "DeliveryNotes/3/0"}
	if got := recordIDs(recs[:len(want)]); !slices.Equal(got, want) {
		t.Errorf("ids = %v\nwant %v", got, want)
	}
	byID := map[string]sdk.Record{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	r := byID["PurchaseDeliveryNotes/1/0"]
	var f map[string]any
	if err := json.Unmarshal(r.Payload, &f); err != nil {
		t.Fatal(err)
	}
	if r.Kind != sap.KindB1GoodsReceiptPO || f["CardName"] != "Mill Co" || f["ItemCode"] != "FLOUR" || f["BaseType"] != 22.0 {
		t.Errorf("record %s = %s %s", r.ID, r.Kind, r.Payload)
	}
	if b, _ := f["BatchNumbers"].([]any); len(b) != 2 {
		t.Errorf("BatchNumbers = %v, want the line's two batches", f["BatchNumbers"])
	}
	if _, ok := f["DocumentLines"]; ok {
		t.Errorf("the record keeps the document's other lines")
	}
	if r := byID["StockTransfers/1/0"]; r.Kind != sap.KindB1StockTransfer {
		t.Errorf("stock transfer record: %+v", r)
	}

	urls, prefer := s.Stats()
	q := queryOf(t, urls[0])
	if got := q.Get("$orderby"); got != "UpdateDate,DocEntry" {
		t.Errorf("$orderby = %q", got)
	}
	if sel := q.Get("$select"); !strings.Contains(sel, "DocumentLines") || !strings.Contains(sel, "CancelStatus") {
		t.Errorf("$select = %q", sel)
	}
	if prefer[0] != "odata.maxpagesize=2" {
		t.Errorf("Prefer = %q", prefer[0])
	}
	skips := 0
	for _, u := range urls {
		if queryOf(t, u).Has("$skip") {
			skips++
		}
	}
	if skips == 0 {
		t.Error("no odata.nextLink was followed")
	}

	// The next sync asks again from the day of the last update, and
	// finds nothing new.
	again, _ := readAll(t, c, cfg, pos, 5)
	if len(again) != 0 {
		t.Errorf("second sync read %v", recordIDs(again))
	}
	urls, _ = s.Stats()
	filters := map[string]bool{}
	for _, u := range urls {
		filters[queryOf(t, u).Get("$filter")] = true
	}
	for _, f := range []string{"UpdateDate ge '2026-03-04'", "UpdateDate ge '2026-03-02'"} {
		if !filters[f] {
			t.Errorf("no request filtered %q (filters: %v)", f, filters)
		}
	}
}

// TestB1BatchStatusChanges reads the batch master: a batch becomes a
// record when its status changes to or from released, dated by the read
// that found the change, and not again while it stays so.
func TestB1BatchStatusChanges(t *testing.T) {
	s := fake.NewB1(t, "v1")
	fake.B1Plant(s)
	c := sap.New()
	clock := time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC)
	c.Now = func() time.Time { return clock }
	cfg := parse(t, fake.B1Config(s.URL))
	fields := func(recs []sdk.Record) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, r := range recs {
			if r.Kind != sap.KindB1BatchDetails {
				continue
			}
			var f map[string]any
			if err := json.Unmarshal(r.Payload, &f); err != nil {
				t.Fatal(err)
			}
			out[r.ID] = f
		}
		return out
	}
	recs, pos := readAll(t, c, cfg, nil, 3)
	got := fields(recs)
	if len(got) != 2 {
		t.Fatalf("batch records %v, want the locked BR-2 and the not accessible S-1 only", got)
	}
	br2 := got["BatchNumberDetails/5"]
	if br2["Batch"] != "BR-2" || br2["ItemCode"] != "BREAD" || br2["Status"] != "bdsStatus_Locked" ||
		br2["HeldSince"] != "2026-03-05T09:00:00Z" || br2["StatusChanged"] != "2026-03-05T09:00:00Z" || br2["ExpirationDate"] != "2027-03-02" {
		t.Errorf("BR-2 = %v", br2)
	}
	urls, _ := s.Stats()
	var paged bool
	for _, u := range urls {
		q := queryOf(t, u)
		if strings.HasPrefix(u, "/b1s/v1/BatchNumberDetails") {
			if q.Get("$orderby") != "DocEntry" || !strings.Contains(q.Get("$select"), "Status") {
				t.Errorf("batch master read with %s", u)
			}
			paged = paged || strings.HasPrefix(q.Get("$filter"), "DocEntry gt ") || q.Has("$skip")
		}
	}
	if !paged {
		t.Error("the batch master was read in one page")
	}

	// Nothing changed: nothing to read.
	clock = clock.Add(time.Hour)
	if again, _ := readAll(t, c, cfg, pos, 3); len(again) != 0 {
		t.Errorf("unchanged batches read again: %v", recordIDs(again))
	}
	// BR-2 released, S-1 locked (was not accessible): the release ends
	// the hold BR-2 had since 09:00; S-1 stays held since 09:00.
	clock = clock.Add(time.Hour)
	s.SetBatchStatus(5, "bdsStatus_Released")
	s.SetBatchStatus(3, "bdsStatus_Locked")
	recs, pos = readAll(t, c, cfg, pos, 3)
	got = fields(recs)
	if len(recs) != 2 || len(got) != 2 {
		t.Fatalf("after the changes read %v", recordIDs(recs))
	}
	if f := got["BatchNumberDetails/5"]; f["Status"] != "bdsStatus_Released" || f["PreviousStatus"] != "bdsStatus_Locked" ||
		f["HeldSince"] != "2026-03-05T09:00:00Z" || f["StatusChanged"] != "2026-03-05T11:00:00Z" {
		t.Errorf("BR-2 released = %v", f)
	}
	if f := got["BatchNumberDetails/3"]; f["Status"] != "bdsStatus_Locked" || f["PreviousStatus"] != "bdsStatus_NotAccessible" ||
		f["HeldSince"] != "2026-03-05T09:00:00Z" || f["StatusChanged"] != "2026-03-05T11:00:00Z" {
		t.Errorf("S-1 locked = %v", f)
	}
	// Locked again later: a new hold, from now.
	clock = clock.Add(time.Hour)
	s.SetBatchStatus(5, "bdsStatus_Locked")
	recs, _ = readAll(t, c, cfg, pos, 3)
	if f := fields(recs)["BatchNumberDetails/5"]; len(recs) != 1 || f["HeldSince"] != "2026-03-05T12:00:00Z" || f["PreviousStatus"] != nil {
		t.Errorf("BR-2 locked again: %v", recordIDs(recs))
	}
}

func TestB1UpdatedDocumentIsReadAgain(t *testing.T) {
	s := fake.NewB1(t, "v1")
	fake.B1Plant(s)
	c := sap.New()
	cfg := parse(t, fake.B1Config(s.URL))
	_, pos := readAll(t, c, cfg, nil, 100)
	// Delivery 1 is closed the next day: its UpdateDate changes.
	d := fake.B1Doc("DeliveryNotes", 1, "2026-03-05T10:00:00", map[string]any{"CardCode": "C200", "CardName": "Alpha Foods",
		"DocDate": "2026-03-03", "DocumentStatus": "bost_Close"},
		fake.B1Line(0, "BREAD", "03", 17, 77, "BR-1", 100), fake.B1Line(1, "FREIGHT", "03", -1, 0))
	s.Replace("DeliveryNotes", d)
	recs, _ := readAll(t, c, cfg, pos, 100)
	if got, want := recordIDs(recs), []string{"DeliveryNotes/1/0", "DeliveryNotes/1/1"}; !slices.Equal(got, want) {
		t.Errorf("after the update read %v, want %v (same ids: the hub supersedes)", got, want)
	}
}

func TestB1SessionExpiryAndLogout(t *testing.T) {
	s := fake.NewB1(t, "v1")
	n := fake.B1Plant(s)
	c := sap.New()
	cfg := parse(t, fake.B1Config(s.URL))
	res, err := c.Read(context.Background(), cfg, nil, 4)
	if err != nil || !res.More {
		t.Fatalf("first read: more %v, %v", res.More, err)
	}
	if logins, logouts, open := s.Counts(); logins != 1 || logouts != 0 || open != 1 {
		t.Errorf("after a read with more to come: %d logins, %d logouts, %d open; want 1, 0, 1 (the session is kept)", logins, logouts, open)
	}
	s.Expire() // the Service Layer's SessionTimeout passed
	rest, _ := readAll(t, c, cfg, res.Next, 4)
	if len(res.Records)+len(rest) != n {
		t.Errorf("read %d records across the expiry, want %d", len(res.Records)+len(rest), n)
	}
	if logins, logouts, open := s.Counts(); logins != 2 || logouts != 1 || open != 0 {
		t.Errorf("at the end: %d logins, %d logouts, %d open sessions; want 2 (one after the expiry), 1 and 0", logins, logouts, open)
	}
}

func TestB1Errors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(s *fake.B1) map[string]string
		want  []string
		retry bool
	}{
		{"wrong password", func(s *fake.B1) map[string]string { return fake.B1Config(s.URL, "password", "not-the-Passw0rd") },
			[]string{"HTTP 401", "Login failed", "check company_db, user and password", `"manager"`, `"SBODEMOUS"`}, false},
		{"wrong company", func(s *fake.B1) map[string]string { return fake.B1Config(s.URL, "company_db", "SBODEMOGB") },
			[]string{"HTTP 401", "check company_db"}, false},
		{"not the Service Layer", func(s *fake.B1) map[string]string { return fake.B1Config(s.URL + "/b1s/v9") },
			[]string{"HTTP 404", "check base_url"}, false},
		{"busy", func(s *fake.B1) map[string]string {
			s.Fault = func(n int, w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Retry-After", "3")
				s.Error(w, http.StatusServiceUnavailable, -1, "Service Unavailable")
				return true
			}
			return fake.B1Config(s.URL)
		}, []string{"HTTP 503", "busy or unavailable"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := fake.NewB1(t, "v1")
			fake.B1Plant(s)
			raw := tc.setup(s)
			var logs bytes.Buffer
			c := sap.New()
			c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cfg := parse(t, raw)
			checkErr := c.Check(context.Background(), cfg)
			_, readErr := c.Read(context.Background(), cfg, nil, 10)
			for _, err := range []error{checkErr, readErr} {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if errors.Is(err, sdk.ErrRetry) != tc.retry {
					t.Errorf("retryable = %v, want %v", !tc.retry, tc.retry)
				}
				for _, secret := range []string{s.Password, raw["password"]} {
					if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
						t.Errorf("the password shows in an error or the logs")
					}
				}
			}
		})
	}
}
