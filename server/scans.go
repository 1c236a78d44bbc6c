package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/epcis"
)

// POST /v1/scans: what a barcode or RFID reader sends — a GS1 element
// string, a human-readable (01)…(10)… string or a GS1 Digital Link URI —
// with the scan point it was read at and the document the operator
// scanned against. A scan point's configuration (hub.yaml scan_points)
// says which canonical event a good scan makes; the event is ingested
// like one posted to /v1/events. A scan that cannot make an event is
// refused with the AI at fault and why, and nothing is stored.

// scanRequest is one scan as a reader posts it.
type scanRequest struct {
	Scan     string `json:"scan"`
	Point    string `json:"point"`
	Document string `json:"document"`
	// Time of the scan, RFC 3339. Given, it is part of the event's id:
	// a retried POST is the same event. Not given: the hub's clock, and
	// the id is the point, scan and document alone.
	Time     string `json:"time"`
	Operator string `json:"operator"`
	// Qty and UOM: the quantity when the label carries none (AI 30, 37,
	// 310n).
	Qty *float64 `json:"qty"`
	UOM string   `json:"uom"`
	// Customer of a ship scan, when the scan point names none (or
	// another one).
	Customer string `json:"customer"`
}

// scanRefusal is a scan refused before anything was stored: the AI at
// fault ("" when the scan as a whole, or the request, is at fault) and
// why.
type scanRefusal struct {
	Index  int    `json:"index"`
	Point  string `json:"point,omitempty"`
	AI     string `json:"ai,omitempty"`
	Reason string `json:"reason"`
}

// unknownPointLabel is the metrics label of scans from points the
// configuration does not have (one label, whatever readers send).
const unknownPointLabel = "(unknown)"

// scanEvent turns one scan into its canonical event, or says why not.
// now is the time of a scan that gives none. The error is the store's,
// when the lot of an RFID tag could not be looked up.
func (s *Server) scanEvent(ctx context.Context, req scanRequest, now time.Time) (*core.Event, *scanRefusal, error) {
	refuse := func(ai, format string, args ...any) (*core.Event, *scanRefusal, error) {
		return nil, &scanRefusal{Point: req.Point, AI: ai, Reason: fmt.Sprintf(format, args...)}, nil
	}
	if strings.TrimSpace(req.Point) == "" {
		return refuse("", "no scan point: send \"point\", the name of the scan point the reader is at")
	}
	sp := s.cfg.ScanPoint(req.Point)
	if sp == nil {
		// Name nothing of the configuration but the point asked for.
		return refuse("", "unknown scan point %q", req.Point)
	}
	sc, err := epcis.ParseScan(req.Scan)
	if err != nil {
		var se *epcis.ScanError
		if errors.As(err, &se) {
			return refuse(se.AI, "%s", se.Reason)
		}
		return refuse("", "%v", err)
	}
	if sc.GTIN == "" {
		if sc.SSCC != "" {
			return refuse("00", "an SSCC names a pallet or case, not a lot: scan the label with the GTIN (01) and lot (10)")
		}
		return refuse("01", "the scan has no GTIN: lothub needs the item (01) and the lot (10)")
	}
	lot := sc.Lot
	if strings.TrimSpace(lot) == "" && sc.EPC != "" {
		// An SGTIN-96 carries no lot: the captured EPCIS events that made
		// the item say which.
		lots, err := s.serialLots(ctx, sc.GTIN, sc.Serial)
		if err != nil {
			return nil, nil, fmt.Errorf("look up the lot of RFID tag %s: %w", sc.EPC, err)
		}
		switch len(lots) {
		case 0:
			return refuse("", "the RFID tag's EPC %s names the item (GTIN %s) and serial %s but no lot: an SGTIN-96 carries none, and no captured EPCIS event gives this item's lot (a commissioning with an ilmd lot number, or a packing that names it with its lot); capture that commissioning as EPCIS (POST /epcis/capture), or scan the GS1 barcode with the lot (10)", sc.EPC, sc.GTIN, sc.Serial)
		case 1:
			lot = lots[0].lot
		default:
			var ls []string
			for _, l := range lots {
				ls = append(ls, fmt.Sprintf("%s (EPCIS event %s)", l.lot, l.event))
			}
			return refuse("", "the RFID tag's EPC %s was given %d lots by captured EPCIS events: %s; declare the wrong event erroneous (an EPCIS errorDeclaration), or scan the GS1 barcode with the lot (10)", sc.EPC, len(lots), strings.Join(ls, ", "))
		}
	}
	if strings.TrimSpace(lot) == "" {
		return refuse("10", "the scan has no lot number: lothub needs the item (01) and the lot (10)")
	}

	// Quantity: from the label, else from the request.
	var qty float64
	var uom string
	switch {
	case sc.Count != nil:
		qty, uom = float64(*sc.Count), sp.CountUOM
	case sc.NetKG != nil:
		qty, uom = *sc.NetKG, "KG"
	case req.Qty != nil:
		if req.UOM == "" {
			return refuse("", "qty %v has no uom: send \"uom\" with it", *req.Qty)
		}
		qty, uom = *req.Qty, req.UOM
	default:
		return refuse("", "no quantity: the scan carries none (AI 30, 37 or 310n), so send \"qty\" and \"uom\"")
	}
	if req.Qty != nil && (sc.Count != nil || sc.NetKG != nil) && (*req.Qty != qty || req.UOM != "" && req.UOM != uom) {
		ai := "30/37"
		if sc.Count == nil {
			ai = "310n"
		}
		return refuse(ai, "the scan says %v %s and the request says %v %s: send one quantity (the label's, or leave qty out)", qty, uom, *req.Qty, req.UOM)
	}
	if req.Qty == nil && req.UOM != "" {
		return refuse("", "uom %q without qty", req.UOM)
	}

	at := now
	if req.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, req.Time)
		if err != nil {
			return refuse("", "time %q is not RFC 3339 (write it like 2026-03-01T08:00:00Z)", req.Time)
		}
		at = t
	}

	doc := strings.TrimSpace(req.Document)
	if sp.Makes == "receive" && sc.PO != "" {
		if doc != "" && doc != sc.PO {
			return refuse("400", "the label's PO %q is not the document scanned against, %q", sc.PO, doc)
		}
		doc = sc.PO
	}
	if doc == "" {
		return refuse("", "no document: send \"document\", the %s the operator scanned against", strings.ReplaceAll(sp.Document, "_", " "))
	}

	item := sc.GTIN
	if it := s.cfg.EPCIS.GTINItems[sc.GTIN]; it != "" {
		item = it
	}
	ev := &core.Event{
		Type: core.EventType(sp.Makes), Time: at.UTC().Format(time.RFC3339Nano),
		Lot: &core.LotRef{Item: item, Lot: lot}, Qty: &qty, UOM: uom,
		Site: sp.Site, Location: sp.Location, Operator: req.Operator,
	}
	switch sp.Document {
	case "po":
		ev.PO = doc
	case "order":
		ev.Order = doc
	case "delivery":
		ev.Delivery = doc
	case "sales_order":
		ev.SalesOrder = doc
	}
	if sp.Supplier != nil {
		ev.Supplier = &core.Party{ID: sp.Supplier.ID, Name: sp.Supplier.Name}
	}
	if sp.Makes == "ship" {
		switch {
		case req.Customer != "":
			ev.Customer = &core.Party{ID: req.Customer}
		case sp.Customer != nil:
			ev.Customer = &core.Party{ID: sp.Customer.ID, Name: sp.Customer.Name}
		default:
			return refuse("", "a ship scan needs a customer: send \"customer\" (this scan point names none)")
		}
	}
	// The id is the scan's as read (an RFID tag's without the lot looked
	// up): a retried scan is the same event even if the lot it resolves
	// to was corrected in between.
	ev.ID = scanEventID(sp, sc, doc, req.Time != "", at)
	return ev, nil, nil
}

// serialLot is a lot captured EPCIS events give a serialised item, and the
// first event (its record id in the raw archive) that gives it.
type serialLot struct {
	lot, event string
}

// serialLots reads the lots that captured EPCIS events give the item gtin
// with serial serial (epcis.SerialLot), each once, in archive order. It
// reads the ObjectEvents and AggregationEvents of the raw archive a page
// at a time, parsing only those whose text holds the serial: the cost of
// an RFID scan without a lot grows with the EPCIS events captured
// (docs/epcis.md, Scanner input).
func (s *Server) serialLots(ctx context.Context, gtin, serial string) ([]serialLot, error) {
	var out []serialLot
	seen := map[string]bool{}
	needle := []byte(serial)
	var after int64
	for {
		recs, err := s.store.RawRecords(ctx, core.RawFilter{Source: epcis.Source, Kinds: []string{"ObjectEvent", "AggregationEvent"}, AfterSeq: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("read the EPCIS archive: %w", err)
		}
		for _, r := range recs {
			after = r.Seq
			if !bytes.Contains(r.Payload, needle) {
				continue
			}
			if lot, _, ok := epcis.SerialLot(r.Payload, gtin, serial); ok && !seen[lot] {
				seen[lot] = true
				out = append(out, serialLot{lot: lot, event: r.RecordID})
			}
		}
		if len(recs) < 1000 {
			return out, nil
		}
	}
}

// scanEventID is the event's id: the point, what the scan says (parsed,
// so the same label read as an element string or as a Digital Link is
// the same scan), the document and, when the reader gave it, the time.
func scanEventID(sp *config.ScanPoint, sc *epcis.Scan, doc string, timed bool, at time.Time) string {
	b, _ := json.Marshal(sc)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", sp.Name, b, doc)
	if timed {
		fmt.Fprint(h, at.UTC().Format(time.RFC3339Nano))
	}
	return "scan:" + sp.Name + ":" + hex.EncodeToString(h.Sum(nil))[:24]
}

// decodeScans reads the body: one scan object or an array of them, at
// most core.MaxEventsPerRequest.
func decodeScans(body []byte) ([]scanRequest, bool, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, false, core.Errorf(core.EINVALID, "empty body: send {\"scan\": \"…\", \"point\": \"…\", \"document\": \"…\"} or an array of them")
	}
	array := trimmed[0] == '['
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	var reqs []scanRequest
	var err error
	if array {
		err = dec.Decode(&reqs)
	} else {
		var one scanRequest
		err = dec.Decode(&one)
		reqs = []scanRequest{one}
	}
	if err == nil && dec.More() {
		err = errors.New("more after the JSON value: send one object or one array")
	}
	if err != nil {
		return nil, array, core.Errorf(core.EINVALID, "not a scan request (want {\"scan\", \"point\", \"document\", \"time\", \"operator\", \"qty\", \"uom\", \"customer\"} or an array of them): %v", err)
	}
	if len(reqs) == 0 {
		return nil, array, core.Errorf(core.EINVALID, "empty array: nothing to store")
	}
	if len(reqs) > core.MaxEventsPerRequest {
		return nil, array, &tooLarge{fmt.Sprintf("more than %d scans in one request: nothing was stored; send at most %d scans a request",
			core.MaxEventsPerRequest, core.MaxEventsPerRequest)}
	}
	return reqs, array, nil
}

// scansAnswer is the answer to POST /v1/scans.
type scansAnswer struct {
	Error *apiError `json:"error,omitempty"`
	// Refused lists the scans that made no event (400: nothing stored).
	Refused []scanRefusal `json:"refused,omitempty"`
	// Result of a single scan: stored, duplicate, superseded or
	// quarantined.
	Result string      `json:"result,omitempty"`
	Event  *core.Event `json:"event,omitempty"`
	// Events of an array of scans, in body order, and what became of them.
	Events      []*core.Event     `json:"events,omitempty"`
	Read        int               `json:"read"`
	Stored      int               `json:"stored"`
	Superseded  int               `json:"superseded"`
	Duplicates  int               `json:"duplicates"`
	Quarantined int               `json:"quarantined"`
	Errors      []core.InputError `json:"errors,omitempty"`
}

// postScans turns scans into events and ingests them in one transaction.
// Any scan refused: 400 listing every refused one, nothing stored.
func (s *Server) postScans(w http.ResponseWriter, r *http.Request) {
	coming := s.group.Announce() // as postEvents
	defer coming.Withdraw()
	body, err := readBody(r, s.maxBody())
	if err != nil {
		s.fail(w, fmt.Errorf("read request: %w", err))
		return
	}
	reqs, array, err := decodeScans(body)
	if err != nil {
		s.fail(w, err)
		return
	}
	now := time.Now().UTC()
	events := make([]*core.Event, len(reqs))
	var refused []scanRefusal
	for i, req := range reqs {
		ev, ref, err := s.scanEvent(r.Context(), req, now)
		if err != nil {
			s.fail(w, err)
			return
		}
		if ref != nil {
			ref.Index = i
			refused = append(refused, *ref)
			s.countScan(req.Point, "refused")
			continue
		}
		events[i] = ev
	}
	if len(refused) > 0 {
		msg := fmt.Sprintf("scan refused: %s", refused[0].Reason)
		if refused[0].AI != "" {
			msg = fmt.Sprintf("scan refused: AI (%s): %s", refused[0].AI, refused[0].Reason)
		}
		if len(refused) > 1 || array {
			msg = fmt.Sprintf("%d of %d scans refused (refused lists them): nothing was stored; fix them and send the request again", len(refused), len(reqs))
		}
		writeJSON(w, http.StatusBadRequest, scansAnswer{Error: &apiError{Code: core.EINVALID, Message: msg}, Refused: refused})
		return
	}

	inputs := make([]core.Input, len(events))
	for i, ev := range events {
		raw, err := json.Marshal(ev)
		if err != nil {
			s.fail(w, err)
			return
		}
		inputs[i] = core.NewInput("scan:"+reqs[i].Point, i+1, raw)
	}
	// Every quarantined scan is counted against its point; the answer
	// lists the first MaxErrorsListed.
	st, errs, err := coming.IngestInputs(r.Context(), inputs, len(inputs))
	if err != nil {
		s.fail(w, err)
		return
	}
	s.metrics.Events.WithLabelValues("scan").Add(float64(st.New + st.Superseded))
	s.metrics.Quarantined.WithLabelValues("scan").Add(float64(st.Quarantined))
	quarantined := map[int]bool{}
	for _, e := range errs {
		quarantined[e.Index] = true
	}
	for i, req := range reqs {
		if quarantined[i] {
			s.countScan(req.Point, "quarantined")
		} else {
			s.countScan(req.Point, "accepted")
		}
	}
	if st.New+st.Superseded > 0 {
		s.EvaluateGaps("scans posted")
	}
	if len(errs) > core.MaxErrorsListed {
		errs = errs[:core.MaxErrorsListed]
	}
	a := scansAnswer{Read: st.Read, Stored: st.New, Superseded: st.Superseded, Duplicates: st.Unchanged,
		Quarantined: st.Quarantined, Errors: errs}
	status := http.StatusOK
	if st.New > 0 {
		status = http.StatusCreated
	}
	switch {
	case st.New+st.Superseded+st.Unchanged == 0:
		status = http.StatusBadRequest
		a.Error = &apiError{Code: core.EINVALID, Message: "the scan's event was quarantined (errors says why; hub errors lists it): " + errs[0].Reason}
		if array {
			a.Error.Message = fmt.Sprintf("every scan's event was quarantined (errors says why; hub errors lists them): %d", st.Quarantined)
		}
	case st.Quarantined > 0:
		status = http.StatusMultiStatus
	}
	if array {
		a.Events = events
	} else {
		a.Event = events[0]
		switch {
		case st.Quarantined > 0:
			a.Result = "quarantined"
		case st.New > 0:
			a.Result = "stored"
		case st.Superseded > 0:
			a.Result = "superseded"
		default:
			a.Result = "duplicate"
		}
	}
	writeJSON(w, status, a)
}

// countScan counts a scan by point and result (accepted, refused,
// quarantined) in lothub_scans_total; points the configuration does not
// have share one label.
func (s *Server) countScan(point, result string) {
	if s.cfg.ScanPoint(point) == nil {
		point = unknownPointLabel
	}
	s.metrics.Scans.WithLabelValues(point, result).Inc()
}
