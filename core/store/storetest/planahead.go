package storetest

import (
	"context"
	"fmt"
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
		batches, used := in.AheadStats()
		h.t.Logf("planned ahead: %d of %d batches used the plan made ahead", used, batches)
		if used == 0 {
			h.t.Error("no batch used its plan made ahead: the case tests nothing about it")
		}
		if used == batches {
			h.t.Error("every plan made ahead held: the case has no batch that had to be planned again")
		}
		h.sameAnswers("planned ahead", want, answers(ahead))

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
		batches, used = in.AheadStats()
		h.t.Logf("with another writer: %d of %d batches used the plan made ahead", used, batches)
		if used > batches-int64(len(foreign)) {
			h.t.Errorf("%d batches of %d used a plan made ahead although another writer had committed since %d of the snapshots", used, batches, len(foreign))
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
			s := h.open(h.t)
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
