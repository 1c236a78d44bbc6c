package core

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Quality holds. A hold is an ordinary canonical event (type hold or
// release), whether it came from the ERP (SAP blocked stock) or from hub
// hold, so holds of both kinds live side by side in the lot's history.
// A lot is on hold while its latest in-effect hold/release is a hold.
//
// A hold follows the genealogy: with Propagate, every descendant still on
// hand is held too; and a lot made from held material later is born on
// hold (ApplyHolds, run with every gap evaluation). Holds made that way
// carry params.origin, the id of the hold they follow, and have the id
// ORIGIN>ITEM/LOT, so each is written once and a release sticks.

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
	if err := m.writeEvents(ctx, events, now); err != nil {
		return nil, err
	}
	return res, nil
}

// writeEvents validates and applies events in one transaction.
func (m *Monitor) writeEvents(ctx context.Context, events []*Event, now time.Time) error {
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
		return tx.Write(ctx, c)
	})
}

// ApplyHolds puts on hold every lot made from held material after the
// hold was placed (born on hold), unless it already carries a hold or
// release that follows the same origin. It returns how many it held.
func (m *Monitor) ApplyHolds(ctx context.Context) (int, error) {
	held, err := m.Store.HeldLots(ctx)
	if err != nil || len(held) == 0 {
		return 0, err
	}
	q := &Queries{Store: m.Store}
	isHeld := map[int64]bool{}
	for _, h := range held {
		isHeld[h.LotID] = true
	}
	var events []*Event
	done := map[string]bool{}
	for _, h := range held {
		origin, b := originOf(h.EventID, h.Body)
		g, err := q.walk(ctx, Forward, []int64{h.LotID}, nil)
		if err != nil {
			return 0, err
		}
		for _, d := range g.order[1:] {
			if isHeld[d] {
				continue
			}
			rows, err := m.Store.LotEvents(ctx, d)
			if err != nil {
				return 0, err
			}
			var born time.Time
			var ref LotRef
			seen := false
			for _, r := range rows {
				if strings.HasPrefix(r.ID, origin+">") || strings.Contains(r.ID, ">") && followsOrigin(r.Body, origin) {
					seen = true
				}
				if r.Status == Active && r.LotID == d && r.Type == Produce && (born.IsZero() || r.Time.Before(born)) {
					born = r.Time
				}
				if r.Status == Active && r.Type == Transform {
					var e Event
					if json.Unmarshal(r.Body, &e) == nil {
						for _, o := range e.Outputs {
							if id, err := m.Store.FindLot(ctx, o.Ref()); err == nil && id == d && (born.IsZero() || r.Time.Before(born)) {
								born = r.Time
							}
						}
					}
				}
				if r.LotID == d && ref.Item == "" {
					var e Event
					if json.Unmarshal(r.Body, &e) == nil && e.Lot != nil {
						ref = *e.Lot
					}
				}
			}
			if seen || born.IsZero() || born.Before(h.Since) {
				continue // made before the hold: only --propagate holds it
			}
			if ref.Item == "" {
				lots, err := m.Store.Lots(ctx, []int64{d})
				if err != nil || len(lots) == 0 {
					return 0, err
				}
				ref = lots[0].Ref
			}
			id := origin + ">" + ref.String()
			if done[id] {
				continue
			}
			done[id] = true
			reason := fmt.Sprintf("born on hold: made from %s, held", h.Ref)
			if b.Reason != "" {
				reason += ": " + b.Reason
			}
			events = append(events, &Event{ID: id, Type: Hold, Time: fmtTime(born), Lot: &ref, Reason: reason,
				Params: map[string]any{"origin": origin, "born_on_hold": true}, Source: &Source{Connector: "hub", Record: origin}})
		}
	}
	if err := m.writeEvents(ctx, events, m.now()); err != nil {
		return 0, fmt.Errorf("hold lots made from held material: %w", err)
	}
	return len(events), nil
}

func followsOrigin(body []byte, origin string) bool {
	o, _ := originOf("", body)
	return o == origin
}
