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
