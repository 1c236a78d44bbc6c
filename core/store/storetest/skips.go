package storetest

import (
	"fmt"
	"sort"
	"strings"
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
		{"LotChecksQuarantine", func(h *harness) {
			// Placeholders, blank lots and self-loops never reach the
			// genealogy: they are quarantined with the reason.
			in := core.Ingester{Store: h.s, Now: func() time.Time { return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) }}
			st, err := in.IngestJSONL(h.ctx, strings.NewReader(strings.Join([]string{
				recv("r1", "FLOUR", "F-A", 1, "V", "X"),
				recv("r2", "FLOUR", "N/A", 1, "V", "X"),
				recv("r3", "FLOUR", " ", 1, "V", "X"),
				`{"id":"t1","type":"transform","time":"2026-03-01T08:00:00Z","inputs":[{"item":"FLOUR","lot":"F-A"}],"outputs":[{"item":"FLOUR","lot":"F-A"}]}`,
				`{"id":"t2","type":"transform","time":"2026-03-01T08:00:00Z","rework":true,"inputs":[{"item":"FLOUR","lot":"F-A"}],"outputs":[{"item":"FLOUR","lot":"F-A"}]}`,
			}, "\n")), "lots.jsonl")
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("new, quarantined", fmt.Sprint(st.New, st.Quarantined), "2 3")
			q, err := h.s.Quarantined(h.ctx, core.QuarantineFilter{})
			if err != nil {
				h.t.Fatal(err)
			}
			var reasons []string
			for _, r := range q {
				reasons = append(reasons, r.EventID)
				switch r.EventID {
				case "r2":
					h.contains("placeholder reason", r.Reason, `lot number "N/A" of item FLOUR is a placeholder`)
				case "r3":
					h.contains("blank reason", r.Reason, "blank text is no lot number")
				case "t1":
					h.contains("self-loop reason", r.Reason, `declare it with "rework": true`)
				}
			}
			sort.Strings(reasons)
			h.equal("quarantined ids", strings.Join(reasons, " "), "r2 r3 t1")
			if _, err := h.s.FindLot(h.ctx, core.LotRef{Item: "FLOUR", Lot: "N/A"}); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("placeholder lot FLOUR/N/A is stored: %v", err)
			}
			// A hub that uses "N/A" as a lot number configures its list.
			in.Placeholders = core.NewLotPlaceholders([]string{"*"})
			st, err = in.IngestJSONL(h.ctx, strings.NewReader(recv("r4", "FLOUR", "N/A", 1, "V", "X")), "lots2.jsonl")
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("configured list: new", st.New, 1)
			// Source records: the record is archived and quarantined.
			rs, err := in.IngestRecords(h.ctx, []core.MappedRecord{mapped("erp", "d9", `{"lot":"*"}`, recv("r9", "SALT", "*", 1, "V", "X"))}, "", nil)
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("record with a placeholder: quarantined, archived", fmt.Sprint(rs.Quarantined, rs.Archived, rs.New), "1 1 0")
		}},
	}...)
}

func (h *harness) contains(what, got, part string) {
	h.t.Helper()
	if !strings.Contains(got, part) {
		h.t.Errorf("%s:\n got  %s\n want it to contain %s", what, got, part)
	}
}
