package core

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// LotData is what a trace reports about every lot (its name, receipts,
// shipments, on hand, hold status) and the hand-confirmed links, as of
// one data version of the store (Versions.Data): `hub serve` keeps it in
// memory beside the genealogy (GraphCache), so that a trace reads no row
// of the store. It is used only while the store's data version is the
// one it was read at; every write that changes what a trace reports
// raises that version in its own transaction, whichever process (or
// replica) wrote it.
//
// The bulk of it (names, shipments, on hand) holds no pointers: its
// strings are ranges of one string, its customers and units indexes into
// small tables, so that the garbage collector, which runs every few
// requests, has next to nothing of it to scan.
type LotData struct {
	version int64
	text    string           // every name, event id, sales order and delivery
	lots    []lotRec         // by lot id
	flags   []uint8          // by lot id: lotExists, lotHeld
	names   map[uint64]int32 // hash of item and lot → the lot's id
	clashes map[uint64][]int32
	seed    maphash.Seed
	parties []Party  // customers, by index
	uoms    []string // units, by index
	// Rows of each lot: receipts.of(id) etc., in the order the store
	// read them (on hand: by unit, as OnHand orders it).
	receipts  rowsByLot[ReceiptRow]
	shipments rowsByLot[shipRec]
	byRank    []int32 // shipments.val indexes in the order a trace lists them
	rank      []int32 // by lot id: its place in the order of names (cmpRef); -1 for no lot
	onHand    rowsByLot[qtyRec]
	manual    []LinkRow
	bytes     int64 // the memory it holds
	count     int   // lots
}

const (
	lotExists uint8 = 1 << iota
	lotHeld
)

// span is a range of LotData.text.
type span struct{ off, n uint32 }

type lotRec struct{ item, lot span }

type shipRec struct {
	event, salesOrder, delivery span
	lot, party, uom             int32
	rank                        int32 // position in the order a trace lists shipments
	qty                         float64
	time                        int64 // Unix nanoseconds
}

type qtyRec struct {
	uom int32
	qty float64
}

// rowsByLot holds rows grouped by lot id: those of lot i are
// val[off[i]:off[i+1]].
type rowsByLot[T any] struct {
	off []int32
	val []T
}

func (r *rowsByLot[T]) of(id int64) []T {
	if id < 0 || id+1 >= int64(len(r.off)) {
		return nil
	}
	return r.val[r.off[id]:r.off[id+1]]
}

// groupByLot builds a rowsByLot over lot ids [0, n) from rows, keeping
// the rows' order within each lot.
func groupByLot[T any](n int, rows []T, lots []int32) rowsByLot[T] {
	r := rowsByLot[T]{off: make([]int32, n+1), val: make([]T, len(rows))}
	for _, id := range lots {
		r.off[id+1]++
	}
	for i := range n {
		r.off[i+1] += r.off[i]
	}
	next := append([]int32(nil), r.off[:n]...)
	for i, id := range lots {
		r.val[next[id]] = rows[i]
		next[id]++
	}
	return r
}

// Version is the data version the lot data is of.
func (d *LotData) Version() int64 { return d.version }

// Bytes is the memory the lot data holds (its arrays, strings and maps,
// the maps estimated).
func (d *LotData) Bytes() int64 { return d.bytes }

func (d *LotData) str(s span) string { return d.text[s.off : s.off+s.n] }

func (d *LotData) hash(ref LotRef) uint64 {
	var h maphash.Hash
	h.SetSeed(d.seed)
	h.WriteString(ref.Item)
	h.WriteByte(0)
	h.WriteString(ref.Lot)
	return h.Sum64()
}

// LoadLotData reads what traces report about every lot into memory.
func LoadLotData(ctx context.Context, s Store) (*LotData, error) {
	var (
		text      strings.Builder
		lotIDs    []int32
		lots      []lotRec
		receipts  []ReceiptRow
		rcptLots  []int32
		shipments []shipRec
		shipLots  []int32
		onHand    []qtyRec
		qtyLots   []int32
		held      []int64
		manual    []LinkRow
		maxLot    int64
		tooLong   bool
	)
	d := &LotData{seed: maphash.MakeSeed()}
	add := func(s string) span {
		off := text.Len()
		if off+len(s) > math.MaxUint32 {
			tooLong = true
			return span{}
		}
		text.WriteString(s)
		return span{uint32(off), uint32(len(s))}
	}
	party := interner(&d.parties)
	uom := interner(&d.uoms)
	checkID := func(id int64) error {
		if id <= 0 || id > maxGraphLots {
			return fmt.Errorf("lot id %d out of the range the in-memory lot data holds", id)
		}
		maxLot = max(maxLot, id)
		return nil
	}
	var shipTimes []time.Time
	var shipEvents []string
	version, err := s.ReadTraceData(ctx, TraceDataSink{
		Lot: func(l LotRow) error {
			lotIDs = append(lotIDs, int32(l.ID))
			lots = append(lots, lotRec{add(l.Ref.Item), add(l.Ref.Lot)})
			return checkID(l.ID)
		},
		Receipt: func(r *ReceiptRow) error {
			receipts = append(receipts, *r)
			rcptLots = append(rcptLots, int32(r.LotID))
			return checkID(r.LotID)
		},
		Shipment: func(r *ShipmentRow) error {
			shipments = append(shipments, shipRec{event: add(r.EventID), salesOrder: add(r.SalesOrder), delivery: add(r.Delivery),
				lot: int32(r.LotID), party: party(r.Customer), uom: uom(r.UOM), qty: r.Qty, time: r.Time.UnixNano()})
			shipLots = append(shipLots, int32(r.LotID))
			shipTimes = append(shipTimes, r.Time)
			shipEvents = append(shipEvents, r.EventID)
			return checkID(r.LotID)
		},
		OnHand: func(q LotQtyRow) error {
			onHand = append(onHand, qtyRec{uom(q.UOM), q.Qty})
			qtyLots = append(qtyLots, int32(q.LotID))
			return checkID(q.LotID)
		},
		Held: func(id int64) error {
			held = append(held, id)
			return checkID(id)
		},
		Manual: func(l LinkRow) error {
			manual = append(manual, l)
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("load the lot data into memory: %w", err)
	}
	if tooLong {
		return nil, fmt.Errorf("load the lot data into memory: its names and ids take more than 4 GB")
	}
	if limit := 8*int64(len(lots)) + 1<<20; maxLot > limit {
		return nil, fmt.Errorf("load the lot data into memory: lot ids up to %d for %d lots are too sparse to index directly", maxLot, len(lots))
	}
	// The order a trace lists shipments in (time, event id in bytes,
	// lot: cmpEvent), once for all, so that a trace sorts numbers.
	order := make([]int32, len(shipments))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		return cmpEvent(&shipTimes[a], &shipTimes[b], shipEvents[a], shipEvents[b], int64(shipLots[a]), int64(shipLots[b]))
	})
	for rank, i := range order {
		shipments[i].rank = int32(rank)
	}
	shipTimes, shipEvents = nil, nil

	n := int(maxLot) + 1
	d.version, d.text, d.manual, d.count = version, text.String(), manual, len(lots)
	d.lots, d.flags = make([]lotRec, n), make([]uint8, n)
	d.names = make(map[uint64]int32, len(lots))
	d.clashes = map[uint64][]int32{}
	for i, id := range lotIDs {
		d.lots[id] = lots[i]
		d.flags[id] |= lotExists
		h := d.hash(LotRef{Item: d.str(lots[i].item), Lot: d.str(lots[i].lot)})
		if _, ok := d.names[h]; ok {
			d.clashes[h] = append(d.clashes[h], id)
		} else {
			d.names[h] = id
		}
	}
	for _, id := range held {
		d.flags[id] |= lotHeld
	}
	byName := slices.Clone(lotIDs)
	slices.SortFunc(byName, func(a, b int32) int {
		return cmpRef(LotRef{d.str(d.lots[a].item), d.str(d.lots[a].lot)}, LotRef{d.str(d.lots[b].item), d.str(d.lots[b].lot)})
	})
	d.rank = make([]int32, n)
	for i := range d.rank {
		d.rank[i] = -1
	}
	for r, id := range byName {
		d.rank[id] = int32(r)
	}
	d.receipts = groupByLot(n, receipts, rcptLots)
	d.shipments = groupByLot(n, shipments, shipLots)
	d.byRank = make([]int32, len(shipments))
	for i, r := range d.shipments.val {
		d.byRank[r.rank] = int32(i)
	}
	d.onHand = groupByLot(n, onHand, qtyLots)
	d.bytes = int64(len(d.text)) +
		int64(n)*int64(unsafe.Sizeof(lotRec{})+1+4*4) +
		int64(len(d.names))*2*(8+4) + // the map at about twice its entries
		int64(len(receipts))*int64(unsafe.Sizeof(ReceiptRow{})+64) +
		int64(len(shipments))*int64(unsafe.Sizeof(shipRec{})+4) +
		int64(len(onHand))*int64(unsafe.Sizeof(qtyRec{})) +
		int64(len(manual))*int64(unsafe.Sizeof(LinkRow{})+48)
	return d, nil
}

// findLot looks a lot up as Store.FindLot does.
func (d *LotData) findLot(ref LotRef) (int64, bool) {
	h := d.hash(ref)
	id, ok := d.names[h]
	if !ok {
		return 0, false
	}
	for _, id := range append([]int32{id}, d.clashes[h]...) {
		if l := d.lots[id]; d.str(l.item) == ref.Item && d.str(l.lot) == ref.Lot {
			return int64(id), true
		}
	}
	return 0, false
}

// ref is the name of a lot, as Store.Lots returns it; none for a lot the
// store does not hold.
func (d *LotData) ref(id int64) LotRef {
	if !d.exists(id) {
		return LotRef{}
	}
	l := d.lots[id]
	return LotRef{Item: d.str(l.item), Lot: d.str(l.lot)}
}

func (d *LotData) exists(id int64) bool {
	return id > 0 && id < int64(len(d.flags)) && d.flags[id]&lotExists != 0
}

// fetch answers from memory what Queries.fetch reads from the store,
// with the shipments in the order a trace lists them.
func (d *LotData) fetch(ids []int64, groups []string, onHand bool) *fetched {
	// As Queries.fetch reads them: names for traces; names, on hand (by
	// unit) and hold status in one list for recalls (Store.LotStates).
	f := &fetched{rank: d.rank}
	if onHand {
		f.states = make([]LotState, 0, len(ids))
	} else {
		f.names = d // in place of a list of names
	}
	var ranks []int32
	for _, id := range ids {
		if !d.exists(id) {
			continue
		}
		if onHand {
			st := LotState{LotRow: LotRow{ID: id, Ref: d.ref(id)}, Held: d.flags[id]&lotHeld != 0}
			for _, q := range d.onHand.of(id) {
				st.OnHand = append(st.OnHand, Qty{UOM: d.uoms[q.uom], Qty: q.qty})
			}
			f.states = append(f.states, st)
		}
		f.receipts = append(f.receipts, d.receipts.of(id)...)
		for _, s := range d.shipments.of(id) {
			ranks = append(ranks, s.rank)
		}
	}
	slices.Sort(ranks)
	if len(ranks) > 0 {
		f.shipments = make([]ShipmentRow, len(ranks))
	}
	for i, rank := range ranks {
		j := d.byRank[rank]
		s := &d.shipments.val[j]
		f.shipments[i] = ShipmentRow{EventID: d.str(s.event), LotID: int64(s.lot), Customer: d.parties[s.party],
			SalesOrder: d.str(s.salesOrder), Delivery: d.str(s.delivery), Qty: s.qty, UOM: d.uoms[s.uom],
			Time: time.Unix(0, s.time).UTC()}
	}
	slices.SortFunc(f.receipts, func(a, b ReceiptRow) int {
		return cmpEvent(&a.Time, &b.Time, a.EventID, b.EventID, a.LotID, b.LotID)
	})
	if len(groups) > 0 && len(d.manual) > 0 {
		f.manual = LinksOfGroups(append([]LinkRow(nil), d.manual...), groups)
	}
	return f
}

// interner returns a function that gives each distinct value its index in
// *list, appending the values it has not seen.
func interner[K comparable](list *[]K) func(K) int32 {
	index := map[K]int32{}
	return func(k K) int32 {
		i, ok := index[k]
		if !ok {
			i = int32(len(*list))
			index[k] = i
			*list = append(*list, k)
		}
		return i
	}
}
