package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
)

func (a *app) gapsCommand() *cobra.Command {
	var asJSON, evaluate, all bool
	var status, since string
	cmd := &cobra.Command{
		Use:   "gaps",
		Short: "Gap exceptions: where the genealogy chain is broken, and where each stands",
		Long: `Lists the gap exceptions that are not closed (open, alerted, acknowledged):
orders with output and no input or input and no output, unknown lots, missed
step scans, overdrawn lots, yields over tolerance, lots used before they were
received, input still in quarantine (one gap per file or connector, saying
how many records: hub errors lists them), items whose lots carry quantities
in more than one unit (mixed_units: add a conversion to the mapping's
units: table and hub remap). The rules and their windows are in hub.yaml (docs/quality.md); they
are evaluated on every ingest, on hub serve's schedule, and with --evaluate.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := core.ExceptionFilter{Open: !all && status == ""}
			if status != "" {
				st, err := core.ParseGapStatus(status)
				if err != nil {
					return err
				}
				f.Statuses = []core.GapStatus{st}
			}
			t, err := parseSince(since, time.Now())
			if err != nil {
				return err
			}
			f.Since = t
			return a.withMonitor(cmd.Context(), func(m *core.Monitor) error {
				if evaluate {
					r, err := m.Evaluate(cmd.Context())
					if err != nil {
						return err
					}
					if !asJSON {
						fmt.Fprintf(a.stdout, "evaluated: %d opened, %d reopened, %d resolved, %d alerted, %d alert(s) failed, %d lot(s) born on hold, %d born-on-hold hold(s) withdrawn\n",
							r.Opened, r.Reopened, r.Resolved, r.Alerted, r.Failed, r.Held, r.HoldsWithdrawn)
					}
				}
				gaps, err := m.GapList(cmd.Context(), f)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, map[string]any{"gaps": gaps})
				}
				if len(gaps) == 0 {
					fmt.Fprintln(a.stdout, "no gaps")
					return nil
				}
				t := newTable(a.stdout, "ID", "STATUS", "SEVERITY", "KIND", "LOT", "ORDER", "SINCE", "DETAIL")
				for _, g := range gaps {
					t.row(g.ID, string(g.Status), g.Severity, g.Kind, lotName(g.Item, g.Lot), g.Order, g.Since, g.Detail)
				}
				t.flush()
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"gaps": [...]} (stable interface)`)
	cmd.Flags().BoolVar(&evaluate, "evaluate", false, "evaluate the gap rules now first (windows close by the clock)")
	cmd.Flags().BoolVar(&all, "all", false, "include closed gaps (resolved, confirmed, waived)")
	cmd.Flags().StringVar(&status, "status", "", "only gaps in this status: open, alerted, acknowledged, resolved, confirmed, waived")
	cmd.Flags().StringVar(&since, "since", "", "only gaps whose condition began at or after: a time, a date, or a duration back (72h)")
	return cmd
}

// errorEntry is one quarantined input in `hub errors --json`.
type errorEntry struct {
	ID       int64  `json:"id"` // for hub errors resolve
	Source   string `json:"source"`
	Line     int    `json:"line"`
	EventID  string `json:"event_id"`
	Reason   string `json:"reason"`
	Raw      string `json:"raw"`
	At       string `json:"at"`
	Resolved bool   `json:"resolved"`
	// ResolveReason: why an operator resolved it (hub errors resolve).
	ResolveReason string `json:"resolve_reason,omitempty"`
}

func (a *app) errorsCommand() *cobra.Command {
	var asJSON, all bool
	var limit int
	cmd := &cobra.Command{
		Use:   "errors",
		Short: "Quarantined input: what could not be ingested, where, and why",
		Long: `Lists the input lines that failed validation, with file and line, the event
id when one could be read, and the reason. Fix the record at the source (or
the mapping) and ingest again: an entry is marked resolved when a valid event
with its id arrives, or when its source record maps (hub remap). While any
entry of a file or connector is open, hub gaps shows a "quarantined" gap for
it, alerted like the others.

An entry whose source record will never come back (it was replaced by
records with other ids) is resolved by hand: hub errors resolve ID --reason
TEXT (the ids are in hub errors --json).`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(s core.Store) error {
				rows, err := s.Quarantined(cmd.Context(), core.QuarantineFilter{IncludeResolved: all, Limit: limit})
				if err != nil {
					return err
				}
				out := make([]errorEntry, 0, len(rows))
				for _, r := range rows {
					out = append(out, errorEntry{r.Seq, r.Source, r.Line, r.EventID, r.Reason, r.Raw, r.At.Format("2006-01-02T15:04:05Z07:00"), r.Resolved, r.ResolveReason})
				}
				if asJSON {
					return writeJSON(a.stdout, map[string]any{"errors": out})
				}
				if len(out) == 0 {
					fmt.Fprintln(a.stdout, "no quarantined input")
					return nil
				}
				t := newTable(a.stdout, "WHERE", "EVENT", "REASON")
				for _, e := range out {
					where := e.Source
					if e.Line > 0 {
						where += ":" + strconv.Itoa(e.Line)
					}
					reason := e.Reason
					switch {
					case e.ResolveReason != "":
						reason = "(resolved by hand: " + e.ResolveReason + ") " + reason
					case e.Resolved:
						reason = "(resolved) " + reason
					}
					t.row(where, e.EventID, reason)
				}
				t.flush()
				return nil
			})
		},
	}
	cmd.AddCommand(a.errorsResolveCommand())
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"errors": [...]}`)
	cmd.Flags().BoolVar(&all, "all", false, "include resolved entries")
	cmd.Flags().IntVar(&limit, "limit", 0, "show at most this many (0: all)")
	return cmd
}

// errorsResolveCommand is hub errors resolve ID --reason TEXT: an open
// quarantine entry that no record will ever resolve (its source record was
// replaced by records with other ids) is closed by hand, the reason kept.
func (a *app) errorsResolveCommand() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "resolve ID --reason TEXT",
		Short: "Resolve an open quarantine entry by hand, with the reason",
		Long: `Marks the open quarantine entry ID (hub errors --json: "id") resolved and
keeps the reason (hub errors --all shows it). For entries no record will
resolve: e.g. a NetSuite lot line read without inventory detail
(TYPE:TRAN:LINE:0) whose detail was entered since: its lines are read as
records with other ids and the entry would stay open, and the source's
"quarantined" gap with it. The gap closes at the next evaluation once no
entry of the source is open. The same input quarantined again reopens the
entry.`,
		Args: exactArgs(1, "the entry's id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return core.Errorf(core.EINVALID, "quarantine entry id %q is not a positive number (hub errors --json lists the ids)", args[0])
			}
			if err := core.RequireReason(fmt.Sprintf("resolve quarantine entry %d", id), reason); err != nil {
				return err
			}
			return a.withStore(cmd.Context(), func(s core.Store) error {
				if err := s.ResolveQuarantine(cmd.Context(), id, strings.TrimSpace(reason)); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "quarantine entry %d resolved: %s\n", id, strings.TrimSpace(reason))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the entry needs no fix (required; kept with the entry)")
	return cmd
}
