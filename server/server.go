// Package server is lothub's HTTP interface: event intake from scanners and
// MES, ERP webhooks, the query endpoints (the same JSON shapes as the
// CLI's --json), health and Prometheus metrics. hub serve runs it together
// with the sync scheduler.
//
// Every route but health, metrics, the OpenAPI document, sign-in and
// webhooks needs a signed-in caller whose role grants the route's
// permission (routes.go, auth.go, docs/security.md): by a user's API
// token, a configured intake token (admin, for compatibility) or the web
// UI's session cookie. Webhooks are authenticated by the signature the
// connector checks, not by role. A webhook
// is archived, mapped and committed before the 2xx is sent, so an
// acknowledged delivery survives a crash right after it.
package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lothub/lothub/access"
	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/asof"
	"github.com/lothub/lothub/intake"
	"github.com/lothub/lothub/mapping"
	"github.com/lothub/lothub/outbox"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/sdk"
	"github.com/lothub/lothub/web"
)

// TokenCache is how long the server trusts a user's API token it accepted
// without reading the token and its user again (access.Users.TokenCache):
// a client making requests back to back pays the two reads once a second,
// not on every request (on PostgreSQL two of a trace's three round
// trips). A token revoked or a user disabled through this server (API,
// web UI) is refused at once; by the CLI or another replica, within this
// time (docs/security.md).
const TokenCache = time.Second

// Server serves the HTTP API. Create it with New.
type Server struct {
	store   core.Store
	cfg     *config.Hub
	plugins *runner.Plugins
	log     *slog.Logger
	metrics *Metrics
	ing     core.Ingester
	// group commits the events of concurrent POST /v1/events and
	// /v1/scans requests together (core.GroupCommit).
	group *core.GroupCommit
	mux   *http.ServeMux
	users *access.Users

	routeMu sync.Mutex
	routes  []Route // every route, with who may call it (routes.go)

	// Failed sign-ins by user name and by client address (login.go).
	loginMu        sync.Mutex
	byName, byAddr *failures
	// Monitor evaluates gap rules after every POST of events and serves
	// the gap and hold endpoints. New sets one with the configuration's
	// rules and no notifiers; hub serve replaces it with one that alerts.
	Monitor *core.Monitor
	// Genealogy keeps the genealogy in memory for traces and recalls
	// (nil: every walk reads the store).
	Genealogy *core.GraphCache
	// Runner runs the syncs that POST /v1/connectors/{connector}/sync
	// asks for; hub serve sets the scheduler's, so that a connector never
	// syncs twice at once. Nil: the route answers 503.
	Runner *runner.Runner
	// OnSync, when set, is called after each sync the API started (hub
	// serve: metrics and the gap rules, as after a scheduled sync).
	OnSync func(core.Run, error)
	syncWG sync.WaitGroup

	epcisJobs captureJobs // EPCIS capture jobs (epcis.go)
	// asOf admits one as-of view being built at a time: each replays the
	// store's history (docs/as-of.md), and two at once would only share
	// the cores with each other and with intake.
	asOf chan struct{}

	mu       sync.Mutex
	webhooks map[string]*webhookTarget // by connector name, launched on first use

	// Gap evaluations run in the background (EvaluateGaps) under ctx,
	// which Close cancels.
	ctx       context.Context
	cancel    context.CancelFunc
	evalWG    sync.WaitGroup
	evalMu    sync.Mutex
	evalDone  chan struct{} // non-nil while gaps are being detected; closed when none is left to detect
	evalAgain bool          // new events arrived during it: evaluate once more
	alertMu   sync.Mutex    // one evaluation alerts at a time
}

// EvaluateGaps applies the gap rules after new events (why says what
// brought them, for the log), in the background: the request that brought
// the events is answered at once, however long the evaluation takes on a
// big plant (an ERP's webhook times out and retries). Evaluations never
// overlap: a call made while one runs has that one run again when it ends
// (and at least evalSpacing after it started), so a burst of webhooks
// costs two evaluations, not one per request. The
// channel returned is closed when the gaps of every event so far are
// stored; the gap endpoints wait for it, so a client that posted events
// and then lists gaps sees what its events raised. Alerts go out after
// that, without holding anyone (a notifier that does not answer is retried
// for a while). Failures are logged, never returned: the events are
// already committed, and the schedule evaluates again.
func (s *Server) EvaluateGaps(why string) <-chan struct{} {
	s.evalMu.Lock()
	defer s.evalMu.Unlock()
	if s.evalDone != nil {
		s.evalAgain = true
		return s.evalDone
	}
	done := make(chan struct{})
	s.evalDone = done
	s.evalWG.Add(1)
	go s.evaluate(why, done)
	return done
}

// evalSpacing is the least time between the starts of two evaluations
// run back to back: under a steady load of posted events (32 scanners)
// evaluations otherwise follow each other without pause and took a third
// of the server's CPU from intake. An evaluation reads the whole store's
// gap facts, so it grows with the plant: the next one also waits until
// evalShare times the last one's time has passed since it started (it
// takes at most 1/evalShare of the time). A gap endpoint waits at most
// that much longer for the events just posted.
const (
	evalSpacing = time.Second
	evalShare   = 4
)

func (s *Server) evaluate(why string, done chan struct{}) {
	defer s.evalWG.Done()
	for {
		started := time.Now()
		res, now, err := s.Monitor.Detect(s.ctx)
		took := time.Since(started) // the alerts' retries not counted
		s.evalMu.Lock()
		again := s.evalAgain
		s.evalAgain = false
		if !again {
			// The gaps are stored: release the waiters, and let the next
			// delivery start a new evaluation while this one alerts.
			s.evalDone = nil
			close(done)
		}
		s.evalMu.Unlock()
		if err == nil {
			s.alertMu.Lock()
			res.Alerted, res.Failed = s.Monitor.Alert(s.ctx, now)
			s.alertMu.Unlock()
		}
		switch {
		case err != nil:
			s.log.Warn("gap rules not evaluated; the schedule will retry", "after", why, "err", err)
		case res.Opened+res.Resolved+res.Alerted+res.Failed+res.Held+res.HoldsWithdrawn > 0:
			s.log.Info("gap rules evaluated", "after", why, "opened", res.Opened, "resolved", res.Resolved,
				"alerted", res.Alerted, "alerts_failed", res.Failed, "born_on_hold", res.Held, "holds_withdrawn", res.HoldsWithdrawn)
		}
		if !again {
			return
		}
		why = "events that arrived during the last evaluation"
		if wait := max(evalSpacing, evalShare*took) - time.Since(started); wait > 0 {
			select {
			case <-time.After(wait):
			case <-s.ctx.Done():
			}
		}
	}
}

// webhookTarget is a connector's plugin kept running for its webhooks.
type webhookTarget struct {
	client  *sdk.Client
	cfg     sdk.Config
	mapping *mapping.Mapping
}

// New returns a server over store with the configuration's tokens and
// connectors. metrics may be shared with the scheduler; nil makes one.
func New(store core.Store, cfg *config.Hub, plugins *runner.Plugins, log *slog.Logger, metrics *Metrics) *Server {
	if log == nil {
		log = slog.Default()
	}
	if metrics == nil {
		metrics = NewMetrics()
	}
	s := &Server{store: store, cfg: cfg, plugins: plugins, log: log, metrics: metrics,
		ing: core.Ingester{Store: store, Placeholders: cfg.LotPlaceholders(), Actions: outbox.NewPlanner(cfg)}, webhooks: map[string]*webhookTarget{},
		asOf: make(chan struct{}, 1)}
	s.group = &core.GroupCommit{Ingester: &s.ing, Committed: func(requests, _ int) { metrics.IntakeGroup.Observe(float64(requests)) }}
	s.mux = http.NewServeMux()
	s.users = &access.Users{Store: store, TokenCache: TokenCache, Session: access.SessionPolicy{
		Idle: time.Duration(cfg.Serve.Session.Idle), Lifetime: time.Duration(cfg.Serve.Session.Lifetime)}}
	lw := time.Duration(cfg.Serve.Login.Window)
	s.byName = &failures{max: cfg.Serve.Login.MaxFailures, window: lw, counts: map[string]failureWindow{}}
	s.byAddr = &failures{max: cfg.Serve.Login.MaxFailuresPerAddress, window: lw, counts: map[string]failureWindow{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.registerRoutes()
	ui, err := web.New(web.Options{
		Auth: s, Store: store, Config: cfg, Log: log, Context: s.ctx,
		Queries: s.queries,
		Monitor: func() *core.Monitor { return s.Monitor },
		Sync:    webSyncs{s},
		Report:  s.reportOptions,
	})
	if err != nil {
		panic(err) // the embedded templates do not parse: a bug caught by every test
	}
	s.registerWeb(ui)
	s.Monitor = &core.Monitor{Store: store, Rules: cfg.Gaps.GapRules(), Log: log}
	s.Genealogy = core.NewGraphCache(store)
	s.Genealogy.Log = log
	return s
}

// webSyncs runs the web application's "run now" on the server's Runner
// (hub serve sets the scheduler's: a connector never syncs twice at once).
type webSyncs struct{ s *Server }

func (w webSyncs) Sync(ctx context.Context, name, trigger string) (core.Run, error) {
	if w.s.Runner == nil {
		return core.Run{}, core.Errorf(core.ECONFLICT, "this server runs no syncs: run hub sync %s where the hub runs", name)
	}
	run, err := w.s.Runner.Sync(ctx, name, trigger)
	if w.s.OnSync != nil {
		w.s.OnSync(run, err)
	}
	return run, err
}

// Handler returns the server's handler, with metrics and a body size limit.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody())
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		var ok bool
		if r, ok = s.withAuth(rw, r); ok {
			s.mux.ServeHTTP(rw, r)
		}
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.metrics.HTTPDuration.WithLabelValues(route, strconv.Itoa(rw.status)).Observe(time.Since(start).Seconds())
	})
}

// maxBody is the most bytes a request body may have.
func (s *Server) maxBody() int64 {
	if s.cfg.Intake.MaxBody > 0 {
		return s.cfg.Intake.MaxBody
	}
	return core.DefaultMaxBody
}

// Close stops a running gap evaluation (alerts not yet delivered are
// sent at the next evaluation) and the plugins launched for webhooks.
func (s *Server) Close() {
	s.cancel()
	s.evalWG.Wait()
	s.syncWG.Wait()
	if s.Genealogy != nil {
		s.Genealogy.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, t := range s.webhooks {
		t.client.Close()
		delete(s.webhooks, name)
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// tooLarge is a request over one of the intake limits: 413, nothing
// stored.
type tooLarge struct{ msg string }

func (e *tooLarge) Error() string { return e.msg }

// Error bodies: {"error": {"code", "message"}}. Codes map to statuses
// here, in one place.
func (s *Server) fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	code := core.ErrorCode(err)
	switch code {
	case core.EINVALID:
		status = http.StatusBadRequest
	case core.ENOTFOUND:
		status = http.StatusNotFound
	case core.ECONFLICT:
		status = http.StatusConflict
	}
	msg := err.Error()
	var mbe *http.MaxBytesError
	var tl *tooLarge
	switch {
	case errors.As(err, &mbe):
		status, code = http.StatusRequestEntityTooLarge, core.EINVALID
		msg = fmt.Sprintf("request body larger than %d bytes (intake.max_body): nothing was stored; split it into smaller requests", mbe.Limit)
	case errors.As(err, &tl):
		status, code = http.StatusRequestEntityTooLarge, core.EINVALID
	}
	if status == http.StatusInternalServerError {
		s.log.Error("request failed", "err", err)
		msg = "internal error: see the hub's log"
	}
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if r, ok := v.(*core.TraceResult); ok {
		writeTrace(w, status, r)
		return
	}
	b := responses.Get().(*bytes.Buffer)
	defer putResponse(b)
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		b.Reset()
		b.Write(encodeFailed(err))
	}
	writeBody(w, status, b.Bytes())
}

// writeTrace answers a trace or recall: the bytes encoding/json would
// write, a recall's 60 MB in a third of the time, appended straight into
// a buffer kept for the next answer (a typical trace's 370 kB grown
// afresh, or copied once more, cost a tenth of its time).
func writeTrace(w http.ResponseWriter, status int, r *core.TraceResult) {
	bp := traceBuffers.Get().(*[]byte)
	out, err := r.AppendCompactJSON((*bp)[:0])
	if err != nil {
		status, out = http.StatusInternalServerError, encodeFailed(err)
	}
	writeBody(w, status, out)
	if cap(out) <= maxPooledResponse {
		*bp = out[:0]
		traceBuffers.Put(bp)
	}
}

func encodeFailed(err error) []byte {
	return fmt.Appendf(nil, "{\"error\":{\"code\":%q,\"message\":%q}}\n", core.EINTERNAL, "encode the response: "+err.Error())
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// responses keeps the buffers answers are built in, traceBuffers those
// of traces and recalls.
var (
	responses    = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	traceBuffers = sync.Pool{New: func() any { return new([]byte) }}
)

// maxPooledResponse is the largest buffer kept for the next answer (a
// wide recall's tens of MB are not held).
const maxPooledResponse = 4 << 20

func putResponse(b *bytes.Buffer) {
	if b.Cap() <= maxPooledResponse {
		b.Reset()
		responses.Put(b)
	}
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	v, err := s.store.SchemaVersion(r.Context())
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "error": "the database does not answer"})
		s.log.Error("health check", "err", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "schema": v})
}

// postEvents ingests canonical events: one JSON object, a JSON array, or
// JSON Lines, at most core.MaxEventsPerRequest of them, all in one
// transaction, which the events of other requests arriving meanwhile may
// share (group commit: one commit for many requests); the answer comes
// after it committed. The answer counts what became of them and lists the first
// core.MaxErrorsListed that were quarantined: its size and the memory the
// request takes are bounded by the body limit, however many events the
// body holds.
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) {
	// A group about to commit waits a moment for this request's events
	// while they are read and decoded (core.GroupCommit.Announce).
	coming := s.group.Announce()
	defer coming.Withdraw()
	body, err := readBody(r, s.maxBody())
	if err != nil {
		s.fail(w, fmt.Errorf("read request: %w", err))
		return
	}
	// The source names who posted: an intake token by its name (as
	// before users existed), a user as user:NAME.
	source := "http:" + core.ActorFrom(r.Context()).Name
	if a := core.ActorFrom(r.Context()); a.Kind != "token" {
		source = "http:" + a.String()
	}
	inputs, err := splitEvents(body, source)
	if err != nil {
		s.fail(w, err)
		return
	}
	st, errs, err := coming.IngestInputs(r.Context(), inputs, core.MaxErrorsListed)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.metrics.Events.WithLabelValues("http").Add(float64(st.New + st.Superseded))
	s.metrics.Quarantined.WithLabelValues("http").Add(float64(st.Quarantined))
	// The events are committed: evaluate the gap rules in the
	// background (before answering, so the gap endpoints wait for it).
	if st.New+st.Superseded > 0 {
		s.EvaluateGaps("events posted")
	}
	a := eventsAnswer{Read: st.Read, Stored: st.New, Superseded: st.Superseded, Duplicates: st.Unchanged,
		Quarantined: st.Quarantined, Errors: errs, ErrorsOmitted: st.Quarantined - len(errs)}
	if a.Errors == nil {
		a.Errors = []core.InputError{}
	}
	status := http.StatusOK
	switch {
	case st.New+st.Superseded+st.Unchanged == 0:
		// A client that checks only for 2xx must not believe a body of
		// nothing usable (not JSON at all, say) was accepted.
		status = http.StatusBadRequest
		a.Error = &apiError{Code: core.EINVALID, Message: fmt.Sprintf(
			"no event in the body could be used: all %d were quarantined (errors lists the first, hub errors lists all): fix them and send them again", st.Quarantined)}
	case st.Quarantined > 0:
		status = http.StatusMultiStatus
	}
	if a.Error == nil && len(a.Errors) == 0 {
		// Every event usable (a scanner's usual answer): the bytes
		// encoding/json writes, without its reflection.
		b := responses.Get().(*bytes.Buffer)
		defer putResponse(b)
		b.Write(a.appendCounts(b.AvailableBuffer()))
		writeBody(w, status, b.Bytes())
		return
	}
	writeJSON(w, status, a)
}

// appendCounts appends the JSON of an answer with no error and no
// quarantined event listed, as encoding/json writes it (with its
// newline).
func (a *eventsAnswer) appendCounts(b []byte) []byte {
	b = append(b, `{"read":`...)
	b = strconv.AppendInt(b, int64(a.Read), 10)
	b = append(b, `,"stored":`...)
	b = strconv.AppendInt(b, int64(a.Stored), 10)
	b = append(b, `,"superseded":`...)
	b = strconv.AppendInt(b, int64(a.Superseded), 10)
	b = append(b, `,"duplicates":`...)
	b = strconv.AppendInt(b, int64(a.Duplicates), 10)
	b = append(b, `,"quarantined":`...)
	b = strconv.AppendInt(b, int64(a.Quarantined), 10)
	b = append(b, `,"errors":[],"errors_omitted":`...)
	b = strconv.AppendInt(b, int64(a.ErrorsOmitted), 10)
	return append(b, "}\n"...)
}

// eventsAnswer is the answer to POST /v1/events. Its size does not grow
// with the number of events: counts, and the first quarantined events.
type eventsAnswer struct {
	// Error is set when nothing in the body could be used (status 400).
	Error       *apiError `json:"error,omitempty"`
	Read        int       `json:"read"` // events in the body
	Stored      int       `json:"stored"`
	Superseded  int       `json:"superseded"`
	Duplicates  int       `json:"duplicates"`
	Quarantined int       `json:"quarantined"`
	// Errors lists the first core.MaxErrorsListed quarantined events, in
	// body order; ErrorsOmitted counts the others (hub errors lists them).
	Errors        []core.InputError `json:"errors"`
	ErrorsOmitted int               `json:"errors_omitted"`
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Permission is the permission a 403 needed.
	Permission string `json:"permission,omitempty"`
}

// readBody reads a request body whole; the server's handler bounds it by
// limit (intake.max_body). A body that says its length, within the limit,
// gets one buffer of that size, not the doublings of io.ReadAll.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= limit {
		body := make([]byte, n) // net/http ends the body at Content-Length
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	return io.ReadAll(r.Body)
}

// evaluated waits until no gap evaluation runs, or ctx ends.
func (s *Server) evaluated(ctx context.Context) {
	s.evalMu.Lock()
	done := s.evalDone
	s.evalMu.Unlock()
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// splitEvents cuts a body into inputs: a JSON array's elements, one JSON
// object (which may span lines), or one object a line. The inputs share
// body's memory. A body of more than core.MaxEventsPerRequest events is
// refused before any is decoded; an event over core.MaxEventSize becomes
// an input that is quarantined. Input.Line is the line of the body the
// event starts on.
func splitEvents(body []byte, source string) ([]core.Input, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(bytes.TrimSpace(trimmed)) == 0 {
		return nil, core.Errorf(core.EINVALID, "empty body: send one event (JSON object), an array of events, or JSON Lines")
	}
	first := 1 + bytes.Count(body[:len(body)-len(trimmed)], []byte("\n"))
	switch {
	case trimmed[0] == '[':
		return splitArray(body, source)
	case trimmed[0] == '{' && json.Valid(trimmed):
		// One object, pretty-printed perhaps: not one event a line.
		return []core.Input{core.NewInput(source, first, bytes.TrimSpace(trimmed))}, nil
	}
	var inputs []core.Input
	line := 0
	for rest := body; len(rest) > 0; {
		l := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			l, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line++
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if len(inputs) == core.MaxEventsPerRequest {
			return nil, tooManyEvents()
		}
		// The size is the line's without its end, as hub ingest counts it.
		in := core.NewInput(source, line, bytes.TrimSuffix(l, []byte("\r")))
		if !in.TooLong {
			in.Raw = bytes.TrimSpace(in.Raw)
		}
		inputs = append(inputs, in)
	}
	return inputs, nil
}

// splitArray cuts a JSON array of events into its elements, decoding it
// one element at a time. An array that is not valid JSON is refused whole:
// after a syntax error, where the next event starts is anyone's guess.
func splitArray(body []byte, source string) ([]core.Input, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // the '['
		return nil, core.Errorf(core.EINVALID, "body is not a JSON array of events: %v", err)
	}
	var inputs []core.Input
	var raw json.RawMessage // reused: the inputs point into body
	line, seen := 1, 0
	for dec.More() {
		if len(inputs) == core.MaxEventsPerRequest {
			return nil, tooManyEvents()
		}
		if err := dec.Decode(&raw); err != nil {
			return nil, core.Errorf(core.EINVALID, "body is not a JSON array of events: element %d (after line %d): %v", len(inputs)+1, line, err)
		}
		end := int(dec.InputOffset())
		start := end - len(raw)
		line += bytes.Count(body[seen:start], []byte("\n"))
		seen = start
		inputs = append(inputs, core.NewInput(source, line, body[start:end]))
	}
	if _, err := dec.Token(); err == io.EOF {
		return nil, core.Errorf(core.EINVALID, "body is not a JSON array of events: it ends before the array's closing ]")
	} else if err != nil {
		return nil, core.Errorf(core.EINVALID, "body is not a JSON array of events: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, core.Errorf(core.EINVALID, "body is not a JSON array of events: data after the array's closing ]")
	}
	if len(inputs) == 0 {
		return nil, core.Errorf(core.EINVALID, "the body is an empty array: send at least one event")
	}
	return inputs, nil
}

func tooManyEvents() error {
	return &tooLarge{fmt.Sprintf("more than %d events in one request: nothing was stored; send at most %d events a request (split the JSON Lines or the array into several requests)",
		core.MaxEventsPerRequest, core.MaxEventsPerRequest)}
}

// webhook hands an ERP's push to its connector, which checks the signature
// and turns the body into records; they are archived, mapped and committed
// before the answer.
//
// Until the connector has accepted the signature the caller is anonymous:
// its errors name nothing of the configuration (no file, no connector, no
// parameter, no plugin message); the log has the detail.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("connector")
	log := s.log.With("connector", name, "remote", r.RemoteAddr)
	cc, err := s.cfg.Connector(name)
	if err != nil {
		log.Warn("webhook refused: no such connector", "err", err)
		s.noWebhook(w)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			log.Warn("webhook refused: body over intake.max_body", "max_body", mbe.Limit)
			s.metrics.Webhooks.WithLabelValues(name, "too_large").Inc()
			anonError(w, http.StatusRequestEntityTooLarge, core.EINVALID, "webhook body too large: nothing was stored")
			return
		}
		log.Warn("webhook body not read", "err", err)
		anonError(w, http.StatusBadRequest, core.EINVALID, "webhook body could not be read: nothing was stored")
		return
	}
	t, err := s.target(r.Context(), cc)
	if err != nil {
		log.Error("webhook not taken: the connector's plugin cannot start", "err", config.Scrub(err.Error(), cc.Secrets()))
		s.unavailable(w, 0)
		return
	}
	res, err := t.client.Webhook(r.Context(), t.cfg, sdk.WebhookRequest{Method: r.Method, Headers: r.Header, Query: r.URL.Query(), Body: body})
	if err != nil {
		detail := config.Scrub(err.Error(), cc.Secrets())
		switch {
		case errors.Is(err, sdk.ErrInvalidSignature):
			s.metrics.Webhooks.WithLabelValues(name, "unauthorized").Inc()
			log.Warn("webhook refused: signature missing or wrong", "err", detail)
			anonError(w, http.StatusUnauthorized, "unauthorized",
				"webhook signature missing or wrong: nothing was stored (check the shared secret on both sides)")
		case errors.Is(err, errors.ErrUnsupported):
			log.Warn("webhook refused: the connector takes no webhooks", "err", detail)
			s.noWebhook(w)
		case errors.Is(err, sdk.ErrPluginExited):
			s.drop(name)
			log.Error("webhook not taken: the connector's plugin exited", "err", detail)
			s.unavailable(w, 0)
		case errors.Is(err, sdk.ErrRetry):
			// The connector cannot take the delivery now: ask the sender
			// to retry, when the source says.
			d, _ := sdk.RetryDelay(err)
			log.Warn("webhook not taken now; the sender is asked to retry", "err", detail, "retry_after", d)
			s.unavailable(w, d)
		case errors.Is(err, sdk.ErrInvalidConfig):
			log.Error("webhook not taken: the connector's configuration is wrong", "err", detail)
			s.unavailable(w, 0)
		default:
			log.Warn("webhook refused by the connector", "err", detail)
			anonError(w, http.StatusBadRequest, core.EINVALID,
				"webhook refused by the connector: nothing was stored (the hub's log says why)")
		}
		return
	}
	inputs, err := runner.Inputs(res.Records)
	if err != nil {
		s.fail(w, core.Errorf(core.EINVALID, "webhook for %s: %v", name, err))
		return
	}
	p := &intake.Pipeline{Ingester: &s.ing, Mapping: t.mapping, Source: name}
	// The signature is accepted: the connector is who acts.
	st, err := p.Ingest(core.WithActor(r.Context(), core.ConnectorActor(name)), inputs, nil)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.metrics.Webhooks.WithLabelValues(name, "accepted").Inc()
	s.metrics.Records.WithLabelValues(name).Add(float64(st.Records))
	s.metrics.Events.WithLabelValues(name).Add(float64(st.New + st.Superseded))
	s.metrics.Quarantined.WithLabelValues(name).Add(float64(st.Quarantined))
	if st.New+st.Superseded > 0 {
		s.EvaluateGaps("webhook of " + name)
	}
	if len(res.Body) > 0 {
		// A body the connector chose (a subscription handshake's
		// validation token, for one) goes back as it is.
		status := res.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(res.Body)))
		w.WriteHeader(status)
		w.Write(res.Body)
		return
	}
	status := res.Status
	if status == 0 {
		status = http.StatusAccepted
	}
	writeJSON(w, status, map[string]any{"records": st.Records, "events": st.New + st.Superseded,
		"duplicates": st.Unchanged, "quarantined": st.Quarantined})
}

// noWebhook answers a webhook for a connector that does not exist or
// takes no webhooks, alike: an anonymous caller learns nothing of the
// configured connectors.
func (s *Server) noWebhook(w http.ResponseWriter) {
	anonError(w, http.StatusNotFound, core.ENOTFOUND, "no webhook is received at this address: check the URL")
}

// unavailable answers a webhook the hub cannot take now (503, the sender
// retries), after retry when it is known.
func (s *Server) unavailable(w http.ResponseWriter, retry time.Duration) {
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(retry.Round(time.Second)/time.Second)))
	}
	anonError(w, http.StatusServiceUnavailable, "unavailable",
		"the webhook cannot be taken now: nothing was stored; retry later (the hub's log says why)")
}

// anonError answers a caller who is not authenticated: message must name
// nothing of the configuration.
func anonError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": apiError{Code: code, Message: message}})
}

// target returns the running plugin for a connector's webhooks, starting
// it on first use (and again after it died).
func (s *Server) target(ctx context.Context, cc *config.Connector) (*webhookTarget, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.webhooks[cc.Name]; ok && !t.client.Exited() {
		return t, nil
	}
	m, err := mapping.Load(cc.Mapping)
	if err != nil {
		return nil, err
	}
	pl, err := s.plugins.Find(cc.Plugin)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, time.Duration(cc.Timeout))
	defer cancel()
	c, err := sdk.Launch(lctx, pl.Command(), s.log.With("connector", cc.Name))
	if err != nil {
		return nil, fmt.Errorf("start connector plugin %s for webhooks of %s: %w", pl.Name, cc.Name, err)
	}
	cfg, err := sdk.ParseConfig(c.Spec(), cc.Values())
	if err != nil {
		c.Close()
		return nil, core.Errorf(core.EINVALID, "connector %s: %v", cc.Name, err)
	}
	t := &webhookTarget{client: c, cfg: cfg, mapping: m}
	s.webhooks[cc.Name] = t
	return t, nil
}

func (s *Server) drop(name string) {
	s.mu.Lock()
	if t, ok := s.webhooks[name]; ok {
		t.client.Kill()
		delete(s.webhooks, name)
	}
	s.mu.Unlock()
}

func (s *Server) queries() *core.Queries {
	return &core.Queries{Store: s.store, Graph: s.Genealogy}
}

// queriesAt returns the queries that answer r: those of the store now,
// or, with the parameter as_of, those of the store as it stood then
// (core/store/asof: a scratch copy rebuilt from the event versions
// recorded by that time), and the time asked (zero without as_of). done
// removes the scratch copy.
func (s *Server) queriesAt(r *http.Request) (q *core.Queries, at time.Time, done func(), err error) {
	v := r.URL.Query().Get("as_of")
	if v == "" {
		return s.queries(), time.Time{}, func() {}, nil
	}
	if at, err = core.ParseAsOf(`parameter "as_of"`, v, time.Now()); err != nil {
		return nil, at, nil, err
	}
	select {
	case s.asOf <- struct{}{}:
	case <-r.Context().Done():
		return nil, at, nil, r.Context().Err()
	}
	view, err := asof.Open(r.Context(), s.store, at, asof.Options{Log: s.log})
	<-s.asOf
	if err != nil {
		return nil, at, nil, err
	}
	s.log.Info("as-of view built", "path", r.URL.Path, "as_of", at, "versions", view.Versions, "took", view.Took)
	return &core.Queries{Store: view}, at, func() { view.Close() }, nil
}

// failAt is fail for an answer asked as of at.
func (s *Server) failAt(w http.ResponseWriter, at time.Time, err error) {
	if !at.IsZero() {
		err = fmt.Errorf("as of %s: %w", at.Format(time.RFC3339Nano), err)
	}
	s.fail(w, err)
}

// wantSummary: summary=1 (or true) asks a trace or recall in counts;
// another value than 0, 1, true or false is refused.
func wantSummary(r *http.Request) (bool, error) {
	switch v := r.URL.Query().Get("summary"); v {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	default:
		return false, core.Errorf(core.EINVALID, "parameter \"summary\" %q: want 1 or true (counts per level and item), 0 or false (the full answer)", v)
	}
}

func lotRef(r *http.Request) *core.LotRef {
	return &core.LotRef{Item: r.PathValue("item"), Lot: r.PathValue("lot")}
}

func (s *Server) trace(w http.ResponseWriter, r *http.Request) {
	dir := core.Direction(r.PathValue("direction"))
	if dir != core.Forward && dir != core.Backward {
		s.fail(w, core.Errorf(core.EINVALID, "direction %q: want forward or backward", dir))
		return
	}
	q, at, done, err := s.queriesAt(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer done()
	if want, err := wantSummary(r); err != nil {
		s.fail(w, err)
		return
	} else if want {
		sum, err := q.TraceSummary(r.Context(), dir, core.Selector{Lot: lotRef(r)})
		if err != nil {
			s.failAt(w, at, err)
			return
		}
		writeJSON(w, http.StatusOK, sum)
		return
	}
	res, err := q.Trace(r.Context(), dir, core.Selector{Lot: lotRef(r)})
	if err != nil {
		s.failAt(w, at, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) recall(w http.ResponseWriter, r *http.Request) {
	q, at, done, err := s.queriesAt(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer done()
	if want, err := wantSummary(r); err != nil {
		s.fail(w, err)
		return
	} else if want {
		sum, err := q.RecallSummary(r.Context(), core.Selector{Lot: lotRef(r)})
		if err != nil {
			s.failAt(w, at, err)
			return
		}
		writeJSON(w, http.StatusOK, sum)
		return
	}
	res, err := q.Recall(r.Context(), core.Selector{Lot: lotRef(r)})
	if err != nil {
		s.failAt(w, at, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) lot(w http.ResponseWriter, r *http.Request) {
	q, at, done, err := s.queriesAt(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer done()
	res, err := q.Lot(r.Context(), *lotRef(r))
	if err != nil {
		s.failAt(w, at, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) gaps(w http.ResponseWriter, r *http.Request) {
	s.evaluated(r.Context()) // read what the events just posted raised
	f := core.ExceptionFilter{Open: true}
	if v := r.URL.Query().Get("status"); v != "" {
		st, err := core.ParseGapStatus(v)
		if err != nil {
			s.fail(w, err)
			return
		}
		f = core.ExceptionFilter{Statuses: []core.GapStatus{st}}
	}
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			s.fail(w, core.Errorf(core.EINVALID, "since %q: want an RFC 3339 time", v))
			return
		}
		f.Since = t
	}
	gaps, err := s.Monitor.GapList(r.Context(), f)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"gaps": gaps})
}

func (s *Server) gap(w http.ResponseWriter, r *http.Request) {
	s.evaluated(r.Context()) // read what the events just posted raised
	id, err := core.ParseGapID(r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	d, err := s.Monitor.Show(r.Context(), id)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// gapRequest is the body of POST /v1/gaps/{id}/confirm|ack|waive.
type gapRequest struct {
	core.ConfirmRequest
	Reason string `json:"reason"`
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return core.Errorf(core.EINVALID, "request body: %v", err)
	}
	return nil
}

func (s *Server) gapAction(w http.ResponseWriter, r *http.Request) {
	s.evaluated(r.Context()) // read what the events just posted raised
	id, err := core.ParseGapID(r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	var req gapRequest
	if err := decodeBody(r, &req); err != nil {
		s.fail(w, err)
		return
	}
	var d *core.GapDetail
	switch r.PathValue("action") {
	case "ack":
		d, err = s.Monitor.Ack(r.Context(), id, req.By, req.Note)
	case "waive":
		d, err = s.Monitor.Waive(r.Context(), id, req.By, req.Reason)
	case "confirm":
		p, perr := req.Params(id)
		if perr != nil {
			s.fail(w, perr)
			return
		}
		d, err = s.Monitor.Confirm(r.Context(), p)
	default:
		err = core.Errorf(core.ENOTFOUND, "no gap action %q: want confirm, ack or waive", r.PathValue("action"))
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) holds(w http.ResponseWriter, r *http.Request) {
	s.evaluated(r.Context()) // read what the events just posted raised
	q, at, done, err := s.queriesAt(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer done()
	hs, err := q.Holds(r.Context())
	if err != nil {
		s.failAt(w, at, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"holds": hs})
}

// holdRequest is the body of POST /v1/holds and /v1/holds/release.
type holdRequest struct {
	Item      string `json:"item"`
	Lot       string `json:"lot"`
	Reason    string `json:"reason"`
	By        string `json:"by"`
	Propagate bool   `json:"propagate"`
}

func (s *Server) hold(typ core.EventType) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req holdRequest
		if err := decodeBody(r, &req); err != nil {
			s.fail(w, err)
			return
		}
		if req.By == "" {
			// Who holds is who is signed in, unless the client names
			// the person (a system acting for someone).
			req.By = core.ActorFrom(r.Context()).Name
		}
		p := core.HoldParams{Lot: core.LotRef{Item: req.Item, Lot: req.Lot}, Reason: req.Reason, By: req.By, Propagate: req.Propagate}
		var res *core.HoldResult
		var err error
		if typ == core.Hold {
			res, err = s.Monitor.Hold(r.Context(), p)
		} else {
			res, err = s.Monitor.Release(r.Context(), p)
		}
		if err != nil {
			s.fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}

func (s *Server) balance(w http.ResponseWriter, r *http.Request) {
	q, at, done, err := s.queriesAt(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer done()
	b, err := q.Balance(r.Context(), *lotRef(r), s.Monitor.Rules.Overdrawn.Tolerance)
	if err != nil {
		s.failAt(w, at, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// orderBalance is an order's inputs against its outputs per unit, against
// the yield tolerance: hub balance --order.
func (s *Server) orderBalance(w http.ResponseWriter, r *http.Request) {
	q, at, done, err := s.queriesAt(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer done()
	b, err := q.OrderMassBalance(r.Context(), r.PathValue("order"), s.Monitor.Rules.Yield.Tolerance)
	if err != nil {
		s.failAt(w, at, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) runs(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 {
		limit = 50
	}
	runs, err := s.store.Runs(r.Context(), core.RunFilter{Connector: r.URL.Query().Get("connector"), Limit: limit})
	if err != nil {
		s.fail(w, err)
		return
	}
	if runs == nil {
		runs = []core.Run{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
}

// Metrics are the hub's Prometheus metrics.
type Metrics struct {
	Registry     *prometheus.Registry
	Runs         *prometheus.CounterVec   // connector, status
	Records      *prometheus.CounterVec   // source
	Events       *prometheus.CounterVec   // source
	Quarantined  *prometheus.CounterVec   // source
	Webhooks     *prometheus.CounterVec   // connector, result
	SyncDuration *prometheus.HistogramVec // connector
	HTTPDuration *prometheus.HistogramVec // route, status
	Scans        *prometheus.CounterVec   // point, result
	// IntakeGroup: requests of POST /v1/events and /v1/scans committed
	// in one transaction (group commit).
	IntakeGroup prometheus.Histogram
}

// NewMetrics registers the hub's metrics in a new registry.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lothub_sync_runs_total",
			Help: "Sync runs by connector and final status."}, []string{"connector", "status"}),
		Records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lothub_records_total",
			Help: "Source records read, by source."}, []string{"source"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lothub_events_written_total",
			Help: "Events stored new or as a new version, by source."}, []string{"source"}),
		Quarantined: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lothub_quarantined_total",
			Help: "Records or events set aside in quarantine, by source."}, []string{"source"}),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lothub_webhooks_total",
			Help: "Webhook deliveries by connector and result."}, []string{"connector", "result"}),
		SyncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lothub_sync_duration_seconds",
			Help: "Duration of sync runs.", Buckets: prometheus.ExponentialBuckets(0.1, 3, 10)}, []string{"connector"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lothub_http_request_duration_seconds",
			Help: "HTTP request latency by route and status.", Buckets: prometheus.DefBuckets}, []string{"route", "status"}),
		Scans: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lothub_scans_total",
			Help: "Scans posted to /v1/scans by scan point and result (accepted, refused, quarantined)."}, []string{"point", "result"}),
		IntakeGroup: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lothub_intake_group_requests",
			Help: "Requests of POST /v1/events and /v1/scans committed together in one transaction (group commit).", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
	}
	reg.MustRegister(m.Runs, m.Records, m.Events, m.Quarantined, m.Webhooks, m.SyncDuration, m.HTTPDuration, m.Scans, m.IntakeGroup,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveRun records a finished run.
func (m *Metrics) ObserveRun(run core.Run) {
	m.Runs.WithLabelValues(run.Connector, run.Status).Inc()
	m.Records.WithLabelValues(run.Connector).Add(float64(run.Records))
	m.Events.WithLabelValues(run.Connector).Add(float64(run.Events))
	m.Quarantined.WithLabelValues(run.Connector).Add(float64(run.Quarant))
	if !run.Ended.IsZero() {
		m.SyncDuration.WithLabelValues(run.Connector).Observe(run.Ended.Sub(run.Started).Seconds())
	}
}
