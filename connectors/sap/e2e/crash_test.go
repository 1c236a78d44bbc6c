package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/sap/internal/fake"
	"github.com/lothub/lothub/internal/crashtest"
	"github.com/lothub/lothub/internal/testbuild"
)

// The crash harness against an API connector: the real hub binary syncs a
// fake S/4HANA (OData v2, server-driven paging) through the sap plugin and
// is killed with SIGKILL at random moments; resumed, the store holds what
// a clean sync stores, with the same holds, gaps and run counts.
func TestCrashHarnessS4(t *testing.T) {
	hubBin := testbuild.Hub(t)
	rng := crashtest.Rand(t)
	s := fake.NewS4(t, false)
	s.ServerPage = 20
	s.Add(fake.Synthetic(600)...)
	t.Setenv("LOTHUB_TEST_SAP_PASSWORD", s.Password)
	mapping, err := filepath.Abs("../mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `connectors:
  - name: s4
    plugin: sap
    mapping: %s
    batch_size: 25
    timeout: 30s
    max_retry: 1m
    config:
      system: s4hana
      base_url: %s
      sap_client: "100"
      user: %s
      password: ${env:LOTHUB_TEST_SAP_PASSWORD}
      page_size: "50"
`, mapping, s.URL, s.User), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, st := range crashtest.Stores {
		t.Run(st.Name, func(t *testing.T) {
			clean := crashtest.Hub{Bin: hubBin, DB: st.DB(t, dir, st.Name+"-clean"), Config: cfg}
			began := time.Now()
			clean.Run(t, "sync", "s4")
			took := time.Since(began)
			want := clean.State(t)
			wantRecords, wantEvents := clean.RunTotals(t, "s4")
			if len(want.Events) < 1000 {
				t.Fatalf("clean sync stored %d events: too few to test", len(want.Events))
			}
			h := crashtest.Hub{Bin: hubBin, DB: st.DB(t, dir, st.Name+"-crashed"), Config: cfg}
			kills := h.KillRandomly(t, rng, took*3/4, "sync", "s4")
			h.Run(t, "sync", "s4")
			t.Logf("%d kills", kills)
			crashtest.Compare(t, h.State(t), want)
			if r, e := h.RunTotals(t, "s4"); r != wantRecords || e != wantEvents {
				t.Errorf("runs count %d records and %d events in all, want the clean run's %d and %d", r, e, wantRecords, wantEvents)
			}
		})
	}
}
