package storetest

import (
	"fmt"
	"time"

	"github.com/lothub/lothub/core"
)

// Cases for skipped records (issue 15): a record that makes no event is
// archived and counted by rule and reason, with the batch and with the
// run; it is never quarantined and never lost.

func init() {
	cases = append(cases, []testCase{
		{"SkipsCountedAndArchived", func(h *harness) {
			skip := func(id, rule, reason string) core.MappedRecord {
				mr := mapped("sap", id, fmt.Sprintf(`{"doc":%q}`, id))
				mr.Skip = &core.Skip{Rule: rule, Reason: reason}
				return mr
			}
			bare := mapped("sap", "d5", `{"doc":"d5"}`) // no events, no skip: counted anyway
			runID, err := h.s.StartRun(h.ctx, core.Run{Connector: "sap", Trigger: "manual", Started: time.Date(2026, 4, 1, 2, 0, 0, 0, time.UTC)})
			if err != nil {
				h.t.Fatal(err)
			}
			run := core.Run{ID: runID, Connector: "sap", Trigger: "manual", Status: core.RunRunning}
			in := core.Ingester{Store: h.s, Now: func() time.Time { return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) }}
			count := func(tx core.IngestTx, st core.RecordStats) error {
				run.Batches++
				run.Records += st.Records
				run.Events += st.New + st.Superseded
				run.Quarant += st.Quarantined
				run.Skips = core.AddSkips(run.Skips, st.Skips...)
				return tx.CountRun(h.ctx, run)
			}
			st, err := in.IngestRecords(h.ctx, []core.MappedRecord{
				mapped("sap", "d1", `{"doc":"d1"}`, recv("r1", "FLOUR", "F-A", 1, "V", "X")),
				skip("d2", "cost centre", "cost centre issues leave the chain"),
				skip("d3", "cost centre", "cost centre issues leave the chain"),
				skip("d4", "transfer", "receiving item of a transfer"),
				bare,
			}, "", count)
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("records, skipped, quarantined", fmt.Sprint(st.Records, st.Skipped, st.Quarantined), "5 4 0")
			h.equal("skips", fmt.Sprint(st.Skips), "[{ made no event (the mapping gave no reason) 1} {cost centre cost centre issues leave the chain 2} {transfer receiving item of a transfer 1}]")
			// Every record is in the archive, skipped ones with no events.
			h.equal("archived", len(h.raw(core.RawFilter{Source: "sap"})), 5)
			// A second batch adds to the run's counts.
			if _, err := in.IngestRecords(h.ctx, []core.MappedRecord{skip("d6", "transfer", "receiving item of a transfer")}, "", count); err != nil {
				h.t.Fatal(err)
			}
			runs, err := h.s.Runs(h.ctx, core.RunFilter{Connector: "sap"})
			if err != nil || len(runs) != 1 {
				h.t.Fatalf("runs = %v, %v; want one", runs, err)
			}
			got := runs[0]
			h.equal("run skipped", got.Skipped, 5)
			h.equal("run skips", fmt.Sprint(got.Skips), "[{ made no event (the mapping gave no reason) 1} {cost centre cost centre issues leave the chain 2} {transfer receiving item of a transfer 2}]")
			// FinishRun keeps them.
			got.Status, got.Ended = core.RunOK, time.Date(2026, 4, 1, 2, 1, 0, 0, time.UTC)
			if err := h.s.FinishRun(h.ctx, got); err != nil {
				h.t.Fatal(err)
			}
			runs, _ = h.s.Runs(h.ctx, core.RunFilter{Connector: "sap"})
			h.equal("finished run skips", fmt.Sprintln(runs[0].Status, runs[0].Skipped, len(runs[0].Skips)), "ok 5 3\n")
			// A run with no skips reads back none.
			id, err := h.s.StartRun(h.ctx, core.Run{Connector: "mes", Trigger: "manual", Started: time.Date(2026, 4, 1, 3, 0, 0, 0, time.UTC)})
			if err != nil {
				h.t.Fatal(err)
			}
			runs, _ = h.s.Runs(h.ctx, core.RunFilter{Connector: "mes"})
			h.equal("run without skips", fmt.Sprint(runs[0].ID == id, runs[0].Skipped, runs[0].Skips == nil), "true 0 true")
		}},
	}...)
}
