package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
)

// Database is a store opened for the audit cases, with what they need
// beyond core.Store: another handle on the same database (a second hub
// serving it) and a way to run SQL behind the store's back (someone with
// database access editing the records).
type Database struct {
	Store core.Store
	// Reopen opens another handle on the same database.
	Reopen func(t testing.TB) core.Store
	// Exec runs SQL on the database directly. The statements the cases
	// run are the same in SQLite and PostgreSQL.
	Exec func(t testing.TB, sql string)
}

// ExerciseAudit runs the audit trail cases: what is recorded, that direct
// edits of audit or event rows are found, that concurrent writers make
// one chain, and that pruning after an export keeps the chain verifiable.
func ExerciseAudit(t *testing.T, open func(t testing.TB) Database) {
	for _, c := range auditCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			h := &harness{t: t, s: db.Store, ctx: core.WithActor(context.Background(), core.Actor{Kind: "os", Name: "tester"})}
			c.run(h, db)
		})
	}
}

type auditCase struct {
	name string
	run  func(h *harness, db Database)
}

// auditPlant ingests a little history with a supersession and a reversal,
// holds and releases a lot, resolves a quarantine entry and resets a
// cursor: one of each kind of change.
func (h *harness) auditPlant() {
	h.t.Helper()
	h.ingest(
		recv("r1", "FLOUR", "F-A", 100, "V", "M-1"),
		recv("r2", "SUGAR", "S-1", 50, "V", "M-2"),
		consume("c1", "WO-1", "FLOUR", "F-A", 40),
		produce("p1", "WO-1", "DOUGH", "D-1", 40),
		`not json`,
	)
	h.ingest(recv("r1", "FLOUR", "F-A", 90, "V", "M-1"), reverse("x1", "c1"))
	m := &core.Monitor{Store: h.s, Rules: core.DefaultGapRules()}
	if _, err := m.Hold(h.ctx, core.HoldParams{Lot: core.LotRef{Item: "FLOUR", Lot: "F-A"}, Reason: "supplier recall", By: "qa"}); err != nil {
		h.t.Fatal(err)
	}
	if _, err := m.Release(h.ctx, core.HoldParams{Lot: core.LotRef{Item: "FLOUR", Lot: "F-A"}, Reason: "cleared by lab", By: "qa"}); err != nil {
		h.t.Fatal(err)
	}
	q, err := h.s.Quarantined(h.ctx, core.QuarantineFilter{})
	if err != nil || len(q) != 1 {
		h.t.Fatalf("quarantine = %v, %v", q, err)
	}
	if err := h.s.ResolveQuarantine(h.ctx, q[0].Seq, "a test line, not data"); err != nil {
		h.t.Fatal(err)
	}
	if err := h.s.ResetCursor(h.ctx, "sap", "read the source again"); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) auditLog(f core.AuditFilter) []core.AuditEntry {
	h.t.Helper()
	es, err := h.s.AuditLog(h.ctx, f)
	if err != nil {
		h.t.Fatal(err)
	}
	return es
}

func actions(es []core.AuditEntry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Action)
	}
	return out
}

func (h *harness) verify(want *core.AuditHead) *core.AuditVerification {
	h.t.Helper()
	v, err := core.VerifyAudit(h.ctx, h.s, want)
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

// tampered checks that verify finds a problem and that the first one is
// of kind at entry seq (and names the event row id, when given).
func (h *harness) tampered(what string, v *core.AuditVerification, kind string, seq int64, event string) {
	h.t.Helper()
	if v.OK || len(v.Problems) == 0 {
		h.t.Fatalf("%s: verify found nothing", what)
	}
	p := v.Problems[0]
	if p.Kind != kind || p.Seq != seq {
		h.t.Errorf("%s: first problem = %s at entry %d (%s), want %s at entry %d", what, p.Kind, p.Seq, p.Detail, kind, seq)
	}
	if event != "" && (p.Event == nil || p.Event.ID != event) {
		h.t.Errorf("%s: problem names event %+v, want %s (%s)", what, p.Event, event, p.Detail)
	}
}

// entrySeq returns the seq of the newest entry with the action.
func (h *harness) entrySeq(action string) int64 {
	h.t.Helper()
	es := h.auditLog(core.AuditFilter{Action: action, Limit: 1})
	if len(es) == 0 {
		h.t.Fatalf("no %s entry", action)
	}
	return es[0].Seq
}

var auditCases = []auditCase{
	{"Recorded", func(h *harness, db Database) {
		h.auditPlant()
		all := h.auditLog(core.AuditFilter{})
		got := actions(all)
		slices.Reverse(got)
		h.equal("actions", got, []string{core.AuditStarted, core.AuditIngest, core.AuditIngest, core.AuditIngest,
			core.AuditHoldPlaced, core.AuditHoldReleased, core.AuditQuarantine, core.AuditCursorReset})
		for i, e := range all {
			if e.Seq != int64(len(all)-i) {
				h.t.Errorf("entry %d has seq %d, want %d (newest first)", i, e.Seq, len(all)-i)
			}
			if i+1 < len(all) && e.PrevHash != all[i+1].Hash {
				h.t.Errorf("entry %d does not name entry %d's hash", e.Seq, all[i+1].Seq)
			}
			if e.Time.IsZero() || i+1 < len(all) && e.Time.Before(all[i+1].Time) {
				h.t.Errorf("entry %d time %v: not after the entry before", e.Seq, e.Time)
			}
			if e.Action != core.AuditStarted && e.Actor != (core.Actor{Kind: "os", Name: "tester"}) {
				h.t.Errorf("entry %d (%s) actor %+v, want the context's os:tester", e.Seq, e.Action, e.Actor)
			}
		}
		hold := h.auditLog(core.AuditFilter{Action: core.AuditHoldPlaced})[0]
		h.equal("hold object", hold.Object, "lot:FLOUR/F-A")
		h.equal("hold reason", hold.Reason, "supplier recall")
		if hold.Events == nil || hold.Events.Count != 1 {
			h.t.Errorf("hold entry events = %+v, want the hold event", hold.Events)
		}
		// The second batch superseded r1 and reversed c1.
		batch := h.auditLog(core.AuditFilter{Action: core.AuditIngest})[0]
		var d struct {
			Superseded, Reversed []string
			Source               string
		}
		if err := json.Unmarshal(batch.Details, &d); err != nil {
			h.t.Fatal(err)
		}
		h.equal("superseded", d.Superseded, []string{"r1"})
		h.equal("reversed", d.Reversed, []string{"c1"})
		h.equal("source", d.Source, "test.jsonl")
		h.equal("reset", h.auditLog(core.AuditFilter{Action: "cursor."})[0].Object, "connector:sap")
		// A lot's entries: its hold and release, and the batches that
		// wrote its events.
		lotID, err := h.s.FindLot(h.ctx, core.LotRef{Item: "SUGAR", Lot: "S-1"})
		if err != nil {
			h.t.Fatal(err)
		}
		evs, err := h.s.LotEvents(h.ctx, lotID)
		if err != nil {
			h.t.Fatal(err)
		}
		var seqs []int64
		for _, e := range evs {
			seqs = append(seqs, e.Seq)
		}
		h.equal("sugar's entries", actions(h.auditLog(core.AuditFilter{Objects: []string{"lot:SUGAR/S-1"}, EventSeqs: seqs})), []string{core.AuditIngest})
		h.equal("flour's hold entries", actions(h.auditLog(core.AuditFilter{Objects: []string{"lot:FLOUR/F-A"}})), []string{core.AuditHoldReleased, core.AuditHoldPlaced})
		h.equal("by actor", len(h.auditLog(core.AuditFilter{Actor: "os:tester"})), len(all)-1)
		h.equal("by bare name", len(h.auditLog(core.AuditFilter{Actor: "tester"})), len(all)-1)
		h.equal("page", actions(h.auditLog(core.AuditFilter{Before: 3, Limit: 5})), []string{core.AuditIngest, core.AuditStarted})
		h.equal("to", len(h.auditLog(core.AuditFilter{To: all[len(all)-1].Time})), 0)
		// A standalone entry (a token created), from another actor.
		ctx := core.WithActor(h.ctx, core.Actor{Kind: "user", Name: "ann", Role: core.RoleAdmin})
		e, err := h.s.Audit(ctx, core.AuditEntry{Action: "token.created", Object: "token:ci", Reason: "CI pipeline", Details: json.RawMessage(`{"role":"integrator"}`)})
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("standalone seq", e.Seq, all[0].Seq+1)
		h.equal("standalone actor", h.auditLog(core.AuditFilter{Limit: 1})[0].Actor, core.Actor{Kind: "user", Name: "ann", Role: core.RoleAdmin})
		head, err := h.s.AuditHead(h.ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("head", head, core.AuditHead{Seq: e.Seq, Hash: e.Hash})
		v := h.verify(&head)
		if !v.OK {
			h.t.Fatalf("verify: %+v", v.Problems)
		}
		h.equal("events checked", v.Events, int64(8)) // r1, r2, c1, p1, r1 v2, x1, the hold, the release
	}},
	{"ReasonRequired", func(h *harness, db Database) {
		h.ingest(recv("r1", "FLOUR", "F-A", 100, "V", "M-1"))
		m := &core.Monitor{Store: h.s, Rules: core.DefaultGapRules()}
		if _, err := m.Hold(h.ctx, core.HoldParams{Lot: core.LotRef{Item: "FLOUR", Lot: "F-A"}, Reason: " ", By: "qa"}); core.ErrorCode(err) != core.EINVALID {
			h.t.Errorf("hold without a reason: %v, want EINVALID", err)
		}
		if err := h.s.ResetCursor(h.ctx, "sap", ""); core.ErrorCode(err) != core.EINVALID || !strings.Contains(err.Error(), "reason") {
			h.t.Errorf("cursor reset without a reason: %v, want EINVALID naming the reason", err)
		}
		h.equal("nothing recorded for refused actions", actions(h.auditLog(core.AuditFilter{})), []string{core.AuditIngest, core.AuditStarted})
	}},
	{"GapDecisions", func(h *harness, db Database) {
		c := newClock("2026-03-10T00:00:00Z")
		m := h.monitor(c, core.DefaultGapRules())
		h.ingest(recv("r1", "FLOUR", "F-A", 100, "V", "X"), produce("p1", "WO-1", "DOUGH", "D-1", 50), produce("p2", "WO-2", "DOUGH", "D-2", 5))
		h.evaluate(m)
		ev := h.auditLog(core.AuditFilter{Action: core.AuditGapsEvaluated})
		if len(ev) != 1 || ev[0].Actor != core.SystemActor || !strings.Contains(string(ev[0].Details), `"opened":["GAP-1","GAP-2"]`) {
			h.t.Fatalf("evaluation entries = %+v, want one by the hub opening GAP-1 and GAP-2", ev)
		}
		q, _ := core.ParseLotQty("FLOUR/F-A:40:KG")
		if _, err := m.Confirm(h.ctx, core.ConfirmParams{ID: 1, Consumed: []core.LotQty{q}, By: "ana"}); core.ErrorCode(err) != core.EINVALID || !strings.Contains(err.Error(), "reason") {
			h.t.Errorf("confirm without a reason: %v, want EINVALID naming the reason", err)
		}
		if _, err := m.Confirm(h.ctx, core.ConfirmParams{ID: 1, Consumed: []core.LotQty{q}, By: "ana", Note: "batch record BR-118"}); err != nil {
			h.t.Fatal(err)
		}
		if _, err := m.Waive(h.ctx, 2, "ana", ""); core.ErrorCode(err) != core.EINVALID {
			h.t.Errorf("waive without a reason: %v, want EINVALID", err)
		}
		if _, err := m.Waive(h.ctx, 2, "ana", "trial run, scrapped"); err != nil {
			h.t.Fatal(err)
		}
		got := h.auditLog(core.AuditFilter{Action: "gap."})
		h.equal("decisions", actions(got), []string{core.AuditGapWaived, core.AuditGapConfirmed})
		h.equal("objects", []string{got[0].Object, got[1].Object}, []string{"gap:GAP-2", "gap:GAP-1"})
		h.equal("reasons", []string{got[0].Reason, got[1].Reason}, []string{"trial run, scrapped", "batch record BR-118"})
		if got[1].Events == nil || got[1].Events.Count != 1 {
			h.t.Errorf("the confirmation's entry covers its consume event: %+v", got[1].Events)
		}
		if v := h.verify(nil); !v.OK {
			h.t.Fatalf("verify: %+v", v.Problems)
		}
	}},
	{"TamperEditedEntry", func(h *harness, db Database) {
		h.auditPlant()
		seq := h.entrySeq(core.AuditHoldPlaced)
		db.Exec(h.t, fmt.Sprintf(`UPDATE audit_log SET reason = 'routine check' WHERE seq = %d`, seq))
		h.tampered("reason edited", h.verify(nil), "edited", seq, "")
	}},
	{"TamperRehashedEntry", func(h *harness, db Database) {
		h.auditPlant()
		// An edit that also recomputes the entry's hash: the next entry
		// still names the old one.
		seq := h.entrySeq(core.AuditHoldPlaced)
		e := h.auditLog(core.AuditFilter{Before: seq + 1, Limit: 1})[0]
		e.Reason = "routine check"
		forged := core.AuditHash(e)
		db.Exec(h.t, fmt.Sprintf(`UPDATE audit_log SET reason = 'routine check', hash = '%s' WHERE seq = %d`, forged, seq))
		h.tampered("rewritten and rehashed", h.verify(nil), "edited", seq, "")
	}},
	{"TamperDeletedEntry", func(h *harness, db Database) {
		h.auditPlant()
		seq := h.entrySeq(core.AuditHoldReleased)
		db.Exec(h.t, fmt.Sprintf(`DELETE FROM audit_log WHERE seq = %d`, seq))
		v := h.verify(nil)
		h.tampered("deleted", v, "deleted", seq, "")
		if len(v.Problems) < 2 || v.Problems[1].Kind != "event_unrecorded" {
			h.t.Errorf("the release event the deleted entry recorded: problems %+v", v.Problems)
		}
	}},
	{"TamperReinsertedEntry", func(h *harness, db Database) {
		h.auditPlant()
		seq := h.entrySeq(core.AuditHoldPlaced)
		e := h.auditLog(core.AuditFilter{Before: seq + 1, Limit: 1})[0]
		db.Exec(h.t, fmt.Sprintf(`DELETE FROM audit_log WHERE seq = %d`, seq))
		db.Exec(h.t, fmt.Sprintf(`INSERT INTO audit_log (seq, at, actor_kind, actor_name, actor_role, action, object, reason, details, ev_first, ev_last, ev_count, ev_digest, prev_hash, hash)
			VALUES (%d, %d, 'user', 'mallory', '', '%s', '%s', '%s', '%s', %d, %d, %d, '%s', '%s', '%s')`,
			e.Seq, e.Time.UnixMicro(), e.Action, e.Object, e.Reason, string(e.Details), e.Events.First, e.Events.Last, e.Events.Count, e.Events.Digest, e.PrevHash, e.Hash))
		h.tampered("re-inserted by another actor", h.verify(nil), "edited", seq, "")
	}},
	{"TamperReordered", func(h *harness, db Database) {
		h.auditPlant()
		a := h.entrySeq(core.AuditHoldPlaced)
		db.Exec(h.t, fmt.Sprintf(`UPDATE audit_log SET seq = -1 WHERE seq = %d`, a))
		db.Exec(h.t, fmt.Sprintf(`UPDATE audit_log SET seq = %d WHERE seq = %d`, a, a+1))
		db.Exec(h.t, fmt.Sprintf(`UPDATE audit_log SET seq = %d WHERE seq = -1`, a+1))
		h.tampered("two entries swapped", h.verify(nil), "edited", a, "")
	}},
	{"TamperTruncated", func(h *harness, db Database) {
		h.auditPlant()
		head, err := h.s.AuditHead(h.ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		// The last entry cut (a cursor reset): the store's head record
		// still names it.
		db.Exec(h.t, fmt.Sprintf(`DELETE FROM audit_log WHERE seq = %d`, head.Seq))
		h.tampered("last entry cut", h.verify(nil), "truncated", head.Seq, "")
		// And the head record moved back too: only the head the
		// operator recorded proves the cut.
		prev := h.auditLog(core.AuditFilter{Limit: 1})[0]
		db.Exec(h.t, fmt.Sprintf(`UPDATE audit_head SET seq = %d, hash = '%s'`, prev.Seq, prev.Hash))
		if v := h.verify(nil); !v.OK {
			h.t.Errorf("without a recorded head the cut chain verifies: %+v", v.Problems)
		}
		h.tampered("cut below the recorded head", h.verify(&head), "truncated", head.Seq, "")
	}},
	{"TamperEventBody", func(h *harness, db Database) {
		h.auditPlant()
		db.Exec(h.t, `UPDATE events SET body = replace(body, '"qty":50', '"qty":5') WHERE id = 'r2'`)
		h.tampered("event body edited", h.verify(nil), "event_changed", h.firstIngest(), "r2")
	}},
	{"TamperEventRow", func(h *harness, db Database) {
		h.auditPlant()
		// A row's body and content hash edited together: the batch's
		// digest no longer matches.
		db.Exec(h.t, `UPDATE events SET seen_at = seen_at + 1000000 WHERE id = 'p1'`)
		h.tampered("event row edited", h.verify(nil), "event_changed", h.firstIngest()+1, "")
	}},
	{"TamperEventDeleted", func(h *harness, db Database) {
		h.auditPlant()
		db.Exec(h.t, `DELETE FROM events WHERE id = 'r2'`)
		h.tampered("event row deleted", h.verify(nil), "event_changed", h.firstIngest(), "")
	}},
	{"TamperEventInserted", func(h *harness, db Database) {
		h.auditPlant()
		db.Exec(h.t, `INSERT INTO events (id, version, hash, type, ts, lot_id, reverses, status, seen_at, body)
			VALUES ('ghost', 1, 'x', 'receive', 0, NULL, NULL, 'active', 0, '{"id":"ghost"}')`)
		h.tampered("event row inserted", h.verify(nil), "event_unrecorded", 0, "ghost")
	}},
	{"ConcurrentWriters", func(h *harness, db Database) {
		// Two hubs on one database, each with writers of every kind at
		// once: one chain, nothing lost.
		other := db.Reopen(h.t)
		const per = 6
		var wg sync.WaitGroup
		errs := make(chan error, 4*per)
		for w, s := range []core.Store{h.s, other, h.s, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in := core.Ingester{Store: s, BatchSize: 2}
				for i := range per {
					line := recv(fmt.Sprintf("w%d-%d", w, i), "FLOUR", fmt.Sprintf("F-%d-%d", w, i), 10, "V", "M")
					if _, err := in.IngestJSONL(h.ctx, strings.NewReader(line), fmt.Sprintf("writer-%d", w)); err != nil {
						errs <- err
					}
					if _, err := s.Audit(h.ctx, core.AuditEntry{Action: "token.created", Object: fmt.Sprintf("token:%d-%d", w, i)}); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			h.t.Fatal(err)
		}
		v := h.verify(nil)
		if !v.OK {
			h.t.Fatalf("concurrent writers broke the chain: %+v", v.Problems)
		}
		h.equal("entries", v.Entries, int64(1+4*per*2))
		h.equal("events", v.Events, int64(4*per))
	}},
	{"PruneAfterExport", func(h *harness, db Database) {
		h.ingestRecords("run-1", core.MappedRecord{Raw: core.RawRecord{Source: "sap", Kind: "doc", RecordID: "A", Payload: []byte(`{"n":1}`)},
			Events: []*core.Event{mustEvent(h, recv("sap:A", "FLOUR", "F-A", 10, "V", "M"))}})
		h.auditPlant()
		all := h.auditLog(core.AuditFilter{})
		// Export what came before the hold: a time between two entries.
		hold := h.entrySeq(core.AuditHoldPlaced)
		var cut time.Time
		for _, e := range all {
			if e.Seq == hold {
				cut = e.Time
			}
		}
		var buf bytes.Buffer
		head, err := core.ExportArchive(h.ctx, h.s, cut, &buf)
		if err != nil {
			h.t.Fatal(err)
		}
		if head.Through.Seq == 0 || head.Through.Seq >= hold || head.RawRecords != 1 {
			h.t.Fatalf("export head %+v: want the entries before %d and one raw record", head, hold)
		}
		// An altered export is refused, and nothing is pruned.
		bad := bytes.Replace(buf.Bytes(), []byte(`"reason":"`), []byte(`"reason":"x`), 1)
		if !bytes.Equal(bad, buf.Bytes()) {
			if _, err := core.PruneArchive(h.ctx, h.s, bytes.NewReader(bad), "bad.jsonl"); core.ErrorCode(err) != core.ECONFLICT {
				h.t.Errorf("prune with an altered export: %v, want ECONFLICT", err)
			}
		}
		res, err := core.PruneArchive(h.ctx, h.s, bytes.NewReader(buf.Bytes()), "archive.jsonl")
		if err != nil {
			h.t.Fatal(err)
		}
		h.equal("pruned", res.Entries, int(head.Through.Seq))
		h.equal("raw pruned", res.RawRecords, 1)
		v := h.verify(nil)
		if !v.OK {
			h.t.Fatalf("the chain after pruning: %+v", v.Problems)
		}
		h.equal("entries left", v.Entries, int64(len(all))-head.Through.Seq+1)
		if got := h.raw(core.RawFilter{AllVersions: true}); len(got) != 0 {
			h.t.Errorf("raw records left: %d", len(got))
		}
		// A head recorded before the pruning lies in the pruned range.
		if v := h.verify(&head.Through); !v.OK || !v.HeadPruned {
			h.t.Errorf("verify with a head recorded before the pruning: %+v", v)
		}
		// Pruning again with the same export: the entries are gone.
		if _, err := core.PruneArchive(h.ctx, h.s, bytes.NewReader(buf.Bytes()), "archive.jsonl"); core.ErrorCode(err) != core.ECONFLICT {
			h.t.Errorf("prune twice: %v, want ECONFLICT", err)
		}
		// Deleting more from the start, without a checkpoint, is caught.
		db.Exec(h.t, fmt.Sprintf(`DELETE FROM audit_log WHERE seq = %d`, head.Through.Seq+1))
		h.tampered("deleted after the pruned range", h.verify(nil), "deleted", head.Through.Seq+1, "")
	}},
}

// firstIngest is the seq of the first batch entry (after the genesis).
func (h *harness) firstIngest() int64 {
	h.t.Helper()
	es := h.auditLog(core.AuditFilter{Action: core.AuditIngest})
	return es[len(es)-1].Seq
}

func mustEvent(h *harness, line string) *core.Event {
	h.t.Helper()
	e, err := core.DecodeEvent([]byte(line))
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}
