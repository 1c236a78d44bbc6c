package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/epcis"
	"github.com/lothub/lothub/report"
)

// exportCommand is hub export: a lot's genealogy in a standard format
// (docs/cli.md): EPCIS 2.0, JSON-LD or XML.
func (a *app) exportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export epcis ITEM LOT",
		Short: "Export a lot's genealogy in a standard format (EPCIS 2.0 JSON-LD or XML)",
	}
	var direction, out, format string
	var force bool
	sub := &cobra.Command{
		Use:   "epcis ITEM LOT",
		Short: "The genealogy of a lot as one EPCIS 2.0 EPCISDocument (JSON-LD valid against GS1's schema, or XML)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageError{fmt.Errorf("want ITEM LOT, e.g. hub export epcis BREAD BR-1 --direction both")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dirs, err := epcis.Directions("--direction", direction)
			if err != nil {
				return usageError{err}
			}
			if format != epcis.FormatJSON && format != epcis.FormatXML {
				return usageError{fmt.Errorf("--format %q: want json (JSON-LD) or xml (the EPCIS 2.0 XML binding)", format)}
			}
			opt := epcis.ExportOptions{GTINItems: a.epcisConfig().GTINItems, Format: format}
			return a.withStore(cmd.Context(), func(s core.Store) error {
				q := core.Queries{Store: s}
				g, err := q.Genealogy(cmd.Context(), core.LotRef{Item: args[0], Lot: args[1]}, dirs...)
				if err != nil {
					return err
				}
				res, err := epcis.Export(g, opt)
				if err != nil {
					return err
				}
				write := func(w io.Writer) error { _, err := w.Write(res.Document); return err }
				if out == "" {
					err = write(a.stdout)
				} else {
					err = report.WriteFile(out, force, write)
				}
				if err != nil {
					return err
				}
				if out != "" {
					fmt.Fprintf(a.stderr, "wrote %s: %d EPCIS events, %d lots\n", out, res.Events, len(g.Lots))
				}
				if len(res.NoGTIN) > 0 {
					fmt.Fprintf(a.stderr, "note: %d item(s) have no GTIN (hub.yaml epcis: gtin_items:), their lots are urn:lothub:lot:ITEM:LOT classes that only lothub reads: %v\n", len(res.NoGTIN), res.NoGTIN)
				}
				return nil
			})
		},
	}
	sub.Flags().StringVar(&direction, "direction", "both", "backward (ancestors), forward (descendants) or both")
	sub.Flags().StringVar(&format, "format", "json", "json (JSON-LD) or xml (the EPCIS 2.0 XML binding)")
	sub.Flags().StringVarP(&out, "out", "o", "", "file to write (standard output without it)")
	sub.Flags().BoolVar(&force, "force", false, "overwrite --out if it exists")
	cmd.AddCommand(sub)
	return cmd
}
