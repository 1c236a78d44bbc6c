package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
)

func (a *app) ingestCommand() *cobra.Command {
	var events string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ingest --events FILE.jsonl",
		Short: "Ingest canonical events (JSON Lines; - for standard input)",
		Long: `Reads canonical events, one JSON object a line, and applies them to the
genealogy. Re-ingesting the same file changes nothing. Invalid lines are
quarantined with their line number and the reason (see 'hub errors'); they
never stop the rest of the file.`,
		Args: exactArgs(0, "--events FILE (no positional arguments)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if events == "" {
				return usageError{fmt.Errorf("say what to ingest: --events FILE.jsonl (or - for standard input)")}
			}
			var r io.Reader = a.stdin
			if events != "-" {
				f, err := os.Open(events)
				if err != nil {
					return core.Errorf(core.EINVALID, "cannot read events: %v", err)
				}
				defer f.Close()
				r = f
			}
			return a.withStore(cmd.Context(), func(s core.Store) error {
				in := core.Ingester{Store: s}
				st, err := in.IngestJSONL(cmd.Context(), r, events)
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
		},
	}
	cmd.Flags().StringVar(&events, "events", "", "canonical events file (JSON Lines), - for standard input")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the counts as JSON")
	return cmd
}
