package netsuite_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/lothub/lothub/connectors/netsuite"
	"github.com/lothub/lothub/mapping"
	"github.com/lothub/lothub/sdk"
	"github.com/lothub/lothub/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	f := newAccount(t)
	plant(f)
	sdktest.Run(t, sdktest.Harness{
		New:         func() sdk.Connector { return netsuite.New() },
		Config:      rawConfig(f),
		BadEndpoint: with(rawConfig(f), "base_url", "http://127.0.0.1:1"),
		Expect:      len(plantIDs),
	})
}

func TestReadReturnsOneRecordPerLot(t *testing.T) {
	f := newAccount(t)
	plant(f)
	cfg := parse(t, rawConfig(f))
	recs, _ := readAll(t, netsuite.New(), cfg, nil, 4)
	if got := ids(recs); !slices.Equal(got, plantIDs) {
		t.Fatalf("ids\n got %v\nwant %v", got, plantIDs)
	}
	if _, _, maxOffset := f.Stats(); maxOffset != 0 {
		t.Errorf("the connector paged with offset %d; it must page by keyset at offset 0", maxOffset)
	}

	tests := []struct {
		id, kind string
		want     map[string]any
	}{
		{"ItemRcpt:5001:1:9001", netsuite.KindItemReceipt, map[string]any{
			"tran_number": "IR-1001", "tran_date": "2026-03-14", "last_modified": "2026-03-14 09:15:00",
			"last_modified_utc": "2026-03-14T16:15:00Z", "entity_number": "V-MILL", "entity_name": "Mill Co",
			"created_from_number": "PO-77", "created_from_type": "PurchOrd", "item": "FLOUR", "lot": "L-100",
			"quantity": "600", "line_quantity": "1000", "base_unit": "kg", "location": "Main Warehouse",
			"expiration_date": "2026-09-30", "voided": "F", "account": "1234567_SB1"}},
		{"WOCompl:5102:0:9103", netsuite.KindWorkOrderCompletion, map[string]any{
			"line_id": "0", "created_from_number": "WO-900", "created_from_type": "WorkOrd", "entity_id": nil, "lot": "BR-1"}},
		{"InvTrnfr:5500:1:9500", netsuite.KindInventoryTransfer, map[string]any{
			"transfer_location": "East DC", "line_quantity": "-40"}},
		{"InvAdjst:5600:1:9600", netsuite.KindInventoryAdjustment, map[string]any{
			"base_unit": nil, "item": "SALT"}},
	}
	byID := map[string]sdk.Record{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			r, ok := byID[tt.id]
			if !ok {
				t.Fatalf("no record %s", tt.id)
			}
			if r.Kind != tt.kind {
				t.Errorf("kind %q, want %q", r.Kind, tt.kind)
			}
			got := fields(t, r)
			for k, want := range tt.want {
				if v, ok := got[k]; !ok || v != want {
					t.Errorf("%s = %#v (present %v), want %#v", k, v, ok, want)
				}
			}
		})
	}
	if want := at(f.Loc, "2026-03-14 09:15:00"); !recs[0].Time.Equal(want) {
		t.Errorf("record time %v, want %v", recs[0].Time, want)
	}
}

// The default mapping's golden tests run with the connector's tests.
func TestDefaultMappingGolden(t *testing.T) {
	m, err := mapping.Load("mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := mapping.LoadTests("mapping.test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	results, err := m.RunTests(cases)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.Pass {
			t.Errorf("%s (%s): \n%s", r.Name, r.Pos, r.Diff)
		}
	}
}

// Every record the connector reads from the plant maps to the events the
// default mapping promises.
func TestDefaultMappingMapsWhatTheConnectorReads(t *testing.T) {
	f := newAccount(t)
	plant(f)
	recs, _ := readAll(t, netsuite.New(), parse(t, rawConfig(f)), nil, 100)
	m, err := mapping.Load("mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		evs, err := m.Map(mapping.Record{Kind: r.Kind, ID: r.ID, Fields: fields(t, r)})
		if err != nil {
			t.Fatalf("record %s: %v", r.ID, err)
		}
		for _, e := range evs {
			got = append(got, string(e.Type)+" "+e.ID)
		}
	}
	want := []string{
		"receive netsuite:ItemRcpt:5001:1:9001", "receive netsuite:ItemRcpt:5001:1:9002",
		"receive netsuite:ItemRcpt:5002:1:9003",
		"consume netsuite:WOIssue:5101:2:9101", "consume netsuite:WOIssue:5101:3:9102",
		"produce netsuite:WOCompl:5102:0:9103",
		"ship netsuite:ItemShip:5400:1:9400", "ship netsuite:ItemShip:5401:1:9401",
		"move netsuite:InvTrnfr:5500:1:9500",
		"adjust netsuite:InvAdjst:5600:1:9600",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events\n got %v\nwant %v", got, want)
	}
}

func TestCheck(t *testing.T) {
	f := newAccount(t)
	plant(f)
	if err := netsuite.New().Check(context.Background(), parse(t, rawConfig(f))); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if q := f.LastQuery(); !strings.Contains(q, "FROM deletedrecord d") {
		t.Errorf("Check did not try the deleted records query; last query %s", q)
	}
}
