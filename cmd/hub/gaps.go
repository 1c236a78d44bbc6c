package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
)

func (a *app) gapsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "gaps",
		Short: "Where the genealogy chain is broken: unknown lots, outputs with no recorded input",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(s core.Store) error {
				q := core.Queries{Store: s}
				gaps, err := q.Gaps(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, map[string]any{"gaps": gaps})
				}
				if len(gaps) == 0 {
					fmt.Fprintln(a.stdout, "no gaps: every lot used was received or produced, and every order with output has inputs")
					return nil
				}
				t := newTable(a.stdout, "KIND", "LOT", "ORDER", "SINCE", "DETAIL")
				for _, g := range gaps {
					lot := ""
					if g.Item != "" {
						lot = g.Item + "/" + g.Lot
					}
					t.row(g.Kind, lot, g.Order, g.Since, g.Detail)
				}
				t.flush()
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"gaps": [...]} (stable interface)`)
	return cmd
}

// errorEntry is one quarantined input in `hub errors --json`.
type errorEntry struct {
	Source   string `json:"source"`
	Line     int    `json:"line"`
	EventID  string `json:"event_id"`
	Reason   string `json:"reason"`
	Raw      string `json:"raw"`
	At       string `json:"at"`
	Resolved bool   `json:"resolved"`
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
with its id arrives.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(s core.Store) error {
				rows, err := s.Quarantined(cmd.Context(), core.QuarantineFilter{IncludeResolved: all, Limit: limit})
				if err != nil {
					return err
				}
				out := make([]errorEntry, 0, len(rows))
				for _, r := range rows {
					out = append(out, errorEntry{r.Source, r.Line, r.EventID, r.Reason, r.Raw, r.At.Format("2006-01-02T15:04:05Z07:00"), r.Resolved})
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
					if e.Resolved {
						reason = "(resolved) " + reason
					}
					t.row(where, e.EventID, reason)
				}
				t.flush()
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"errors": [...]}`)
	cmd.Flags().BoolVar(&all, "all", false, "include resolved entries")
	cmd.Flags().IntVar(&limit, "limit", 0, "show at most this many (0: all)")
	return cmd
}
