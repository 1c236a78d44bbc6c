package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
)

// Gap exceptions, confirmation, holds and balance: the quality commands.

// qualityConfig is the configuration the quality commands use: the file
// when there is one, the defaults when none was asked for and ./hub.yaml
// does not exist. Its connectors' secrets stay unresolved: a quality user
// need not have the ERP's password.
func (a *app) qualityConfig() (*config.Hub, error) {
	h, _, err := a.configOrDefaults()
	return h, err
}

// monitor returns the gap monitor over s, with the configured rules and
// notifiers.
func (a *app) monitor(s core.Store, h *config.Hub) *core.Monitor {
	return &core.Monitor{Store: s, Rules: h.Gaps.GapRules(), Alerts: alerter(h, a.logger()), Log: a.logger()}
}

// withMonitor opens the store and runs fn with a monitor over it.
func (a *app) withMonitor(ctx context.Context, fn func(m *core.Monitor) error) error {
	h, err := a.qualityConfig()
	if err != nil {
		return err
	}
	return a.withStore(ctx, func(s core.Store) error { return fn(a.monitor(s, h)) })
}

// evaluateIfDue runs the gap rules after a command that may have written
// events (an ingest, a sync), with h's rules and notifiers (nil: the
// configuration's, loaded here), when the store says evaluation is due:
// it holds events no completed evaluation has seen, whoever wrote them (a
// sync killed after its last commit leaves such events to the sync that
// completes it, which writes none). The writes are committed already: a
// failure here is reported, never fails the command.
func (a *app) evaluateIfDue(ctx context.Context, s core.Store, h *config.Hub) {
	if !a.evaluate || ctx.Err() != nil {
		return
	}
	if h == nil { // the command has not loaded the configuration
		var err error
		if h, err = a.qualityConfig(); err != nil {
			fmt.Fprintf(a.stderr, "hub: gaps not evaluated: %v\n", err)
			return
		}
	}
	if _, _, err := a.monitor(s, h).EvaluateIfDue(ctx); err != nil {
		fmt.Fprintf(a.stderr, "hub: gaps not evaluated (run 'hub gaps --evaluate' later): %v\n", err)
	}
}

// snapshotIfDue saves a genealogy snapshot after an ingest that stored
// (new or superseded) at least snapshotAfter events, unless
// --snapshot=false, when none of the store's present genealogy version is
// saved: the next wide trace of a command-line process walks it in memory
// after one read, instead of one query per depth level. Saving reads
// every link (seconds at 5M events), which a bulk load hardly notices and
// a small ingest into a big store would; after those, hub serve saves it
// (every five minutes at most) or the next bulk load does. A failure only
// leaves the next wide walks on the slower path, so it is reported, not
// returned.
func (a *app) snapshotIfDue(ctx context.Context, s core.Store, stored int) {
	if !a.snapshot || stored < snapshotAfter || ctx.Err() != nil {
		return
	}
	if _, err := core.RefreshGenealogySnapshot(ctx, s); err != nil {
		fmt.Fprintf(a.stderr, "hub: genealogy snapshot not saved (wide traces walk level by level until the next ingest saves one): %v\n", err)
	}
}

// snapshotAfter is how many events an ingest must store to save a
// genealogy snapshot (snapshotIfDue).
const snapshotAfter = 100_000

func (a *app) gapCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gap",
		Short: "Work one gap exception: show, ack, waive",
	}
	var asJSON bool
	show := &cobra.Command{
		Use:   "show GAP-ID",
		Short: "A gap with its history: who did what when",
		Args:  exactArgs(1, "GAP-ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := core.ParseGapID(args[0])
			if err != nil {
				return err
			}
			return a.withMonitor(cmd.Context(), func(m *core.Monitor) error {
				d, err := m.Show(cmd.Context(), id)
				if err != nil {
					return err
				}
				return a.printGap(d, asJSON)
			})
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print the gap and its history as JSON")
	var by, note, reason string
	ack := &cobra.Command{
		Use:   "ack GAP-ID --by USER [--note TEXT]",
		Short: "Acknowledge a gap: someone is working on it",
		Args:  exactArgs(1, "GAP-ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := core.ParseGapID(args[0])
			if err != nil {
				return err
			}
			return a.withMonitor(cmd.Context(), func(m *core.Monitor) error {
				d, err := m.Ack(cmd.Context(), id, by, note)
				if err != nil {
					return err
				}
				return a.printGap(d, asJSON)
			})
		},
	}
	waive := &cobra.Command{
		Use:   "waive GAP-ID --by USER --reason TEXT",
		Short: "Close a gap that will not be fixed, with a reason",
		Args:  exactArgs(1, "GAP-ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := core.ParseGapID(args[0])
			if err != nil {
				return err
			}
			return a.withMonitor(cmd.Context(), func(m *core.Monitor) error {
				d, err := m.Waive(cmd.Context(), id, by, reason)
				if err != nil {
					return err
				}
				return a.printGap(d, asJSON)
			})
		},
	}
	for _, c := range []*cobra.Command{ack, waive} {
		c.Flags().StringVar(&by, "by", osActor().Name, "who (recorded in the gap's history; default: the operating-system user)")
		c.Flags().BoolVar(&asJSON, "json", false, "print the gap as JSON")
	}
	ack.Flags().StringVar(&note, "note", "", "what is being done")
	waive.Flags().StringVar(&reason, "reason", "", "why the gap is accepted (required)")
	cmd.AddCommand(show, ack, waive)
	return cmd
}

func (a *app) confirmCommand() *cobra.Command {
	var req core.ConfirmRequest
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "confirm GAP-ID [--consumed|--produced ITEM/LOT[:QTY[:UOM]]... | --result RESULT | --supplier ID[:NAME] | --order ORDER] --by USER --note TEXT",
		Short: "Close a gap by supplying what the source never recorded",
		Long: `Writes ordinary canonical events for what you confirm, marked as a manual
confirmation (who, when, why), and marks the gap confirmed, in one
transaction. Traces show such links as confirmed by hand. What to give
depends on the gap's kind:

  output_without_input, yield   --consumed ITEM/LOT[:QTY[:UOM]] (repeat): the lots the order used
  input_without_output          --produced ITEM/LOT[:QTY[:UOM]] (repeat): the lots the order made
  missed_scan                   --result RESULT [--equipment ID]: the step was done, with this outcome
  unknown_lot                   --supplier ID[:NAME] [--supplier-lot L] [--po PO], or --order ORDER,
                                with --qty QTY[:UOM]: where the lot came from

Without a quantity a link carries none. Overdrawn lots and time-order
violations have nothing missing: correct them at the source or waive them.`,
		Example: `  hub confirm GAP-3 --consumed FLOUR/F-A:40:KG --by ann --note "batch record BR-118"
  hub confirm GAP-4 --result pass --equipment MD-2 --by ann --note "paper log, line 2"
  hub confirm GAP-5 --supplier V-MILL:"Mill Co" --supplier-lot M-7781 --qty 500:KG --by ann --note "GRN 1182"`,
		Args: exactArgs(1, "GAP-ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := core.ParseGapID(args[0])
			if err != nil {
				return err
			}
			p, err := req.Params(id)
			if err != nil {
				return err
			}
			return a.withMonitor(cmd.Context(), func(m *core.Monitor) error {
				d, err := m.Confirm(cmd.Context(), p)
				if err != nil {
					return err
				}
				return a.printGap(d, asJSON)
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&req.Consumed, "consumed", nil, "a lot the order consumed: ITEM/LOT[:QTY[:UOM]] (repeat for several)")
	f.StringArrayVar(&req.Produced, "produced", nil, "a lot the order produced: ITEM/LOT[:QTY[:UOM]] (repeat for several)")
	f.StringVar(&req.Result, "result", "", "missed scan: the step's outcome (pass, fail, a reading)")
	f.StringVar(&req.Equipment, "equipment", "", "missed scan: the equipment the step ran on")
	f.StringVar(&req.Supplier, "supplier", "", "unknown lot: received from this supplier, ID[:NAME]")
	f.StringVar(&req.SupplierLot, "supplier-lot", "", "unknown lot: the supplier's lot number")
	f.StringVar(&req.PO, "po", "", "unknown lot: the purchase order")
	f.StringVar(&req.Order, "order", "", "unknown lot: produced by this order")
	f.StringVar(&req.Qty, "qty", "", "unknown lot: the quantity received or produced, QTY[:UOM]")
	f.StringVar(&req.By, "by", osActor().Name, "who confirms (default: the operating-system user)")
	f.StringVar(&req.Note, "note", "", "why, and on what evidence (batch record, paper log)")
	f.BoolVar(&asJSON, "json", false, "print the gap as JSON")
	return cmd
}

func (a *app) printGap(d *core.GapDetail, asJSON bool) error {
	if asJSON {
		return writeJSON(a.stdout, d)
	}
	w := a.stdout
	fmt.Fprintf(w, "%s  %s  %s  (%s)\n", d.ID, d.Kind, strings.ToUpper(string(d.Status)), d.Severity)
	t := newTable(w, "  lot", lotName(d.Item, d.Lot))
	t.row("  order", d.Order)
	t.row("  since", d.Since)
	t.row("  opened", d.Opened)
	if d.Escalated != "" {
		t.row("  alerted", d.Escalated)
	}
	t.flush()
	fmt.Fprintf(w, "  %s\n", d.Detail)
	if len(d.Sources) > 0 {
		fmt.Fprintf(w, "\nSource records\n")
		t = newTable(w, "  EVENT", "TYPE", "TIME", "STATUS", "CONNECTOR", "RECORD")
		for _, s := range d.Sources {
			t.row("  "+s.Event, s.Type, s.Time, s.Status, s.Connector, s.Record)
		}
		t.flush()
	}
	fmt.Fprintf(w, "\nHistory\n")
	t = newTable(w, "  AT", "ACTION", "BY", "NOTE")
	for _, h := range d.History {
		t.row("  "+h.At, h.Action, h.By, h.Note)
	}
	t.flush()
	return nil
}

func lotName(item, lot string) string {
	if item == "" {
		return ""
	}
	return item + "/" + lot
}

// parseSince reads --since: an RFC 3339 time, a date, or a duration back
// from now (72h).
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, core.Errorf(core.EINVALID, "--since %q: want a time (2026-03-01T00:00:00Z), a date (2026-03-01) or a duration back from now (72h)", s)
}
