package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
	}
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
// epcis: every captured event as it came, in archive order, filtered by
// epcis.Query. Canonical events from ERPs are not EPCIS events and are not
// listed (hub export epcis writes them). nextPageToken is the archive
// sequence number after which the next page starts.
func (s *Server) epcisQuery(w http.ResponseWriter, r *http.Request) {
	epcisHeaders(w)
	q, err := epcis.ParseQuery(r.URL.Query())
	if err != nil {
		s.fail(w, err)
		return
	}
	var after int64
	now := time.Now()
	if q.PageToken != "" {
		var expires time.Time
		after, expires, err = parsePageToken(q.PageToken)
		if err != nil {
			s.fail(w, core.Errorf(core.EINVALID, "nextPageToken %q is not one this server gave: start again without it", q.PageToken))
			return
		}
		if now.After(expires) {
			s.fail(w, core.Errorf(core.EINVALID, "nextPageToken %q expired at %s (a token is good for %s): start again without it", q.PageToken, expires.UTC().Format(time.RFC3339), pageTokenLife))
			return
		}
	}
	var events [][]byte
	next := ""
	const batch = 500
scan:
	for {
		recs, err := s.store.RawRecords(r.Context(), core.RawFilter{Source: epcis.Source, Kinds: q.EventTypes, AfterSeq: after, Limit: batch})
		if err != nil {
			s.fail(w, err)
			return
		}
		for _, rec := range recs {
			if !q.Match(rec.Payload) {
				after = rec.Seq
				continue
			}
			if len(events) == q.PerPage {
				next = pageToken(after, now.Add(pageTokenLife))
				break scan
			}
			events = append(events, rec.Payload)
			after = rec.Seq
		}
		if len(recs) < batch {
			break
		}
	}
	body, err := epcis.QueryDocument(events, time.Now())
	if err != nil {
		s.fail(w, err)
		return
	}
	if next != "" {
		v := r.URL.Query()
		v.Set("nextPageToken", next)
		w.Header().Set("Link", fmt.Sprintf(`</epcis/events?%s>; rel="next"`, v.Encode()))
		w.Header().Set("GS1-Next-Page-Token-Expires", now.Add(pageTokenLife).UTC().Format(time.RFC3339))
	}
	w.Header().Set("Content-Type", "application/ld+json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// pageTokenLife is how long a nextPageToken is good for (the REST
// binding's GS1-Next-Page-Token-Expires). The token is the archive
// position after which the next page starts and its expiry, so no state is
// kept on the server; a token past its expiry is refused.
const pageTokenLife = time.Hour

func pageToken(after int64, expires time.Time) string {
	return strconv.FormatInt(after, 36) + "." + strconv.FormatInt(expires.Unix(), 36)
}

func parsePageToken(tok string) (int64, time.Time, error) {
	seq, exp, ok := strings.Cut(tok, ".")
	if !ok {
		return 0, time.Time{}, fmt.Errorf("no expiry")
	}
	after, err := strconv.ParseInt(seq, 36, 64)
	if err != nil || after < 0 {
		return 0, time.Time{}, fmt.Errorf("bad position")
	}
	unix, err := strconv.ParseInt(exp, 36, 64)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("bad expiry")
	}
	return after, time.Unix(unix, 0), nil
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
