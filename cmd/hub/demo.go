package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/plantgen"
)

func (a *app) demoCommand() *cobra.Command {
	var cfg plantgen.Config
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Load a synthetic demo plant into the database and print a recall",
		Long: `Generates a synthetic plant (see 'hub gen'), ingests it into the database
(--db, default ./hub.db) and prints the recall of the first raw lot the plant
received: every lot made from it, the customers who got them, and what is
still on hand. Run it again and nothing changes: ingest is idempotent.

Afterwards, try for example:
  hub trace backward --sales-order SO-000001
  hub lot <ITEM> <LOT>
  hub gaps`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(s core.Store) error {
				pr, pw := io.Pipe()
				first := make(chan core.LotRef, 1)
				go func() {
					w := &firstReceipt{w: pw, found: first}
					_, err := plantgen.GenerateStats(ctx, w, cfg)
					pw.CloseWithError(err)
				}()
				in := core.Ingester{Store: s}
				st, err := in.IngestJSONL(ctx, pr, "demo plant")
				pr.CloseWithError(io.ErrClosedPipe)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "demo plant (seed %d) in %s: %d events read, %d new, %d unchanged, %d quarantined\n\n",
					cfg.Seed, a.db, st.Read, st.New, st.Unchanged, st.Quarantined)
				var root core.LotRef
				select {
				case root = <-first:
				default:
					return core.Errorf(core.EINVALID, "the demo plant received no lot: use more --events")
				}
				q := core.Queries{Store: s}
				res, err := q.Recall(ctx, core.Selector{Lot: &root})
				if err != nil {
					return err
				}
				printTrace(a.stdout, res, true)
				fmt.Fprintf(a.stdout, "\nThat was: hub --db %s recall %s %s\n", a.db, root.Item, root.Lot)
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&cfg.Events, "events", 5000, "size of the demo plant in events")
	cmd.Flags().Uint64Var(&cfg.Seed, "seed", 1, "random seed of the demo plant")
	return cmd
}

// firstReceipt passes JSON Lines through and reports the lot of the first
// receive event that is not a bulk utility (SALT, WATER feed everything).
type firstReceipt struct {
	w     io.Writer
	buf   []byte
	found chan<- core.LotRef
	done  bool
}

func (f *firstReceipt) Write(p []byte) (int, error) {
	if !f.done {
		f.buf = append(f.buf, p...)
		sc := bufio.NewScanner(bytes.NewReader(f.buf))
		sc.Buffer(nil, len(f.buf)+1)
		for sc.Scan() && !f.done {
			var e core.Event
			if json.Unmarshal(sc.Bytes(), &e) == nil && e.Type == core.Receive && e.Lot != nil &&
				e.Lot.Item != "SALT" && e.Lot.Item != "WATER" {
				f.found <- *e.Lot
				f.done = true
				f.buf = nil
			}
		}
		if i := bytes.LastIndexByte(f.buf, '\n'); i >= 0 {
			f.buf = f.buf[i+1:]
		}
	}
	return f.w.Write(p)
}
