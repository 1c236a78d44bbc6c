package epcis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/epcis/schema"
	"github.com/lothub/lothub/internal/jsonobject"
)

// Source is the raw archive's source of every captured EPCIS event: an
// event is one record whichever file or request carried it, so capturing
// it twice archives nothing new.
const Source = "epcis"

// SkipRule names the skips of events lothub stores but cannot use for
// genealogy (hub ingest counts them under it).
const SkipRule = "epcis"

// Options are what a capture needs beyond the document.
type Options struct {
	// GTINItems maps a GTIN-14 to the ERP's item number (hub.yaml
	// epcis.gtin_items); a GTIN not listed is its own item.
	GTINItems map[string]string
	// Now stamps the archived records; time.Now when nil.
	Now func() time.Time
}

// InvalidError is a document refused whole: nothing of it is stored.
type InvalidError struct {
	Where    string // file name or "request body"
	Problems []schema.Problem
	// Total counts every problem found; Problems keeps the first
	// maxProblems.
	Total int
	// Truncated: the check stopped after maxProblems problems, there
	// may be more.
	Truncated bool
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	total := max(e.Total, len(e.Problems))
	more := ""
	if e.Truncated {
		more = " or more: the check stopped there"
	}
	fmt.Fprintf(&b, "%s: not a valid EPCIS 2.0 document, nothing was stored (%d problem(s)%s); fix these and capture it again:", e.Where, total, more)
	for i, p := range e.Problems {
		if i == 20 {
			break
		}
		fmt.Fprintf(&b, "\n  %s", p)
	}
	if total > 20 {
		fmt.Fprintf(&b, "\n  … and %d more", total-20)
	}
	return b.String()
}

// Code makes an InvalidError an EINVALID for the CLI and the HTTP server.
func (e *InvalidError) Unwrap() error { return core.Errorf(core.EINVALID, "%s", e.Error()) }

var eventTypes = map[string]bool{
	"ObjectEvent": true, "AggregationEvent": true, "TransformationEvent": true,
	"TransactionEvent": true, "AssociationEvent": true,
}

// Result is what Capture made of a document.
type Result struct {
	Records []core.MappedRecord // one per EPCIS event, in document order (Capture only)
	Events  int                 // EPCIS events in the document
	// Unusable counts the events stored but of no use to the genealogy,
	// by reason (also in the records' Skip).
	Unusable map[string]int
}

// Document is a document Check found valid.
type Document struct {
	info  *docInfo
	where string
	fast  bool // read with fastTokens: Map reads it so too
}

// Events is the number of events in the document.
func (d *Document) Events() int { return d.info.Events }

// Format is "json" or "xml".
func (d *Document) Format() string { return d.info.Format }

// maxProblems bounds the problems an InvalidError keeps (it counts all).
const maxProblems = 1000

// Check reads an EPCIS 2.0 document — JSON / JSON-LD or XML, told apart by
// content — and checks it against GS1's schema: every event on its own as
// it is read, the document around them once, never holding more than one
// event in memory. A document with problems is an *InvalidError naming
// each (JSON pointer, line and column), and nothing of it must be stored.
// where names the input in errors.
func Check(r io.Reader, where string) (*Document, error) {
	// A JSON document is first read the fast way (fastTokens); one that
	// way gives up on is read again with encoding/json's decoder, which
	// accepts or refuses it.
	if rs, ok := r.(io.ReadSeeker); ok {
		if start, err := rs.Seek(0, io.SeekCurrent); err == nil {
			doc, err := check(rs, where, true)
			if !errors.Is(err, errSlowPath) {
				return doc, err
			}
			if _, err := rs.Seek(start, io.SeekStart); err != nil {
				return nil, fmt.Errorf("read %s again: %w", where, err)
			}
		}
	}
	return check(r, where, false)
}

// check is Check, reading JSON with fastTokens when fast: errSlowPath
// when they give up, or when an event they read is not JSON.
func check(r io.Reader, where string, fast bool) (*Document, error) {
	var probs []schema.Problem
	total := 0
	add := func(p schema.Problem) {
		total++
		if len(probs) < maxProblems {
			probs = append(probs, p)
		}
	}
	// The schema check of an event is most of a capture's work: workers,
	// one per processor, check chunks of events while the document is
	// read; their problems are put back in document order.
	workers := max(runtime.GOMAXPROCS(0), 1)
	type chunk struct {
		seq int
		evs []rawEvent
	}
	type checked struct {
		seq   int
		probs []schema.Problem
		err   error
	}
	jobs := make(chan chunk, workers)
	results := make(chan checked, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				var out checked
				out.seq = c.seq
				for _, ev := range c.evs {
					ps, err := checkEvent(ev, fast)
					if err != nil {
						out.err = err
						break
					}
					out.probs = append(out.probs, ps...)
				}
				results <- out
			}
		}()
	}
	done := make(chan struct{})
	byChunk := map[int][]schema.Problem{}
	var workErr error
	found := 0
	var mu sync.Mutex
	go func() {
		defer close(done)
		for res := range results {
			mu.Lock()
			if res.err != nil && workErr == nil {
				workErr = res.err
			}
			if len(res.probs) > 0 {
				byChunk[res.seq] = res.probs
				found += len(res.probs)
			}
			mu.Unlock()
		}
	}()
	errEnough := errors.New("enough problems")
	const chunkSize = 64
	cur := chunk{}
	info, err := readDocument(r, where, fast, func(ev rawEvent) error {
		cur.evs = append(cur.evs, ev)
		if len(cur.evs) < chunkSize {
			return nil
		}
		jobs <- cur
		cur = chunk{seq: cur.seq + 1}
		mu.Lock()
		stop := found >= maxProblems || workErr != nil
		mu.Unlock()
		if stop {
			// A document this broken is refused on what was found.
			return errEnough
		}
		return nil
	})
	if len(cur.evs) > 0 && err == nil {
		jobs <- cur
	}
	close(jobs)
	wg.Wait()
	close(results)
	<-done
	truncated := false
	if errors.Is(err, errEnough) {
		err, truncated = nil, true
	}
	if err == nil {
		err = workErr
	}
	if err != nil {
		return nil, err
	}
	seqs := make([]int, 0, len(byChunk))
	for seq := range byChunk {
		seqs = append(seqs, seq)
	}
	sort.Ints(seqs)
	for _, seq := range seqs {
		for _, p := range byChunk[seq] {
			add(p)
		}
	}
	if info != nil && info.Wrapper != nil {
		ps, err := schema.Validate(info.Wrapper)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if info.Format == "xml" {
				// The root element's attributes (schemaVersion,
				// creationDate): say so in XML's words.
				p.Reason += " (an attribute of the root element)"
			}
			add(p)
		}
	}
	if total > 0 {
		return nil, &InvalidError{Where: where, Problems: probs, Total: total, Truncated: truncated}
	}
	return &Document{info: info, where: where, fast: fast && info.Format == "json"}, nil
}

// checkEvent checks one event against the schema: alone for a lone event
// (the schema wants its @context), against its type's definition for an
// event of a document. fast: the event was read by fastTokens, which
// leave its grammar to the decoder here; an event that is not JSON is
// errSlowPath, for the decoder's message at its place.
func checkEvent(ev rawEvent, fast bool) ([]schema.Problem, error) {
	tree, err := decodeTree(ev.JSON)
	if err != nil && fast {
		return nil, errSlowPath
	}
	if err != nil {
		return []schema.Problem{{Pointer: ev.Ptr, Line: ev.Line, Column: ev.Col, Reason: "not JSON: " + err.Error()}}, nil
	}
	if bytes.Contains(ev.JSON, cbvURNStart) || bytes.IndexByte(ev.JSON, '\\') >= 0 {
		// Only a string with a CBV URN in it, as written or through an
		// escape, has anything to rewrite.
		urnsToBare(tree, "")
	}
	var ps []schema.Problem
	if ev.Ptr == "" {
		ps, err = schema.Validate(tree)
	} else {
		ps, err = schema.ValidateEvent(tree)
	}
	if err != nil {
		return nil, err
	}
	for i := range ps {
		p := &ps[i]
		rel := p.Pointer
		p.Pointer = ev.Ptr + rel
		p.Line, p.Column = ev.Line, ev.Col
		if line, col, ok := locate(ev.locs, rel); ok {
			p.Line, p.Column = line, col
		}
	}
	return ps, nil
}

// decodeTree decodes an event's text as the schema validator wants it
// (jsonschema.UnmarshalJSON: numbers as json.Number): by jsonobject, which
// decodes an object exactly so and faster, or, for what it does not decode
// exactly, by the validator's own decoder (its result and its error).
func decodeTree(raw []byte) (any, error) {
	if m, ok := jsonobject.Decode(raw, true); ok {
		return m, nil
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(raw))
}

// Map reads a document Check found valid again — r gives the same bytes —
// and maps its events, giving fn the records in batches of at most batch
// (all of them in one call when batch is 0), in document order. fn's error
// stops the read and is returned.
func Map(r io.Reader, doc *Document, opt Options, batch int, fn func([]core.MappedRecord) error) (*Result, error) {
	m := &mapper{opt: opt, instLot: map[string]string{}}
	if doc.info.Format == "json" {
		m.prefixes = ContextPrefixes(doc.info.Context)
		m.ignore = IgnoreFields(doc.info.Wrapper)
	} // XML: each event carries the namespaces of its extensions (nil reads them)
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	at := now().UTC()
	res := &Result{Unusable: map[string]int{}}
	var recs []core.MappedRecord
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		err := fn(recs)
		recs = nil
		return err
	}
	// Decoding an event, its hash ID and its compact text are most of the
	// mapping's work and need nothing of the events before it: workers
	// parse chunks of events while the document is read, and the chunks
	// are mapped and batched here in document order, so the records, their
	// order and their batches are what a single reader would give. At most
	// 2 × workers chunks are in flight: memory is bounded by chunks, not
	// by the document.
	workers := max(runtime.GOMAXPROCS(0), 1)
	type chunk struct {
		raws []rawEvent
		out  chan []parsedEvent
	}
	jobs := make(chan chunk, workers)
	order := make(chan chunk, 2*workers)
	stop := make(chan struct{}) // closed when fn fails: the reader stops
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				ps := make([]parsedEvent, len(c.raws))
				for i, ev := range c.raws {
					ps[i] = m.parse(ev.JSON, ev.Ptr, ev.Line, doc.where)
				}
				c.out <- ps
			}
		}()
	}
	mapped := make(chan error, 1)
	go func() {
		var err error
		for c := range order {
			ps := <-c.out
			if err != nil {
				continue // drain: the reader stops at the next chunk
			}
			for i := range ps {
				rec := m.mapParsed(&ps[i], at)
				if rec.Skip != nil {
					res.Unusable[rec.Skip.Reason]++
				}
				res.Events++
				recs = append(recs, rec)
				if batch > 0 && len(recs) >= batch {
					if err = flush(); err != nil {
						close(stop)
						break
					}
				}
			}
		}
		mapped <- err
	}()
	errStopped := errors.New("mapping stopped")
	const chunkSize = 64
	var cur []rawEvent
	send := func() error {
		c := chunk{raws: cur, out: make(chan []parsedEvent, 1)}
		cur = make([]rawEvent, 0, chunkSize)
		select {
		case order <- c:
		case <-stop:
			return errStopped
		}
		jobs <- c
		return nil
	}
	_, err := readDocument(r, doc.where, doc.fast, func(ev rawEvent) error {
		cur = append(cur, ev)
		if len(cur) < chunkSize {
			return nil
		}
		return send()
	})
	if err == nil && len(cur) > 0 {
		err = send()
	}
	close(jobs)
	close(order)
	wg.Wait()
	if mapErr := <-mapped; mapErr != nil {
		return nil, mapErr
	}
	if errors.Is(err, errSlowPath) {
		// Check read these bytes the fast way without a hitch.
		return nil, fmt.Errorf("%s: the document changed after it was checked: capture it again", doc.where)
	}
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Capture checks and maps a document held in memory (a request body, or
// one event as POST /epcis/events takes it): Check, then Map into one
// list of records. An invalid document is an *InvalidError.
func Capture(data []byte, where string, opt Options) (*Result, error) {
	doc, err := Check(bytes.NewReader(data), where)
	if err != nil {
		return nil, err
	}
	var all []core.MappedRecord
	res, err := Map(bytes.NewReader(data), doc, opt, 0, func(recs []core.MappedRecord) error {
		all = append(all, recs...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Records = all
	return res, nil
}

// urnsToBare rewrites, in the tree the schema checks (never in what is
// archived), the CBV URNs of vocabulary fields to bare words: EPCIS 2.0 XML
// allows them, GS1's JSON schema does not, and lothub accepts all three
// forms on capture (errata to issue 19).
func urnsToBare(v any, key string) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if s, ok := c.(string); ok && strings.HasPrefix(s, "urn:epcglobal:cbv:") && vocabField(key, k) {
				x[k] = Bare(s)
				continue
			}
			urnsToBare(c, k)
		}
	case []any:
		for i, c := range x {
			if s, ok := c.(string); ok && (key == "set" || key == "unset") && strings.HasPrefix(s, "urn:epcglobal:cbv:") {
				x[i] = Bare(s)
				continue
			}
			urnsToBare(c, key)
		}
	}
}

// cbvURNStart begins every CBV URN.
var cbvURNStart = []byte("urn:epcglobal:cbv:")

// vocabField says whether field k of an object held under parent is a CBV
// vocabulary value.
func vocabField(parent, k string) bool {
	switch k {
	case "bizStep", "disposition":
		return true
	case "type":
		return parent == "bizTransactionList" || parent == "sourceList" || parent == "destinationList"
	case "reason":
		return parent == "errorDeclaration"
	}
	return false
}

// epcisEvent is what the mapping reads of an EPCIS event. Everything else
// (sensor data, extensions, certification info) stays in the archived JSON.
type epcisEvent struct {
	Type               string          `json:"type"`
	EventID            string          `json:"eventID"`
	EventTime          string          `json:"eventTime"`
	Action             string          `json:"action"`
	BizStep            string          `json:"bizStep"`
	Disposition        string          `json:"disposition"`
	ParentID           string          `json:"parentID"`
	EPCList            []string        `json:"epcList"`
	ChildEPCs          []string        `json:"childEPCs"`
	InputEPCList       []string        `json:"inputEPCList"`
	OutputEPCList      []string        `json:"outputEPCList"`
	QuantityList       []quantity      `json:"quantityList"`
	ChildQuantityList  []quantity      `json:"childQuantityList"`
	InputQuantityList  []quantity      `json:"inputQuantityList"`
	OutputQuantityList []quantity      `json:"outputQuantityList"`
	TransformationID   string          `json:"transformationID"`
	ReadPoint          *place          `json:"readPoint"`
	BizLocation        *place          `json:"bizLocation"`
	BizTransactionList []bizTx         `json:"bizTransactionList"`
	SourceList         []sourceDest    `json:"sourceList"`
	DestinationList    []sourceDest    `json:"destinationList"`
	ILMD               map[string]any  `json:"ilmd"`
	ErrorDeclaration   *errDeclaration `json:"errorDeclaration"`
	// lothub's extensions (LothubNS), written by hub export epcis.
	SupplierLot string         `json:"lothub:supplierLot"`
	Reason      string         `json:"lothub:reason"`
	Operator    string         `json:"lothub:operator"`
	Params      map[string]any `json:"lothub:params"`
	Hold        string         `json:"lothub:hold"`
}

type quantity struct {
	EPCClass string   `json:"epcClass"`
	Quantity *float64 `json:"quantity"`
	UOM      string   `json:"uom"`
}

type place struct {
	ID string `json:"id"`
}

type bizTx struct {
	Type           string `json:"type"`
	BizTransaction string `json:"bizTransaction"`
}

type sourceDest struct {
	Type        string `json:"type"`
	Source      string `json:"source"`
	Destination string `json:"destination"`
}

type errDeclaration struct {
	DeclarationTime    string   `json:"declarationTime"`
	Reason             string   `json:"reason"`
	CorrectiveEventIDs []string `json:"correctiveEventIDs"`
}

type mapper struct {
	opt Options
	// instLot remembers the lot that a commissioning in this capture gave
	// a serialised instance (GTIN + serial), for the events after it.
	instLot map[string]string
	// prefixes are the @context's namespace prefixes (event hash IDs).
	prefixes map[string]string
	ignore   []string // fields the document's ignoreFields leaves out of hash IDs
}

// parsedEvent is one EPCIS event read for the mapping: decoded, identified
// and compacted. It needs nothing of the events before it, so workers parse
// a document's events in parallel (Map); what follows (mapper.mapParsed)
// needs the mapper's state and runs in document order.
type parsedEvent struct {
	ev      epcisEvent
	id      string
	payload []byte // the event compacted, as archived
	hash    string // core.RawHash(payload), computed here on the workers
	// where, line and ptr say where the event is (loc), for errors.
	where string
	line  int
	ptr   string
	size  int   // length of the event's text
	err   error // the event cannot be read or identified
}

// loc says where the event is: file:line and JSON pointer.
func (p *parsedEvent) loc() string {
	s := p.where
	if p.line > 0 {
		s = fmt.Sprintf("%s:%d", p.where, p.line)
	}
	if p.ptr != "" {
		s += " " + p.ptr
	}
	return s
}

// parse decodes one event, computes its identity (eventID or hash ID) and
// its archived payload. It reads only the mapper's fixed settings
// (prefixes, ignore), so it may run on several goroutines at once.
func (m *mapper) parse(raw json.RawMessage, ptr string, line int, where string) parsedEvent {
	// The archived payload is the event compacted. Text without any white
	// space is compact already (JSON's insignificant white space is
	// spaces, tabs and line breaks), as a generated feed's events often
	// are: no second pass over it.
	p := parsedEvent{payload: []byte(raw), size: len(raw)}
	if bytes.ContainsAny(raw, " \t\r\n") {
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			compact.Write(raw)
		}
		p.payload = compact.Bytes()
	}
	p.hash = core.RawHash(p.payload)
	p.where, p.line, p.ptr = where, line, ptr
	if !decodeEvent(raw, &p.ev) {
		p.ev = epcisEvent{}
		p.err = json.Unmarshal(raw, &p.ev)
	}
	p.id = p.ev.EventID
	if p.id == "" && p.err == nil {
		p.id, p.err = HashID(raw, m.prefixes, m.ignore...)
	}
	return p
}

// record maps one EPCIS event to an archived record and its events.
func (m *mapper) record(raw json.RawMessage, ptr string, line int, where string, at time.Time) core.MappedRecord {
	p := m.parse(raw, ptr, line, where)
	return m.mapParsed(&p, at)
}

// mapParsed maps a parsed event to its record: in document order, since a
// commissioning gives the serialised items after it their lot (instLot).
func (m *mapper) mapParsed(p *parsedEvent, at time.Time) core.MappedRecord {
	ev, id, err := &p.ev, p.id, p.err
	rec := core.MappedRecord{Raw: core.RawRecord{Source: Source, Kind: ev.Type, RecordID: id, Payload: p.payload, Hash: p.hash, ReceivedAt: at, Mapping: "epcis@1"}}
	if rec.Raw.RecordID == "" {
		rec.Raw.RecordID = "unidentified:" + p.hash
	}
	if err != nil {
		rec.Err = fmt.Errorf("%s: EPCIS event cannot be read: %v", p.loc(), err)
		return rec
	}
	if p.size > core.MaxEventSize {
		rec.Err = fmt.Errorf("%s: %s", p.loc(), core.EventTooLong())
		return rec
	}
	if ev.ErrorDeclaration != nil {
		rec.Events, err = m.declaration(ev, id)
		if len(rec.Events) == 0 && err == nil {
			rec.Skip = &core.Skip{Rule: SkipRule, Reason: "error declaration of an event that made nothing lothub traces"}
		}
	} else {
		var why string
		rec.Events, why, err = m.events(ev, id)
		if len(rec.Events) == 0 && err == nil {
			rec.Skip = &core.Skip{Rule: SkipRule, Reason: why}
		}
	}
	if err != nil {
		rec.Err = fmt.Errorf("%s (eventID %s): %v", p.loc(), id, err)
		rec.Events = nil
	}
	return rec
}

// declaration maps an event that carries an errorDeclaration: it declares
// the event of the same identity (its eventID, or the hash ID, which leaves
// errorDeclaration out) erroneous, so every canonical event that event made
// is reversed. The corrective events are events of their own.
func (m *mapper) declaration(ev *epcisEvent, id string) ([]*core.Event, error) {
	orig := *ev
	orig.ErrorDeclaration = nil
	made, _, err := m.events(&orig, id)
	if err != nil {
		return nil, err
	}
	t := ev.ErrorDeclaration.DeclarationTime
	if t == "" {
		t = ev.EventTime
	}
	when, err := utc(t)
	if err != nil {
		return nil, fmt.Errorf("errorDeclaration.declarationTime: %v", err)
	}
	reason := "EPCIS error declaration"
	if r := Bare(ev.ErrorDeclaration.Reason); r != "" {
		reason += ": " + r
	}
	if len(ev.ErrorDeclaration.CorrectiveEventIDs) > 0 {
		reason += " (corrected by " + strings.Join(ev.ErrorDeclaration.CorrectiveEventIDs, ", ") + ")"
	}
	out := make([]*core.Event, 0, len(made))
	for _, e := range made {
		out = append(out, &core.Event{ID: e.ID + ":error", Type: core.Reverse, Time: when, Reverses: e.ID, Reason: reason})
	}
	return out, nil
}

func utc(s string) (string, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", fmt.Errorf("time %q is not an ISO 8601 date-time with an offset", s)
	}
	return t.UTC().Format(time.RFC3339Nano), nil
}

// item is the lot's item: the ERP's item number of the GTIN when mapped.
func (m *mapper) item(gtin string) string {
	if it, ok := m.opt.GTINItems[gtin]; ok && it != "" {
		return it
	}
	return gtin
}

// lotOf is the lot an identifier names, "" when none.
func (m *mapper) lotOf(id Ident, ilmdLot string) (core.LotRef, string) {
	switch id.Kind {
	case "sscc":
		return core.LotRef{Item: "SSCC", Lot: id.SSCC}, ""
	case "lot":
		if id.Item != "" {
			return core.LotRef{Item: id.Item, Lot: id.Lot}, ""
		}
		return core.LotRef{Item: m.item(id.GTIN), Lot: id.Lot}, ""
	case "instance":
		lot := id.Lot
		key := id.GTIN + "\x00" + id.Serial
		if lot == "" && ilmdLot != "" {
			lot = ilmdLot
			m.instLot[key] = lot
		}
		if lot == "" {
			lot = m.instLot[key]
		}
		if lot == "" {
			return core.LotRef{}, "serialised item without a lot number (no ilmd lotNumber, no Digital Link /10/)"
		}
		return core.LotRef{Item: m.item(id.GTIN), Lot: lot}, ""
	}
	return core.LotRef{}, "identifier is no lot, SGTIN with a lot, or SSCC"
}

// lots gathers the lots of an EPC list and a quantity list: instances of one
// lot are counted (EA), quantities of one lot and unit summed.
func (m *mapper) lots(epcs []string, qs []quantity, ilmdLot string) ([]core.LotQty, []string) {
	var out []core.LotQty
	var why []string
	idx := map[[3]string]int{}
	add := func(ref core.LotRef, qty *float64, uom string) {
		k := [3]string{ref.Item, ref.Lot, uom}
		if i, ok := idx[k]; ok {
			if out[i].Qty != nil && qty != nil {
				s := *out[i].Qty + *qty
				out[i].Qty = &s
			}
			return
		}
		idx[k] = len(out)
		out = append(out, core.LotQty{Item: ref.Item, Lot: ref.Lot, Qty: qty, UOM: uom})
	}
	one := 1.0
	for _, e := range epcs {
		ref, bad := m.lotOf(ParseID(e), ilmdLot)
		if bad != "" {
			why = append(why, e+": "+bad)
			continue
		}
		q := one
		add(ref, &q, "EA")
	}
	for _, q := range qs {
		ref, bad := m.lotOf(ParseID(q.EPCClass), ilmdLot)
		if bad != "" {
			why = append(why, q.EPCClass+": "+bad)
			continue
		}
		if q.Quantity == nil {
			add(ref, nil, "")
			continue
		}
		v := *q.Quantity
		uom := q.UOM
		if uom == "" {
			uom = "EA" // a quantity without uom counts instances (EPCIS 2.0 §7.3.3.3)
		}
		add(ref, &v, uom)
	}
	return out, why
}

func (ev *epcisEvent) ilmdLot() string {
	for k, v := range ev.ILMD {
		if s, ok := v.(string); ok && localName(k) == "lotNumber" {
			return s
		}
	}
	return ""
}

// attributes are the lot attributes of the ilmd, under the names hub lot
// shows (docs/events.md): expiration_date, manufacturing_date, and
// best_before_date.
func (ev *epcisEvent) attributes() map[string]any {
	names := map[string]string{
		"itemExpirationDate": "expiration_date", "productionDate": "manufacturing_date",
		"manufacturingDate": "manufacturing_date", "bestBeforeDate": "best_before_date",
	}
	var out map[string]any
	for k, v := range ev.ILMD {
		if n, ok := names[localName(k)]; ok {
			if s, ok := v.(string); ok {
				if out == nil {
					out = map[string]any{}
				}
				out[n] = s
			}
		}
	}
	return out
}

func localName(k string) string {
	if i := strings.LastIndexAny(k, ":#/"); i >= 0 {
		return k[i+1:]
	}
	return k
}

// party is the first of the source or destination list of the preferred
// types: the owning party, else the possessing party, else the location.
func party(list []sourceDest, dest bool) *core.Party {
	for _, want := range []string{"owning_party", "possessing_party", "location"} {
		for _, sd := range list {
			if Bare(sd.Type) == want {
				id := sd.Source
				if dest {
					id = sd.Destination
				}
				if id != "" {
					return &core.Party{ID: URIValue(id)}
				}
			}
		}
	}
	return nil
}

// locationOf is the location of a source or destination list ("" for none).
func locationOf(list []sourceDest, dest bool) string {
	for _, sd := range list {
		if Bare(sd.Type) == "location" {
			if dest {
				return URIValue(sd.Destination)
			}
			return URIValue(sd.Source)
		}
	}
	return ""
}

func (ev *epcisEvent) bizTx(types ...string) string {
	for _, t := range types {
		for _, b := range ev.BizTransactionList {
			if Bare(b.Type) == t {
				return URIValue(b.BizTransaction)
			}
		}
	}
	return ""
}

// events maps one EPCIS event (without error declaration). No events and a
// reason: the event is stored but says nothing lothub can trace.
func (m *mapper) events(ev *epcisEvent, id string) ([]*core.Event, string, error) {
	when, err := utc(ev.EventTime)
	if err != nil {
		return nil, "", fmt.Errorf("eventTime: %v", err)
	}
	n := 0
	var out []*core.Event
	newEvent := func(t core.EventType) *core.Event {
		n++
		e := &core.Event{ID: "epcis:" + id + ":" + strconv.Itoa(n), Type: t, Time: when}
		if ev.BizLocation != nil {
			e.Location = URIValue(ev.BizLocation.ID)
		}
		out = append(out, e)
		return e
	}
	bs := Bare(ev.BizStep)
	stepName := URIValue(bs) // a lothub export's urn:lothub:step:{name} is the step's name
	if stepName == "" {
		stepName = strings.ToLower(ev.Action)
	}
	stepParams := func() map[string]any {
		p := map[string]any{"epcis_event": id}
		if d := Bare(ev.Disposition); d != "" {
			p["disposition"] = d
		}
		if ev.ReadPoint != nil {
			p["read_point"] = ev.ReadPoint.ID
		}
		if len(ev.BizTransactionList) > 0 {
			var txs []string
			for _, b := range ev.BizTransactionList {
				txs = append(txs, b.BizTransaction)
			}
			p["biz_transactions"] = strings.Join(txs, " ")
		}
		return p
	}
	step := func(l core.LotQty, name string, extra map[string]any) {
		e := newEvent(core.Step)
		e.Lot = &core.LotRef{Item: l.Item, Lot: l.Lot}
		e.Step = name
		e.Params = stepParams()
		for k, v := range extra {
			e.Params[k] = v
		}
		for k, v := range ev.Params {
			e.Params[k] = v
		}
		e.Operator = ev.Operator
		if ev.ReadPoint != nil && strings.HasPrefix(ev.ReadPoint.ID, "urn:lothub:equipment:") {
			e.Equipment = URIValue(ev.ReadPoint.ID)
		}
	}
	none := func(why []string, what string) string {
		if len(why) == 0 {
			return what
		}
		sort.Strings(why)
		return what + ": " + why[0]
	}

	switch ev.Type {
	case "ObjectEvent", "TransactionEvent":
		ilmd := ""
		if ev.Action == "ADD" {
			ilmd = ev.ilmdLot()
		}
		lots, why := m.lots(ev.EPCList, ev.QuantityList, ilmd)
		if ev.Type == "TransactionEvent" && ev.ParentID != "" {
			more, w := m.lots([]string{ev.ParentID}, nil, "")
			lots, why = append(lots, more...), append(why, w...)
		}
		if len(lots) == 0 {
			return nil, none(why, fmt.Sprintf("%s %s without a lot lothub can trace", ev.Type, ev.Action)), nil
		}
		creates := ev.Type == "ObjectEvent" && ev.Action == "ADD" && (bs == "commissioning" || ev.ILMD != nil)
		for _, l := range lots {
			ref := &core.LotRef{Item: l.Item, Lot: l.Lot}
			switch {
			case ev.Type == "ObjectEvent" && (ev.Hold == "hold" || ev.Hold == "release"):
				// A hold or release a lothub export wrote (lothub:hold):
				// the lot's hold in the hub it came from.
				e := newEvent(core.Hold)
				if ev.Hold == "release" {
					e.Type = core.Release
				}
				e.Lot, e.Reason = ref, ev.Reason
			case l.Qty == nil:
				step(l, stepName, nil)
			case creates:
				// Commissioning: the lot comes into being. With the
				// production order it was made by, it is that order's
				// output (and joins the ERP's consumptions of it);
				// without, it is sourced as a receipt.
				if o := ev.bizTx("prodorder"); o != "" {
					e := newEvent(core.Produce)
					e.Order = o
					e.Lot, e.Qty, e.UOM, e.Params = ref, l.Qty, l.UOM, ev.attributes()
				} else {
					e := newEvent(core.Receive)
					e.Lot, e.Qty, e.UOM, e.Params = ref, l.Qty, l.UOM, ev.attributes()
					e.Supplier = party(ev.SourceList, false)
					e.PO = ev.bizTx("po")
				}
			case ev.Action == "DELETE" || bs == "decommissioning" || bs == "destroying" || bs == "disposing":
				e := newEvent(core.Adjust)
				q := -*l.Qty
				e.Lot, e.Qty, e.UOM, e.Reason = ref, &q, l.UOM, "EPCIS "+stepName
				if ev.Reason != "" {
					e.Reason = ev.Reason
				}
			case ev.Type == "ObjectEvent" && ev.Action == "ADD" && (bs == "cycle_counting" || bs == "stock_taking"):
				// Stock found in a count.
				e := newEvent(core.Adjust)
				e.Lot, e.Qty, e.UOM, e.Reason = ref, l.Qty, l.UOM, "EPCIS "+stepName
				if ev.Reason != "" {
					e.Reason = ev.Reason
				}
			case ev.Type == "ObjectEvent" && bs == "storing" && locationOf(ev.DestinationList, true) != "":
				// Moved within the site: from the source location to the
				// destination location.
				e := newEvent(core.Move)
				e.Lot, e.Qty, e.UOM = ref, l.Qty, l.UOM
				e.From, e.To = locationOf(ev.SourceList, false), locationOf(ev.DestinationList, true)
			case (bs == "receiving" || bs == "arriving") && (party(ev.SourceList, false) != nil || ev.Action == "ADD"):
				// ADD: the lot enters the hub's scope, so it is sourced
				// even when the supplier is not named.
				e := newEvent(core.Receive)
				e.Lot, e.Qty, e.UOM = ref, l.Qty, l.UOM
				e.Supplier = party(ev.SourceList, false)
				e.SupplierLot = l.Lot
				if ev.SupplierLot != "" {
					e.SupplierLot = ev.SupplierLot
				}
				e.PO = ev.bizTx("po")
			case (bs == "shipping" || bs == "departing") && party(ev.DestinationList, true) != nil:
				e := newEvent(core.Ship)
				e.Lot, e.Qty, e.UOM = ref, l.Qty, l.UOM
				e.Customer = party(ev.DestinationList, true)
				e.SalesOrder = ev.bizTx("po")
				e.Delivery = ev.bizTx("desadv", "bol")
			default:
				step(l, stepName, nil)
			}
		}
	case "AggregationEvent", "AssociationEvent":
		children, why := m.lots(ev.ChildEPCs, ev.ChildQuantityList, "")
		var parent *core.LotRef
		if ev.ParentID != "" {
			if ref, bad := m.lotOf(ParseID(ev.ParentID), ""); bad == "" {
				parent = &ref
			}
		}
		if ev.Type == "AssociationEvent" {
			// An association ties assets (a sensor, a reusable crate) to
			// a parent; it moves no product: a step on each lot.
			for _, c := range children {
				step(c, "association", map[string]any{"parent": ev.ParentID, "action": ev.Action})
			}
			if len(out) == 0 {
				return nil, none(why, "AssociationEvent without a lot lothub can trace"), nil
			}
			break
		}
		switch {
		case parent == nil && len(children) == 0:
			return nil, none(why, "AggregationEvent without a parent or child lot lothub can trace"), nil
		case parent == nil:
			for _, c := range children {
				step(c, stepName, map[string]any{"parent": ev.ParentID})
			}
		case ev.Action == "DELETE" || len(children) == 0:
			// Unpacking keeps the packing's links: the lots were in the
			// parent, which a recall must still reach.
			step(core.LotQty{Item: parent.Item, Lot: parent.Lot}, stepName, map[string]any{"action": ev.Action})
		default:
			// Packing: the children's lots are parents of the SSCC, a
			// lot of item SSCC, so a recall of a child lot reaches the
			// pallet's shipment. ADD moves the quantities; OBSERVE only
			// restates the containment (links, no quantities).
			e := newEvent(core.Transform)
			for _, c := range children {
				if ev.Action != "ADD" {
					c.Qty, c.UOM = nil, ""
				}
				e.Inputs = append(e.Inputs, c)
			}
			out1 := core.LotQty{Item: parent.Item, Lot: parent.Lot}
			if ev.Action == "ADD" {
				one := 1.0
				out1.Qty, out1.UOM = &one, "EA"
			}
			e.Outputs = []core.LotQty{out1}
		}
	case "TransformationEvent":
		ins, whyIn := m.lots(ev.InputEPCList, ev.InputQuantityList, "")
		outs, whyOut := m.lots(ev.OutputEPCList, ev.OutputQuantityList, ev.ilmdLot())
		if ev.TransformationID != "" {
			// The events of one transformation ID are one
			// transformation: its inputs are consumed by, and its
			// outputs produced by, the order named after the ID, so
			// they link whatever event and order they come in.
			order := "epcis:transformation:" + ev.TransformationID
			if o := ev.bizTx("prodorder"); o != "" {
				// The production order the transformation is: its
				// consumptions and outputs join the ERP's (and a lothub
				// export's) of that order.
				order = o
			}
			for _, l := range ins {
				if l.Qty == nil {
					step(l, stepName, map[string]any{"transformation": ev.TransformationID})
					continue
				}
				e := newEvent(core.Consume)
				e.Lot, e.Qty, e.UOM, e.Order = &core.LotRef{Item: l.Item, Lot: l.Lot}, l.Qty, l.UOM, order
			}
			for _, l := range outs {
				if l.Qty == nil {
					step(l, stepName, map[string]any{"transformation": ev.TransformationID})
					continue
				}
				e := newEvent(core.Produce)
				e.Lot, e.Qty, e.UOM, e.Order, e.Params = &core.LotRef{Item: l.Item, Lot: l.Lot}, l.Qty, l.UOM, order, ev.attributes()
			}
			if len(out) == 0 {
				return nil, none(append(whyIn, whyOut...), "TransformationEvent without a lot lothub can trace"), nil
			}
			break
		}
		if len(ins) == 0 || len(outs) == 0 {
			side, why := "inputs", whyIn
			if len(ins) > 0 {
				side, why = "outputs", whyOut
			}
			return nil, none(why, "TransformationEvent whose "+side+" have no lot lothub can trace (and no transformationID to join another event)"), nil
		}
		e := newEvent(core.Transform)
		e.Inputs, e.Outputs = ins, outs
	default:
		return nil, "", fmt.Errorf("unknown EPCIS event type %q", ev.Type)
	}
	for _, e := range out {
		if e.Qty != nil && (math.IsNaN(*e.Qty) || math.IsInf(*e.Qty, 0)) {
			return nil, "", fmt.Errorf("quantity is not a finite number")
		}
	}
	return out, "", nil
}
