package core

import (
	"context"
	"fmt"
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
type LotData struct {
	version int64
	refs    []LotRef         // by lot id
	ids     map[LotRef]int64 // FindLot
	// Rows of each lot: receipts.of(id) etc., in the order the store
	// read them (on hand: by unit, as OnHand orders it).
	receipts  rowsByLot[ReceiptRow]
	shipments rowsByLot[ShipmentRow]
	onHand    rowsByLot[LotQtyRow]
	held      []bool // by lot id
	manual    []LinkRow
	bytes     int64 // an estimate of the memory it holds
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
func groupByLot[T any](n int, rows []T, lotOf func(*T) int64) rowsByLot[T] {
	r := rowsByLot[T]{off: make([]int32, n+1), val: make([]T, len(rows))}
	for i := range rows {
		r.off[lotOf(&rows[i])+1]++
	}
	for i := range n {
		r.off[i+1] += r.off[i]
	}
	next := append([]int32(nil), r.off[:n]...)
	for i := range rows {
		id := lotOf(&rows[i])
		r.val[next[id]] = rows[i]
		next[id]++
	}
	return r
}

// Version is the data version the lot data is of.
func (d *LotData) Version() int64 { return d.version }

// Bytes estimates the memory the lot data holds (structures and strings,
// shared strings once).
func (d *LotData) Bytes() int64 { return d.bytes }

// LoadLotData reads what traces report about every lot into memory.
func LoadLotData(ctx context.Context, s Store) (*LotData, error) {
	var (
		lots      []LotRow
		receipts  []ReceiptRow
		shipments []ShipmentRow
		onHand    []LotQtyRow
		held      []int64
		manual    []LinkRow
		maxLot    int64
		strBytes  int64
	)
	// Customers, suppliers and units repeat on thousands of rows: one
	// string each.
	shared := map[string]string{}
	intern := func(p *string) {
		if v, ok := shared[*p]; ok {
			*p = v
			return
		}
		shared[*p] = *p
		strBytes += int64(len(*p))
	}
	own := func(ss ...string) {
		for _, s := range ss {
			strBytes += int64(len(s))
		}
	}
	checkID := func(id int64) error {
		if id <= 0 || id > maxGraphLots {
			return fmt.Errorf("lot id %d out of the range the in-memory lot data holds", id)
		}
		maxLot = max(maxLot, id)
		return nil
	}
	version, err := s.ReadTraceData(ctx, TraceDataSink{
		Lot: func(l LotRow) error {
			own(l.Ref.Item, l.Ref.Lot)
			lots = append(lots, l)
			return checkID(l.ID)
		},
		Receipt: func(r *ReceiptRow) error {
			intern(&r.Supplier.ID)
			intern(&r.Supplier.Name)
			intern(&r.UOM)
			own(r.EventID, r.SupplierLot, r.PO)
			receipts = append(receipts, *r)
			return checkID(r.LotID)
		},
		Shipment: func(r *ShipmentRow) error {
			intern(&r.Customer.ID)
			intern(&r.Customer.Name)
			intern(&r.UOM)
			own(r.EventID, r.SalesOrder, r.Delivery)
			shipments = append(shipments, *r)
			return checkID(r.LotID)
		},
		OnHand: func(q LotQtyRow) error {
			intern(&q.UOM)
			onHand = append(onHand, q)
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
	if limit := 8*int64(len(lots)) + 1<<20; maxLot > limit {
		return nil, fmt.Errorf("load the lot data into memory: lot ids up to %d for %d lots are too sparse to index directly", maxLot, len(lots))
	}
	n := int(maxLot) + 1
	d := &LotData{version: version, refs: make([]LotRef, n), ids: make(map[LotRef]int64, len(lots)),
		held: make([]bool, n), manual: manual}
	for _, l := range lots {
		d.refs[l.ID] = l.Ref
		d.ids[l.Ref] = l.ID
	}
	for _, id := range held {
		d.held[id] = true
	}
	d.receipts = groupByLot(n, receipts, func(r *ReceiptRow) int64 { return r.LotID })
	d.shipments = groupByLot(n, shipments, func(r *ShipmentRow) int64 { return r.LotID })
	d.onHand = groupByLot(n, onHand, func(r *LotQtyRow) int64 { return r.LotID })
	// Arrays at their size; the map at about twice its entries' size.
	d.bytes = strBytes +
		int64(n)*int64(unsafe.Sizeof(LotRef{})+1+3*4) +
		int64(len(lots))*2*int64(unsafe.Sizeof(LotRef{})+8) +
		int64(len(receipts))*int64(unsafe.Sizeof(ReceiptRow{})) +
		int64(len(shipments))*int64(unsafe.Sizeof(ShipmentRow{})) +
		int64(len(onHand))*int64(unsafe.Sizeof(LotQtyRow{})) +
		int64(len(manual))*int64(unsafe.Sizeof(LinkRow{}))
	return d, nil
}

// findLot looks a lot up as Store.FindLot does.
func (d *LotData) findLot(ref LotRef) (int64, bool) {
	id, ok := d.ids[ref]
	return id, ok
}

// fetch answers from memory what Queries.fetch reads from the store.
func (d *LotData) fetch(ids []int64, groups []string, onHand bool) *fetched {
	f := &fetched{lots: make([]LotRow, 0, len(ids))}
	for _, id := range ids {
		if id <= 0 || id >= int64(len(d.refs)) || d.refs[id] == (LotRef{}) {
			continue
		}
		f.lots = append(f.lots, LotRow{ID: id, Ref: d.refs[id]})
		f.receipts = append(f.receipts, d.receipts.of(id)...)
		f.shipments = append(f.shipments, d.shipments.of(id)...)
		if onHand {
			f.onHand = append(f.onHand, d.onHand.of(id)...)
			if d.held[id] {
				f.held = append(f.held, id)
			}
		}
	}
	if len(groups) > 0 && len(d.manual) > 0 {
		f.manual = LinksOfGroups(append([]LinkRow(nil), d.manual...), groups)
	}
	return f
}
