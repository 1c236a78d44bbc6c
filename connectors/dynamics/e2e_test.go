package dynamics_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/internal/testbuild"
	"github.com/lothub/lothub/runner"
)

// The hub binary, built once: the runner serves the built-in connector by
func TestMain(m *testing.M) { testbuild.Main(m) }

// hubBinary is the hub, built once: the runner serves the built-in
// connector by running it as a plugin process of it.
func hubBinary(t *testing.T) string { return testbuild.Hub(t) }

// TestEndToEnd syncs each fake ERP through the hub's runner, the plugin
// process and the default mapping into a SQLite store, and asks for
// recalls: a contaminated flour batch must reach the bread made from it and
// the customers who got that bread, and nobody else.
func TestEndToEnd(t *testing.T) {
	hub := hubBinary(t)
	tests := []struct {
		system, mapping, entity string
		load                    func(f *fakeMicrosoft)
		records, events         int
		later                   map[string]any // a shipment after the first sync
		extra                   string         // more configuration
	}{
		{
			system: "fo", mapping: "dynamics-fo.yaml", entity: foTrans,
			load:    func(f *fakeMicrosoft) { f.put(foTrans, plantFO()...) },
			records: 13, events: 12, // the open purchase order line maps to nothing
			later: itx{rec: 5637144703, item: "BREAD", batch: "BR-1", cat: "Sales", ref: "SO-4", qty: -30, date: "2026-03-05",
				mod: "2026-03-05T11:00:00Z", party: "C-DELTA", partyName: "Delta Diner", slip: "PS-4"}.row(),
		},
		{
			system: "bc", mapping: "dynamics-bc.yaml", entity: bcILE,
			load:    func(f *fakeMicrosoft) { f.put(bcILE, plantBC()...) },
			records: 11, events: 11,
			extra: "      bc_company_id: " + testCompany + "\n",
			later: ile{n: 112, item: "BREAD", lot: "BR-1", typ: "Sale", qty: -30, doc: "SSHP-4", party: "C-DELTA",
				partyName: "Delta Diner", so: "SO-4", date: "2026-03-05", mod: "2026-03-05T11:00:00Z"}.row(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.system, func(t *testing.T) {
			ctx := context.Background()
			f := newFake(t)
			tt.load(f)
			dir := t.TempDir()
			t.Setenv("LOTHUB_TEST_DYNAMICS_SECRET", testSecret)
			mappingFile, err := filepath.Abs(tt.mapping)
			if err != nil {
				t.Fatal(err)
			}
			yaml := fmt.Sprintf(`
connectors:
  - name: erp
    plugin: dynamics
    mapping: %s
    batch_size: 4
    timeout: 30s
    max_retry: 1m
    config:
      system: %s
      tenant_id: %s
      client_id: %s
      client_secret: ${env:LOTHUB_TEST_DYNAMICS_SECRET}
      base_url: %s
      authority_url: %s
      page_size: "3"
%s`, mappingFile, tt.system, testTenant, testClientID, f.srv.URL, f.srv.URL, tt.extra)
			h, err := config.Parse(filepath.Join(dir, "hub.yaml"), []byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			s, err := sqlite.Open(ctx, filepath.Join(dir, "hub.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			var slept []time.Duration
			r := &runner.Runner{Store: s, Config: h,
				Plugins: &runner.Plugins{Builtins: []string{"dynamics"}, Self: hub},
				Sleep: func(ctx context.Context, d time.Duration) error {
					slept = append(slept, d)
					return ctx.Err()
				}}

			// Throttled once in the middle of the sync: the run waits as
			// told and goes on.
			f.inject(fault{match: "/" + tt.entity, status: 429, retryAfter: "2"})
			run, err := r.Sync(ctx, "erp", "manual")
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			if run.Status != core.RunOK || run.Records != tt.records || run.Events != tt.events || run.Quarant != 0 {
				t.Fatalf("run = %+v, want ok with %d records, %d events and nothing quarantined", run, tt.records, tt.events)
			}
			if !slices.Contains(slept, 2*time.Second) {
				t.Errorf("the runner slept %v, want the 2s the server asked for", slept)
			}

			q := &core.Queries{Store: s}
			recall := func(item, lot string) ([]string, []string) {
				t.Helper()
				res, err := q.Recall(ctx, core.Selector{Lot: &core.LotRef{Item: item, Lot: lot}})
				if err != nil {
					t.Fatalf("recall %s/%s: %v", item, lot, err)
				}
				var lots, customers []string
				for _, l := range res.Lots {
					lots = append(lots, l.Item+"/"+l.Lot)
				}
				if res.Customers != nil {
					for _, c := range *res.Customers {
						customers = append(customers, c.ID+" "+c.Name)
					}
				}
				slices.Sort(customers)
				return lots, customers
			}
			check := func(item, lot string, wantLots, wantCustomers []string) {
				t.Helper()
				lots, customers := recall(item, lot)
				if !slices.Equal(lots, wantLots) || !slices.Equal(customers, wantCustomers) {
					t.Errorf("recall of %s/%s reaches lots %v and customers %v, want %v and %v", item, lot, lots, customers, wantLots, wantCustomers)
				}
			}
			check("FLOUR", "F-A", []string{"BREAD/BR-1"}, []string{"C-ALPHA Alpha Foods", "C-BETA Beta Bakeries"})
			check("FLOUR", "F-B", []string{"BREAD/BR-2"}, []string{"C-GAMMA Gamma Mart"})
			check("SALT", "S-1", []string{"BREAD/BR-1"}, []string{"C-ALPHA Alpha Foods", "C-BETA Beta Bakeries"})

			// Nothing new: nothing read.
			again, err := r.Sync(ctx, "erp", "schedule")
			if err != nil || again.Records != 0 {
				t.Fatalf("second sync = %+v, %v; want no records", again, err)
			}
			// A new shipment: only it is read, and the recall sees it.
			f.put(tt.entity, tt.later)
			third, err := r.Sync(ctx, "erp", "schedule")
			if err != nil || third.Records != 1 || third.Events != 1 {
				t.Fatalf("third sync = %+v, %v; want the new shipment", third, err)
			}
			check("FLOUR", "F-A", []string{"BREAD/BR-1"}, []string{"C-ALPHA Alpha Foods", "C-BETA Beta Bakeries", "C-DELTA Delta Diner"})
		})
	}
}
