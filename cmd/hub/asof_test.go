package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
)

// asOfPlant is the test plant recorded at 2026-04-01T08:00Z, and at
// 2026-04-02T08:00Z the reversal of its shipment and a correction of
// its receipt and a hold of BREAD/BR-1 (the store's clock set per step:
// no sleeps).
func asOfPlant(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "hub.db")
	s, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	step := func(at, lines string) {
		in := core.Ingester{Store: s, Now: func() time.Time { return mustTime(t, at) }}
		if _, err := in.IngestJSONL(context.Background(), strings.NewReader(lines), "plant.jsonl"); err != nil {
			t.Fatal(err)
		}
	}
	step("2026-04-01T08:00:00Z", plant)
	step("2026-04-02T08:00:00Z", `{"id":"x1","type":"reverse","time":"2026-03-04T08:00:00Z","reverses":"s1"}
{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":120,"uom":"KG","supplier":{"id":"V-MILL","name":"Mill Co"},"supplier_lot":"M-7781","po":"PO-1"}
{"id":"sap:blocked:1","type":"hold","time":"2026-03-05T08:00:00Z","lot":{"item":"BREAD","lot":"BR-1"},"reason":"blocked stock"}`)
	return db
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAsOfCommands(t *testing.T) {
	db := asOfPlant(t)
	recall := func(args ...string) (*core.TraceResult, string) {
		t.Helper()
		stdout, stderr, code := hub(t, db, "", append([]string{"recall", "FLOUR", "F-A", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("recall %v: exit %d: %s", args, code, stderr)
		}
		var r core.TraceResult
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("recall %v: %v\n%s", args, err, stdout)
		}
		return &r, stderr
	}

	t.Run("RecallBeforeAndAfterTheReversal", func(t *testing.T) {
		now, _ := recall()
		then, stderr := recall("--as-of", "2026-04-01T12:00:00Z")
		if len(now.Shipments) != 0 || len(*now.Customers) != 0 {
			t.Errorf("now: %d shipments, %d customers; want the reversed shipment gone", len(now.Shipments), len(*now.Customers))
		}
		if len(then.Shipments) != 1 || then.Shipments[0].Customer.ID != "C-ALPHA" || len(*then.Customers) != 1 {
			t.Errorf("as of 2026-04-01T12:00Z: shipments %+v; want the shipment to C-ALPHA", then.Shipments)
		}
		if !strings.Contains(stderr, "as of 2026-04-01T12:00:00Z") {
			t.Errorf("stderr does not say the answer is as of a time: %q", stderr)
		}
		if (*then.Root.OnHand)[0].Qty != 60 || (*now.Root.OnHand)[0].Qty != 80 {
			t.Errorf("on hand of F-A: as of %v, now %v; want 60 (100 received then) and 80 (corrected to 120)", *then.Root.OnHand, *now.Root.OnHand)
		}
		// A date is its end, in UTC: 1 April's answer has the old receipt.
		day, _ := recall("--as-of", "2026-04-01")
		if len(day.Shipments) != 1 {
			t.Errorf("--as-of 2026-04-01: %d shipments, want 1", len(day.Shipments))
		}
		// Relative to now: the whole history is in.
		rel, _ := recall("--as-of", "-1h")
		if len(rel.Shipments) != 0 {
			t.Errorf("--as-of -1h: %d shipments, want 0 as now", len(rel.Shipments))
		}
	})

	t.Run("TraceAndLot", func(t *testing.T) {
		stdout, stderr, code := hub(t, db, "", "lot", "FLOUR", "F-A", "--json", "--as-of", "2026-04-01T12:00:00Z")
		var st core.LotStatus
		if code != 0 || json.Unmarshal([]byte(stdout), &st) != nil {
			t.Fatalf("lot --as-of: exit %d: %s", code, stderr)
		}
		if len(st.Receipts) != 1 || st.Receipts[0].Qty != 100 || len(st.Events) != 2 {
			t.Errorf("lot F-A as of 1 April: receipts %+v, %d events; want the receipt of 100 and its consumption", st.Receipts, len(st.Events))
		}
		stdout, _, code = hub(t, db, "", "lot", "FLOUR", "F-A", "--as-of", "2026-04-01T12:00:00Z")
		if code != 0 || !strings.Contains(stdout, "100 KG") {
			t.Errorf("lot text --as-of: exit %d\n%s", code, stdout)
		}
		stdout, stderr, code = hub(t, db, "", "trace", "forward", "FLOUR", "F-A", "--json", "--as-of", "2026-04-01T12:00:00Z")
		var tr core.TraceResult
		if code != 0 || json.Unmarshal([]byte(stdout), &tr) != nil || len(tr.Shipments) != 1 {
			t.Errorf("trace --as-of: exit %d, %s\n%s", code, stderr, stdout)
		}
		// Nothing was recorded before 1 April 08:00: the lot did not exist.
		_, stderr, code = hub(t, db, "", "lot", "FLOUR", "F-A", "--as-of", "2026-03-31")
		if code != exitNotFound || !strings.Contains(stderr, "as of 2026-03-31T23:59:59.999999Z") || !strings.Contains(stderr, "FLOUR/F-A not found") {
			t.Errorf("lot before it was recorded: exit %d, %q; want 3 naming the time", code, stderr)
		}
	})

	t.Run("Report", func(t *testing.T) {
		stdout, stderr, code := hub(t, db, "", "report", "recall", "FLOUR", "F-A", "--format", "json", "--as-of", "2026-04-01T12:00:00Z")
		var r struct {
			Meta struct {
				AsOf          string `json:"as_of"`
				AsOfRequested string `json:"as_of_requested"`
			} `json:"meta"`
			Recall struct {
				Deliveries []struct {
					CustomerID string `json:"customer_id"`
				} `json:"deliveries"`
			} `json:"recall"`
		}
		if code != 0 || json.Unmarshal([]byte(stdout), &r) != nil {
			t.Fatalf("report recall --as-of: exit %d: %s\n%.300s", code, stderr, stdout)
		}
		if r.Meta.AsOfRequested != "2026-04-01T12:00:00Z" || r.Meta.AsOf != "2026-04-01T08:00:00Z" || len(r.Recall.Deliveries) != 1 {
			t.Errorf("meta %+v, %d deliveries; want asked as of 12:00, newest version 08:00, the delivery to C-ALPHA", r.Meta, len(r.Recall.Deliveries))
		}
		// Made again as of the same time: the same data, the same hash.
		hash := func(args ...string) string {
			t.Helper()
			stdout, stderr, code := hub(t, db, "", append([]string{"report", "recall", "FLOUR", "F-A", "--format", "json"}, args...)...)
			var r struct {
				Meta struct {
					SHA256 string `json:"sha256"`
				} `json:"meta"`
			}
			if code != 0 || json.Unmarshal([]byte(stdout), &r) != nil {
				t.Fatalf("report recall %v: exit %d: %s", args, code, stderr)
			}
			return r.Meta.SHA256
		}
		first, again, now := hash("--as-of", "2026-04-01T12:00:00Z"), hash("--as-of", "2026-04-01T12:00:00Z"), hash()
		if first != again || first == now {
			t.Errorf("report hashes: as of %s, again %s, now %s; want the same as-of hash twice, another now", first, again, now)
		}
		// As of a time after everything: the plain report's data.
		if later := hash("--as-of", "2100-01-01"); later != now {
			t.Errorf("report as of 2100: hash %s, the plain one %s; want the same", later, now)
		}
		stdout, _, code = hub(t, db, "", "report", "recall", "FLOUR", "F-A", "--format", "json")
		if code != 0 || strings.Contains(stdout, "as_of_requested") || !strings.Contains(stdout, `"deliveries": []`) {
			t.Errorf("report now: exit %d\n%.600s", code, stdout)
		}
		for _, args := range [][]string{
			{"report", "lot", "BREAD", "BR-1", "--format", "json"},
			{"report", "fsma204", "--item", "BREAD", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "json"},
		} {
			stdout, stderr, code := hub(t, db, "", append(args, "--as-of", "2026-04-01T12:00:00Z")...)
			if code != 0 || !strings.Contains(stdout, `"as_of_requested": "2026-04-01T12:00:00Z"`) {
				t.Errorf("%v --as-of: exit %d, %s\n%.300s", args, code, stderr, stdout)
			}
		}
	})

	t.Run("HoldsAndBalance", func(t *testing.T) {
		held := func(args ...string) string {
			t.Helper()
			stdout, stderr, code := hub(t, db, "", append([]string{"holds", "--json"}, args...)...)
			var r struct {
				Holds []core.ActiveHold `json:"holds"`
			}
			if code != 0 || json.Unmarshal([]byte(stdout), &r) != nil {
				t.Fatalf("holds %v: exit %d: %s", args, code, stderr)
			}
			var out []string
			for _, h := range r.Holds {
				out = append(out, h.Item+"/"+h.Lot)
			}
			return strings.Join(out, ",")
		}
		if got := held("--as-of", "2026-04-01T12:00:00Z"); got != "" {
			t.Errorf("holds as of 1 April = %q, want none: the hold was recorded on the 2nd", got)
		}
		if got := held(); got != "BREAD/BR-1" {
			t.Errorf("holds now = %q, want BREAD/BR-1", got)
		}
		stdout, stderr, code := hub(t, db, "", "balance", "FLOUR", "F-A", "--json", "--as-of", "2026-04-01T12:00:00Z")
		var b core.MassBalance
		if code != 0 || json.Unmarshal([]byte(stdout), &b) != nil || len(b.Units) != 1 || b.Units[0].Received != 100 {
			t.Errorf("balance as of 1 April: exit %d, %s, %+v; want 100 KG received", code, stderr, b.Units)
		}
	})

	t.Run("ReportSaysSo", func(t *testing.T) {
		stdout, stderr, code := hub(t, db, "", "report", "lot", "BREAD", "BR-1", "--format", "html", "--as-of", "2026-04-01T12:00:00Z")
		if code != 0 || !strings.Contains(stdout, "asked as of 2026-04-01T12:00:00Z: the store as it stood then") {
			t.Errorf("lot report HTML as of: exit %d, %s; the footer does not say the time asked", code, stderr)
		}
		stdout, _, _ = hub(t, db, "", "report", "lot", "BREAD", "BR-1", "--format", "html")
		if strings.Contains(stdout, "asked as of") {
			t.Errorf("a report of now says it was asked as of a time")
		}
	})

	t.Run("BadValue", func(t *testing.T) {
		for _, args := range [][]string{
			{"recall", "FLOUR", "F-A"},
			{"trace", "backward", "BREAD", "BR-1"},
			{"lot", "FLOUR", "F-A"},
			{"holds"},
			{"balance", "FLOUR", "F-A"},
			{"report", "lot", "BREAD", "BR-1", "--format", "json"},
			{"report", "recall", "FLOUR", "F-A", "--format", "json"},
			{"report", "fsma204", "--item", "BREAD", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "json"},
		} {
			for _, bad := range []string{"yesterday", "2026-13-01", "+24h", "-"} {
				_, stderr, code := hub(t, db, "", append(args, "--as-of", bad)...)
				if code != exitInvalid || !strings.Contains(stderr, `--as-of "`+bad+`"`) || !strings.Contains(stderr, "RFC 3339") {
					t.Errorf("%v --as-of %s: exit %d, %q; want 2 and what to give", args, bad, code, stderr)
				}
			}
		}
	})
}
