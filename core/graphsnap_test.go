package core

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// linksOnly is a Store that knows only its genealogy: enough for LoadGraph.
type linksOnly struct {
	Store
	version int64
	links   []GenealogyLink
}

func (s linksOnly) ReadGenealogy(ctx context.Context, fn func(GenealogyLink) error) (int64, error) {
	for _, l := range s.links {
		if err := fn(l); err != nil {
			return 0, err
		}
	}
	return s.version, nil
}

// randomGraph is a genealogy of orders with random inputs and outputs,
// ordered as ReadGenealogy orders it (group, side, lot).
func randomGraph(t testing.TB, seed uint64, groups, lots int) *Graph {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	var links []GenealogyLink
	for g := range groups {
		name := fmt.Sprintf("o:WO-%05d", g)
		for _, out := range []bool{false, true} {
			seen := map[int64]bool{}
			for range 1 + r.IntN(4) {
				seen[1+r.Int64N(int64(lots))] = true
			}
			for id := int64(1); id <= int64(lots); id++ {
				if seen[id] {
					links = append(links, GenealogyLink{Group: name, Out: out, LotID: id})
				}
			}
		}
	}
	g, err := LoadGraph(context.Background(), linksOnly{version: int64(seed) + 7, links: links})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, c := range []struct{ groups, lots int }{{0, 0}, {1, 2}, {50, 30}, {400, 1000}} {
		t.Run(fmt.Sprintf("%dx%d", c.groups, c.lots), func(t *testing.T) {
			g := randomGraph(t, uint64(c.groups), c.groups, c.lots)
			b := g.EncodeSnapshot()
			got, err := DecodeSnapshot(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, g) {
				t.Fatalf("decoded graph differs:\n got  %+v\n want %+v", got, g)
			}
			if got.Version() != g.Version() {
				t.Fatalf("version %d, want %d", got.Version(), g.Version())
			}
			for _, dir := range []Direction{Forward, Backward} {
				for id := int64(0); id <= int64(c.lots)+1; id++ {
					if a, b := got.hops(dir, []int64{id}), g.hops(dir, []int64{id}); !reflect.DeepEqual(a, b) {
						t.Fatalf("%s hops of %d: %v, want %v", dir, id, a, b)
					}
				}
			}
		})
	}
}

// Every cut of a snapshot is refused; so is one with bytes after it.
func TestSnapshotCutShort(t *testing.T) {
	b := randomGraph(t, 3, 20, 15).EncodeSnapshot()
	for n := range len(b) {
		if _, err := DecodeSnapshot(b[:n]); err == nil {
			t.Fatalf("a snapshot cut to %d of %d bytes decoded", n, len(b))
		}
	}
	if _, err := DecodeSnapshot(append(bytes.Clone(b), 0)); err == nil {
		t.Fatal("a snapshot with a byte after it decoded")
	}
}

// Damaged ids and offsets are refused, never walked out of range.
func TestSnapshotDamaged(t *testing.T) {
	g := randomGraph(t, 4, 20, 15)
	b := g.EncodeSnapshot()
	tail := len(b) - 4 // the last value of the outputs adjacency: a lot id
	for _, c := range []struct {
		name string
		at   int
		v    uint32
	}{
		{"lot id past the last", tail, uint32(len(g.inOf.off))},
		{"negative lot id", tail, 0xffffffff},
		{"group count larger than the data", 16, 1 << 30},
	} {
		d := bytes.Clone(b)
		d[c.at], d[c.at+1], d[c.at+2], d[c.at+3] = byte(c.v), byte(c.v>>8), byte(c.v>>16), byte(c.v>>24)
		if _, err := DecodeSnapshot(d); err == nil {
			t.Errorf("%s: decoded", c.name)
		}
	}
}

// FuzzDecodeSnapshot decodes hostile bytes as a genealogy snapshot: a
// graph or an error, never a panic; a graph that decodes encodes to the
// same bytes, and its walks stay in range.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(randomGraph(f, 1, 5, 4).EncodeSnapshot())
	f.Add(randomGraph(f, 2, 0, 0).EncodeSnapshot())
	f.Add([]byte(snapMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := DecodeSnapshot(b)
		if err != nil {
			return
		}
		if e := g.EncodeSnapshot(); !bytes.Equal(e, b) {
			t.Fatalf("re-encoded %d bytes differ from the %d decoded", len(e), len(b))
		}
		for id := int64(-1); id < int64(len(g.inOf.off))+1; id++ {
			g.hops(Forward, []int64{id})
			g.hops(Backward, []int64{id})
		}
	})
}

// The half of a snapshot a walk in one direction decodes walks as the
// whole graph does, from every lot; cut short, it is refused.
func TestSnapshotHalfWalks(t *testing.T) {
	g := randomGraph(t, 11, 300, 500)
	b := g.EncodeSnapshot()
	for _, dir := range []Direction{Forward, Backward} {
		half, err := decodeSnapshot(b, snapshotFor(dir))
		if err != nil {
			t.Fatalf("%s half: %v", dir, err)
		}
		for id := int64(0); id <= 501; id++ {
			want := g.walk(dir, []int64{id}, nil)
			got := &graph{roots: []int64{id}, order: []int64{id}, level: []int{0}, depth: map[int64]int{id: 0}}
			half.walkFrom(got, dir, []int64{id}, 1, nil)
			if !reflect.DeepEqual(got.order, want.order) || !reflect.DeepEqual(got.level, want.level) || !reflect.DeepEqual(got.hops, want.hops) {
				t.Fatalf("%s walk from %d over the half snapshot differs:\n got  %v %v\n want %v %v", dir, id, got.order, got.hops, want.order, want.hops)
			}
		}
		for n := range len(b) {
			if _, err := decodeSnapshot(b[:n], snapshotFor(dir)); err == nil {
				t.Fatalf("%s half: a snapshot cut to %d of %d bytes decoded", dir, n, len(b))
			}
		}
	}
}
