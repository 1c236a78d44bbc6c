package core

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"time"
	"unsafe"
)

// A genealogy snapshot is a Graph saved in the store as one value
// (Store.SaveGenealogySnapshot), with the GenealogyVersion it is of. A
// command-line process that finds a walk wide loads it in one read and
// walks in memory, instead of one query per depth level over the links
// tables (the widest recall of the 5M plant: 11 levels, 120,000 edges).
// It is used only while the store's GenealogyVersion equals its own, so a
// stale snapshot costs speed, never a wrong answer: every write that adds
// or removes links raises that version.
//
// The encoding: "LHG1", the version (int64), the number of lot ids and of
// groups (uint32), the groups' names as uint32 end offsets into one string,
// then the four adjacencies of Graph, each its offsets and values, all
// little-endian int32.
const snapMagic = "LHG1"

// EncodeSnapshot returns the graph in the snapshot encoding.
func (g *Graph) EncodeSnapshot() []byte {
	names := 0
	for _, s := range g.groups {
		names += len(s)
	}
	n := 4 + 8 + 4 + 4 + 4*len(g.groups) + names
	for _, a := range g.adjacencies() {
		n += 4 * (len(a.off) + len(a.val))
	}
	b := make([]byte, 0, n)
	b = append(b, snapMagic...)
	b = binary.LittleEndian.AppendUint64(b, uint64(g.version))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(g.inOf.off)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(g.groups)))
	end := 0
	for _, s := range g.groups {
		end += len(s)
		b = binary.LittleEndian.AppendUint32(b, uint32(end))
	}
	for _, s := range g.groups {
		b = append(b, s...)
	}
	for _, a := range g.adjacencies() {
		for _, v := range a.off {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
		for _, v := range a.val {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
	}
	return b
}

// Version is the GenealogyVersion the graph is of.
func (g *Graph) Version() int64 { return g.version }

func (g *Graph) adjacencies() []*csr { return []*csr{&g.inOf, &g.outOf, &g.inputs, &g.outputs} }

// DecodeSnapshot reads a graph in the snapshot encoding. It checks every
// length, offset and id, so that a damaged value is an error, never a
// walk out of range.
func DecodeSnapshot(b []byte) (*Graph, error) {
	return decodeSnapshot(b, [4]bool{true, true, true, true})
}

// snapshotFor is the part of a snapshot a walk in direction dir follows
// (Graph.walkFrom): the groups a lot went into and their outputs going
// forward, the groups it came out of and their inputs going back. The
// other half is skipped, not copied: it is half the decoding.
func snapshotFor(dir Direction) [4]bool {
	if dir == Backward {
		return [4]bool{false, true, true, false} // outOf, inputs
	}
	return [4]bool{true, false, false, true} // inOf, outputs
}

// decodeSnapshot is DecodeSnapshot of the adjacencies need says (in the
// order of Graph.adjacencies); the others are checked for their length
// only, and left empty. It copies what it keeps: b may be a store's
// buffer.
func decodeSnapshot(b []byte, need [4]bool) (*Graph, error) {
	d := snapDecoder{b: b}
	if len(b) < 4 || !bytes.Equal(b[:4], []byte(snapMagic)) {
		return nil, fmt.Errorf("decode the genealogy snapshot: not a snapshot (no %q at its start)", snapMagic)
	}
	d.b = b[4:]
	g := &Graph{version: int64(d.u64())}
	lots, groups := d.u32(), d.u32()
	if d.err != nil || lots < 2 || lots > maxGraphLots+1 || uint64(groups)*4 > uint64(len(d.b)) {
		return nil, fmt.Errorf("decode the genealogy snapshot: bad header (%d lot ids, %d groups, %d bytes)", lots, groups, len(b))
	}
	ends := d.int32s(int(groups))
	if d.err != nil {
		return nil, fmt.Errorf("decode the genealogy snapshot: %w", d.err)
	}
	size := 0
	if groups > 0 {
		size = int(ends[groups-1])
	}
	if size < 0 || size > len(d.b) {
		return nil, fmt.Errorf("decode the genealogy snapshot: group names of %d bytes in %d", size, len(d.b))
	}
	all := string(d.b[:size]) // one string; each name is a part of it
	d.b = d.b[size:]
	if groups > 0 {
		g.groups = make([]string, groups)
	}
	start := int32(0)
	for i, e := range ends {
		if e < start || int(e) > size {
			return nil, fmt.Errorf("decode the genealogy snapshot: group %d ends at %d, before %d or past %d", i, e, start, size)
		}
		g.groups[i] = all[start:e]
		start = e
	}
	// Lot → groups (values are groups), group → lots (values are lot ids).
	keys := []uint32{lots, lots, groups + 1, groups + 1}
	bound := []int32{int32(groups), int32(groups), int32(lots - 1), int32(lots - 1)}
	for i, a := range g.adjacencies() {
		if !need[i] {
			if err := d.skipCSR(int(keys[i])); err != nil {
				return nil, fmt.Errorf("decode the genealogy snapshot: adjacency %d: %w", i, err)
			}
			continue
		}
		if err := d.csr(a, int(keys[i]), bound[i]); err != nil {
			return nil, fmt.Errorf("decode the genealogy snapshot: adjacency %d: %w", i, err)
		}
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("decode the genealogy snapshot: %d bytes left over", len(d.b))
	}
	return g, nil
}

type snapDecoder struct {
	b   []byte
	err error
}

func (d *snapDecoder) need(n int) bool {
	if d.err == nil && len(d.b) < n {
		d.err = fmt.Errorf("cut short: %d bytes wanted, %d left", n, len(d.b))
	}
	return d.err == nil
}

func (d *snapDecoder) u64() uint64 {
	if !d.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *snapDecoder) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *snapDecoder) int32s(n int) []int32 {
	if n < 0 || !d.need(4*n) {
		return nil
	}
	out := make([]int32, n)
	if littleEndian && n > 0 {
		// One copy of the bytes: the 37 MB of the 5M plant's snapshot
		// value by value took 0.12 s of the widest recall's CPU.
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 4*n), d.b)
	} else {
		for i := range out {
			out[i] = int32(binary.LittleEndian.Uint32(d.b[4*i:]))
		}
	}
	d.b = d.b[4*n:]
	return out
}

// littleEndian: the host stores an int32 as the snapshot does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// skipCSR passes over an adjacency of n offsets without reading it,
// checking only that it is all there.
func (d *snapDecoder) skipCSR(n int) error {
	if n <= 0 || !d.need(4*n) {
		return cmp.Or(d.err, fmt.Errorf("no offsets"))
	}
	vals := int32(binary.LittleEndian.Uint32(d.b[4*(n-1):]))
	if vals < 0 {
		return fmt.Errorf("%d values", vals)
	}
	d.b = d.b[4*n:]
	if !d.need(4 * int(vals)) {
		return d.err
	}
	d.b = d.b[4*int(vals):]
	return nil
}

// csr reads an adjacency of n offsets (keys + 1) whose values are below
// bound, checking that the offsets rise from 0.
func (d *snapDecoder) csr(a *csr, n int, bound int32) error {
	a.off = d.int32s(n)
	if d.err != nil {
		return d.err
	}
	if n == 0 || a.off[0] != 0 {
		return fmt.Errorf("offsets do not start at 0")
	}
	for i := 1; i < n; i++ {
		if a.off[i] < a.off[i-1] {
			return fmt.Errorf("offset %d falls from %d to %d", i, a.off[i-1], a.off[i])
		}
	}
	a.val = d.int32s(int(a.off[n-1]))
	if d.err != nil {
		return d.err
	}
	for i, v := range a.val {
		if v < 0 || v >= bound {
			return fmt.Errorf("value %d is %d, out of [0, %d)", i, v, bound)
		}
	}
	return nil
}

// SaveGenealogySnapshot saves g as the store's genealogy snapshot (a no-op
// when the genealogy has changed since g was read, or one of its version
// is saved already).
func SaveGenealogySnapshot(ctx context.Context, s Store, g *Graph) error {
	return s.SaveGenealogySnapshot(ctx, g.version, g.EncodeSnapshot())
}

// RefreshGenealogySnapshot saves a snapshot of the store's genealogy
// unless one of its present version is saved already; it reports whether
// it read the genealogy to save one.
func RefreshGenealogySnapshot(ctx context.Context, s Store) (bool, error) {
	ok, err := s.HasGenealogySnapshot(ctx)
	if err != nil || ok {
		return false, err
	}
	start := time.Now()
	g, err := LoadGraph(ctx, s)
	if err != nil {
		return false, err
	}
	if err := SaveGenealogySnapshot(ctx, s, g); err != nil {
		return false, err
	}
	slog.Debug("genealogy snapshot saved", "version", g.version, "groups", len(g.groups), "took", time.Since(start).Round(time.Millisecond))
	return true, nil
}

// loadSnapshot returns the store's genealogy snapshot when it is of the
// present GenealogyVersion, and nil when there is none such.
// Only the half of it a walk in direction dir follows is decoded.
func loadSnapshot(ctx context.Context, s Store, dir Direction) (*Graph, error) {
	var g *Graph
	_, err := s.GenealogySnapshot(ctx, func(b []byte) (err error) {
		g, err = decodeSnapshot(b, snapshotFor(dir))
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}
