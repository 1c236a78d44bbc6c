package core

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Quality holds. A hold is an ordinary canonical event (type hold or
// release), whether it came from the ERP (SAP blocked stock) or from hub
// hold, so holds of both kinds live side by side in the lot's history.
// A lot is on hold while its latest in-effect hold/release is a hold.
//
// A hold follows the genealogy: with Propagate, every descendant still on
// hand is held too; and a lot made from held material is born on hold
// (ApplyHolds, run with every gap evaluation; see "Born on hold" below).
// Holds made either way carry params.origin, the id of the hold they
// follow, and have the id ORIGIN>ITEM/LOT.

// HoldParams is a manual hold or release.
type HoldParams struct {
	Lot       LotRef
	Reason    string
	By        string
	Propagate bool // also every descendant with stock on hand (hold) or held by the same origin (release)
}

// HoldResult lists the lots a hold or release changed.
type HoldResult struct {
	Type  EventType `json:"type"`
	Event string    `json:"event"`
	Lots  []LotRef  `json:"lots"` // the lot first, then descendants
}

// ActiveHold is a lot on hold: `hub holds`.
type ActiveHold struct {
	Item   string `json:"item"`
	Lot    string `json:"lot"`
	Since  string `json:"since"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
	Event  string `json:"event"`
	// Origin is the hold this one follows (a held ancestor), if any.
	Origin string `json:"origin,omitempty"`
}

type holdBody struct {
	Reason   string         `json:"reason"`
	Operator string         `json:"operator"`
	Params   map[string]any `json:"params"`
}

func originOf(eventID string, body []byte) (origin string, b holdBody) {
	_ = json.Unmarshal(body, &b) // a stored event always decodes
	if o, ok := b.Params["origin"].(string); ok && o != "" {
		return o, b
	}
	return eventID, b
}

// Holds lists the lots on hold now.
func (q *Queries) Holds(ctx context.Context) ([]ActiveHold, error) {
	rows, err := q.Store.HeldLots(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ActiveHold, 0, len(rows))
	for _, r := range rows {
		origin, b := originOf(r.EventID, r.Body)
		h := ActiveHold{Item: r.Ref.Item, Lot: r.Ref.Lot, Since: fmtTime(r.Since), Reason: b.Reason, By: b.Operator, Event: r.EventID}
		if origin != r.EventID {
			h.Origin = origin
		}
		out = append(out, h)
	}
	return out, nil
}

// Hold puts a lot on hold (and, with Propagate, every descendant with
// stock on hand). It returns ENOTFOUND for an unknown lot and EINVALID
// without a reason or a user.
func (m *Monitor) Hold(ctx context.Context, p HoldParams) (*HoldResult, error) {
	return m.holdOrRelease(ctx, Hold, p)
}

// Release takes a lot off hold (and, with Propagate, every descendant
// held because of it).
func (m *Monitor) Release(ctx context.Context, p HoldParams) (*HoldResult, error) {
	return m.holdOrRelease(ctx, Release, p)
}

func (m *Monitor) holdOrRelease(ctx context.Context, typ EventType, p HoldParams) (*HoldResult, error) {
	if strings.TrimSpace(p.Reason) == "" {
		return nil, Errorf(EINVALID, "%s %s: a reason is required (--reason \"...\"): the lot's history and an auditor need it", typ, p.Lot)
	}
	if strings.TrimSpace(p.By) == "" {
		return nil, Errorf(EINVALID, "%s %s: say who you are (--by USER)", typ, p.Lot)
	}
	q := &Queries{Store: m.Store}
	rootID, err := q.findLot(ctx, p.Lot)
	if err != nil {
		return nil, err
	}
	now := m.now()
	held, err := m.Store.HeldLots(ctx)
	if err != nil {
		return nil, err
	}
	heldBy := map[int64]HeldLotRow{}
	for _, h := range held {
		heldBy[h.LotID] = h
	}
	_, rootHeld := heldBy[rootID]
	if typ == Hold && rootHeld && !p.Propagate {
		return nil, Errorf(ECONFLICT, "lot %s is already on hold: hub holds lists holds", p.Lot)
	}
	if typ == Release && !rootHeld {
		return nil, Errorf(ECONFLICT, "lot %s is not on hold", p.Lot)
	}
	id := fmt.Sprintf("manual:%s:%s:%s", typ, p.Lot, now.Format("20060102T150405.000000000Z"))
	res := &HoldResult{Type: typ, Event: id, Lots: []LotRef{}}
	var events []*Event
	mk := func(id string, ref LotRef, reason, origin string) {
		e := &Event{ID: id, Type: typ, Time: fmtTime(now), Lot: &LotRef{Item: ref.Item, Lot: ref.Lot}, Reason: reason, Operator: p.By,
			Params: map[string]any{"manual": string(typ), "by": p.By}, Source: &Source{Connector: "manual", Record: id}}
		if origin != "" {
			e.Params["origin"] = origin
		}
		events = append(events, e)
		res.Lots = append(res.Lots, ref)
	}
	origin := id
	if typ == Release {
		origin, _ = originOf(heldBy[rootID].EventID, heldBy[rootID].Body)
	}
	if !(typ == Hold && rootHeld) {
		mk(id, p.Lot, p.Reason, "")
	}
	if p.Propagate {
		g, err := q.walk(ctx, Forward, []int64{rootID}, nil)
		if err != nil {
			return nil, err
		}
		desc := g.order[1:]
		if len(desc) > 0 {
			rows, err := m.Store.Lots(ctx, desc)
			if err != nil {
				return nil, err
			}
			refs := map[int64]LotRef{}
			for _, r := range rows {
				refs[r.ID] = r.Ref
			}
			stock := map[int64]bool{}
			if typ == Hold {
				oh, err := m.Store.OnHand(ctx, desc)
				if err != nil {
					return nil, err
				}
				for _, r := range oh {
					if r.Qty > 1e-9 {
						stock[r.LotID] = true
					}
				}
			}
			slices.SortFunc(desc, func(a, b int64) int { return cmpRef(refs[a], refs[b]) })
			for _, d := range desc {
				h, isHeld := heldBy[d]
				switch {
				case typ == Hold && stock[d] && !isHeld:
					mk(origin+">"+refs[d].String(), refs[d], fmt.Sprintf("held with %s: %s", p.Lot, p.Reason), origin)
				case typ == Release && isHeld:
					if o, _ := originOf(h.EventID, h.Body); o == origin {
						mk(id+">"+refs[d].String(), refs[d], fmt.Sprintf("released with %s: %s", p.Lot, p.Reason), origin)
					}
				}
			}
		}
	}
	action := AuditHoldPlaced
	if typ == Release {
		action = AuditHoldReleased
	}
	entry := AuditEntry{Action: action, Object: "lot:" + p.Lot.String(), Reason: p.Reason}
	details := map[string]any{"event": id, "by": p.By, "propagate": p.Propagate, "lots": refStrings(res.Lots)}
	if err := m.writeEvents(ctx, events, now, entry, details); err != nil {
		return nil, err
	}
	return res, nil
}

func refStrings(refs []LotRef) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.String()
	}
	return out
}

// writeEvents validates and applies events in one transaction, with their
// audit entry.
func (m *Monitor) writeEvents(ctx context.Context, events []*Event, now time.Time, entry AuditEntry, details map[string]any) error {
	if len(events) == 0 {
		return nil
	}
	prepared := make([]PreparedEvent, 0, len(events))
	for _, e := range events {
		if err := e.Validate(); err != nil {
			return err
		}
		prepared = append(prepared, Prepare(e))
	}
	return m.Store.Ingest(ctx, func(tx IngestTx) error {
		c, _, err := Plan(ctx, tx, prepared, now, nil)
		if err != nil {
			return err
		}
		return WriteAudited(ctx, tx, c, entry, details)
	})
}

// Born on hold. Which lots are born on hold is a function of the events
// the store holds, of their times and in-effect versions, and never of
// the batches they came in or the order those arrived in:
//
//   - A lot is on hold at time t when its latest in-effect hold or release
//     with time ≤ t is a hold (latest by time, then by event id). The
//     holds since its last release are the ones it is on hold because of.
//   - A lot is born on hold when, at its first production (the earliest
//     in-effect produce event or transform output naming it), one of the
//     direct inputs of that production (the lots consumed by the same
//     order, the inputs of the transform) is on hold at that time; that
//     includes inputs that were themselves born on hold, so it carries
//     down the genealogy in event-time order. Cycles end: each lot is
//     born on hold at most once per origin.
//   - Such a lot gets one derived hold per origin (the hold, from the ERP
//     or hub hold, that the held input follows): an ordinary hold event
//     with id ORIGIN>ITEM/LOT, time the lot's production time, params
//     origin and born_on_hold, written by the hub (source connector hub).
//
// ApplyHolds computes the set of derived holds from the other hold and
// release events (never from derived holds already written), writes the
// missing ones and withdraws those no longer justified: a release,
// reversal or production time that arrived late. Nothing is deleted: a
// derived hold is withdrawn by a reverse event ORIGIN>ITEM/LOT~withdrawn.N
// and, if justified again later, restored by reversing that withdrawal
// (ID~restored); a new production time supersedes its content. A release
// of the lot (hub release, the ERP) later than its production time takes
// it off hold and stays in effect: a derived hold keeps its production
// time, so evaluating again never re-holds a released lot. hub hold
// --propagate is different: a user action at a moment, holding what is on
// hand then; its holds are inputs here like any other.

// holdMark is one hold or release of a lot, as born-on-hold sees it.
type holdMark struct {
	t      time.Time
	id     string
	hold   bool
	origin string // the hold it follows: params.origin, or its own id
}

func markBefore(a, b holdMark) bool { return a.t.Before(b.t) || a.t.Equal(b.t) && a.id < b.id }

// lotMarks is one lot's holds and releases in (time, id) order.
type lotMarks []holdMark

// origins returns the origins the lot is on hold because of at t: those
// of the holds since its latest release at or before t; none when it is
// not on hold then.
func (l lotMarks) origins(t time.Time) []string {
	i := sort.Search(len(l), func(i int) bool { return l[i].t.After(t) })
	var out []string
	for i--; i >= 0 && l[i].hold; i-- {
		out = append(out, l[i].origin)
	}
	return out
}

func (l *lotMarks) insert(m holdMark) {
	i := sort.Search(len(*l), func(i int) bool { return markBefore(m, (*l)[i]) })
	*l = slices.Insert(*l, i, m)
}

// isDerived reports whether a hold event's params mark it as born on
// hold, written by ApplyHolds.
func isDerived(b holdBody) bool {
	v, _ := b.Params["born_on_hold"].(bool)
	return v
}

// derivedHold is a born-on-hold hold the events justify.
type derivedHold struct {
	origin string
	lot    int64
	at     time.Time
	inputs []int64 // the held inputs that justify it
}

// HoldChanges counts what ApplyHolds changed.
type HoldChanges struct {
	Held      int // derived holds written or restored
	Withdrawn int // derived holds withdrawn
}

// ApplyHolds brings the store's born-on-hold holds in line with its
// events (see "Born on hold" above).
func (m *Monitor) ApplyHolds(ctx context.Context) (HoldChanges, error) {
	var res HoldChanges
	want, existing, err := m.bornOnHold(ctx)
	if err != nil || inLine(want, existing) {
		return res, err // nothing to write: no write transaction either
	}
	now := m.now()
	err = m.Store.Ingest(ctx, func(tx IngestTx) error {
		res = HoldChanges{}
		ids := slices.Collect(maps.Keys(want))
		for id := range existing {
			if _, ok := want[id]; !ok {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		cur, err := tx.CurrentEvents(ctx, ids)
		if err != nil {
			return err
		}
		revs, err := tx.Reversers(ctx, ids)
		if err != nil {
			return err
		}
		var revIDs []string
		for _, rs := range revs {
			revIDs = append(revIDs, rs...)
		}
		revRows, err := tx.CurrentEvents(ctx, revIDs)
		if err != nil {
			return err
		}
		// ours: the withdrawals of id written here, and whether someone
		// else reversed it (then it stays reversed: their decision).
		ours := func(id string) (active []string, n int, foreign bool) {
			for _, r := range revs[id] {
				row, ok := revRows[r]
				if !ok {
					continue
				}
				mine := strings.HasPrefix(r, id+"~withdrawn.")
				if mine {
					n++
				}
				if row.Status == Active {
					if mine {
						active = append(active, r)
					} else {
						foreign = true
					}
				}
			}
			slices.Sort(active)
			return active, n, foreign
		}
		mk := func(e *Event) PreparedEvent { return Prepare(e) }
		var events []PreparedEvent
		for _, id := range ids {
			row, stored := cur[id]
			if stored {
				var b holdBody
				_ = json.Unmarshal(row.Body, &b)
				if row.Type != Hold || !isDerived(b) {
					continue // not ours: an ERP or hub hold event with this id
				}
			}
			e, wanted := want[id]
			switch {
			case wanted && !stored:
				events = append(events, mk(e))
				res.Held++
			case wanted:
				active, _, foreign := ours(id)
				if foreign {
					continue // reversed by someone: that decision stands
				}
				if p := mk(e); p.Hash != row.Hash {
					events = append(events, p) // a new production time or reason
				}
				if row.Status == Reversed {
					for _, w := range active {
						events = append(events, mk(&Event{ID: w + "~restored", Type: Reverse, Time: fmtTime(now), Reverses: w,
							Params: map[string]any{"born_on_hold": "restored", "why": "a held input at the lot's production time justifies the hold again"},
							Source: &Source{Connector: "hub", Record: id}}))
					}
					res.Held++
				}
			case stored && row.Status == Active:
				_, n, _ := ours(id)
				events = append(events, mk(&Event{ID: fmt.Sprintf("%s~withdrawn.%d", id, n+1), Type: Reverse, Time: fmtTime(now), Reverses: id,
					Params: map[string]any{"born_on_hold": "withdrawn", "why": "no input was on hold at the lot's production time any more (a release, reversal or correction arrived)"},
					Source: &Source{Connector: "hub", Record: id}}))
				res.Withdrawn++
			}
		}
		if len(events) == 0 {
			return nil
		}
		c, _, err := Plan(ctx, tx, events, now, nil)
		if err != nil {
			return err
		}
		// The hub's own doing, whoever's command ran the rules.
		return WriteAudited(ctx, tx, c, AuditEntry{Actor: SystemActor, Action: AuditHoldDerived, Object: "holds"},
			map[string]any{"held": res.Held, "withdrawn": res.Withdrawn})
	})
	if err != nil {
		return HoldChanges{}, fmt.Errorf("hold lots made from held material: %w", err)
	}
	return res, nil
}

// inLine reports whether the derived holds in effect are exactly those
// wanted, with the same content.
func inLine(want map[string]*Event, existing map[string]EventRow) bool {
	if len(want) != len(existing) {
		return false
	}
	for id, e := range want {
		if row, ok := existing[id]; !ok || row.Hash != Prepare(e).Hash {
			return false
		}
	}
	return true
}

// bornOnHold returns the derived holds the events justify, by id, and
// the derived holds in effect now.
func (m *Monitor) bornOnHold(ctx context.Context) (want map[string]*Event, existing map[string]EventRow, err error) {
	rows, err := m.Store.HoldEvents(ctx)
	if err != nil {
		return nil, nil, err
	}
	existing = map[string]EventRow{}
	marks := map[int64]lotMarks{}
	taken := map[string]bool{}     // ids of hold and release events not derived
	reasons := map[string]string{} // origin → the reason of the hold it names
	var roots []int64
	for _, r := range rows {
		origin, b := originOf(r.ID, r.Body)
		if r.Type == Hold && isDerived(b) {
			existing[r.ID] = r
			continue
		}
		taken[r.ID] = true
		if r.Type == Hold {
			if _, ok := reasons[origin]; !ok || origin == r.ID {
				reasons[origin] = b.Reason
			}
			if len(roots) == 0 || roots[len(roots)-1] != r.LotID {
				roots = append(roots, r.LotID)
			}
		}
		marks[r.LotID] = append(marks[r.LotID], holdMark{t: r.Time, id: r.ID, hold: r.Type == Hold, origin: origin})
	}
	for _, l := range marks {
		slices.SortFunc(l, func(a, b holdMark) int {
			if markBefore(a, b) {
				return -1
			}
			if markBefore(b, a) {
				return 1
			}
			return 0
		})
	}
	// A lot on hold because of an origin by its own (non-derived) events
	// at its production time needs no derived hold for it (a rework of a
	// held lot into itself, A→B→A).
	own := make(map[int64]lotMarks, len(marks))
	for id, l := range marks {
		own[id] = slices.Clone(l)
	}
	// Follow the holds down the genealogy until nothing changes: a lot
	// whose holds changed is looked at again, with every child of it.
	type birth struct {
		at     time.Time
		groups []string
	}
	births := map[int64]*birth{}
	refs := map[int64]LotRef{}
	derived := map[string]*derivedHold{}
	queue := slices.Clone(roots)
	queued := map[int64]bool{}
	for _, id := range queue {
		queued[id] = true
	}
	for len(queue) > 0 {
		batch := queue
		queue = nil
		for _, id := range batch {
			queued[id] = false
		}
		hops, err := m.Store.Hops(ctx, HopsParams{Direction: Forward, LotIDs: batch})
		if err != nil {
			return nil, nil, err
		}
		var unknown []int64
		for _, h := range hops {
			if _, ok := births[h.To]; !ok {
				births[h.To] = nil // looked up below
				unknown = append(unknown, h.To)
			}
		}
		if len(unknown) > 0 {
			slices.Sort(unknown)
			prods, err := m.Store.Productions(ctx, unknown)
			if err != nil {
				return nil, nil, err
			}
			for _, p := range prods {
				b := births[p.LotID]
				switch {
				case b == nil || p.Time.Before(b.at):
					births[p.LotID] = &birth{at: p.Time, groups: []string{p.Group}}
				case p.Time.Equal(b.at) && !slices.Contains(b.groups, p.Group):
					b.groups = append(b.groups, p.Group)
				}
			}
			lots, err := m.Store.Lots(ctx, unknown)
			if err != nil {
				return nil, nil, err
			}
			for _, l := range lots {
				refs[l.ID] = l.Ref
			}
			for _, id := range unknown {
				if births[id] == nil {
					births[id] = &birth{} // never produced: a hop only through a reversed output
				}
			}
		}
		// Children in a stable order: the marks they get, and so the
		// lots queued next, must not depend on map order.
		slices.SortFunc(hops, func(a, b Hop) int {
			return cmp.Or(cmp.Compare(a.To, b.To), cmp.Compare(a.From, b.From), strings.Compare(a.Group, b.Group))
		})
		for _, h := range hops {
			b := births[h.To]
			if h.From == h.To || b.at.IsZero() || !slices.Contains(b.groups, h.Group) {
				continue
			}
			for _, origin := range marks[h.From].origins(b.at) {
				id := origin + ">" + refs[h.To].String()
				if taken[id] || slices.Contains(own[h.To].origins(b.at), origin) {
					continue // an ERP or hub hold event has the id, or holds the lot for it already
				}
				d := derived[id]
				if d == nil {
					d = &derivedHold{origin: origin, lot: h.To, at: b.at}
					derived[id] = d
					l := marks[h.To]
					l.insert(holdMark{t: b.at, id: id, hold: true, origin: origin})
					marks[h.To] = l
					if !queued[h.To] {
						queued[h.To] = true
						queue = append(queue, h.To)
					}
				}
				if !slices.Contains(d.inputs, h.From) {
					d.inputs = append(d.inputs, h.From)
				}
			}
		}
		slices.Sort(queue)
	}
	// Names of the inputs, for the reasons.
	var missing []int64
	for _, d := range derived {
		for _, in := range d.inputs {
			if _, ok := refs[in]; !ok {
				refs[in] = LotRef{} // read below
				missing = append(missing, in)
			}
		}
	}
	if len(missing) > 0 {
		lots, err := m.Store.Lots(ctx, missing)
		if err != nil {
			return nil, nil, err
		}
		for _, l := range lots {
			refs[l.ID] = l.Ref
		}
	}
	want = make(map[string]*Event, len(derived))
	for id, d := range derived {
		in := slices.MinFunc(d.inputs, func(a, b int64) int { return cmpRef(refs[a], refs[b]) })
		reason := fmt.Sprintf("born on hold: made from %s, held", refs[in])
		if r := reasons[d.origin]; r != "" {
			reason += ": " + r
		}
		ref := refs[d.lot]
		want[id] = &Event{ID: id, Type: Hold, Time: d.at.UTC().Format(time.RFC3339Nano), Lot: &ref, Reason: reason,
			Params: map[string]any{"origin": d.origin, "born_on_hold": true}, Source: &Source{Connector: "hub", Record: d.origin}}
	}
	return want, existing, nil
}
