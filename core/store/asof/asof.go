// Package asof answers questions as the store would have answered them at
// an earlier time: `hub trace|recall|lot|report --as-of T` and the HTTP
// routes' as_of parameter.
//
// The store keeps every version of every event with the time it recorded
// it (seen_at, the store's clock, not the event's business time), and every
// answer is a function of the current versions (core's package doc). So
// the store as it stood at T is the one that the versions recorded at or
// before T make: Open reads them (core.Store.EventVersions, in the order
// the store recorded them) and replays them through core's own ingest rules
// (core.Plan) into a scratch SQLite store, each recording step with its
// original time, so versions, their numbers, seen_at, reversals, holds
// (those the ERP or hub hold recorded, and those the hub derived, as it had
// derived them by then) come out as they stood. The same core.Queries and
// report functions then answer from the scratch store: the shapes are
// today's, and the answer cannot drift from the plain one's rules.
//
// Why a replay and not time filters on the live tables: the live derived
// tables (links, receipts, shipments, quantities, hold status) hold only
// the present; answering from events with time filters would need a
// second, time-aware copy of every query in both stores, and a proof that
// it agrees with ingest's rules (reversals waiting for their targets,
// supersessions, reversal chains). A replay is the rules themselves. Its
// cost is that of ingesting the store's history up to T (docs/as-of.md
// gives the figures); an as-of answer is for an audit, not for the
// shop floor.
//
// Gap exceptions are not events: the view lists those the hub had opened
// by T, with the status their history gives at T (see Exceptions).
//
// asof never writes to the store it reads.
package asof

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
)

// pageSize is how many event versions one read of the store returns.
const pageSize = 5000

// Options tune Open.
type Options struct {
	// Dir is where the scratch store's file goes (os.TempDir when "");
	// it is removed by Close.
	Dir string
	// Log receives a line per replay (slog.Default when nil).
	Log *slog.Logger
	// PageSize is how many versions one read of the store returns
	// (pageSize when 0); the conformance suite makes pages tiny so that
	// steps span them.
	PageSize int
}

// View is the store as it stood at one time: a read-only core.Store.
// Close removes it.
type View struct {
	*sqlite.DB
	src  core.Store
	at   time.Time
	dir  string
	page int
	// Versions is how many event versions were replayed; Took how long
	// building the view took.
	Versions int
	Took     time.Duration
}

var _ core.Store = (*View)(nil)

// At is the time the view is of.
func (v *View) At() time.Time { return v.at }

// Open builds the view of src as of at: every event version src recorded
// at or before at, replayed in the order src recorded them. It reads src
// only.
func Open(ctx context.Context, src core.Store, at time.Time, o Options) (*View, error) {
	start := time.Now()
	dir, err := os.MkdirTemp(o.Dir, "lothub-asof-")
	if err != nil {
		return nil, fmt.Errorf("as of %s: make the scratch store's directory: %w (set TMPDIR to a writable directory)", fmtTime(at), err)
	}
	db, err := sqlite.OpenScratch(ctx, filepath.Join(dir, "asof.db"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("as of %s: open the scratch store: %w", fmtTime(at), err)
	}
	v := &View{DB: db, src: src, at: at.UTC(), dir: dir, page: cmp.Or(o.PageSize, pageSize)}
	if err := v.replay(ctx); err != nil {
		v.Close()
		return nil, fmt.Errorf("as of %s: %w", fmtTime(at), err)
	}
	v.Took = time.Since(start)
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	log.Debug("as-of view built", "as_of", fmtTime(at), "versions", v.Versions, "took", v.Took)
	return v, nil
}

// step is the versions the store recorded at one time: one transaction
// (or several that recorded at the same instant, which give the same
// result replayed together: the versions stay in the store's order).
type step struct {
	at     time.Time
	events []core.PreparedEvent
}

// replay reads the versions recorded by v.at page by page and applies
// each page's complete steps in one scratch transaction. Reading and
// decoding the next page overlaps with writing this one, as ingest does.
func (v *View) replay(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan []step, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(pages)
		readErr <- v.read(ctx, pages)
	}()
	var lots core.LotCache
	for steps := range pages {
		if err := v.apply(ctx, steps, &lots); err != nil {
			cancel()
			for range pages { // let the reader finish
			}
			return err
		}
	}
	return <-readErr
}

// read sends the complete steps of each page, and the last step at the
// end.
func (v *View) read(ctx context.Context, out chan<- []step) error {
	send := func(steps []step) error {
		select {
		case out <- steps:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var after int64
	var open step // the step the last page ended in: it may go on
	for {
		rows, err := v.src.EventVersions(ctx, core.EventVersionsParams{SeenThrough: v.at, AfterSeq: after, Limit: v.page})
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		var done []step
		for _, r := range rows {
			after = r.Seq
			var e core.Event
			if err := json.Unmarshal(r.Body, &e); err != nil {
				return fmt.Errorf("stored event %s version %d (seq %d) is unreadable: %w", r.ID, r.Version, r.Seq, err)
			}
			if !r.SeenAt.Equal(open.at) && len(open.events) > 0 {
				done = append(done, open)
				open = step{}
			}
			open.at = r.SeenAt
			// The stored hash and body, not recomputed: they are what
			// ingest compared when it recorded the version.
			open.events = append(open.events, core.PreparedEvent{Event: &e, Hash: r.Hash, Body: r.Body, Time: r.Time})
			v.Versions++
		}
		if len(done) > 0 {
			if err := send(done); err != nil {
				return err
			}
		}
	}
	if len(open.events) == 0 {
		return nil
	}
	return send([]step{open})
}

// apply writes steps into the scratch store, each planned by core's
// ingest rules at its own recording time.
func (v *View) apply(ctx context.Context, steps []step, lots *core.LotCache) error {
	err := v.DB.Ingest(ctx, func(tx core.IngestTx) error {
		for _, s := range steps {
			c, _, err := core.Plan(ctx, tx, s.events, s.at, lots)
			if err != nil {
				return err
			}
			if err := tx.Write(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replay the versions recorded at %s: %w", fmtTime(steps[0].at), err)
	}
	return nil
}

// Ingest refuses: the view is read-only.
func (v *View) Ingest(ctx context.Context, fn func(tx core.IngestTx) error) error {
	return core.Errorf(core.EINVALID, "the store as of %s is read-only: write to the store itself", fmtTime(v.at))
}

// EvaluationMark is the store's: the view of T made from the store at
// data version N is the same whatever N ≥ the version at T, so a report
// made as of T names the state of the store it was computed from.
func (v *View) EvaluationMark(ctx context.Context) (core.EvaluationMark, error) {
	return v.src.EvaluationMark(ctx)
}

// Close removes the scratch store.
func (v *View) Close() error {
	err := v.DB.Close()
	if rerr := os.RemoveAll(v.dir); err == nil && rerr != nil {
		err = fmt.Errorf("remove the scratch store %s: %w", v.dir, rerr)
	}
	return err
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// readOnly is the error of every write asked of a view.
func (v *View) readOnly() error {
	return core.Errorf(core.EINVALID, "the store as of %s is read-only: write to the store itself", fmtTime(v.at))
}

// ResolveQuarantine refuses: the view is read-only.
func (v *View) ResolveQuarantine(ctx context.Context, seq int64, reason string) error {
	return v.readOnly()
}

// ResetCursor refuses: the view is read-only.
func (v *View) ResetCursor(ctx context.Context, connector, reason string) error {
	return v.readOnly()
}

// Audit refuses: the view is read-only (an action taken while looking
// at the past is recorded in the store itself).
func (v *View) Audit(ctx context.Context, e core.AuditEntry) (core.AuditEntry, error) {
	return core.AuditEntry{}, v.readOnly()
}

// PruneAudit refuses: the view is read-only.
func (v *View) PruneAudit(ctx context.Context, through int64, before time.Time, checkpoint core.AuditEntry) (core.AuditEntry, error) {
	return core.AuditEntry{}, v.readOnly()
}

// AuditLog is the store's: the trail is append-only, so the entries up
// to T are the store's own (filter by time to see them as of T).
func (v *View) AuditLog(ctx context.Context, f core.AuditFilter) ([]core.AuditEntry, error) {
	return v.src.AuditLog(ctx, f)
}

// AuditHead is the store's.
func (v *View) AuditHead(ctx context.Context) (core.AuditHead, error) { return v.src.AuditHead(ctx) }

// ReadAudit is the store's.
func (v *View) ReadAudit(ctx context.Context, after int64, fn func(core.AuditEntry) error) error {
	return v.src.ReadAudit(ctx, after, fn)
}
