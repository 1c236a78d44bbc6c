package storetest

import (
	"errors"
	"fmt"
	"time"

	"github.com/lothub/lothub/core"
)

// Cases for the raw-record archive and the source-record path of ingest
// (core.Ingester.IngestRecords): what hub ingest --mapping, hub remap and
// connector syncs rely on.

func (h *harness) ingestRecords(runID string, recs ...core.MappedRecord) core.RecordStats {
	h.t.Helper()
	in := core.Ingester{Store: h.s, Now: func() time.Time { return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) }}
	st, err := in.IngestRecords(h.ctx, recs, runID, nil)
	if err != nil {
		h.t.Fatalf("ingest records: %v", err)
	}
	return st
}

func (h *harness) raw(f core.RawFilter) []core.RawRecord {
	h.t.Helper()
	rs, err := h.s.RawRecords(h.ctx, f)
	if err != nil {
		h.t.Fatalf("raw records: %v", err)
	}
	return rs
}

// mapped is a record with the events decoded from JSON lines.
func mapped(source, id, payload string, events ...string) core.MappedRecord {
	mr := core.MappedRecord{Raw: core.RawRecord{Source: source, Kind: "doc", RecordID: id, Payload: []byte(payload), Mapping: "test@1"}}
	for _, e := range events {
		ev, err := core.DecodeEvent([]byte(e))
		if err != nil {
			panic(fmt.Sprintf("test event %s: %v", e, err))
		}
		mr.Events = append(mr.Events, ev)
	}
	return mr
}

func rawSummary(rs []core.RawRecord) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s/%s:%s:%v", r.Source, r.RecordID, r.Payload, r.Events))
	}
	return out
}

func init() {
	cases = append(cases, []testCase{
		{"ArchiveKeepsRecordsAndTheirEvents", func(h *harness) {
			st := h.ingestRecords("",
				mapped("erp", "doc-1", `{"n":1}`, recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1")),
				mapped("erp", "doc-2", `{"n":2}`, consume("c1", "WO-1", "FLOUR", "F-A", 40), produce("p1", "WO-1", "DOUGH", "D-1", 40)),
			)
			h.equal("stats", fmt.Sprint(st.Records, st.Archived, st.New, st.Quarantined), "2 2 3 0")
			h.equal("archive", rawSummary(h.raw(core.RawFilter{})), []string{`erp/doc-1:{"n":1}:[r1]`, `erp/doc-2:{"n":2}:[c1 p1]`})
			h.equal("genealogy", lots(h.trace(core.Forward, "FLOUR", "F-A")), []string{"DOUGH/D-1@1"})
			// The hub sets each event's source.
			st2, err := h.q().Lot(h.ctx, core.LotRef{Item: "FLOUR", Lot: "F-A"})
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("source", *st2.Events[0].Event.Source, core.Source{Connector: "erp", Record: "doc-1"})
			// The same content again: nothing new, one archive row.
			again := h.ingestRecords("", mapped("erp", "doc-1", `{"n":1}`, recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1")))
			h.equal("unchanged", again.Unchanged, 1)
			h.equal("archive after re-read", len(h.raw(core.RawFilter{})), 2)
		}},
		{"ArchiveVersionsChangedRecords", func(h *harness) {
			h.ingestRecords("", mapped("erp", "doc-1", `{"qty":100}`, recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1")))
			h.ingestRecords("", mapped("erp", "doc-1", `{"qty":90}`, recv("r1", "FLOUR", "F-A", 90, "V-MILL", "M-1")))
			h.equal("current", rawSummary(h.raw(core.RawFilter{})), []string{`erp/doc-1:{"qty":90}:[r1]`})
			h.equal("on hand", onHand(h.recall("FLOUR", "F-A").Root.OnHand), "90 KG")
			// Back to the first content: it is current again.
			h.ingestRecords("", mapped("erp", "doc-1", `{"qty":100}`, recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1")))
			h.equal("current again", rawSummary(h.raw(core.RawFilter{})), []string{`erp/doc-1:{"qty":100}:[r1]`})
			// In one batch, the last content read wins.
			h.ingestRecords("",
				mapped("erp", "doc-2", `{"v":1}`, recv("r2", "SALT", "S-1", 1, "V-SALT", "X")),
				mapped("erp", "doc-2", `{"v":2}`, recv("r2", "SALT", "S-1", 2, "V-SALT", "X")))
			h.equal("last wins", rawSummary(h.raw(core.RawFilter{AfterSeq: 0, Source: "erp"}))[1], `erp/doc-2:{"v":2}:[r2]`)
		}},
		{"ArchiveFilters", func(h *harness) {
			a := mapped("erp", "a", `{}`)
			a.Raw.Kind = "receipt"
			b := mapped("erp", "b", `{}`)
			c := mapped("mes", "c", `{}`)
			h.ingestRecords("", a, b, c)
			h.equal("by source", rawSummary(h.raw(core.RawFilter{Source: "mes"})), []string{"mes/c:{}:[]"})
			h.equal("by kind", rawSummary(h.raw(core.RawFilter{Kinds: []string{"receipt"}})), []string{"erp/a:{}:[]"})
			all := h.raw(core.RawFilter{})
			h.equal("paging", rawSummary(h.raw(core.RawFilter{AfterSeq: all[0].Seq, Limit: 1})), []string{"erp/b:{}:[]"})
			h.equal("since", len(h.raw(core.RawFilter{Since: time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)})), 0)
			h.ingestRecords("", mapped("erp", "ItemRcpt:1:1", `{}`), mapped("erp", "ItemRcpt:1:2", `{}`), mapped("erp", "ItemRcpt:10:1", `{}`))
			h.equal("by record prefix", rawSummary(h.raw(core.RawFilter{Source: "erp", RecordPrefix: "ItemRcpt:1:"})),
				[]string{"erp/ItemRcpt:1:1:{}:[]", "erp/ItemRcpt:1:2:{}:[]"})
			h.equal("received at", all[0].ReceivedAt, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
		}},
		{"UnmappableRecordQuarantinedThenReleased", func(h *harness) {
			bad := mapped("erp", "doc-9", `{"mvt":"999"}`)
			bad.Err = errors.New("map.yaml:3:5: no rule matches movement type 999 (add a rule or a skip rule)")
			bad.Line = 7
			st := h.ingestRecords("", bad)
			h.equal("quarantined", st.Quarantined, 1)
			q, err := h.s.Quarantined(h.ctx, core.QuarantineFilter{})
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("entry", fmt.Sprintf("%d %s %d %s", len(q), q[0].Source, q[0].Line, q[0].Raw), `1 erp 7 {"mvt":"999"}`)
			h.equal("reason", q[0].Reason, bad.Err.Error())
			h.equal("archived although unmapped", rawSummary(h.raw(core.RawFilter{})), []string{`erp/doc-9:{"mvt":"999"}:[]`})
			// A fixed mapping maps it: the entry is resolved.
			h.ingestRecords("", mapped("erp", "doc-9", `{"mvt":"999"}`, recv("r9", "SALT", "S-9", 5, "V-SALT", "X")))
			q, err = h.s.Quarantined(h.ctx, core.QuarantineFilter{})
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("open entries", len(q), 0)
			// Broken again: opened again.
			h.ingestRecords("", bad)
			q, err = h.s.Quarantined(h.ctx, core.QuarantineFilter{})
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("reopened", len(q), 1)
			h.equal("events kept while broken", rawSummary(h.raw(core.RawFilter{})), []string{`erp/doc-9:{"mvt":"999"}:[]`})
		}},
		{"InvalidMappedEventQuarantinesItsRecord", func(h *harness) {
			r := mapped("erp", "doc-1", `{}`, recv("r1", "FLOUR", "F-A", 100, "V-MILL", "M-1"))
			r.Events[0].Qty = nil // receive needs a quantity
			st := h.ingestRecords("", r, mapped("erp", "doc-2", `{}`, recv("r2", "FLOUR", "F-B", 1, "V-MILL", "M-2")))
			h.equal("stats", fmt.Sprint(st.Quarantined, st.New), "1 1")
			q, err := h.s.Quarantined(h.ctx, core.QuarantineFilter{})
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("quarantined event id", q[0].EventID, "r1")
			if _, err := h.s.FindLot(h.ctx, core.LotRef{Item: "FLOUR", Lot: "F-A"}); core.ErrorCode(err) != core.ENOTFOUND {
				h.t.Errorf("lot of a quarantined record reached the graph: %v", err)
			}
		}},
		{"RemapReversesDroppedAndRestoresThem", func(h *harness) {
			h.ingestRecords("", mapped("erp", "doc-1", `{}`,
				consume("c1", "WO-1", "FLOUR", "F-A", 40), produce("p1", "WO-1", "DOUGH", "D-1", 40)))
			h.equal("before", lots(h.trace(core.Forward, "FLOUR", "F-A")), []string{"DOUGH/D-1@1"})
			// A remap whose mapping no longer emits c1.
			r := mapped("erp", "doc-1", `{}`, produce("p1", "WO-1", "DOUGH", "D-1", 40))
			r.Dropped = []string{"c1"}
			st := h.ingestRecords("run1", r)
			h.equal("reversed", st.Reversed, 1)
			h.equal("after drop", lots(h.trace(core.Forward, "FLOUR", "F-A")), []string{})
			h.equal("archive events", rawSummary(h.raw(core.RawFilter{})), []string{`erp/doc-1:{}:[p1]`})
			// A later remap emits c1 again: the reversal is undone.
			st = h.ingestRecords("run2", mapped("erp", "doc-1", `{}`,
				consume("c1", "WO-1", "FLOUR", "F-A", 40), produce("p1", "WO-1", "DOUGH", "D-1", 40)))
			h.equal("restored", st.Restored, 1)
			h.equal("after restore", lots(h.trace(core.Forward, "FLOUR", "F-A")), []string{"DOUGH/D-1@1"})
			// And dropped a second time.
			r.Dropped = []string{"c1"}
			h.ingestRecords("run3", r)
			h.equal("after second drop", lots(h.trace(core.Forward, "FLOUR", "F-A")), []string{})
		}},
	}...)
}

// Issue 15: a quarantine entry whose source record was replaced by records
// with other ids (NetSuite TYPE:TRAN:LINE:0) is resolved by hand, with the
// reason kept; the same input quarantined again reopens it.
func init() {
	cases = append(cases, testCase{"QuarantineResolvedByHand", func(h *harness) {
		bad := mapped("ns", "ItemRcpt:7:1:0", `{"line":1}`)
		bad.Err = errors.New("lot line without inventory detail")
		h.ingestRecords("", bad)
		open := func() []core.QuarantineRow {
			q, err := h.s.Quarantined(h.ctx, core.QuarantineFilter{})
			if err != nil {
				h.t.Fatal(err)
			}
			return q
		}
		q := open()
		h.equal("open", len(q), 1)
		reason := "detail entered since: read as ItemRcpt:7:1:41"
		h.equal("resolve", core.ErrorCode(h.s.ResolveQuarantine(h.ctx, q[0].Seq, reason)), "")
		h.equal("open after", len(open()), 0)
		all, err := h.s.Quarantined(h.ctx, core.QuarantineFilter{IncludeResolved: true})
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("kept with its reason", fmt.Sprintln(len(all), all[0].Resolved, all[0].ResolveReason), "1 true "+reason+"\n")
		h.equal("twice", core.ErrorCode(h.s.ResolveQuarantine(h.ctx, q[0].Seq, reason)), core.ECONFLICT)
		h.equal("unknown", core.ErrorCode(h.s.ResolveQuarantine(h.ctx, q[0].Seq+1000, reason)), core.ENOTFOUND)
		h.ingestRecords("", bad)
		q = open()
		h.equal("reopened, reason cleared", fmt.Sprint(len(q), q[0].ResolveReason == ""), "1 true")
	}})
}

func init() {
	cases = append(cases, testCase{"ArchiveReceivedWindow", func(h *harness) {
		// What GET /epcis/events reads for GE_recordTime/LT_recordTime:
		// records received in [Since, Before), with source, kinds and
		// paging.
		day := func(d int) time.Time { return time.Date(2026, 4, d, 12, 0, 0, 0, time.UTC) }
		at := func(id, kind string, d int) core.MappedRecord {
			r := mapped("epcis", id, `{"id":"`+id+`"}`)
			r.Raw.Kind, r.Raw.ReceivedAt = kind, day(d)
			return r
		}
		h.ingestRecords("", at("a", "ObjectEvent", 1), at("b", "TransformationEvent", 1))
		h.ingestRecords("", at("c", "ObjectEvent", 2), at("d", "ObjectEvent", 2), mapped("erp", "e", `{}`))
		h.ingestRecords("", at("f", "ObjectEvent", 3))
		ids := func(f core.RawFilter) []string {
			out := []string{}
			for _, r := range h.raw(f) {
				out = append(out, r.RecordID)
			}
			return out
		}
		h.equal("since day 2", ids(core.RawFilter{Source: "epcis", Since: day(2)}), []string{"c", "d", "f"})
		h.equal("before day 2", ids(core.RawFilter{Source: "epcis", Before: day(2)}), []string{"a", "b"})
		h.equal("day 2 only", ids(core.RawFilter{Source: "epcis", Since: day(2), Before: day(3)}), []string{"c", "d"})
		h.equal("an empty window", ids(core.RawFilter{Source: "epcis", Since: day(2), Before: day(2)}), []string{})
		h.equal("before day 2, one kind", ids(core.RawFilter{Source: "epcis", Kinds: []string{"TransformationEvent"}, Before: day(2)}), []string{"b"})
		// Paged, the window holds: the pages are the whole answer.
		var paged []string
		f := core.RawFilter{Source: "epcis", Since: day(2), Limit: 1}
		for range 5 {
			rs := h.raw(f)
			if len(rs) == 0 {
				break
			}
			paged = append(paged, rs[0].RecordID)
			f.AfterSeq = rs[0].Seq
		}
		h.equal("since day 2, a record a page", paged, []string{"c", "d", "f"})
	}})
}
