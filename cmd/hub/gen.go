package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/epcis"
	"github.com/lothub/lothub/plantgen"
)

func (a *app) genCommand() *cobra.Command {
	var cfg plantgen.Config
	var out, canonical string
	var asEPCIS, asXML bool
	cmd := &cobra.Command{
		Use:   "gen --events N [--seed S] [--out FILE] | gen --epcis [--xml] --events N [--out FILE] [--canonical FILE]",
		Short: "Write a deterministic synthetic plant as canonical events (JSON Lines)",
		Long: `Generates a synthetic plant: suppliers and receipts, four levels of orders
(blending, WIP, packing, variety packs) with co-mingled and split lots, SALT
and WATER lots that feed thousands of orders, rework and cycles, transforms,
steps, moves, holds, ~1% reversals and ~1% duplicate lines, and shipments to
two hundred customers. The same --events and --seed give the same bytes.

It is the benchmark input and the demo's raw material:

  hub gen --events 1000000 --seed 1 > plant.jsonl
  hub ingest --events plant.jsonl

With --epcis, writes instead a partner's EPCIS 2.0 document of N events
(JSON-LD, or XML with --xml): receipts of raw lots, transformations into
finished lots, packing on pallets, shipments (docs/epcis.md). --canonical
FILE also writes the canonical events its capture makes, as JSON Lines:
the same events for 'hub ingest --events', a capture's baseline.

  hub gen --epcis --events 1000000 --out partner.jsonld --canonical partner.jsonl
  hub ingest --format epcis partner.jsonld`,
		Args: exactArgs(0, "no positional arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Events <= 0 {
				return usageError{fmt.Errorf("--events must be a positive number")}
			}
			w := a.stdout
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return core.Errorf(core.EINVALID, "cannot write %s: %v", out, err)
				}
				defer f.Close()
				w = f
			}
			if asEPCIS {
				return a.genEPCIS(cmd.Context(), w, out, canonical, cfg.Events, asXML)
			}
			if asXML || canonical != "" {
				return usageError{fmt.Errorf("--xml and --canonical go with --epcis")}
			}
			bw := bufio.NewWriterSize(w, 1<<20)
			st, err := plantgen.GenerateStats(cmd.Context(), bw, cfg)
			if err != nil {
				return err
			}
			if err := bw.Flush(); err != nil {
				return fmt.Errorf("write events: %w", err)
			}
			fmt.Fprintf(a.stderr, "generated %d events (%d orders, %d lots, %d duplicate lines); widest raw lot %s (%d orders)\n",
				st.Events, st.Orders, st.Lots, st.Duplicates, st.WidestRawLot, st.WidestRawLotOrders)
			return nil
		},
	}
	cmd.Flags().IntVar(&cfg.Events, "events", 0, "number of events (lines) to write")
	cmd.Flags().Uint64Var(&cfg.Seed, "seed", 1, "random seed: the same seed gives the same plant")
	cmd.Flags().StringVar(&out, "out", "", "write to FILE instead of standard output")
	cmd.Flags().BoolVar(&asEPCIS, "epcis", false, "write an EPCIS 2.0 document instead (JSON-LD; --xml for XML)")
	cmd.Flags().BoolVar(&asXML, "xml", false, "with --epcis: write EPCIS 2.0 XML")
	cmd.Flags().StringVar(&canonical, "canonical", "", "with --epcis and --out: also write the canonical events the document's capture makes (JSON Lines) to FILE")
	return cmd
}

// genEPCIS writes a generated EPCIS document and, when asked, the
// canonical events its capture makes (read back from the written file
// through the capture's own check and mapping).
func (a *app) genEPCIS(ctx context.Context, w io.Writer, out, canonical string, n int, asXML bool) error {
	if canonical != "" && (out == "" || out == "-") {
		return usageError{fmt.Errorf("--canonical needs --out FILE (the document is read back from it)")}
	}
	if err := plantgen.EPCIS(ctx, w, n, asXML); err != nil {
		return fmt.Errorf("write EPCIS document: %w", err)
	}
	if f, ok := w.(*os.File); ok && out != "" && out != "-" {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("write %s: %w", out, err)
		}
	}
	fmt.Fprintf(a.stderr, "generated an EPCIS document of %d events\n", n)
	if canonical == "" {
		return nil
	}
	f, err := os.Open(out)
	if err != nil {
		return fmt.Errorf("read back %s: %w", out, err)
	}
	defer f.Close()
	doc, err := epcis.Check(f, out)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read back %s: %w", out, err)
	}
	cf, err := os.Create(canonical)
	if err != nil {
		return core.Errorf(core.EINVALID, "cannot write %s: %v", canonical, err)
	}
	defer cf.Close()
	bw := bufio.NewWriterSize(cf, 1<<20)
	events := 0
	_, err = epcis.Map(f, doc, epcis.Options{}, 5000, func(recs []core.MappedRecord) error {
		for _, r := range recs {
			for _, e := range r.Events {
				b, err := json.Marshal(e)
				if err != nil {
					return err
				}
				bw.Write(b)
				bw.WriteByte('\n')
				events++
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", canonical, err)
	}
	fmt.Fprintf(a.stderr, "wrote the %d canonical events of its capture to %s\n", events, canonical)
	return nil
}
