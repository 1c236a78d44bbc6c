package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/core"
)

// Ingest plans each batch on a snapshot while the batch before it is
// written (core/pipeline.go), and uses that plan only when nothing it read
// has changed since. The case ingests the chunking plant (corrections,
// reversals arriving before and after their targets, holds, returns) in
// small batches three ways, and the answers must be those of a store
// whose every batch was planned in its writer's transaction:
//
//   - planned ahead, nothing else writing;
//   - planned ahead, while another writer commits between each snapshot
//     and the write that follows it (a second process, or hub serve
//     taking events meanwhile): every plan made ahead is then stale;
//   - serially (Ingester.Serial), the reference.
func init() {
	cases = append(cases, testCase{"PlanAheadSameAsSerial", func(h *harness) {
		if _, ok := h.s.(core.Snapshotter); !ok {
			h.t.Fatal("the store does not read snapshots (core.Snapshotter): ingest cannot plan ahead")
		}
		lines, raw, sample, finished, span, _ := chunkPlant(h.t, 5, 1500)
		// Events another writer sends meanwhile: receipts of the plant's
		// lots and a reversal of each (their quantities net to nothing,
		// but every one changes the data version).
		var foreign []string
		for i, r := range raw[:min(len(raw), 10)] {
			id := fmt.Sprintf("x:FOREIGN:%d", i)
			foreign = append(foreign,
				fmt.Sprintf(`{"id":%q,"type":"receive","time":%q,"lot":{"item":%q,"lot":%q},"qty":1,"uom":"KG","supplier":{"id":"V9"}}`, id, span[0].Format(time.RFC3339), r.Item, r.Lot),
				fmt.Sprintf(`{"id":"%s:REV","type":"reverse","time":%q,"reverses":%q}`, id, span[0].Format(time.RFC3339), id))
		}
		now := span[0].Add(span[1].Sub(span[0]) * 3 / 4).UTC()
		rules := core.DefaultGapRules()
		rules.Steps = []core.ExpectedStep{{Step: "QC-RELEASE", Items: finished, Window: 2 * time.Hour}}
		answers := func(s core.Store) chunkAnswers {
			m := &core.Monitor{Store: s, Rules: rules, Now: func() time.Time { return now }, Sleep: noSleep}
			if _, err := m.Evaluate(h.ctx); err != nil {
				h.t.Fatalf("evaluate: %v", err)
			}
			return h.chunkAnswers(s, m, raw, sample)
		}
		ingest := func(s core.Store, serial bool, lines []string) *core.Ingester {
			in := &core.Ingester{Store: s, Now: func() time.Time { return now }, BatchSize: 23, Serial: serial}
			if _, err := in.IngestJSONL(h.ctx, strings.NewReader(strings.Join(lines, "\n")), "plant.jsonl"); err != nil {
				h.t.Fatalf("ingest: %v", err)
			}
			return in
		}

		serial := h.open(h.t)
		ingest(serial, true, append(append([]string(nil), lines...), foreign...))
		want := answers(serial)

		ahead := h.s
		in := ingest(ahead, false, lines)
		ingest(ahead, false, foreign)
		st := in.AheadStats()
		h.t.Logf("planned ahead: %d of %d batches used the plan made ahead, %d had late events", st.Ahead, st.Batches, st.Split)
		if st.Ahead == 0 {
			h.t.Error("no batch used its plan made ahead: the case tests nothing about it")
		}
		if st.Split == 0 {
			h.t.Error("no batch had events touching the batch before it: the case tests nothing about them")
		}
		h.sameAnswers("planned ahead", want, answers(ahead))

		// Every plan made ahead on a snapshot without the batch before
		// it: the writer holds each transaction open until the next
		// snapshot is read.
		lag := &lagging{Store: h.open(h.t)}
		in = ingest(lag, false, lines)
		ingest(lag, false, foreign)
		st = in.AheadStats()
		h.t.Logf("lagging: %d of %d batches used the plan made ahead, %d had late events", st.Ahead, st.Batches, st.Split)
		if st.Ahead == 0 {
			h.t.Error("lagging: no batch used the plan made ahead")
		}
		h.sameAnswers("planned ahead on stale snapshots", want, answers(lag.Store))

		// What a batch's input does not show but its plan reads: a
		// reversal stored earlier (the batch before corrects X, which R
		// reversed; this one reverses R), and a lot's sums on an order
		// the batch before moved a consumption away from (this one
		// returns material to that order). Planned on a snapshot without
		// the batch before, both plans are wrong, and must be made again.
		tricky := []string{
			recv("r:F1", "FLOUR", "F-1", 10, "V1", "VL-F1"),
			consume("X", "WO-1", "FLOUR", "F-1", 4),
			produce("p:B1", "WO-1", "BREAD", "B-1", 4),
			reverse("R", "X"),
			consume("X", "WO-1", "FLOUR", "F-1", 3),
			reverse("R2", "R"),
			recv("r:S1", "SUGAR", "S-1", 10, "V1", "VL-S1"),
			consume("C", "WO-A", "SUGAR", "S-1", 5),
			produce("p:CA", "WO-A", "CAKE", "C-A", 5),
			produce("p:CB", "WO-B", "CAKE", "C-B", 5),
			consume("C", "WO-B", "SUGAR", "S-1", 5),
			`{"id":"a:S1","type":"adjust","time":"2026-03-02T09:00:00Z","lot":{"item":"SUGAR","lot":"S-1"},"qty":5,"uom":"KG","order":"WO-A","reason":"262"}`,
		}
		later := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) // after the events below
		trickyAnswers := func(s core.Store, serial bool) (chunkAnswers, core.AheadStats) {
			in := &core.Ingester{Store: s, Now: func() time.Time { return later }, BatchSize: 1, Serial: serial}
			if _, err := in.IngestJSONL(h.ctx, strings.NewReader(strings.Join(tricky, "\n")), "tricky.jsonl"); err != nil {
				h.t.Fatalf("ingest: %v", err)
			}
			m := &core.Monitor{Store: s, Rules: core.DefaultGapRules(), Now: func() time.Time { return later }, Sleep: noSleep}
			if _, err := m.Evaluate(h.ctx); err != nil {
				h.t.Fatalf("evaluate: %v", err)
			}
			lots := []core.LotRef{{Item: "FLOUR", Lot: "F-1"}, {Item: "SUGAR", Lot: "S-1"}}
			sample := append(lots, core.LotRef{Item: "BREAD", Lot: "B-1"}, core.LotRef{Item: "CAKE", Lot: "C-A"}, core.LotRef{Item: "CAKE", Lot: "C-B"})
			return h.chunkAnswers(s, m, lots, sample), in.AheadStats()
		}
		// Two versions of one id in a batch, the first naming the lot and
		// order of the batch before (late), the second not: they must
		// stay in their order, or the first would end up current.
		versions := []string{
			recv("r:L9", "SALT", "L-9", 10, "V1", "VL-L9"),
			consume("k1", "WO-9", "SALT", "L-9", 1),
			produce("p:9", "WO-9", "BRINE", "B-9", 1),
			consume("k2", "WO-9", "SALT", "L-9", 2),
			consume("k2", "WO-8", "SALT", "L-9", 3),
			produce("p:8", "WO-8", "BRINE", "B-8", 3),
		}
		versionAnswers := func(s core.Store, serial bool) string {
			in := &core.Ingester{Store: s, Now: func() time.Time { return later }, BatchSize: 3, Serial: serial}
			if _, err := in.IngestJSONL(h.ctx, strings.NewReader(strings.Join(versions, "\n")), "versions.jsonl"); err != nil {
				h.t.Fatalf("ingest: %v", err)
			}
			r, err := (&core.Queries{Store: s}).Recall(h.ctx, core.Selector{Lot: &core.LotRef{Item: "SALT", Lot: "L-9"}})
			if err != nil {
				h.t.Fatal(err)
			}
			b, err := json.Marshal(r)
			if err != nil {
				h.t.Fatal(err)
			}
			return string(b)
		}
		if want, got := versionAnswers(h.open(h.t), true), versionAnswers(&lagging{Store: h.open(h.t)}, false); got != want {
			h.t.Errorf("two versions of one id, the first late: %q planned ahead, %q serially", got, want)
		}

		wantTricky, _ := trickyAnswers(h.open(h.t), true)
		if !slices.ContainsFunc(wantTricky.gaps, func(g string) bool { return strings.Contains(g, "WO-A") }) {
			h.t.Errorf("no gap of order WO-A, whose only input moved to WO-B: the case tests nothing about the sums of lots on orders (gaps: %v)", wantTricky.gaps)
		}
		gotTricky, st := trickyAnswers(&lagging{Store: h.open(h.t)}, false)
		if st.Ahead+st.Split >= st.Batches+st.Split {
			h.t.Errorf("tricky: every one of %d plans made ahead held: the case tests nothing", st.Batches)
		}
		h.sameAnswers("planned ahead, tricky", wantTricky, gotTricky)

		// Source records (a connector sync, an EPCIS capture): the same
		// plant as records of one event each, committed by
		// CommitRecords while the next batch is planned, on stale
		// snapshots.
		recs := make([]core.MappedRecord, 0, len(lines))
		for i, l := range lines {
			mr := core.MappedRecord{Raw: core.RawRecord{Source: "plant", Kind: "event", RecordID: fmt.Sprintf("rec-%05d", i), Payload: []byte(l)}}
			if e, err := core.DecodeEvent([]byte(l)); err != nil {
				mr.Err = err
			} else {
				mr.Events = []*core.Event{e}
			}
			recs = append(recs, mr)
		}
		commitRecords := func(s core.Store, serial bool) *core.Ingester {
			in := &core.Ingester{Store: s, Now: func() time.Time { return now }, Serial: serial}
			a := in.Ahead()
			batches := make(chan *core.RecordBatch)
			go func() {
				defer close(batches)
				for rest := recs; len(rest) > 0; {
					n := min(29, len(rest))
					b := in.PrepareRecords(rest[:n])
					a.PlanRecords(h.ctx, b)
					batches <- b
					rest = rest[n:]
				}
			}()
			for b := range batches {
				if _, err := in.CommitRecords(h.ctx, b, "", nil); err != nil {
					h.t.Fatalf("commit records: %v", err)
				}
			}
			ingest(s, serial, foreign)
			return in
		}
		wantRecords := h.open(h.t)
		commitRecords(wantRecords, true)
		records := &lagging{Store: h.open(h.t)}
		st = commitRecords(records, false).AheadStats()
		h.t.Logf("records: %d of %d batches used the plan made ahead, %d had late events", st.Ahead, st.Batches, st.Split)
		if st.Ahead == 0 || st.Split == 0 {
			h.t.Errorf("records: %d batches, %d planned ahead, %d with late events: the case tests nothing about them", st.Batches, st.Ahead, st.Split)
		}
		h.sameAnswers("records planned ahead", answers(wantRecords), answers(records.Store))

		// Another writer between each snapshot and the next write.
		busy := &interleaved{Store: h.open(h.t), foreign: foreign}
		busy.other = &core.Ingester{Store: busy.Store, Now: func() time.Time { return now }, Serial: true}
		busy.ctx = h.ctx
		in = ingest(busy, false, lines)
		if busy.err != nil {
			h.t.Fatalf("the other writer: %v", busy.err)
		}
		if len(busy.foreign) > 0 {
			h.t.Fatalf("the ingest took %d snapshots, too few for the other writer's %d events", busy.snapshots, len(foreign))
		}
		st = in.AheadStats()
		h.t.Logf("with another writer: %d of %d batches used the plan made ahead", st.Ahead, st.Batches)
		if st.Ahead > st.Batches-int64(len(foreign)) {
			h.t.Errorf("%d batches of %d used a plan made ahead although another writer had committed since %d of the snapshots", st.Ahead, st.Batches, len(foreign))
		}
		h.sameAnswers("planned ahead beside another writer", want, answers(busy.Store))

		// A full return in the batch right after the issue it returns:
		// planned on a snapshot without the issue, the return would not
		// net it to nothing, and the link would stay.
		ret := []string{
			recv("r:RET", "FLOUR", "F-RET", 10, "V1", "VL-RET"),
			consume("c:RET", "WO-RET", "FLOUR", "F-RET", 4),
			`{"id":"a:RET","type":"adjust","time":"2026-03-02T09:00:00Z","lot":{"item":"FLOUR","lot":"F-RET"},"qty":4,"uom":"KG","order":"WO-RET","reason":"262"}`,
			produce("p:RET", "WO-RET", "BREAD", "B-RET", 4),
		}
		trace := func(serial bool) string {
			s := core.Store(&lagging{Store: h.open(h.t)})
			in := &core.Ingester{Store: s, Now: func() time.Time { return now }, BatchSize: 1, Serial: serial}
			if _, err := in.IngestJSONL(h.ctx, strings.NewReader(strings.Join(ret, "\n")), "returns.jsonl"); err != nil {
				h.t.Fatalf("ingest: %v", err)
			}
			r, err := (&core.Queries{Store: s}).Trace(h.ctx, core.Forward, core.Selector{Lot: &core.LotRef{Item: "FLOUR", Lot: "F-RET"}})
			if err != nil {
				h.t.Fatal(err)
			}
			return strings.Join(links(r), ", ")
		}
		if want, got := trace(true), trace(false); got != want {
			h.t.Errorf("a return right after its issue: links %q planned ahead, %q serially", got, want)
		} else if want != "" {
			h.t.Errorf("a full return left the link %q: the check tests nothing", want)
		}
	}})
}

// lagging is a store whose write transactions wait, before they commit,
// for the planner's next snapshot (or 200 ms): each plan made ahead is
// made on a snapshot without the batch being written.
type lagging struct {
	core.Store
	mu                 sync.Mutex
	snapshots, commits int
}

func (s *lagging) ReadSnapshot(ctx context.Context, fn func(core.SnapshotTx) error) error {
	err := s.Store.(core.Snapshotter).ReadSnapshot(ctx, fn)
	s.mu.Lock()
	s.snapshots++
	s.mu.Unlock()
	return err
}

func (s *lagging) Ingest(ctx context.Context, fn func(core.IngestTx) error) error {
	return s.Store.Ingest(ctx, func(tx core.IngestTx) error {
		if err := fn(tx); err != nil {
			return err
		}
		for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			s.mu.Lock()
			next := s.snapshots > s.commits+1
			s.mu.Unlock()
			if next {
				break
			}
		}
		s.mu.Lock()
		s.commits++
		s.mu.Unlock()
		return nil
	})
}

// interleaved is a store whose every snapshot is followed, once it is
// read, by a commit of one of foreign's events through another Ingester,
// until they are all written.
type interleaved struct {
	core.Store
	ctx       context.Context
	other     *core.Ingester
	mu        sync.Mutex
	foreign   []string
	snapshots int
	err       error
}

func (s *interleaved) ReadSnapshot(ctx context.Context, fn func(core.SnapshotTx) error) error {
	err := s.Store.(core.Snapshotter).ReadSnapshot(ctx, fn)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshots++
	if len(s.foreign) > 0 && s.err == nil {
		_, s.err = s.other.IngestJSONL(s.ctx, strings.NewReader(s.foreign[0]), "other.jsonl")
		s.foreign = s.foreign[1:]
	}
	return err
}
