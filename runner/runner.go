// Package runner is the hub side of connectors: it finds and launches
// connector plugins, supervises them (restart with backoff after a crash, a
// timeout on every call), and runs syncs. A sync reads a connector from its
// stored position to the end of its source, batch by batch; each batch's
// raw records, events, quarantine entries and the connector's new position
// are committed in one transaction, so a crash at any point loses and
// doubles nothing. Every sync is recorded as a run.
//
// runner does no genealogy itself: records go through intake (archive,
// mapping, core ingest) like every other input.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/intake"
	"github.com/lothub/lothub/mapping"
	"github.com/lothub/lothub/sdk"
)

// PluginPrefix starts the file name of an external connector plugin in
// the plugin directory: lothub-connector-NAME.
const PluginPrefix = "lothub-connector-"

// Plugin is where a connector plugin comes from.
type Plugin struct {
	Name    string `json:"name"`
	Builtin bool   `json:"builtin"`
	Path    string `json:"path"` // the executable; for a built-in, the hub itself
	Version string `json:"version,omitempty"`
}

// Plugins finds connector plugins: the built-ins, served by this binary
// (hub plugin NAME), and the executables named lothub-connector-NAME in
// dir. An external plugin with a built-in's name wins: that is how a plant
// runs a patched connector without a new hub.
type Plugins struct {
	Builtins []string // names of the built-in connectors
	Self     string   // the hub executable; os.Executable() when ""
	Dir      string   // the plugin directory; "" for none
}

// Find returns the plugin called name, or ENOTFOUND.
func (p *Plugins) Find(name string) (Plugin, error) {
	if p.Dir != "" {
		path := filepath.Join(p.Dir, PluginPrefix+name)
		if st, err := os.Stat(path); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return Plugin{Name: name, Path: path}, nil
		}
	}
	for _, b := range p.Builtins {
		if b == name {
			self, err := p.self()
			if err != nil {
				return Plugin{}, err
			}
			return Plugin{Name: name, Builtin: true, Path: self}, nil
		}
	}
	all, _ := p.List()
	var names []string
	for _, pl := range all {
		names = append(names, pl.Name)
	}
	return Plugin{}, core.Errorf(core.ENOTFOUND, "no connector plugin %q (available: %v; external plugins go in the plugin directory as %s%s)", name, names, PluginPrefix, name)
}

func (p *Plugins) self() (string, error) {
	if p.Self != "" {
		return p.Self, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the hub executable to serve built-in connectors: %w", err)
	}
	return exe, nil
}

// List returns every plugin available, sorted by name, external ones
// replacing built-ins of the same name.
func (p *Plugins) List() ([]Plugin, error) {
	byName := map[string]Plugin{}
	for _, b := range p.Builtins {
		self, err := p.self()
		if err != nil {
			return nil, err
		}
		byName[b] = Plugin{Name: b, Builtin: true, Path: self}
	}
	if p.Dir != "" {
		entries, err := os.ReadDir(p.Dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read plugin directory: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || len(name) <= len(PluginPrefix) || name[:len(PluginPrefix)] != PluginPrefix {
				continue
			}
			byName[name[len(PluginPrefix):]] = Plugin{Name: name[len(PluginPrefix):], Path: filepath.Join(p.Dir, name)}
		}
	}
	out := make([]Plugin, 0, len(byName))
	for _, pl := range byName {
		out = append(out, pl)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Command is the command that serves the plugin.
func (pl Plugin) Command() *exec.Cmd {
	if pl.Builtin {
		return exec.Command(pl.Path, "plugin", pl.Name)
	}
	return exec.Command(pl.Path)
}

// Runner runs syncs. It is safe for concurrent use; it never runs two syncs
// of one connector at once.
type Runner struct {
	Store   core.Store
	Config  *config.Hub
	Plugins *Plugins
	Logger  *slog.Logger // slog.Default when nil
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Sleep waits d or until ctx ends; a real timer when nil. Tests
	// replace it so that backoff needs no waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	// Progress, when not nil, is called after each committed batch.
	Progress func(Progress)
	// Actions decides which outbox actions a sync's events set off
	// (outbox.NewPlanner of the configuration); nil: none.
	Actions core.Actions

	mu      sync.Mutex
	running map[string]bool
	ing     core.Ingester
}

// Progress is the state of a running sync after a batch.
type Progress struct {
	Run     core.Run
	More    bool
	Elapsed time.Duration
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Runner) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Syncing reports whether a sync of the connector is running in this
// process.
func (r *Runner) Syncing(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[name]
}

// claim marks a connector as syncing; false if it already is.
func (r *Runner) claim(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running == nil {
		r.running = map[string]bool{}
	}
	if r.running[name] {
		return false
	}
	r.running[name] = true
	return true
}

func (r *Runner) release(name string) {
	r.mu.Lock()
	delete(r.running, name)
	r.mu.Unlock()
}

// Sync runs one sync of the named connector now: from its stored position
// to the end of its source. It records the run and returns it; err is the
// reason a run failed (ECONFLICT when a sync of the connector is already
// running). Batches committed before a failure stay committed. When ctx
// ends mid-sync (Ctrl-C), the sync stops within seconds, whatever state
// the plugin is in, and the run is recorded as failed with an error that
// says it was interrupted.
func (r *Runner) Sync(ctx context.Context, name, trigger string) (core.Run, error) {
	// What the sync writes is recorded in the audit trail under the
	// connector, whoever started it.
	ctx = core.WithActor(ctx, core.ConnectorActor(name))
	cc, err := r.Config.Connector(name)
	if err != nil {
		return core.Run{}, err
	}
	if !r.claim(name) {
		return core.Run{}, core.Errorf(core.ECONFLICT, "a sync of %s is already running: wait for it to end (hub runs)", name)
	}
	defer r.release(name)
	// Across processes (hub replicas on one PostgreSQL, a hand 'hub sync'
	// beside 'hub serve'): the store's claim on the connector's sync.
	claim, err := r.claimSync(ctx, name)
	if err != nil {
		return core.Run{}, err
	}
	if claim != nil {
		defer claim.Release()
		var stop func()
		ctx, stop = whileHeld(ctx, claim)
		defer stop()
	}
	if err := r.closeInterrupted(ctx, name); err != nil {
		return core.Run{}, err
	}
	run := core.Run{Connector: name, Trigger: trigger, Started: r.now(), Status: core.RunRunning}
	if run.ID, err = r.Store.StartRun(ctx, run); err != nil {
		return run, err
	}
	log := r.log().With("connector", name, "run", run.ID)
	log.Info("sync started", "trigger", trigger)
	err = r.sync(ctx, cc, &run, log, claim)
	if err != nil && ctx.Err() != nil {
		// Stopped from outside (Ctrl-C, SIGTERM, hub serve shutting
		// down): whatever the last call saw, say so, and what is kept.
		log.Debug("sync stopped", "err", err)
		err = fmt.Errorf("interrupted (%w) after %d batches: the committed batches are kept and the next run resumes after them", interruption(ctx), run.Batches)
	}
	run.Ended = r.now()
	run.Status = core.RunOK
	if err != nil {
		run.Status = core.RunFailed
		err = scrub(err, cc)
		run.Error = err.Error()
	}
	// The run's record outlives a cancelled context: an operator must see
	// that the run was interrupted.
	if ferr := r.Store.FinishRun(context.WithoutCancel(ctx), run); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		log.Error("sync failed", "err", err, "records", run.Records, "events", run.Events)
		return run, err
	}
	log.Info("sync finished", "records", run.Records, "events", run.Events, "quarantined", run.Quarant, "skipped", run.Skipped,
		"elapsed", run.Ended.Sub(run.Started).Round(time.Millisecond))
	return run, nil
}

// interruption is why ctx ended: the signal that stopped the hub when
// there was one (signal.NotifyContext's cause), and ctx.Err() in any case,
// for errors.Is.
func interruption(ctx context.Context) error {
	switch cause := context.Cause(ctx); {
	case cause == nil || cause == ctx.Err():
		return ctx.Err()
	case errors.Is(cause, ctx.Err()):
		return cause // a signal's: it is context.Canceled too
	default:
		return fmt.Errorf("%w: %w", cause, ctx.Err())
	}
}

// closeInterrupted marks the connector's runs that are still "running" as
// failed: they belong to a hub that stopped mid-sync (killed, or the
// machine went down). Their committed batches stay; the new run resumes
// after them. One hub runs a connector's syncs: with several replicas on
// one database, schedule each connector on one of them.
func (r *Runner) closeInterrupted(ctx context.Context, name string) error {
	runs, err := r.Store.Runs(ctx, core.RunFilter{Connector: name, Limit: 20})
	if err != nil {
		return err
	}
	for _, old := range runs {
		if old.Status != core.RunRunning {
			continue
		}
		old.Status = core.RunFailed
		old.Ended = r.now()
		old.Error = "interrupted: the hub stopped during this run; its committed batches are kept and the next run resumed after them"
		if err := r.Store.FinishRun(ctx, old); err != nil {
			return err
		}
	}
	return nil
}

// scrub removes the connector's secrets from an error's text.
func scrub(err error, cc *config.Connector) error {
	msg := config.Scrub(err.Error(), cc.Secrets())
	if msg == err.Error() {
		return err
	}
	return &scrubbed{msg: msg, code: core.ErrorCode(err)}
}

type scrubbed struct{ msg, code string }

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return &core.Error{Code: s.code, Message: s.msg} }

func (r *Runner) sync(ctx context.Context, cc *config.Connector, run *core.Run, log *slog.Logger, claim core.Claim) error {
	m, err := mapping.Load(cc.Mapping)
	if err != nil {
		return fmt.Errorf("connector %s: %w", cc.Name, err)
	}
	if err := r.RecordConfigs(ctx, cc.Name); err != nil {
		return err
	}
	sup, err := r.supervise(ctx, cc, log)
	if err != nil {
		return err
	}
	defer sup.close()

	var pos sdk.Position
	switch c, err := r.Store.Cursor(ctx, cc.Name); {
	case err == nil:
		pos = c.Position
	case core.ErrorCode(err) != core.ENOTFOUND:
		return err
	}
	// The stored position is committed: tell the connector, in case the
	// hub that committed it died before it could (a file to archive, a
	// message to acknowledge).
	acked := len(pos) == 0 || sup.ack(ctx, pos)
	p := &intake.Pipeline{Ingester: &r.ing, Mapping: m, Source: cc.Name}
	r.ing.Store = r.Store
	r.ing.Now = r.Now
	r.ing.Placeholders = r.Config.LotPlaceholders()
	r.ing.Actions = r.Actions
	// The connector reads and the mapping runs ahead of the commits (up
	// to two batches, see readAhead), on the other core: a sync costs
	// about its commits alone.
	// Batches still commit one at a time, in order, each with the position
	// after it; a batch read ahead and not committed is read again by the
	// next run.
	rctx, stop := context.WithCancel(ctx)
	batches := make(chan readBatch) // see readAhead: two batches ahead at most
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.readAhead(rctx, cc, sup, p, pos, batches)
	}()
	defer func() { stop(); <-done }()
	start := time.Now()
	empty := 0
	for b := range batches {
		if b.err != nil {
			return b.err
		}
		res := b.res
		if len(res.Records) == 0 {
			if len(res.Next) > 0 && string(res.Next) != string(pos) {
				// The connector moved on without records (skipped
				// files, an empty page): keep its position.
				if err := r.commitPosition(ctx, cc.Name, run.ID, res.Next, claim); err != nil {
					return err
				}
				pos = res.Next
				acked = sup.ack(ctx, pos)
			}
			// More without records: the source had an empty page but
			// says there is more. Read on, but not forever.
			if empty++; res.More && empty < maxEmptyReads {
				continue
			}
			if res.More {
				return fmt.Errorf("connector %s returned %d empty batches in a row while saying there was more: stopping this run (report it to the connector's author)", cc.Name, empty)
			}
			sup.ackAtEnd(ctx, pos, acked)
			return nil
		}
		empty = 0
		next := res.Next
		var counted core.Run
		_, err := p.Commit(ctx, b.mapped, func(tx core.IngestTx, st core.RecordStats) error {
			if err := fence(ctx, tx, claim); err != nil {
				return err
			}
			if err := tx.SetCursor(ctx, core.CursorRow{Connector: cc.Name, Position: next, Updated: r.now(), RunID: run.ID}); err != nil {
				return err
			}
			// The run's counts commit with the batch: a run the hub
			// never finishes (kill -9) shows what it committed.
			counted = *run
			counted.Batches++
			counted.Records += st.Records
			counted.Events += st.New + st.Superseded
			counted.Unchanged += st.Unchanged
			counted.Quarant += st.Quarantined
			counted.Skips = core.AddSkips(slices.Clone(run.Skips), st.Skips...)
			counted.Skipped = core.SkippedRecords(counted.Skips)
			return tx.CountRun(ctx, counted)
		})
		if err != nil {
			return err
		}
		pos = next
		*run = counted
		// Only now, with the batch committed, may the connector act on
		// its source (archive a file, acknowledge a message). The read
		// ahead from next proved nothing.
		acked = sup.ack(ctx, next)
		if r.Progress != nil {
			r.Progress(Progress{Run: *run, More: res.More, Elapsed: time.Since(start)})
		}
		if !res.More {
			sup.ackAtEnd(ctx, pos, acked)
			return nil
		}
	}
	return ctx.Err() // the reader stopped early: the sync was cancelled
}

// readBatch is one batch read from a connector and mapped, or the error
// that stopped reading.
type readBatch struct {
	res    sdk.ReadResult
	mapped *intake.Batch
	err    error
}

// readAhead reads batches from pos and maps them, handing each to out,
// until the connector has no more, an error (handed on too), or ctx ends.
// Reading and mapping overlap too: while one batch commits, the mapping
// runs over the next and the plugin process reads the one after (its
// requests, its decoding). The channels are unbuffered, so the reads are
// never more than two batches ahead of the commits, as before the two
// stages were split.
func (r *Runner) readAhead(ctx context.Context, cc *config.Connector, sup *supervisor, p *intake.Pipeline, pos sdk.Position, out chan<- readBatch) {
	defer close(out)
	rctx, stop := context.WithCancel(ctx)
	read := make(chan readBatch)
	go func() {
		defer close(read)
		for {
			res, err := sup.read(rctx, pos)
			select {
			case read <- readBatch{res: res, err: err}:
			case <-rctx.Done():
				return
			}
			if err != nil || !res.More {
				return
			}
			if len(res.Records) > 0 || len(res.Next) > 0 {
				pos = res.Next
			}
		}
	}()
	// Stop the reader and wait for it: it may be restarting the plugin.
	defer func() {
		stop()
		for range read {
		}
	}()
	for b := range read {
		if b.err == nil && len(b.res.Records) > 0 {
			b.mapped, b.err = mapRecords(cc.Name, p, b.res.Records)
			if b.err == nil {
				// The batch before was handed over: its own predecessor
				// is committed (core.Ahead's rule).
				p.PlanAhead(ctx, b.mapped)
			}
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return
		}
		if b.err != nil {
			return
		}
	}
}

// mapRecords turns a connector's records into a mapped batch.
func mapRecords(connector string, p *intake.Pipeline, recs []sdk.Record) (*intake.Batch, error) {
	inputs, err := Inputs(recs)
	if err != nil {
		return nil, fmt.Errorf("connector %s: %w", connector, err)
	}
	return p.Map(inputs)
}

func (r *Runner) commitPosition(ctx context.Context, name string, runID int64, pos []byte, claim core.Claim) error {
	return r.Store.Ingest(ctx, func(tx core.IngestTx) error {
		if err := fence(ctx, tx, claim); err != nil {
			return err
		}
		return tx.SetCursor(ctx, core.CursorRow{Connector: name, Position: pos, Updated: r.now(), RunID: runID})
	})
}

// Inputs turns a connector's records into pipeline inputs: what a sync
// reads, and what the hub's webhook intake receives.
func Inputs(recs []sdk.Record) ([]intake.Input, error) {
	inputs := make([]intake.Input, 0, len(recs))
	for _, rec := range recs {
		// Decoded already by the plugin client as it checked the
		// payload, when it came from a plugin process.
		fields := rec.Fields()
		if fields == nil {
			var err error
			if fields, err = mapping.DecodeFields(rec.Payload); err != nil {
				return nil, fmt.Errorf("record %s: payload is not a JSON object: %v", rec.ID, err)
			}
		}
		inputs = append(inputs, intake.Input{
			Record:  mapping.Record{Kind: rec.Kind, ID: rec.ID, Fields: fields},
			Payload: rec.Payload,
			Deletes: rec.Deletes,
		})
	}
	return inputs, nil
}

// supervisor keeps one plugin process for a sync: it launches it, bounds
// every call by the connector's timeout, retries transient errors with
// backoff (honouring the source's Retry-After) and restarts a crashed or
// hung plugin, all within the connector's max_retry.
type supervisor struct {
	r      *Runner
	cc     *config.Connector
	plugin Plugin
	log    *slog.Logger

	// mu guards client and cfg: the read-ahead goroutine restarts the
	// plugin while the committing one acknowledges positions.
	mu     sync.Mutex
	client *sdk.Client
	cfg    sdk.Config
}

// current returns the running plugin (nil after a crash) and its
// validated configuration.
func (s *supervisor) current() (*sdk.Client, sdk.Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client, s.cfg
}

func (s *supervisor) setClient(c *sdk.Client, cfg sdk.Config) {
	s.mu.Lock()
	s.client, s.cfg = c, cfg
	s.mu.Unlock()
}

func (r *Runner) supervise(ctx context.Context, cc *config.Connector, log *slog.Logger) (*supervisor, error) {
	pl, err := r.Plugins.Find(cc.Plugin)
	if err != nil {
		return nil, err
	}
	s := &supervisor{r: r, cc: cc, plugin: pl, log: log}
	if err := s.launch(ctx); err != nil {
		if !errors.Is(err, sdk.ErrPluginExited) || ctx.Err() != nil {
			return nil, err
		}
		// Killed during its start (not a plugin that cannot start): the
		// first read starts it again, with backoff, within max_retry.
		log.Warn("connector plugin was killed during its start; starting it again", "err", err)
	}
	return s, nil
}

func (s *supervisor) launch(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, time.Duration(s.cc.Timeout))
	defer cancel()
	c, err := sdk.Launch(lctx, s.plugin.Command(), s.log)
	if err != nil {
		return fmt.Errorf("start connector plugin %s for %s: %w", s.plugin.Name, s.cc.Name, err)
	}
	cfg, err := sdk.ParseConfig(c.Spec(), s.cc.Values())
	if err != nil {
		c.Close()
		return core.Errorf(core.EINVALID, "connector %s in %s: %v", s.cc.Name, s.r.Config.File, err)
	}
	s.setClient(c, cfg)
	return nil
}

// ackTimeout bounds an acknowledgement when the connector's own timeout is
// not set.
const ackTimeout = 5 * time.Minute

// ack tells the connector that everything up to pos is committed. A
// failure does not fail the sync: what the connector does on an
// acknowledgement (archive a file, acknowledge a message) waits for the
// next one, and every sync starts by acknowledging the stored position.
func (s *supervisor) ack(ctx context.Context, pos sdk.Position) bool {
	c, cfg := s.current()
	if c == nil {
		return false // crashed or killed: acknowledged later
	}
	timeout := time.Duration(s.cc.Timeout)
	if timeout <= 0 {
		timeout = ackTimeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := c.Ack(actx, cfg, pos); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("connector could not act on a committed position; it is acknowledged again later",
				"err", config.Scrub(err.Error(), s.cc.Secrets()))
		}
		return false
	}
	return true
}

// ackAtEnd acknowledges the sync's last committed position again when its
// acknowledgement failed (the plugin crashed or was killed around it),
// starting the plugin if it has to: the source's side effects (files to
// archive) should not wait for the next sync. The reader has stopped, so
// nothing else starts the plugin meanwhile.
func (s *supervisor) ackAtEnd(ctx context.Context, pos sdk.Position, acked bool) {
	if acked || len(pos) == 0 || ctx.Err() != nil {
		return
	}
	if c, _ := s.current(); c == nil || c.Exited() {
		if c != nil {
			c.Kill()
		}
		s.setClient(nil, sdk.Config{})
		if err := s.launch(ctx); err != nil {
			s.log.Warn("connector plugin did not start to act on the last committed position; the next sync does", "err", err)
			return
		}
	}
	s.ack(ctx, pos)
}

func (s *supervisor) close() {
	if c, _ := s.current(); c != nil {
		c.Close()
	}
}

// maxEmptyReads bounds the reads in a row that return no record but say
// there is more.
const maxEmptyReads = 1000

// Backoff bounds: the first wait, and the longest.
const (
	backoffMin = time.Second
	backoffMax = time.Minute
)

func (s *supervisor) read(ctx context.Context, pos sdk.Position) (sdk.ReadResult, error) {
	deadline := s.r.now().Add(time.Duration(s.cc.MaxRetry))
	wait := backoffMin
	for attempt := 1; ; attempt++ {
		var err error
		restartFailed := false
		if c, _ := s.current(); c == nil {
			// The plugin crashed or hung and was killed. A configuration
			// it refuses fails the run at once; anything else (the
			// machine out of processes or memory for a moment) is
			// retried like the crash itself.
			if err = s.launch(ctx); err != nil {
				if core.ErrorCode(err) == core.EINVALID || ctx.Err() != nil {
					return sdk.ReadResult{}, err
				}
				restartFailed = true
			}
		}
		timedOut := false
		if !restartFailed {
			cctx, cancel := context.WithTimeout(ctx, time.Duration(s.cc.Timeout))
			var res sdk.ReadResult
			c, cfg := s.current()
			res, err = c.Read(cctx, cfg, pos, s.cc.BatchSize)
			// The call timed out if its deadline has passed. Look at the
			// clock, not only at cctx.Err(): the plugin's gRPC server ends
			// the call at the same deadline, and its answer (a deadline
			// exceeded error) can arrive before cctx's own timer has fired.
			dl, _ := cctx.Deadline()
			timedOut = err != nil && ctx.Err() == nil && !time.Now().Before(dl)
			cancel()
			if err == nil {
				return res, nil
			}
		}
		if ctx.Err() != nil {
			return sdk.ReadResult{}, fmt.Errorf("sync of %s interrupted: %w", s.cc.Name, ctx.Err())
		}
		var delay time.Duration
		switch {
		case restartFailed:
			s.log.Warn("connector plugin did not start again, retrying", "attempt", attempt, "err", err)
			delay = wait
		case errors.Is(err, sdk.ErrPluginExited) || timedOut:
			// Restart the plugin; the read resumes at the committed
			// position, so nothing is lost or doubled.
			why := "crashed"
			if timedOut {
				why = fmt.Sprintf("did not answer within %s", time.Duration(s.cc.Timeout))
				// Say so in the error too: alone, "context deadline
				// exceeded" does not tell an operator that the plugin
				// hung, nor which timeout to raise.
				err = fmt.Errorf("connector plugin %s %s (the connector's timeout) and was killed: %w", s.plugin.Name, why, err)
			}
			s.log.Warn("connector plugin "+why+", restarting", "attempt", attempt, "err", err)
			if c, _ := s.current(); c != nil {
				c.Kill()
			}
			s.setClient(nil, sdk.Config{})
			delay = wait
		case errors.Is(err, sdk.ErrRetry):
			delay = wait
			if d, ok := sdk.RetryDelay(err); ok && d > 0 {
				delay = d
			}
			s.log.Warn("source busy or unavailable, retrying", "attempt", attempt, "in", delay, "err", err)
		default:
			return sdk.ReadResult{}, fmt.Errorf("read %s: %w", s.cc.Name, err)
		}
		if s.r.now().Add(delay).After(deadline) {
			return sdk.ReadResult{}, fmt.Errorf("read %s: still failing after %d attempts over %s, giving up (batches before stay committed; the next sync resumes there): %w",
				s.cc.Name, attempt, time.Duration(s.cc.MaxRetry), err)
		}
		if err := s.r.sleep(ctx, delay); err != nil {
			return sdk.ReadResult{}, fmt.Errorf("sync of %s interrupted: %w", s.cc.Name, err)
		}
		// Exponential backoff with jitter, capped.
		wait = min(backoffMax, wait*2) + time.Duration(rand.Int64N(int64(wait/4)+1))
	}
}
