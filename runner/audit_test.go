package runner_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/lothub/lothub/core"
)

// A sync's batches are recorded under the connector, with their run; its
// configuration is recorded when it differs from the last recorded.
func TestSyncAudited(t *testing.T) {
	ctx := core.WithActor(context.Background(), core.Actor{Kind: "os", Name: "ops"})
	e := newEnv(t, 25)
	plant(t, e.scans, 0, 20)
	run, err := e.r.Sync(ctx, "mes", "manual")
	if err != nil {
		t.Fatal(err)
	}
	log := func(action string) []core.AuditEntry {
		t.Helper()
		es, err := e.store.AuditLog(ctx, core.AuditFilter{Action: action})
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	batches := log(core.AuditIngest)
	if len(batches) != run.Batches {
		t.Fatalf("%d batch entries, want the run's %d batches", len(batches), run.Batches)
	}
	for _, b := range batches {
		var d struct {
			Run      int64  `json:"run"`
			CursorOf string `json:"cursor_of"`
			Source   string `json:"source"`
		}
		if err := json.Unmarshal(b.Details, &d); err != nil {
			t.Fatal(err)
		}
		if b.Actor != core.ConnectorActor("mes") || d.Run != run.ID || d.CursorOf != "mes" || d.Source != "mes" || b.Events == nil {
			t.Errorf("batch entry %d: actor %+v, details %s, events %+v: want connector:mes, run %d, its cursor and events", b.Seq, b.Actor, b.Details, b.Events, run.ID)
		}
	}
	cfg := log(core.AuditConfigLoaded)
	if len(cfg) != 1 || cfg[0].Object != "connector:mes" {
		t.Fatalf("config entries = %+v, want one for connector:mes", cfg)
	}
	// The same configuration again: nothing new. A changed one: recorded.
	if _, err := e.r.Sync(ctx, "mes", "schedule"); err != nil {
		t.Fatal(err)
	}
	if n := len(log(core.AuditConfigLoaded)); n != 1 {
		t.Errorf("%d config entries after a sync with the same configuration, want 1", n)
	}
	e.r.Config.Connectors[0].BatchSize = 10
	if _, err := e.r.Sync(ctx, "mes", "schedule"); err != nil {
		t.Fatal(err)
	}
	cfg = log(core.AuditConfigLoaded)
	if len(cfg) != 2 || !json.Valid(cfg[0].Details) {
		t.Fatalf("config entries after a change = %+v, want 2", cfg)
	}
	var d struct{ Hash, PreviousHash string }
	json.Unmarshal(cfg[0].Details, &struct {
		Hash         *string `json:"hash"`
		PreviousHash *string `json:"previous_hash"`
	}{&d.Hash, &d.PreviousHash})
	var first struct {
		Hash string `json:"hash"`
	}
	json.Unmarshal(cfg[1].Details, &first)
	if d.PreviousHash != first.Hash || d.Hash == first.Hash {
		t.Errorf("changed configuration: hash %s previous %s, first %s", d.Hash, d.PreviousHash, first.Hash)
	}
	if v, err := core.VerifyAudit(ctx, e.store, nil); err != nil || !v.OK {
		t.Errorf("verify: %+v, %v", v, err)
	}
}
