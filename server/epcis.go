package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/epcis"
	"github.com/lothub/lothub/epcis/schema"
)

// The EPCIS 2.0 REST binding's capture interface (docs/epcis.md):
//
//	POST /epcis/capture       an EPCISDocument → 202, Location: /epcis/capture/{id}
//	GET  /epcis/capture/{id}  the capture job: running, success, errors
//	POST /epcis/events        one event → 201, Location: /epcis/events/{eventID}
//
// Capture needs the integrate permission, as POST /v1/events; reading
// events and capture jobs needs read. A capture is committed before the
// answer, as webhooks are: a 202 means the document is stored, and the job
// only reports it. Jobs are kept in memory (the last maxCaptureJobs); the
// events are in the store whatever becomes of the process.
func (s *Server) epcisRoutes() []Route {
	r := func(p string, pm core.Permission, h http.HandlerFunc) Route {
		return Route{Pattern: p, Permission: pm, handler: h}
	}
	return []Route{
		r("POST /epcis/capture", core.PermIntegrate, s.epcisCapture),
		r("GET /epcis/capture/{id}", core.PermRead, s.epcisCaptureJob),
		r("POST /epcis/events", core.PermIntegrate, s.epcisEvent),
		r("GET /epcis/events", core.PermRead, s.epcisQuery),
		r("GET /epcis/events/{eventID...}", core.PermRead, s.epcisGetEvent),
		// The lot's genealogy as one EPCISDocument, with the lot routes.
		r("GET /v1/lots/{item}/{lot}/epcis", core.PermRead, s.epcisExport),
	}
}

// epcisExport answers GET /v1/lots/{item}/{lot}/epcis?direction=…: the
// document hub export epcis writes (docs/epcis.md, "Export"), JSON-LD, or
// XML when the Accept header prefers application/xml or text/xml. as_of
// answers as the store stood then, as the other lot routes do.
func (s *Server) epcisExport(w http.ResponseWriter, r *http.Request) {
	dir := r.URL.Query().Get("direction")
	if dir == "" {
		dir = "both"
	}
	dirs, err := epcis.Directions(`parameter "direction"`, dir)
	if err != nil {
		s.fail(w, err)
		return
	}
	format := epcis.FormatJSON
	if wantsXML(r.Header.Get("Accept")) {
		format = epcis.FormatXML
	}
	q, at, done, err := s.queriesAt(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer done()
	g, err := q.Genealogy(r.Context(), *lotRef(r), dirs...)
	if err != nil {
		s.failAt(w, at, err)
		return
	}
	res, err := epcis.Export(g, epcis.ExportOptions{GTINItems: s.cfg.EPCIS.GTINItems, Format: format})
	if err != nil {
		s.failAt(w, at, err)
		return
	}
	epcisHeaders(w)
	if format == epcis.FormatXML {
		w.Header().Set("Content-Type", "application/xml")
	} else {
		w.Header().Set("Content-Type", "application/ld+json")
	}
	w.Header().Set("Vary", "Accept")
	if len(res.NoGTIN) > 0 {
		// What the CLI says on standard error: items whose lots only
		// lothub reads (urn:lothub:lot:…).
		w.Header().Set("Lothub-Items-Without-GTIN", strings.Join(res.NoGTIN, ","))
	}
	w.WriteHeader(http.StatusOK)
	w.Write(res.Document)
}

// wantsXML says whether an Accept header prefers XML to JSON: the media
// range of XML (application/xml, text/xml) with the highest q, ahead of
// every JSON one (application/ld+json, application/json, */*) — ties go
// to the one listed first.
func wantsXML(accept string) bool {
	bestXML, bestJSON := -1.0, -1.0
	firstXML, firstJSON := -1, -1
	for i, part := range strings.Split(accept, ",") {
		mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.TrimSpace(k) == "q" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "application/xml", "text/xml":
			if q > bestXML {
				bestXML, firstXML = q, i
			}
		case "application/ld+json", "application/json", "*/*":
			if q > bestJSON {
				bestJSON, firstJSON = q, i
			}
		}
	}
	if bestXML <= 0 {
		return false
	}
	return bestXML > bestJSON || (bestXML == bestJSON && firstXML < firstJSON)
}

// The versions the query interface speaks (EPCIS 2.0 REST binding,
// GS1-EPCIS-Version and GS1-CBV-Version headers).
const (
	epcisVersion = "2.0.0"
	cbvVersion   = "2.0.0"
)

func epcisHeaders(w http.ResponseWriter) {
	w.Header().Set("GS1-EPCIS-Version", epcisVersion)
	w.Header().Set("GS1-CBV-Version", cbvVersion)
}

// epcisQuery answers GET /epcis/events from the raw archive of source
// epcis: every captured event as it came, filtered by epcis.Query, in
// archive (capture) order or, with orderBy, by eventTime or recordTime.
// Canonical events from ERPs are not EPCIS events and are not listed (hub
// export epcis writes them). A refused query is the standard's
// QueryParameterException (queryProblem).
func (s *Server) epcisQuery(w http.ResponseWriter, r *http.Request) {
	epcisHeaders(w)
	q, err := epcis.ParseQuery(r.URL.Query())
	if err != nil {
		s.queryProblem(w, err)
		return
	}
	now := time.Now()
	var pos pagePos
	if q.PageToken != "" {
		var expires time.Time
		pos, expires, err = parsePageToken(q.PageToken)
		if err != nil || pos.ordered != (q.OrderBy != "") {
			s.queryProblem(w, &epcis.QueryParameterError{Param: "nextPageToken",
				Message: fmt.Sprintf("nextPageToken %q is not one this server gave for this query: start again without it", q.PageToken)})
			return
		}
		if now.After(expires) {
			s.queryProblem(w, &epcis.QueryParameterError{Param: "nextPageToken",
				Message: fmt.Sprintf("nextPageToken %q expired at %s (a token is good for %s): start again without it", q.PageToken, expires.UTC().Format(time.RFC3339), pageTokenLife)})
			return
		}
	}
	read := core.RawFilter{Source: epcis.Source, Kinds: q.EventTypes, Since: q.GERecordTime, Before: q.LTRecordTime}
	if q.MaxEventCount > 0 {
		n, err := s.countMatches(r, q, read, q.MaxEventCount+1)
		if err != nil {
			s.fail(w, err)
			return
		}
		if n > q.MaxEventCount {
			queryTooLarge(w, fmt.Sprintf("the query matches more than maxEventCount=%d events: narrow it (eventType, GE_eventTime/LT_eventTime, MATCH_anyEPCClass …), raise maxEventCount, or use eventCountLimit with orderBy to take the first N", q.MaxEventCount))
			return
		}
	}
	var (
		page []epcis.Record
		next *pagePos
	)
	if q.OrderBy == "" {
		page, next, err = s.queryInArchiveOrder(r, q, read, pos)
	} else {
		page, next, err = s.queryOrdered(r, q, read, pos)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	body, err := epcis.QueryDocument(page, time.Now())
	if err != nil {
		s.fail(w, err)
		return
	}
	if next != nil {
		v := r.URL.Query()
		v.Set("nextPageToken", next.token(now.Add(pageTokenLife)))
		w.Header().Set("Link", fmt.Sprintf(`</epcis/events?%s>; rel="next"`, v.Encode()))
		w.Header().Set("GS1-Next-Page-Token-Expires", now.Add(pageTokenLife).UTC().Format(time.RFC3339))
	}
	w.Header().Set("Content-Type", "application/ld+json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// queryBatch is how many archived records one read returns.
const queryBatch = 500

func record(rec core.RawRecord) epcis.Record {
	return epcis.Record{ID: rec.RecordID, RecordTime: rec.ReceivedAt, Payload: rec.Payload}
}

// queryInArchiveOrder reads the archive from the token's position on and
// stops at the first match past the page: its position is the next
// page's.
func (s *Server) queryInArchiveOrder(r *http.Request, q *epcis.Query, read core.RawFilter, pos pagePos) ([]epcis.Record, *pagePos, error) {
	var page []epcis.Record
	read.AfterSeq, read.Limit = pos.seq, queryBatch
	for {
		recs, err := s.store.RawRecords(r.Context(), read)
		if err != nil {
			return nil, nil, err
		}
		for _, rec := range recs {
			er := record(rec)
			if !q.Match(er) {
				read.AfterSeq = rec.Seq
				continue
			}
			if len(page) == q.PerPage {
				return page, &pagePos{seq: read.AfterSeq}, nil
			}
			page = append(page, er)
			read.AfterSeq = rec.Seq
		}
		if len(recs) < queryBatch {
			return page, nil, nil
		}
	}
}

// queryOrdered answers orderBy: it reads every matching record, keeping
// only the page's events (and one more, to know whether a next page
// exists) of those after the token's position in the order (key, then
// archive sequence; both reversed for DESC), so memory is bounded by
// perPage whatever the archive holds. eventCountLimit counts over all
// pages: the token carries how many were given before.
func (s *Server) queryOrdered(r *http.Request, q *epcis.Query, read core.RawFilter, pos pagePos) ([]epcis.Record, *pagePos, error) {
	take := q.PerPage
	if q.EventCountLimit > 0 {
		take = min(take, q.EventCountLimit-pos.given)
	}
	if take <= 0 {
		return nil, nil, nil
	}
	type entry struct {
		key time.Time
		seq int64
		rec epcis.Record
	}
	before := func(a, b entry) bool { // a comes first in the order
		if !a.key.Equal(b.key) {
			return a.key.Before(b.key) != q.Descending
		}
		return (a.seq < b.seq) != q.Descending
	}
	var best []entry
	trim := func() {
		sort.Slice(best, func(i, j int) bool { return before(best[i], best[j]) })
		if len(best) > take+1 {
			best = best[:take+1]
		}
	}
	read.Limit = queryBatch
	for {
		recs, err := s.store.RawRecords(r.Context(), read)
		if err != nil {
			return nil, nil, err
		}
		for _, rec := range recs {
			read.AfterSeq = rec.Seq
			er := record(rec)
			if !q.Match(er) {
				continue
			}
			e := entry{key: q.SortKey(er), seq: rec.Seq, rec: er}
			if pos.ordered && !before(entry{key: pos.key, seq: pos.seq}, e) {
				continue // on an earlier page
			}
			best = append(best, e)
			if len(best) > 2*(take+1) {
				trim()
			}
		}
		if len(recs) < queryBatch {
			break
		}
	}
	trim()
	var next *pagePos
	if len(best) > take {
		best = best[:take]
		last := best[take-1]
		if q.EventCountLimit == 0 || pos.given+take < q.EventCountLimit {
			next = &pagePos{ordered: true, key: last.key, seq: last.seq, given: pos.given + take}
		}
	}
	page := make([]epcis.Record, len(best))
	for i, e := range best {
		page[i] = e.rec
	}
	return page, next, nil
}

// countMatches counts the archived events that answer q, over all pages,
// stopping at upTo.
func (s *Server) countMatches(r *http.Request, q *epcis.Query, read core.RawFilter, upTo int) (int, error) {
	n := 0
	read.Limit = queryBatch
	for {
		recs, err := s.store.RawRecords(r.Context(), read)
		if err != nil {
			return 0, err
		}
		for _, rec := range recs {
			read.AfterSeq = rec.Seq
			if q.Match(record(rec)) {
				if n++; n >= upTo {
					return n, nil
				}
			}
		}
		if len(recs) < queryBatch {
			return n, nil
		}
	}
}

// queryTooLarge answers a query whose result would pass its
// maxEventCount as the REST binding does (openapi.yaml,
// 413QueryScopeOrSize): 413, application/problem+json, an RFC 7807 body
// of type epcisException:QueryTooLargeException.
func queryTooLarge(w http.ResponseWriter, detail string) {
	body, _ := json.Marshal(map[string]any{
		"type":   "epcisException:QueryTooLargeException",
		"title":  "Query result too large",
		"status": http.StatusRequestEntityTooLarge,
		"detail": detail,
		"error":  apiError{Code: core.EINVALID, Message: detail},
	})
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	w.Write(body)
}

// queryProblem answers a refused query as the REST binding does
// (openapi.yaml, 400QueryIssues): 400, application/problem+json, an
// RFC 7807 body of type epcisException:QueryParameterException. The
// body also carries lothub's own "error" object, as every other 400 of
// the API does.
func (s *Server) queryProblem(w http.ResponseWriter, err error) {
	var qp *epcis.QueryParameterError
	if !errors.As(err, &qp) {
		s.fail(w, err)
		return
	}
	body, _ := json.Marshal(map[string]any{
		"type":   "epcisException:QueryParameterException",
		"title":  "Invalid query parameter " + qp.Param,
		"status": http.StatusBadRequest,
		"detail": qp.Message,
		"error":  apiError{Code: core.EINVALID, Message: qp.Message},
	})
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusBadRequest)
	w.Write(body)
}

// pageTokenLife is how long a nextPageToken is good for (the REST
// binding's GS1-Next-Page-Token-Expires). The token is the position after
// which the next page starts and its expiry, so no state is kept on the
// server; a token past its expiry is refused.
const pageTokenLife = time.Hour

// pagePos is where the next page starts: after archive sequence seq; for
// an ordered query, after (key, seq) in the order, with given events
// answered on the pages before (eventCountLimit).
type pagePos struct {
	ordered bool
	key     time.Time
	seq     int64
	given   int
}

// token writes the position: "seq.expiry" in archive order,
// "key.seq.given.expiry" ordered (base 36; key in Unix nanoseconds).
func (p pagePos) token(expires time.Time) string {
	b36 := func(n int64) string { return strconv.FormatInt(n, 36) }
	if !p.ordered {
		return b36(p.seq) + "." + b36(expires.Unix())
	}
	return b36(p.key.UnixNano()) + "." + b36(p.seq) + "." + b36(int64(p.given)) + "." + b36(expires.Unix())
}

func parsePageToken(tok string) (pagePos, time.Time, error) {
	parts := strings.Split(tok, ".")
	nums := make([]int64, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 36, 64)
		if err != nil {
			return pagePos{}, time.Time{}, fmt.Errorf("bad number")
		}
		nums[i] = n
	}
	switch len(nums) {
	case 2:
		if nums[0] < 0 {
			return pagePos{}, time.Time{}, fmt.Errorf("bad position")
		}
		return pagePos{seq: nums[0]}, time.Unix(nums[1], 0), nil
	case 4:
		if nums[1] < 0 || nums[2] < 0 || nums[2] > int64(math.MaxInt32) {
			return pagePos{}, time.Time{}, fmt.Errorf("bad position")
		}
		return pagePos{ordered: true, key: time.Unix(0, nums[0]), seq: nums[1], given: int(nums[2])}, time.Unix(nums[3], 0), nil
	}
	return pagePos{}, time.Time{}, fmt.Errorf("not a token")
}

// epcisGetEvent answers GET /epcis/events/{eventID}: the captured event
// with that eventID (or hash ID), as it came. The eventID is
// percent-escaped in the path (it holds ':' and, for hash IDs, '/').
func (s *Server) epcisGetEvent(w http.ResponseWriter, r *http.Request) {
	epcisHeaders(w)
	id := r.PathValue("eventID")
	recs, err := s.store.RawRecords(r.Context(), core.RawFilter{Source: epcis.Source, RecordPrefix: id})
	if err != nil {
		s.fail(w, err)
		return
	}
	for _, rec := range recs {
		if rec.RecordID == id {
			body, err := epcis.JSONEvent(rec.Payload)
			if err != nil {
				s.fail(w, err)
				return
			}
			w.Header().Set("Content-Type", "application/ld+json")
			w.WriteHeader(http.StatusOK)
			w.Write(body)
			return
		}
	}
	s.fail(w, core.Errorf(core.ENOTFOUND, "no captured EPCIS event %q: the id is the event's eventID (or hash ID), percent-escaped in the path", id))
}

// maxCaptureJobs bounds the capture jobs the server remembers.
const maxCaptureJobs = 1000

// captureJob is the EPCIS capture job resource.
type captureJob struct {
	CaptureID             string            `json:"captureID"`
	CreatedAt             string            `json:"createdAt"`
	FinishedAt            string            `json:"finishedAt,omitempty"`
	Running               bool              `json:"running"`
	Success               bool              `json:"success"`
	CaptureErrorBehaviour string            `json:"captureErrorBehaviour"`
	Errors                []captureError    `json:"errors"`
	Counts                *core.RecordStats `json:"counts,omitempty"`
	// Unusable counts the events stored without genealogy, by reason.
	Unusable map[string]int `json:"unusable,omitempty"`
}

type captureError struct {
	Pointer string `json:"pointer,omitempty"`
	Reason  string `json:"reason"`
	// Line and Column place the problem in the body (1-based), when
	// known: the event's start in JSON, the element in XML.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

type captureJobs struct {
	mu    sync.Mutex
	next  int
	jobs  map[string]*captureJob
	order []string
}

func (c *captureJobs) add(j *captureJob) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.jobs == nil {
		c.jobs = map[string]*captureJob{}
	}
	c.next++
	j.CaptureID = strconv.Itoa(c.next)
	c.jobs[j.CaptureID] = j
	c.order = append(c.order, j.CaptureID)
	if len(c.order) > maxCaptureJobs {
		delete(c.jobs, c.order[0])
		c.order = c.order[1:]
	}
}

func (c *captureJobs) get(id string) (captureJob, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	j, ok := c.jobs[id]
	if !ok {
		return captureJob{}, false
	}
	return *j, true
}

// capture validates, maps and commits one document or event: all of it or
// nothing. A refused document's problems are returned as errors, not err.
func (s *Server) capture(r *http.Request) (*epcis.Result, core.RecordStats, []captureError, error) {
	body, err := readBody(r, s.maxBody())
	if err != nil {
		return nil, core.RecordStats{}, nil, fmt.Errorf("read request: %w", err)
	}
	res, err := epcis.Capture(body, "request body", epcis.Options{GTINItems: s.cfg.EPCIS.GTINItems})
	var inv *epcis.InvalidError
	switch {
	case errors.As(err, &inv):
		return nil, core.RecordStats{}, problems(inv.Problems), nil
	case err != nil:
		return nil, core.RecordStats{}, nil, err
	}
	st, err := s.ing.IngestRecords(r.Context(), res.Records, "epcis", nil)
	if err != nil {
		return nil, core.RecordStats{}, nil, err
	}
	s.metrics.Events.WithLabelValues("epcis").Add(float64(st.New + st.Superseded))
	s.metrics.Quarantined.WithLabelValues("epcis").Add(float64(st.Quarantined))
	if st.New+st.Superseded > 0 {
		s.EvaluateGaps("EPCIS events captured")
	}
	return res, st, nil, nil
}

func problems(ps []schema.Problem) []captureError {
	out := make([]captureError, 0, len(ps))
	for _, p := range ps {
		out = append(out, captureError{Pointer: p.Pointer, Reason: p.Reason, Line: p.Line, Column: p.Column})
	}
	return out
}

func (s *Server) epcisCapture(w http.ResponseWriter, r *http.Request) {
	j := &captureJob{CreatedAt: time.Now().UTC().Format(time.RFC3339Nano), CaptureErrorBehaviour: "rollback", Errors: []captureError{}}
	res, st, errs, err := s.capture(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	j.FinishedAt = time.Now().UTC().Format(time.RFC3339Nano)
	if errs != nil {
		j.Errors = errs
	} else {
		j.Success = true
		j.Counts = &st
		j.Unusable = res.Unusable
	}
	s.epcisJobs.add(j)
	w.Header().Set("Location", "/epcis/capture/"+j.CaptureID)
	writeJSON(w, http.StatusAccepted, j)
}

func (s *Server) epcisCaptureJob(w http.ResponseWriter, r *http.Request) {
	j, ok := s.epcisJobs.get(r.PathValue("id"))
	if !ok {
		s.fail(w, core.Errorf(core.ENOTFOUND, "no capture job %q on this server (jobs are kept in memory, the last %d): its events, if it succeeded, are in the store", r.PathValue("id"), maxCaptureJobs))
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) epcisEvent(w http.ResponseWriter, r *http.Request) {
	res, st, errs, err := s.capture(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	if errs != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"error":  apiError{Code: core.EINVALID, Message: "not a valid EPCIS 2.0 event: nothing was stored; fix the errors listed and send it again"},
			"errors": errs})
		return
	}
	if len(res.Records) != 1 {
		s.fail(w, core.Errorf(core.EINVALID, "POST /epcis/events takes one event; send documents to POST /epcis/capture"))
		return
	}
	id := res.Records[0].Raw.RecordID
	w.Header().Set("Location", "/epcis/events/"+url.PathEscape(id))
	writeJSON(w, http.StatusCreated, map[string]any{"eventID": id, "counts": st, "unusable": res.Unusable})
}
