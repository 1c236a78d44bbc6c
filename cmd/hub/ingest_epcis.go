package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/epcis"
)

// ingestEPCIS captures EPCIS 2.0 JSON/JSON-LD documents (hub ingest
// --format epcis FILE...): each document is validated against GS1's
// schema and refused whole when invalid; a valid one is archived event by
// event and mapped to canonical events in one transaction (docs/epcis.md).
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
				return err
			}
			if !asJSON {
				fmt.Fprintf(a.stdout, "%s: %d EPCIS events, %d canonical events (%d new, %d superseded, %d unchanged), %d quarantined, %d stored without genealogy\n",
					name, st.Records, st.Read, st.New, st.Superseded, st.Unchanged, st.Quarantined, st.Skipped)
				writeSkips(a.stdout, "  ", st.Skips)
			}
		}
		a.evaluateIfDue(ctx, s, nil)
		if asJSON {
			return writeJSON(a.stdout, total)
		}
		if total.Quarantined > 0 {
			fmt.Fprintf(a.stdout, "%d EPCIS event(s) quarantined: run 'hub errors' to see why\n", total.Quarantined)
		}
		return nil
	})
}

func (a *app) captureFile(ctx context.Context, ing *core.Ingester, name string, opt epcis.Options) (core.RecordStats, error) {
	var r io.Reader = a.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return core.RecordStats{}, core.Errorf(core.EINVALID, "cannot read EPCIS document: %v", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return core.RecordStats{}, core.Errorf(core.EINVALID, "cannot read EPCIS document %s: %v", name, err)
	}
	res, err := epcis.Capture(data, name, opt)
	if err != nil {
		return core.RecordStats{}, err
	}
	// One document, one transaction: all of it or nothing.
	return ing.IngestRecords(ctx, res.Records, "epcis", nil)
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
