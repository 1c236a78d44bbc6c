package storetest

import (
	"time"

	"github.com/lothub/lothub/core"
)

// Cases for the genealogy loaded into memory (core.GraphCache): it is used
// only while the store's genealogy has not changed since it was loaded.

func (h *harness) version() int64 {
	h.t.Helper()
	v, err := h.s.GenealogyVersion(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

func init() {
	cases = append(cases, []testCase{
		{"GenealogyVersion", func(h *harness) {
			v0 := h.version()
			h.ingest(recv("r1", "FLOUR", "F-A", 100, "V", "X"))
			h.equal("a receipt adds no link", h.version(), v0)
			h.ingest(recv("r1", "FLOUR", "F-A", 90, "V", "X"))
			h.equal("nor does its correction", h.version(), v0)
			h.ingest(consume("c1", "WO-1", "FLOUR", "F-A", 40))
			v1 := h.version()
			if v1 == v0 {
				h.t.Errorf("a consumption did not change the genealogy version (%d)", v1)
			}
			h.ingest(consume("c1", "WO-1", "FLOUR", "F-A", 40))
			h.equal("a duplicate changes nothing", h.version(), v1)
			h.ingest(reverse("x1", "c1"))
			if h.version() == v1 {
				h.t.Errorf("a reversal that removed a link did not change the genealogy version")
			}
		}},
		{"GraphCacheFollowsTheStore", func(h *harness) {
			h.ingest(
				recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				consume("c1", "WO-1", "FLOUR", "F-A", 40),
				produce("p1", "WO-1", "DOUGH", "D-1", 40),
			)
			c := core.NewGraphCache(h.s)
			defer c.Close()
			c.MinInterval = time.Hour // no background load: the test loads
			q := &core.Queries{Store: h.s, Graph: c}
			trace := func() []string {
				h.t.Helper()
				r, err := q.Trace(h.ctx, core.Forward, core.Selector{Lot: &core.LotRef{Item: "FLOUR", Lot: "F-A"}})
				if err != nil {
					h.t.Fatal(err)
				}
				return lots(r)
			}
			h.equal("empty cache: the store's walk", trace(), []string{"DOUGH/D-1@1"})
			h.equal("walks from memory", c.Walks(), int64(0))
			if err := c.Load(h.ctx); err != nil {
				h.t.Fatal(err)
			}
			h.equal("loaded", trace(), []string{"DOUGH/D-1@1"})
			h.equal("walks from memory", c.Walks(), int64(1))

			// A late consumption: the cache is stale, the store answers.
			h.ingest(
				consume("c2", "WO-2", "DOUGH", "D-1", 40),
				produce("p2", "WO-2", "BREAD", "B-1", 40),
			)
			h.equal("after new links", trace(), []string{"DOUGH/D-1@1", "BREAD/B-1@2"})
			h.equal("walks from memory", c.Walks(), int64(1))
			if err := c.Load(h.ctx); err != nil {
				h.t.Fatal(err)
			}
			h.equal("reloaded", trace(), []string{"DOUGH/D-1@1", "BREAD/B-1@2"})
			h.equal("walks from memory", c.Walks(), int64(2))

			// A reversal removes a link: stale again.
			h.ingest(reverse("x2", "c2"))
			h.equal("after a reversal", trace(), []string{"DOUGH/D-1@1"})
			h.equal("walks from memory", c.Walks(), int64(2))
		}},
		{"GenealogySnapshotFollowsTheStore", func(h *harness) {
			h.ingest(
				recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				consume("c1", "WO-1", "FLOUR", "F-A", 40),
				produce("p1", "WO-1", "DOUGH", "D-1", 40),
				consume("c2", "WO-2", "DOUGH", "D-1", 40),
				produce("p2", "WO-2", "BREAD", "B-1", 40),
			)
			snapshot := func() []byte {
				h.t.Helper()
				b, err := snapshotOf(h.ctx, h.s)
				if err != nil {
					h.t.Fatal(err)
				}
				return b
			}
			has := func() bool {
				h.t.Helper()
				ok, err := h.s.HasGenealogySnapshot(h.ctx)
				if err != nil {
					h.t.Fatal(err)
				}
				return ok
			}
			cs := &countSnapshots{Store: h.s}
			q := &core.Queries{Store: cs, ReachLimit: 1, SnapshotAt: 1} // every walk of 2 edges or more is wide
			trace := func() []string {
				h.t.Helper()
				r, err := q.Trace(h.ctx, core.Forward, core.Selector{Lot: &core.LotRef{Item: "FLOUR", Lot: "F-A"}})
				if err != nil {
					h.t.Fatal(err)
				}
				return lots(r)
			}
			h.equal("no snapshot yet", snapshot() == nil, true)
			h.equal("none yet", has(), false)
			saved, err := core.RefreshGenealogySnapshot(h.ctx, h.s)
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("saved", saved, true)
			h.equal("has one", has(), true)
			again, err := core.RefreshGenealogySnapshot(h.ctx, h.s)
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("saved again at the same version", again, false)
			g, err := core.DecodeSnapshot(snapshot())
			if err != nil {
				h.t.Fatal(err)
			}
			h.equal("the snapshot's version", g.Version(), h.version())
			h.equal("walked over the snapshot", trace(), []string{"DOUGH/D-1@1", "BREAD/B-1@2"})
			h.equal("snapshots used", cs.used, 1)

			// A correction that adds a link: the snapshot is stale, the
			// store answers.
			h.ingest(produce("p2", "WO-2", "BREAD", "B-2", 40))
			h.equal("stale after new links", snapshot() == nil, true)
			h.equal("none current", has(), false)
			h.equal("after the correction", trace(), []string{"DOUGH/D-1@1", "BREAD/B-2@2"})
			h.equal("snapshots used", cs.used, 1)

			// A stale graph is not saved.
			if err := core.SaveGenealogySnapshot(h.ctx, h.s, g); err != nil {
				h.t.Fatal(err)
			}
			h.equal("a stale graph saved", snapshot() == nil, true)

			if _, err := core.RefreshGenealogySnapshot(h.ctx, h.s); err != nil {
				h.t.Fatal(err)
			}
			h.equal("walked over the new snapshot", trace(), []string{"DOUGH/D-1@1", "BREAD/B-2@2"})
			h.equal("snapshots used", cs.used, 2)

			// A reversal removes a link: stale again.
			h.ingest(reverse("x2", "c2"))
			h.equal("stale after a reversal", snapshot() == nil, true)
			h.equal("after the reversal", trace(), []string{"DOUGH/D-1@1"})
			h.equal("snapshots used", cs.used, 2)
			q.NoSnapshot = true
			if _, err := core.RefreshGenealogySnapshot(h.ctx, h.s); err != nil {
				h.t.Fatal(err)
			}
			h.equal("NoSnapshot walks the store", trace(), []string{"DOUGH/D-1@1"})
			h.equal("snapshots used", cs.used, 2)
		}},
		{"GraphCacheSavesTheSnapshot", func(h *harness) {
			h.ingest(
				recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				consume("c1", "WO-1", "FLOUR", "F-A", 40),
				produce("p1", "WO-1", "DOUGH", "D-1", 40),
			)
			c := core.NewGraphCache(h.s)
			defer c.Close()
			c.NoLotData = true
			if err := c.Load(h.ctx); err != nil {
				h.t.Fatal(err)
			}
			b, err := snapshotOf(h.ctx, h.s)
			if err != nil {
				h.t.Fatal(err)
			}
			g, err := core.DecodeSnapshot(b)
			if err != nil {
				h.t.Fatalf("the snapshot a load saved: %v", err)
			}
			h.equal("its version", g.Version(), h.version())
		}},
		{"GraphCacheLoadsInTheBackground", func(h *harness) {
			h.ingest(
				recv("r1", "FLOUR", "F-A", 100, "V", "X"),
				consume("c1", "WO-1", "FLOUR", "F-A", 40),
				produce("p1", "WO-1", "DOUGH", "D-1", 40),
			)
			c := core.NewGraphCache(h.s)
			defer c.Close()
			q := &core.Queries{Store: h.s, Graph: c}
			ref := &core.LotRef{Item: "FLOUR", Lot: "F-A"}
			// The first walk finds the cache empty, answers from the store
			// and starts a load; a later walk uses what it loaded.
			deadline := time.Now().Add(10 * time.Second)
			for c.Walks() == 0 {
				if time.Now().After(deadline) {
					h.t.Fatal("the genealogy never loaded in the background")
				}
				r, err := q.Trace(h.ctx, core.Forward, core.Selector{Lot: ref})
				if err != nil {
					h.t.Fatal(err)
				}
				h.equal("trace", lots(r), []string{"DOUGH/D-1@1"})
				time.Sleep(5 * time.Millisecond)
			}
		}},
	}...)
}
