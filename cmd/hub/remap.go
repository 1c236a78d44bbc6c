package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/intake"
	"github.com/lothub/lothub/mapping"
)

func (a *app) remapCommand() *cobra.Command {
	var mappingFile, source, since string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "remap --mapping MAP.yaml [--source S] [--since T]",
		Short: "Replay archived source records through a fixed mapping",
		Long: `Runs the archived source records of the mapping's kinds through it again,
without asking the ERP: events that changed supersede their old versions,
events the mapping no longer produces are reversed (history keeps both),
and quarantined records that now map are released.

The answer to "the mapping was wrong for three months".`,
		Example: `  hub mapping check sap.yaml && hub mapping test sap.yaml
  hub remap --mapping sap.yaml --source sap-prod --since 2026-09-01`,
		Args: exactArgs(0, "--mapping MAP.yaml (no positional arguments)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mappingFile == "" {
				return usageError{fmt.Errorf("say which mapping to replay: --mapping MAP.yaml")}
			}
			opt := intake.RemapOptions{Source: source}
			if since != "" {
				t, err := parseWhen(since, false)
				if err != nil {
					return err
				}
				opt.Since = t
			}
			m, err := mapping.Load(mappingFile)
			if err != nil {
				return err
			}
			return a.withStore(cmd.Context(), func(s core.Store) error {
				st, err := intake.Remap(cmd.Context(), &core.Ingester{Store: s, Placeholders: a.lotPlaceholders()}, m, opt)
				if asJSON {
					if jerr := writeJSON(a.stdout, st); jerr != nil {
						return jerr
					}
				} else {
					fmt.Fprintf(a.stdout, "remapped %d records with %s: %d events (%d new, %d superseded, %d unchanged), %d reversed, %d restored, %d quarantined%s\n",
						st.Records, intake.MappingID(m), st.Read, st.New, st.Superseded, st.Unchanged, st.Reversed, st.Restored, st.Quarantined, skippedText(st.Skipped))
					writeSkips(a.stdout, "  ", st.Skips)
				}
				return err
			})
		},
	}
	cmd.Flags().StringVar(&mappingFile, "mapping", "", "the fixed mapping")
	cmd.Flags().StringVar(&source, "source", "", "only records of this source (connector or file name)")
	cmd.Flags().StringVar(&since, "since", "", "only records received at or after this date or time")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the counts as JSON")
	return cmd
}
