package core

import (
	"context"
	"time"
)

// Status is the state of one stored version of an event.
type Status string

const (
	// Active: the current version, in effect.
	Active Status = "active"
	// Reversed: the current version, cancelled by an active reverse event.
	Reversed Status = "reversed"
	// Superseded: an older version, replaced by a newer one with the same id.
	Superseded Status = "superseded"
)

// Direction of a trace.
type Direction string

const (
	Forward  Direction = "forward"
	Backward Direction = "backward"
)

// Store keeps events and the genealogy derived from them. Both stores
// (SQLite, PostgreSQL) implement it and pass core/store/storetest.
//
// Read methods take params structs so that adding a filter never breaks a
// caller. Methods that look one thing up return an ENOTFOUND *Error when it
// does not exist.
type Store interface {
	// Ingest runs fn in one write transaction. Writers are serialised: no
	// two Ingest calls overlap, in this process or (PostgreSQL) any other.
	// If fn returns an error nothing it wrote is kept.
	Ingest(ctx context.Context, fn func(tx IngestTx) error) error

	// FindLot returns the id of a lot, or ENOTFOUND.
	FindLot(ctx context.Context, ref LotRef) (int64, error)
	// Lots returns the lots with the given ids.
	Lots(ctx context.Context, ids []int64) ([]LotRow, error)
	// Hops returns the genealogy edges leaving the given lots in the given
	// direction: for Forward, every (lot → child) where the lot is an input
	// of an order or transform that output the child; for Backward the
	// same edges seen from the child. Only in-effect events count, and
	// an input whose returns net its consumption on the order to nothing
	// (Changes.Returned) is no input of it.
	Hops(ctx context.Context, p HopsParams) ([]Hop, error)
	// ReachHops returns what walking Hops level by level from p.LotIDs
	// would find, in one read: every edge (as Hops returns them, in no
	// particular order, possibly more than once) leaving each lot
	// reachable from p.LotIDs in p.Direction, the lots themselves
	// included. A trace walks it in memory (a recursive query in the
	// store, no round trip per level). With p.Limit, more than p.Limit
	// edges returned means there are more (see HopsParams).
	ReachHops(ctx context.Context, p HopsParams) ([]Hop, error)
	// GenealogyVersion returns a number that changes whenever links are
	// added or removed.
	GenealogyVersion(ctx context.Context) (int64, error)
	// EvaluationMark returns the store's data version, raised by every
	// transaction that writes events, and the version the gap rules were
	// last evaluated at (IngestTx.MarkEvaluated). Evaluation is due while
	// the first is ahead of the second, whichever process wrote the events.
	EvaluationMark(ctx context.Context) (EvaluationMark, error)
	// ReadVersions returns the GenealogyVersion and the data version
	// (EvaluationMark's Version) in one read: `hub serve` reads them
	// before every trace to tell whether what it keeps in memory is
	// current.
	ReadVersions(ctx context.Context) (Versions, error)
	// ReadTraceData calls the sink's functions for what a trace reports
	// about every lot (LotData): every lot's name, every in-effect
	// receipt and shipment (in no particular order), on hand per lot and
	// unit (ordered by lot and unit, as OnHand), the lots HeldLots would
	// list, and the hand-confirmed links (as ManualLinks reads them). All
	// of one snapshot, whose data version it returns.
	ReadTraceData(ctx context.Context, sink TraceDataSink) (int64, error)
	// ReadGenealogy calls fn for every in-effect link (returned inputs
	// left out, as in Hops), once per (group,
	// side, lot), ordered by group, side (inputs first) and lot, and
	// returns the GenealogyVersion they are of (one snapshot).
	ReadGenealogy(ctx context.Context, fn func(GenealogyLink) error) (int64, error)
	// GenealogySnapshot calls read with the saved genealogy snapshot
	// (SaveGenealogySnapshot) when it is of the present GenealogyVersion,
	// read with that version in one statement, and reports whether there
	// was one such. The bytes are the store's own buffer, valid only
	// during the call: read copies what it keeps (DecodeSnapshot does).
	// The snapshot of the 5M plant is 37 MB; handing it over without one
	// more copy saved a tenth of the widest recall's CPU.
	GenealogySnapshot(ctx context.Context, read func(data []byte) error) (bool, error)
	// HasGenealogySnapshot reports whether a snapshot of the present
	// GenealogyVersion is saved.
	HasGenealogySnapshot(ctx context.Context) (bool, error)
	// SaveGenealogySnapshot keeps data, the genealogy encoded as of
	// version (core.Graph.EncodeSnapshot), in place of the snapshot
	// saved before, unless the GenealogyVersion is no longer version
	// (then it saves nothing: it would never be read) or a snapshot of
	// that version is saved already.
	SaveGenealogySnapshot(ctx context.Context, version int64, data []byte) error
	// OnHand returns received + produced − consumed − shipped + adjusted
	// per lot and unit, ordered by lot and unit.
	OnHand(ctx context.Context, lotIDs []int64) ([]LotQtyRow, error)
	// Receipts returns the in-effect receipts matching the filter, in no
	// particular order (Queries orders what it lists).
	Receipts(ctx context.Context, f ReceiptFilter) ([]ReceiptRow, error)
	// Shipments returns the in-effect shipments matching the filter, in no
	// particular order.
	Shipments(ctx context.Context, f ShipmentFilter) ([]ShipmentRow, error)
	// ShipmentTotals totals the in-effect shipments of the lots per
	// customer (id and name as shipped) and unit, each total with its
	// first shipment (by event time, then event id in bytes): whom a
	// recall reaches, without a row per shipment.
	ShipmentTotals(ctx context.Context, lotIDs []int64) ([]ShipmentTotal, error)
	// LotCounts counts the lots per depth and item: p.LotIDs[i] is at
	// depth p.Depths[i]. Ordered by depth, then item.
	LotCounts(ctx context.Context, p LotCountParams) ([]LevelItemCount, error)
	// OnHandTotals sums OnHand over the lots per item and unit (rounded
	// as OnHand's callers round), ordered by item and unit.
	OnHandTotals(ctx context.Context, lotIDs []int64) ([]ItemQty, error)
	// Originated returns the lots of an item received or produced (by an
	// order or a transform) within [From, To).
	Originated(ctx context.Context, f OriginFilter) ([]int64, error)
	// LotEvents returns every stored version of every event about the lot,
	// in event time order, then by id and version.
	LotEvents(ctx context.Context, lotID int64) ([]EventRow, error)
	// FindLots returns the lots among refs that exist, in no particular
	// order (refs the hub does not know are left out): FindLot for many
	// lots in one read.
	FindLots(ctx context.Context, refs []LotRef) ([]LotRow, error)
	// InEffectEvents calls fn once for each in-effect event (the current
	// version, neither superseded nor reversed) about each of the lots
	// p selects: the events whose lot it is, and the transforms it is an
	// input or an output of (a transform about two of the lots comes once
	// for each, with the lot it was found for). Reverse events are not
	// included: their effect is that their targets are not in effect.
	// Rows come in no particular order, as the store reads them, so that
	// a read of thousands of lots holds no more than one row at a time;
	// an error from fn stops the read and is returned.
	InEffectEvents(ctx context.Context, p InEffectParams, fn func(lotID int64, e EventRow) error) error
	// UnsourcedLots returns the lots that were consumed or shipped but never
	// received or produced.
	UnsourcedLots(ctx context.Context) ([]LotGapRow, error)
	// OrdersWithoutInputs returns the orders that produced lots but have no
	// recorded consumption.
	OrdersWithoutInputs(ctx context.Context) ([]OrderGapRow, error)
	// Quarantined lists quarantined input.
	Quarantined(ctx context.Context, f QuarantineFilter) ([]QuarantineRow, error)
	// ResolveQuarantine marks the open quarantine entry seq resolved by
	// hand, keeping reason: ENOTFOUND when there is no such entry,
	// ECONFLICT when it is resolved already. The same input quarantined
	// again reopens it (and clears the reason).
	// The resolution and its audit entry (actor from ctx) commit together.
	ResolveQuarantine(ctx context.Context, seq int64, reason string) error
	// RawRecords returns the current version of archived source records,
	// in archive order.
	RawRecords(ctx context.Context, f RawFilter) ([]RawRecord, error)

	// Cursor returns a connector's stored position, or ENOTFOUND when it
	// has none (a first sync starts at the beginning).
	Cursor(ctx context.Context, connector string) (CursorRow, error)
	// ResetCursor forgets a connector's position: the next sync reads the
	// source from the beginning (ingest is idempotent, so nothing doubles).
	// reason is required; the reset and its audit entry commit together.
	ResetCursor(ctx context.Context, connector, reason string) error
	// StartRun records a run that begins and returns its id.
	StartRun(ctx context.Context, r Run) (int64, error)
	// FinishRun records the end of a run: status, counts, error.
	FinishRun(ctx context.Context, r Run) error
	// Runs lists runs, newest first.
	Runs(ctx context.Context, f RunFilter) ([]Run, error)

	// GapFacts returns what the gap rules look at: one-sided orders,
	// unsourced and overdrawn lots, lots used before they were sourced,
	// order quantities and the steps of produced lots (gaps.go).
	GapFacts(ctx context.Context, p GapFactsParams) (*GapFacts, error)
	// Exceptions lists stored gap exceptions, oldest first.
	Exceptions(ctx context.Context, f ExceptionFilter) ([]Exception, error)
	// ExceptionHistory returns what happened to a gap exception, in order.
	ExceptionHistory(ctx context.Context, id int64) ([]ExceptionEvent, error)
	// HeldLots returns the lots whose latest in-effect hold or release
	// event is a hold: latest by event time, and at equal times by event
	// id (byte order), never by arrival.
	HeldLots(ctx context.Context) ([]HeldLotRow, error)
	// HeldAmong returns those of the given lots that HeldLots would list.
	HeldAmong(ctx context.Context, lotIDs []int64) ([]int64, error)
	// LotStates returns, for each of the lots that exists, what Lots,
	// OnHand and HeldAmong say of it, in one read: what a recall lists
	// about every lot it reaches. In no particular order; each state's
	// OnHand is ordered by unit.
	LotStates(ctx context.Context, lotIDs []int64) ([]LotState, error)
	// HoldEvents returns every in-effect hold and release event, ordered
	// by lot, event time and id.
	HoldEvents(ctx context.Context) ([]EventRow, error)
	// Productions returns the output links of the given lots: one per
	// in-effect produce event or transform output, with its event time.
	Productions(ctx context.Context, lotIDs []int64) ([]LinkRow, error)
	// ManualLinks returns the links of the given groups made by events
	// written by hub confirm (ids "confirm:…").
	ManualLinks(ctx context.Context, groups []string) ([]LinkRow, error)
	// OrderEvents returns the in-effect consume and produce events of an
	// order, in event time order.
	OrderEvents(ctx context.Context, order string) ([]EventRow, error)
	// OrdersEvents calls fn once for each in-effect consume and produce
	// event of the orders: OrderEvents for many orders in one read (an
	// export of a genealogy reaches hundreds). Rows come in no particular
	// order; an error from fn stops the read and is returned.
	OrdersEvents(ctx context.Context, orders []string, fn func(EventRow) error) error
	// OrderAdjusts returns the in-effect adjust events that name the order
	// (their "order") and are of a lot linked to it (an input or output
	// of the order), ordered by event time and id. Adjustments make no
	// links: they are found through the order's lots, not by a scan.
	OrderAdjusts(ctx context.Context, order string) ([]EventRow, error)

	// EventVersions returns stored versions of events in the order the
	// store recorded them (by Seq): those recorded (SeenAt) at or before
	// p.SeenThrough, after p.AfterSeq, at most p.Limit. Status is each
	// version's status now, not at SeenThrough. The as-of view
	// (core/store/asof) replays them to answer as the store would have.
	EventVersions(ctx context.Context, p EventVersionsParams) ([]EventRow, error)
	// Users, their API tokens and web sessions (user.go).
	UserStore
	// OutboxStore keeps the actions events set off (outbox.go).
	OutboxStore
	// Audit appends one entry to the audit trail in a transaction of its
	// own, for actions outside ingest (token create/revoke, report
	// approval). The store sets Seq, Time (its own clock), PrevHash and
	// Hash, and returns the entry as stored.
	Audit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// AuditLog lists entries matching the filter, newest first.
	AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
	// AuditHead returns the chain's latest entry as the store's head
	// record has it ({0, ""} for an empty chain).
	AuditHead(ctx context.Context) (AuditHead, error)
	// ReadAudit calls fn for every entry with seq > after, in seq order.
	ReadAudit(ctx context.Context, after int64, fn func(AuditEntry) error) error
	// ReadEvents calls fn for every stored event version with seq > after,
	// in seq order, body included: what hub audit verify re-derives the
	// batches' digests from.
	ReadEvents(ctx context.Context, after int64, fn func(EventRow) error) error
	// PruneAudit deletes the audit entries with seq ≤ through and the raw
	// records received before before, and appends checkpoint (its
	// details naming the pruned range and its last hash), all in one
	// transaction. Only hub archive prune calls it, after a verified
	// export.
	PruneAudit(ctx context.Context, through int64, before time.Time, checkpoint AuditEntry) (AuditEntry, error)
	// SearchLots finds lots whose number starts with f.Lot (any item
	// when f.Item is empty) or, with only f.Item, every lot of the item;
	// ordered by item and lot. EINVALID when neither is given.
	SearchLots(ctx context.Context, f LotSearch) ([]LotRow, error)
	// Activity counts the lots received, produced and shipped by events
	// in effect timed in [from, to): the web dashboard's "today".
	Activity(ctx context.Context, from, to time.Time) (Activity, error)
	// SchemaVersion returns the version of the applied schema.
	SchemaVersion(ctx context.Context) (int, error)
	Close() error
}

// PlanReader is what Plan reads of the store.
type PlanReader interface {
	// CurrentEvents returns the current (not superseded) version of each
	// of the ids that exists.
	CurrentEvents(ctx context.Context, ids []string) (map[string]EventRow, error)
	// Reversers returns, for each target id, the ids of the current
	// versions of reverse events that name it.
	Reversers(ctx context.Context, targets []string) (map[string][]string, error)
	// LotIDs returns the id of each lot, creating the ones that are new.
	LotIDs(ctx context.Context, refs []LotRef) (map[LotRef]int64, error)
	// OrderLots returns the in-effect quantities of each of the given
	// lots on each of the given order groups, one row per unit (no row
	// when the lot has none on the order): what Plan needs to tell
	// whether returns net a lot's consumption on an order to nothing.
	OrderLots(ctx context.Context, keys []LotGroup) ([]OrderLotSums, error)
}

// SnapshotTx is a read-only transaction on one consistent snapshot of
// the store, outside the writer: what ingest plans the next batch
// against while the current one is written (pipeline.go).
type SnapshotTx interface {
	CurrentEvents(ctx context.Context, ids []string) (map[string]EventRow, error)
	Reversers(ctx context.Context, targets []string) (map[string][]string, error)
	OrderLots(ctx context.Context, keys []LotGroup) ([]OrderLotSums, error)
	// ExistingLotIDs returns the ids of the lots that exist in the
	// snapshot, creating nothing.
	ExistingLotIDs(ctx context.Context, refs []LotRef) (map[LotRef]int64, error)
	// DataVersion is the snapshot's data version (Versions.Data).
	DataVersion(ctx context.Context) (int64, error)
}

// Snapshotter is a Store that can read a snapshot beside its writer
// (both stores do). Ingest plans ahead only on such a store.
type Snapshotter interface {
	// ReadSnapshot runs fn in a read-only transaction that sees one
	// committed state of the store, and does not wait for the writer.
	ReadSnapshot(ctx context.Context, fn func(SnapshotTx) error) error
}

// IngestTx is the view of the store inside one write transaction.
type IngestTx interface {
	PlanReader
	// DataVersion is the data version (Versions.Data) as this
	// transaction sees it: Write raises it for every change to what
	// Plan reads (Changes.ChangesData).
	DataVersion(ctx context.Context) (int64, error)
	// Write applies the changes computed for one batch.
	Write(ctx context.Context, c *Changes) error
	// SetCursor stores a connector's new position, committed with the
	// batch's events.
	SetCursor(ctx context.Context, c CursorRow) error
	// CountRun stores a running run's counts (batches, records, events,
	// unchanged, quarantined) with the batch that reached them, so that a
	// run the hub never finished (killed) still shows what it committed.
	CountRun(ctx context.Context, r Run) error
	// Exceptions lists gap exceptions as the transaction sees them.
	Exceptions(ctx context.Context, f ExceptionFilter) ([]Exception, error)
	// SaveException inserts e when e.ID is 0 (setting e.ID) and updates
	// the exception with that id otherwise.
	SaveException(ctx context.Context, e *Exception) error
	// LogException appends to an exception's history.
	LogException(ctx context.Context, ev ExceptionEvent) error
	// MarkEvaluated records that the gap rules were evaluated over the
	// store as of data version v. The mark never moves back: an
	// evaluation that started earlier and finishes later leaves it alone.
	MarkEvaluated(ctx context.Context, v int64) error
	// Audit appends an entry to the audit trail in this transaction:
	// committed with the change it records, or not at all. Writers of the
	// chain are serialised (SQLite's single writer; PostgreSQL's writer
	// lock and the chain head's row lock), so two hubs on one database
	// still make one chain. The store sets Seq, Time, PrevHash and Hash.
	Audit(ctx context.Context, e AuditEntry) (AuditEntry, error)
}

// Versions are the store's change counters (Store.ReadVersions).
type Versions struct {
	// Genealogy changes whenever links are added or removed.
	Genealogy int64
	// Data is raised by every transaction that changes what a query
	// reports: it writes events (new versions or status changes), and
	// only those change links, receipts, shipments, quantities and holds
	// (Changes.ChangesData).
	Data int64
}

// TraceDataSink receives what Store.ReadTraceData reads; each function is
// called once per row, and an error stops the read.
type TraceDataSink struct {
	Lot      func(LotRow) error
	Receipt  func(*ReceiptRow) error
	Shipment func(*ShipmentRow) error
	OnHand   func(LotQtyRow) error
	Held     func(lotID int64) error
	Manual   func(LinkRow) error
}

// EvaluationMark says whether the gap rules have seen every event stored.
type EvaluationMark struct {
	// Version is raised by every transaction that writes events (new
	// versions or status changes: a supersede, a reversal).
	Version int64
	// Evaluated is the Version the last completed evaluation read when
	// it started.
	Evaluated int64
}

// Due reports whether events were written that no completed evaluation
// has seen.
func (m EvaluationMark) Due() bool { return m.Version > m.Evaluated }

// EventRow is one stored version of an event.
type EventRow struct {
	Seq      int64 // store-assigned; 0 until written
	ID       string
	Version  int
	Hash     string
	Type     EventType
	Time     time.Time
	LotID    int64 // 0 when the event has no single lot (transform, reverse)
	Reverses string
	Status   Status
	SeenAt   time.Time
	Body     []byte // the event as canonical JSON
}

// StatusUpdate changes the status of a stored version.
type StatusUpdate struct {
	Seq    int64
	ID     string // the event's id, for the audit trail
	Status Status
}

// LinkRow records that a lot is an input ("in") or output ("out") of a
// group: an order ("o:" + order) or a transform ("t:" + event id). Two lots
// are linked when one is in and the other out of the same group.
type LinkRow struct {
	EventID string
	LotID   int64
	Group   string
	Out     bool
	Time    time.Time
}

// ReceiptRow is an in-effect receive event.
type ReceiptRow struct {
	EventID     string
	LotID       int64
	Supplier    Party
	SupplierLot string
	PO          string
	Qty         float64
	UOM         string
	Time        time.Time
}

// ShipmentTotal is what ShipmentTotals reads: the in-effect shipments of
// some lots to one customer (as named on them) in one unit.
type ShipmentTotal struct {
	CustomerID, CustomerName, UOM string
	Qty                           float64
	Shipments                     int
	// The first of them: by event time, then event id (in bytes).
	FirstTime  time.Time
	FirstEvent string
}

// LotCountParams selects LotCounts: lot ids and, at the same index, the
// depth each is counted at.
type LotCountParams struct {
	LotIDs []int64
	Depths []int
}

// LevelItemCount is how many lots of one item at one depth.
type LevelItemCount struct {
	Depth int
	Item  string
	Lots  int
}

// ShipmentRow is an in-effect ship event.
type ShipmentRow struct {
	EventID    string
	LotID      int64
	Customer   Party
	SalesOrder string
	Delivery   string
	Qty        float64
	UOM        string
	Time       time.Time
}

// LotDelta is a change to a lot's quantities and counters.
type LotDelta struct {
	LotID                                 int64
	UOM                                   string
	Received, Produced, Consumed, Shipped float64
	Adjusted                              float64 // signed: inventory adjustments
}

// LotUse is a change to how often a lot was sourced (received, produced)
// and used (consumed, shipped) by in-effect events.
type LotUse struct {
	LotID         int64
	Sourced, Used int
}

// OrderDelta is a change to the number of in-effect inputs and outputs of
// an order.
type OrderDelta struct {
	Order     string // the link group: "o:" + order
	Ins, Outs int
}

// LotGroup is a lot on an order group ("o:" + order).
type LotGroup struct {
	LotID int64
	Group string
}

// OrderLotSums is what the in-effect events say of one lot on one order in
// one unit: its consumptions, its productions and the adjust events that
// name the order (signed: +qty is material returned from the order), with
// how many events of each kind. As a change (Changes.OrderLots) every
// field is a delta.
type OrderLotSums struct {
	LotID    int64
	Group    string // "o:" + order
	UOM      string
	Consumed float64
	Consumes int
	Produced float64
	Produces int
	Adjusted float64
	Adjusts  int
}

// QuarantineRow is input that could not be ingested.
type QuarantineRow struct {
	Seq      int64
	Key      string // identifies the input; the same input is quarantined once
	Source   string // file name or connector
	Line     int    // 1-based line in Source, 0 if not from a file
	EventID  string // the event id, if one could be read
	Reason   string
	Raw      string
	At       time.Time
	Resolved bool // a valid event with the same id was ingested since, or an operator resolved it
	// ResolveReason: why an operator resolved the entry (hub errors
	// resolve); "" when a valid event or record resolved it.
	ResolveReason string
}

// Changes is everything one ingest batch writes. Stores apply it in this
// order: StatusUpdates, NewVersions, RemoveEffects, then the new effects,
// the deltas and the quarantine.
type Changes struct {
	StatusUpdates []StatusUpdate
	NewVersions   []EventRow
	RemoveEffects []string // event ids whose links, receipts and shipments go
	Links         []LinkRow
	// GenealogyChanged: links are added or removed (an order's or a
	// transform's event applied or withdrawn); the store raises its
	// GenealogyVersion.
	GenealogyChanged bool
	Receipts         []ReceiptRow
	Shipments        []ShipmentRow
	LotDeltas        []LotDelta
	LotUses          []LotUse
	OrderDeltas      []OrderDelta
	// OrderLots are the changes to the per-order quantities of lots.
	OrderLots []OrderLotSums
	// Returned are the inputs whose consumption on the order returns now
	// net to nothing (their input links stop being in effect: Hops,
	// ReadGenealogy and the gap facts leave them out); Restored are the
	// inputs that were returned and are consumed again.
	Returned, Restored []LotGroup
	Quarantine         []QuarantineRow
	Resolved           []string // event ids whose quarantine entries are now resolved
	ResolvedKeys       []string // quarantine keys now resolved (source records that map now)
	// Raw are archived source records: new content is added and becomes
	// the record's current version; known content is made current again
	// and gets the new Mapping and Events.
	Raw []RawRecord
	// Outbox are the actions the batch's new events set off, written
	// with them; an action whose Key is stored already is left alone.
	Outbox []OutboxAction
	// Written is set by Write: the store seqs of NewVersions lie in
	// [First, Last] (the batch's audit entry names them).
	Written WrittenEvents
	// digest is EventDigest(NewVersions) when core computed it already,
	// while the store wrote them (planWrite); "" otherwise.
	digest string
}

// ChangesData reports whether the changes alter anything a query
// reports (events, links, receipts, shipments, quantities, holds): the
// store then raises its data version (Versions.Data) in the same
// transaction.
func (c *Changes) ChangesData() bool {
	return len(c.NewVersions)+len(c.StatusUpdates)+len(c.RemoveEffects)+len(c.Links)+len(c.Receipts)+
		len(c.Shipments)+len(c.LotDeltas)+len(c.LotUses)+len(c.OrderDeltas)+len(c.OrderLots)+
		len(c.Returned)+len(c.Restored) > 0 || c.GenealogyChanged
}

// LotRow is a lot with its id.
type LotRow struct {
	ID  int64
	Ref LotRef
}

// Hop is one genealogy edge found by Hops. From is the lot asked about.
type Hop struct {
	From, To int64
	Group    string
}

// GenealogyLink is a lot on one side of a group: an input (Out false) or
// an output of an order ("o:" + order) or a transform ("t:" + event id).
type GenealogyLink struct {
	LotID int64
	Group string
	Out   bool
}

// HopsParams selects Hops and ReachHops.
type HopsParams struct {
	Direction Direction
	LotIDs    []int64
	// Limit, for ReachHops: when more than Limit edges are reachable,
	// return Limit+1 of them (any) and stop reading; 0 reads all.
	Limit int
}

// LotState is a lot with its on-hand quantities (unrounded, by unit;
// none when the lot has no quantities) and whether it is on hold.
type LotState struct {
	LotRow
	OnHand []Qty
	Held   bool
}

// LotQtyRow is a lot's on-hand quantity in one unit.
type LotQtyRow struct {
	LotID int64
	UOM   string
	Qty   float64
}

// ReceiptFilter selects receipts: by lots, or by supplier lot.
type ReceiptFilter struct {
	LotIDs      []int64
	SupplierLot string
}

// ShipmentFilter selects shipments: by lots, by sales order or by customer.
type ShipmentFilter struct {
	LotIDs     []int64
	SalesOrder string
	CustomerID string
}

// InEffectParams selects InEffectEvents: the events of the lots LotIDs
// (each once, however often it is named), of the Types given (every type
// when empty), with an event time within [From, To) (a zero From or To
// leaves that end open), and, when WithParams is set, whose params have
// at least one of those names (a report looking for a product
// description need not read a raw lot's thousands of consumptions).
type InEffectParams struct {
	LotIDs     []int64
	Types      []EventType
	From, To   time.Time
	WithParams []string
}

// EventVersionsParams selects EventVersions: the versions recorded at or
// before SeenThrough (every version when zero) whose Seq is greater than
// AfterSeq, the first Limit of them (all when 0 or less).
type EventVersionsParams struct {
	SeenThrough time.Time
	AfterSeq    int64
	Limit       int
}

// OriginFilter selects lots of an item originated in [From, To).
type OriginFilter struct {
	Item     string
	From, To time.Time
}

// LotGapRow is a lot used but never sourced.
type LotGapRow struct {
	LotID int64
	Ref   LotRef
	Since time.Time
}

// OrderGapRow is an order with outputs and no inputs.
type OrderGapRow struct {
	Order string // the link group: "o:" + order
	Since time.Time
	Lots  []LotRef
}

// QuarantineFilter selects quarantine entries.
type QuarantineFilter struct {
	IncludeResolved bool
	Limit           int
}

// LinksOfGroups keeps the links whose group is one of groups.
func LinksOfGroups(links []LinkRow, groups []string) []LinkRow {
	if len(links) == 0 {
		return nil
	}
	want := make(map[string]bool, len(groups))
	for _, g := range groups {
		want[g] = true
	}
	out := links[:0]
	for _, l := range links {
		if want[l.Group] {
			out = append(out, l)
		}
	}
	return out
}

// LotSearch selects SearchLots: a lot number's beginning, an item, or
// both. Limit bounds the rows (0: no bound); Offset skips the first.
type LotSearch struct {
	Item   string
	Lot    string
	Limit  int
	Offset int
}

// Activity is how many distinct lots were received, produced and
// shipped in a time range.
type Activity struct {
	Received int `json:"received"`
	Produced int `json:"produced"`
	Shipped  int `json:"shipped"`
}

// LotStateRow is one row of a store's LotStates read: a lot, and one of
// its units when HasQty.
type LotStateRow struct {
	LotRow
	UOM    string
	Qty    float64
	HasQty bool
	Held   bool
}

// LotStates builds LotStates answers from rows in which each lot's rows
// are consecutive (ordered by lot, then unit); the stores share it.
type LotStates struct {
	out []LotState
	qs  []Qty // one array for every lot's units
}

// NewLotStates expects about n lots.
func NewLotStates(n int) *LotStates {
	return &LotStates{out: make([]LotState, 0, n), qs: make([]Qty, 0, n)}
}

// Add adds one row.
func (b *LotStates) Add(r LotStateRow) {
	n := len(b.out)
	if n == 0 || b.out[n-1].ID != r.ID {
		b.out = append(b.out, LotState{LotRow: r.LotRow, Held: r.Held})
		n++
	}
	if !r.HasQty {
		return
	}
	st := &b.out[n-1]
	q := Qty{Qty: r.Qty, UOM: r.UOM}
	if len(st.OnHand) > 0 { // a lot in several units, rare: its own array
		st.OnHand = append(st.OnHand, q)
		return
	}
	b.qs = append(b.qs, q)
	st.OnHand = b.qs[len(b.qs)-1 : len(b.qs) : len(b.qs)] // full: an append copies
}

// States returns the lots' states.
func (b *LotStates) States() []LotState { return b.out }
