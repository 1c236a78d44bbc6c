package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/intake"
	"github.com/lothub/lothub/mapping"
)

func (a *app) ingestCommand() *cobra.Command {
	var events, mappingFile, kind, source, format string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ingest --events FILE.jsonl | --mapping MAP.yaml --kind KIND FILE... | --format epcis FILE...",
		Short: "Ingest canonical events, or source records through a mapping",
		Long: `With --events, reads canonical events, one JSON object a line (- for
standard input), and applies them to the genealogy.

With --mapping, reads source records (JSON Lines, or CSV with a header row)
of one --kind, archives each record as it is, maps it to canonical events
and applies them: the path a connector's records take. The archive lets
'hub remap' replay a fixed mapping later.

With --format epcis, captures EPCIS 2.0 documents, JSON/JSON-LD or XML (told apart by content)
(docs/epcis.md): an invalid document is refused whole.

Re-ingesting the same input changes nothing. Invalid lines and records that
fail to map are quarantined with file:line, record id and the reason (see
'hub errors'); they never stop the rest of the input.`,
		Example: `  hub ingest --events plant.jsonl
  hub ingest --mapping examples/mappings/csv-export.yaml --kind receipt receipts.csv`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case format == "epcis":
				if events != "" || mappingFile != "" || len(args) == 0 {
					return usageError{fmt.Errorf("--format epcis takes the EPCIS documents to capture (- for standard input), without --events or --mapping")}
				}
				return a.ingestEPCIS(cmd.Context(), args, asJSON)
			case format != "":
				return usageError{fmt.Errorf("unknown --format %q: the one format is epcis (EPCIS 2.0 JSON/JSON-LD or XML)", format)}
			case events != "" && mappingFile != "":
				return usageError{fmt.Errorf("give either --events or --mapping, not both")}
			case events != "":
				if len(args) > 0 {
					return usageError{fmt.Errorf("--events takes its file as the flag's value; unexpected %q", args[0])}
				}
				return a.ingestEvents(cmd.Context(), events, asJSON)
			case mappingFile != "":
				if kind == "" {
					return usageError{fmt.Errorf("--mapping needs --kind: the source record kind of the files (one of the mapping's kinds)")}
				}
				if len(args) == 0 {
					return usageError{fmt.Errorf("--mapping needs the record files to read (JSON Lines or CSV; - for standard input)")}
				}
				return a.ingestRecords(cmd.Context(), mappingFile, kind, source, args, asJSON)
			}
			return usageError{fmt.Errorf("say what to ingest: --events FILE.jsonl, or --mapping MAP.yaml --kind KIND FILE...")}
		},
	}
	cmd.Flags().StringVar(&events, "events", "", "canonical events file (JSON Lines), - for standard input")
	cmd.Flags().StringVar(&mappingFile, "mapping", "", "mapping file turning the source records into events")
	cmd.Flags().StringVar(&kind, "kind", "", "source record kind of the files (with --mapping)")
	cmd.Flags().StringVar(&source, "source", "", "source name the records are archived under (default: the file's name)")
	cmd.Flags().StringVar(&format, "format", "", "epcis: the files are EPCIS 2.0 documents, JSON/JSON-LD or XML (docs/epcis.md)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the counts as JSON")
	cmd.Flags().BoolVar(&a.evaluate, "evaluate", true, "evaluate the gap rules after the ingest when events are unevaluated (--evaluate=false for a bulk backfill; the next sync, ingest or 'hub gaps --evaluate' catches up)")
	cmd.Flags().BoolVar(&a.snapshot, "snapshot", true, "after an ingest that stored 100,000 events or more, save a genealogy snapshot for wide traces from the command line (docs/cli.md); --snapshot=false skips it, e.g. between the files of a backfill")
	return cmd
}

func (a *app) ingestEvents(ctx context.Context, events string, asJSON bool) error {
	var r io.Reader = a.stdin
	if events != "-" {
		f, err := os.Open(events)
		if err != nil {
			return core.Errorf(core.EINVALID, "cannot read events: %v", err)
		}
		defer f.Close()
		r = f
	}
	return a.withStore(ctx, func(s core.Store) error {
		in := core.Ingester{Store: s, Placeholders: a.lotPlaceholders(), Actions: a.actions()}
		st, err := in.IngestJSONL(ctx, r, events)
		// Even after an error: the batches before it are committed.
		a.evaluateIfDue(ctx, s, nil)
		a.snapshotIfDue(ctx, s, st.New+st.Superseded)
		if asJSON {
			if jerr := writeJSON(a.stdout, st); jerr != nil {
				return jerr
			}
		} else {
			fmt.Fprintf(a.stdout, "%s: %d read, %d new, %d superseded, %d unchanged, %d quarantined\n",
				events, st.Read, st.New, st.Superseded, st.Unchanged, st.Quarantined)
			if st.Quarantined > 0 {
				fmt.Fprintf(a.stdout, "%d line(s) quarantined: run 'hub errors' to see why, fix them at the source and ingest again\n", st.Quarantined)
			}
		}
		return err
	})
}

// recordBatch is how many source records go into one transaction.
const recordBatch = 1000

func (a *app) ingestRecords(ctx context.Context, mappingFile, kind, source string, files []string, asJSON bool) error {
	m, err := mapping.Load(mappingFile)
	if err != nil {
		return err
	}
	if !m.Applies(kind) {
		return core.Errorf(core.EINVALID, "mapping %s does not map kind %q (it maps %v): give one of those with --kind", mappingFile, kind, m.Kinds())
	}
	return a.withStore(ctx, func(s core.Store) error {
		ing := &core.Ingester{Store: s, Placeholders: a.lotPlaceholders(), Actions: a.actions()}
		var total core.RecordStats
		for _, name := range files {
			st, err := a.ingestRecordFile(ctx, ing, m, kind, source, name)
			total.Add(st)
			if !asJSON {
				fmt.Fprintf(a.stdout, "%s: %d records, %d events (%d new, %d superseded, %d unchanged), %d quarantined, %d skipped\n",
					name, st.Records, st.Read, st.New, st.Superseded, st.Unchanged, st.Quarantined, st.Skipped)
				writeSkips(a.stdout, "  ", st.Skips)
			}
			if err != nil {
				// The batches before the error are committed.
				a.evaluateIfDue(ctx, s, nil)
				a.snapshotIfDue(ctx, s, total.New+total.Superseded)
				return err
			}
		}
		a.evaluateIfDue(ctx, s, nil)
		a.snapshotIfDue(ctx, s, total.New+total.Superseded)
		if asJSON {
			return writeJSON(a.stdout, total)
		}
		if total.Quarantined > 0 {
			fmt.Fprintf(a.stdout, "%d record(s) quarantined: run 'hub errors' to see why; fix the mapping and run 'hub remap', or fix the record at the source\n", total.Quarantined)
		}
		return nil
	})
}

func (a *app) ingestRecordFile(ctx context.Context, ing *core.Ingester, m *mapping.Mapping, kind, source, name string) (core.RecordStats, error) {
	var r io.Reader = a.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return core.RecordStats{}, core.Errorf(core.EINVALID, "cannot read records: %v", err)
		}
		defer f.Close()
		r = f
	}
	if source == "" {
		source = filepath.Base(name)
	}
	p := &intake.Pipeline{Ingester: ing, Mapping: m, Source: source}
	var total core.RecordStats
	batch := make([]intake.Input, 0, recordBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		st, err := p.Ingest(ctx, batch, nil)
		if err != nil {
			return err
		}
		total.Add(st)
		batch = batch[:0]
		return nil
	}
	// Records are named by file name and line, wherever the file was read
	// from, so that reading it again from elsewhere archives nothing new.
	err := mapping.ReadRecords(ctx, r, filepath.Base(name), kind, func(rec mapping.Record, line int) error {
		batch = append(batch, intake.Input{Record: rec, Line: line})
		if len(batch) == recordBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return total, err
}

// lotPlaceholders is the placeholder lot numbers of the hub configuration
// (lots: placeholders:) when there is one (optionalConfig), and the
// default list otherwise.
func (a *app) lotPlaceholders() *core.LotPlaceholders {
	h, err := a.optionalConfig()
	if err != nil {
		fmt.Fprintf(a.stderr, "warning: %v\nwarning: using the default placeholder lot numbers (%s)\n", err, strings.Join(core.DefaultLotPlaceholders, " "))
		return core.NewLotPlaceholders(nil)
	}
	return h.LotPlaceholders()
}

// optionalConfig is the hub configuration (--config, $HUB_CONFIG or
// ./hub.yaml) for commands that only read a section of it and keep taking
// the store from --db (hub ingest, remap, export): the defaults when no
// file was named and ./hub.yaml does not exist. No secret is resolved: a
// connector's password the user has not set is no reason to refuse an
// ingest (issue 24).
func (a *app) optionalConfig() (*config.Hub, error) {
	path, given := a.configPath()
	if _, err := os.Stat(path); err != nil && !given {
		return config.Defaults(), nil
	}
	return config.LoadDeferred(path)
}
