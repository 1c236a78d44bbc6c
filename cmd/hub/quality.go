package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
)

// Gap exceptions, confirmation, holds and balance: the quality commands.

// qualityConfig is the configuration the quality commands use: the file
// when there is one, the defaults when none was asked for and ./hub.yaml
// does not exist.
func (a *app) qualityConfig() (*config.Hub, error) {
	if a.config == "" && os.Getenv("HUB_CONFIG") == "" {
		if _, err := os.Stat("hub.yaml"); errors.Is(err, fs.ErrNotExist) {
			return &config.Hub{}, nil
		}
	}
	return a.loadConfig()
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

// evaluateAfterIngest runs the gap rules after an ingest. The ingest is
// committed already: a failure here is reported, never fails it.
func (a *app) evaluateAfterIngest(ctx context.Context, s core.Store) {
	if !a.evaluate {
		return
	}
	h, err := a.qualityConfig()
	if err != nil {
		fmt.Fprintf(a.stderr, "hub: gaps not evaluated: %v\n", err)
		return
	}
	if _, err := a.monitor(s, h).Evaluate(ctx); err != nil {
		fmt.Fprintf(a.stderr, "hub: gaps not evaluated (run 'hub gaps --evaluate' later): %v\n", err)
	}
}

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
		c.Flags().StringVar(&by, "by", os.Getenv("USER"), "who (recorded in the gap's history; default $USER)")
		c.Flags().BoolVar(&asJSON, "json", false, "print the gap as JSON")
	}
	ack.Flags().StringVar(&note, "note", "", "what is being done")
	waive.Flags().StringVar(&reason, "reason", "", "why the gap is accepted (required)")
	cmd.AddCommand(show, ack, waive)
	return cmd
}

func (a *app) confirmCommand() *cobra.Command {
	var consumed, produced []string
	var by, note string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "confirm GAP-ID --consumed ITEM/LOT[:QTY[:UOM]]... --by USER --note TEXT",
		Short: "Close an order gap by supplying the missing link after the fact",
		Long: `Writes one ordinary canonical event per lot named — a consume (--consumed) or
a produce (--produced) for the gap's order — marked as a manual confirmation
(who, when, why), and marks the gap confirmed, in one transaction. Traces
show the link as confirmed by hand. Without QTY the link carries no quantity.`,
		Args: exactArgs(1, "GAP-ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := core.ParseGapID(args[0])
			if err != nil {
				return err
			}
			p := core.ConfirmParams{ID: id, By: by, Note: note}
			for _, list := range []struct {
				in  []string
				out *[]core.LotQty
			}{{consumed, &p.Consumed}, {produced, &p.Produced}} {
				for _, s := range list.in {
					q, err := core.ParseLotQty(s)
					if err != nil {
						return err
					}
					*list.out = append(*list.out, q)
				}
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
	cmd.Flags().StringArrayVar(&consumed, "consumed", nil, "a lot the order consumed: ITEM/LOT[:QTY[:UOM]] (repeat for several)")
	cmd.Flags().StringArrayVar(&produced, "produced", nil, "a lot the order produced: ITEM/LOT[:QTY[:UOM]] (repeat for several)")
	cmd.Flags().StringVar(&by, "by", os.Getenv("USER"), "who confirms (default $USER)")
	cmd.Flags().StringVar(&note, "note", "", "why, and on what evidence (batch record, paper log)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the gap as JSON")
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
	if len(d.Records) > 0 {
		t.row("  events", strings.Join(d.Records, ", "))
	}
	t.flush()
	fmt.Fprintf(w, "  %s\n\nHistory\n", d.Detail)
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
