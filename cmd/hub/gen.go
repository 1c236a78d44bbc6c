package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/plantgen"
)

func (a *app) genCommand() *cobra.Command {
	var cfg plantgen.Config
	var out string
	cmd := &cobra.Command{
		Use:   "gen --events N [--seed S] [--out FILE]",
		Short: "Write a deterministic synthetic plant as canonical events (JSON Lines)",
		Long: `Generates a synthetic plant: suppliers and receipts, four levels of orders
(blending, WIP, packing, variety packs) with co-mingled and split lots, SALT
and WATER lots that feed thousands of orders, rework and cycles, transforms,
steps, moves, holds, ~1% reversals and ~1% duplicate lines, and shipments to
two hundred customers. The same --events and --seed give the same bytes.

It is the benchmark input and the demo's raw material:

  hub gen --events 1000000 --seed 1 > plant.jsonl
  hub ingest --events plant.jsonl`,
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
	return cmd
}
