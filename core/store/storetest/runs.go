package storetest

import (
	"errors"
	"fmt"
	"time"

	"github.com/lothub/lothub/core"
)

// Cases for connector positions and sync runs.

func init() {
	cases = append(cases, []testCase{
		{"CursorCommitsWithEvents", func(h *harness) {
			if _, err := h.s.Cursor(h.ctx, "sap"); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Fatalf("cursor before any sync: err = %v, want ENOTFOUND", err)
			}
			in := core.Ingester{Store: h.s}
			at := time.Date(2026, 4, 1, 2, 0, 0, 0, time.UTC)
			setCursor := func(pos string) func(core.IngestTx, core.RecordStats) error {
				return func(tx core.IngestTx, _ core.RecordStats) error {
					return tx.SetCursor(h.ctx, core.CursorRow{Connector: "sap", Position: []byte(pos), Updated: at, RunID: 7})
				}
			}
			if _, err := in.IngestRecords(h.ctx, []core.MappedRecord{mapped("sap", "d1", `{}`, recv("r1", "FLOUR", "F-A", 1, "V", "X"))}, "", setCursor("p1")); err != nil {
				h.t.Fatal(err)
			}
			c, err := h.s.Cursor(h.ctx, "sap")
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("cursor", fmt.Sprintf("%s %v %d", c.Position, c.Updated, c.RunID), "p1 2026-04-01 02:00:00 +0000 UTC 7")
			// A batch whose commit fails keeps neither its events nor its
			// position nor its archived records.
			boom := errors.New("disk full")
			_, err = in.IngestRecords(h.ctx, []core.MappedRecord{mapped("sap", "d2", `{}`, recv("r2", "FLOUR", "F-B", 1, "V", "X"))}, "",
				func(tx core.IngestTx, st core.RecordStats) error {
					if err := setCursor("p2")(tx, st); err != nil {
						return err
					}
					return boom
				})
			if !errors.Is(err, boom) {
				h.t.Fatalf("failed batch: err = %v, want %v", err, boom)
			}
			c, _ = h.s.Cursor(h.ctx, "sap")
			h.equal("cursor after failed batch", string(c.Position), "p1")
			if _, err := h.s.FindLot(h.ctx, core.LotRef{Item: "FLOUR", Lot: "F-B"}); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("lot of the failed batch is stored: %v", err)
			}
			h.equal("archive after failed batch", len(h.raw(core.RawFilter{})), 1)
			// The next batch after the failure still works (lot ids cached
			// by the failed transaction must not leak).
			if _, err := in.IngestRecords(h.ctx, []core.MappedRecord{mapped("sap", "d2", `{}`, recv("r2", "FLOUR", "F-B", 1, "V", "X"))}, "", setCursor("p2")); err != nil {
				h.t.Fatal(err)
			}
			if _, err := h.s.FindLot(h.ctx, core.LotRef{Item: "FLOUR", Lot: "F-B"}); err != nil {
				h.t.Errorf("lot after retry: %v", err)
			}
			if err := h.s.ResetCursor(h.ctx, "sap", "start over: the test"); err != nil {
				h.t.Fatal(err)
			}
			if _, err := h.s.Cursor(h.ctx, "sap"); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("cursor after reset: err = %v, want ENOTFOUND", err)
			}
		}},
		{"RunsRecorded", func(h *harness) {
			t0 := time.Date(2026, 4, 1, 2, 0, 0, 0, time.UTC)
			id1, err := h.s.StartRun(h.ctx, core.Run{Connector: "sap", Trigger: "schedule", Started: t0})
			if err != nil {
				h.t.Fatal(err)
			}
			id2, err := h.s.StartRun(h.ctx, core.Run{Connector: "netsuite", Trigger: "manual", Started: t0.Add(time.Minute)})
			if err != nil {
				h.t.Fatal(err)
			}
			if id2 <= id1 {
				h.t.Errorf("run ids %d, %d: want increasing", id1, id2)
			}
			err = h.s.FinishRun(h.ctx, core.Run{ID: id1, Ended: t0.Add(30 * time.Second), Status: core.RunFailed,
				Batches: 2, Records: 1000, Events: 900, Unchanged: 50, Quarant: 50, Error: "SAP answered 503 for 10m0s: gave up"})
			if err != nil {
				h.t.Fatal(err)
			}
			runs, err := h.s.Runs(h.ctx, core.RunFilter{})
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("newest first", fmt.Sprintf("%v %s %v", runs[0].ID == id2, runs[0].Status, runs[0].Ended.IsZero()), "true running true")
			r := runs[1]
			h.equal("finished run", fmt.Sprintf("%s %s %s %d %d %d %d %d %s", r.Connector, r.Trigger, r.Status, r.Batches, r.Records, r.Events, r.Unchanged, r.Quarant, r.Ended.Sub(r.Started)),
				"sap schedule failed 2 1000 900 50 50 30s")
			h.equal("error", r.Error, "SAP answered 503 for 10m0s: gave up")
			only, err := h.s.Runs(h.ctx, core.RunFilter{Connector: "sap", Limit: 5})
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("by connector", len(only), 1)
		}},
		{"RunCountsCommitWithBatch", func(h *harness) {
			t0 := time.Date(2026, 4, 1, 2, 0, 0, 0, time.UTC)
			id, err := h.s.StartRun(h.ctx, core.Run{Connector: "sap", Trigger: "schedule", Started: t0})
			if err != nil {
				h.t.Fatal(err)
			}
			in := core.Ingester{Store: h.s}
			count := func(pos string, fail error) func(core.IngestTx, core.RecordStats) error {
				return func(tx core.IngestTx, st core.RecordStats) error {
					if err := tx.SetCursor(h.ctx, core.CursorRow{Connector: "sap", Position: []byte(pos), Updated: t0, RunID: id}); err != nil {
						return err
					}
					r := core.Run{ID: id, Batches: 1, Records: st.Records, Events: st.New + st.Superseded, Unchanged: st.Unchanged, Quarant: st.Quarantined}
					if err := tx.CountRun(h.ctx, r); err != nil {
						return err
					}
					return fail
				}
			}
			if _, err := in.IngestRecords(h.ctx, []core.MappedRecord{mapped("sap", "d1", `{}`, recv("r1", "FLOUR", "F-A", 1, "V", "X"))}, "", count("p1", nil)); err != nil {
				h.t.Fatal(err)
			}
			show := func() string {
				runs, err := h.s.Runs(h.ctx, core.RunFilter{Connector: "sap"})
				if err != nil || len(runs) != 1 {
					h.t.Fatalf("runs = %v, %v", runs, err)
				}
				r := runs[0]
				return fmt.Sprintf("%s %d %d %d", r.Status, r.Batches, r.Records, r.Events)
			}
			h.equal("a running run's counts", show(), "running 1 1 1")
			boom := errors.New("disk full")
			if _, err := in.IngestRecords(h.ctx, []core.MappedRecord{mapped("sap", "d2", `{}`, recv("r2", "FLOUR", "F-B", 1, "V", "X"))}, "", count("p2", boom)); !errors.Is(err, boom) {
				h.t.Fatalf("failed batch: %v", err)
			}
			h.equal("counts after a batch that failed", show(), "running 1 1 1")
		}},
	}...)
}
