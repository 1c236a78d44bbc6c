package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/epcis"
)

// ingestEPCIS captures EPCIS 2.0 documents, JSON/JSON-LD or XML (hub
// ingest --format epcis FILE...): each document is validated against
// GS1's schema and refused whole when invalid; a valid one is archived
// event by event and mapped to canonical events, in transactions of
// captureBatch events (docs/epcis.md).
func (a *app) ingestEPCIS(ctx context.Context, files []string, asJSON bool) error {
	opt := epcis.Options{GTINItems: a.epcisConfig().GTINItems}
	return a.withStore(ctx, func(s core.Store) error {
		ing := &core.Ingester{Store: s, Placeholders: a.lotPlaceholders(), Actions: a.actions()}
		var total core.RecordStats
		for _, name := range files {
			st, err := a.captureFile(ctx, ing, name, opt)
			total.Add(st)
			if err != nil {
				a.evaluateIfDue(ctx, s, nil)
				a.snapshotIfDue(ctx, s, total.New+total.Superseded)
				return err
			}
			if !asJSON {
				fmt.Fprintf(a.stdout, "%s: %d EPCIS events, %d canonical events (%d new, %d superseded, %d unchanged), %d quarantined, %d stored without genealogy\n",
					name, st.Records, st.Read, st.New, st.Superseded, st.Unchanged, st.Quarantined, st.Skipped)
				writeSkips(a.stdout, "  ", st.Skips)
			}
		}
		a.evaluateIfDue(ctx, s, nil)
		a.snapshotIfDue(ctx, s, total.New+total.Superseded)
		if asJSON {
			return writeJSON(a.stdout, total)
		}
		if total.Quarantined > 0 {
			fmt.Fprintf(a.stdout, "%d EPCIS event(s) quarantined: run 'hub errors' to see why\n", total.Quarantined)
		}
		return nil
	})
}

// captureBatch is how many EPCIS events go into one transaction of a
// document's capture (a variable for the tests).
var captureBatch = 5000

// captureFile captures one document as a stream (docs/epcis.md): a first
// read checks every event and the document against the schema — an
// invalid document stores nothing —, a second maps the events and commits
// them in batches of captureBatch, the next batch mapped while the last
// one commits. Standard input is spooled to a temporary file to be read
// twice.
func (a *app) captureFile(ctx context.Context, ing *core.Ingester, name string, opt epcis.Options) (core.RecordStats, error) {
	var f *os.File
	if name == "-" {
		tmp, err := os.CreateTemp("", "hub-epcis-*")
		if err != nil {
			return core.RecordStats{}, fmt.Errorf("spool standard input: %w", err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := io.Copy(tmp, a.stdin); err != nil {
			return core.RecordStats{}, core.Errorf(core.EINVALID, "cannot read EPCIS document from standard input: %v", err)
		}
		f = tmp
	} else {
		var err error
		f, err = os.Open(name)
		if err != nil {
			return core.RecordStats{}, core.Errorf(core.EINVALID, "cannot read EPCIS document: %v", err)
		}
		defer f.Close()
	}
	rewind := func() (io.Reader, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("read EPCIS document %s: %w", name, err)
		}
		return f, nil
	}
	r, err := rewind()
	if err != nil {
		return core.RecordStats{}, err
	}
	restore := checkGC()
	doc, err := epcis.Check(r, name)
	restore()
	if err != nil {
		return core.RecordStats{}, err
	}
	if r, err = rewind(); err != nil {
		return core.RecordStats{}, err
	}
	return commitPipelined(ctx, ing, func(emit func([]core.MappedRecord) error) error {
		_, err := epcis.Map(r, doc, opt, captureBatch, emit)
		return err
	})
}

// checkGCPercent is the GOGC of a document's check (checkGC).
const checkGCPercent = 800

// checkGC raises GOGC to checkGCPercent for a document's check, until
// restore: the check holds a few megabytes (the events in flight) and
// makes the rest garbage, so under the default the collector ran every
// few events' worth of megabytes, about a seventh of the check's CPU. The
// heap it lets grow is tens of megabytes, below what the commits hold
// after it. GOGC in the environment wins.
func checkGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	prev := debug.SetGCPercent(checkGCPercent)
	return func() { debug.SetGCPercent(prev) }
}

// commitPipelined commits the batches produce emits, each in its own
// transaction, in the order emitted, while the next batch is prepared
// (validated and encoded: core.Ingester.PrepareRecords) and the one after
// it mapped: three stages on their own goroutines handing batches over
// unbuffered, so the writer is not kept waiting by the work before it and
// at most three batches are held (one committing, one prepared, one
// mapped), as many as when mapping and preparing were one stage.
func commitPipelined(ctx context.Context, ing *core.Ingester, produce func(emit func([]core.MappedRecord) error) error) (core.RecordStats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mapped := make(chan []core.MappedRecord)
	batches := make(chan *core.RecordBatch)
	produced := make(chan error, 1)
	go func() {
		defer close(mapped)
		produced <- produce(func(recs []core.MappedRecord) error {
			select {
			case mapped <- recs:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	ahead := ing.Ahead()
	go func() {
		defer close(batches)
		for recs := range mapped {
			// Planned after the batch before was handed over, when its
			// own predecessor is committed (core.Ahead's rule).
			b := ing.PrepareRecords(recs)
			ahead.PlanRecords(ctx, b)
			select {
			case batches <- b:
			case <-ctx.Done():
				for range mapped { // drain: the producer stops on ctx
				}
				return
			}
		}
	}()
	var total core.RecordStats
	var commitErr error
	for b := range batches {
		if commitErr != nil {
			continue // drain
		}
		st, err := ing.CommitRecords(ctx, b, "epcis", nil)
		total.Add(st)
		if err != nil {
			commitErr = err
			cancel()
		}
	}
	if err := <-produced; err != nil && commitErr == nil {
		return total, err
	}
	return total, commitErr
}

// epcisConfig is the epcis: section of the hub configuration, when there
// is one (optionalConfig).
func (a *app) epcisConfig() config.EPCIS {
	h, err := a.optionalConfig()
	if err != nil {
		fmt.Fprintf(a.stderr, "warning: %v\nwarning: no GTIN is mapped to an item (epcis: gtin_items:)\n", err)
		return config.EPCIS{}
	}
	return h.EPCIS
}
