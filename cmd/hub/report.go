package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/esign"
	"github.com/lothub/lothub/report"
)

// hubVersion is the version the binary was built as, for report footers.
func hubVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// reportOutput are the flags every report takes.
type reportOutput struct {
	format, out string
	force       bool
}

func (o *reportOutput) register(cmd *cobra.Command, def string, formats []string) {
	cmd.Flags().StringVar(&o.format, "format", def, fmt.Sprintf("one of %v", formats))
	cmd.Flags().StringVarP(&o.out, "out", "o", "", "file to write (json, csv and html go to standard output without it)")
	cmd.Flags().BoolVar(&o.force, "force", false, "overwrite --out if it exists")
}

// check refuses a bad format or a binary format to a terminal before the
// store is read.
func (o *reportOutput) check(name string, formats []string) error {
	if err := report.CheckFormat(name, o.format, formats); err != nil {
		return usageError{err}
	}
	if o.out == "" && (o.format == "pdf" || o.format == "xlsx") {
		return usageError{fmt.Errorf("--format %s needs --out FILE", o.format)}
	}
	return nil
}

// write renders rep to --out (never leaving a partial or empty file) or
// to standard output, and says where it went.
func (a *app) writeReport(ctx context.Context, live core.Store, o *reportOutput, rep any, hash string) error {
	if err := esign.Attach(ctx, live, rep); err != nil {
		return err
	}
	render := func(w io.Writer) error { return report.Render(w, rep, o.format) }
	if o.out == "" {
		return render(a.stdout)
	}
	if err := report.WriteFile(o.out, o.force, render); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "wrote %s (SHA-256 of the report data %s)\n", o.out, hash)
	return nil
}

func (a *app) reportOptions() report.Options { return report.Options{Version: hubVersion()} }

func (a *app) reportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report lot|recall|fsma204|approve|verify",
		Short: "Audit-ready reports: lot audit report, recall list, FSMA 204 sortable spreadsheet; sign and verify them (docs/reports.md)",
	}

	var lotOut reportOutput
	var depth int
	var lotAsOf, recallAsOf, fsmaAsOf asOfFlag
	lot := &cobra.Command{
		Use:   "lot ITEM LOT",
		Short: "Lot audit report: identity, genealogy to the raw materials, process, shipments, mass balance, gaps, holds, provenance",
		Args:  exactArgs(2, "ITEM LOT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := lotOut.check("lot", report.LotFormats); err != nil {
				return err
			}
			return a.withStoresAsOf(cmd.Context(), &lotAsOf, func(st, live core.Store) error {
				opts := a.reportOptions()
				opts.DepthLimit = depth
				opts.AsOf = lotAsOf.at
				rep, err := report.Lot(cmd.Context(), &core.Queries{Store: st}, core.LotRef{Item: args[0], Lot: args[1]}, opts)
				if err != nil {
					return err
				}
				return a.writeReport(cmd.Context(), live, &lotOut, rep, rep.Meta.SHA256)
			})
		},
	}
	lotOut.register(lot, "pdf", report.LotFormats)
	lotAsOf.register(lot)
	lot.Flags().IntVar(&depth, "depth", report.DefaultDepthLimit, "genealogy levels listed lot by lot; deeper levels are counted")

	var recallOut reportOutput
	var sel selectorFlags
	recall := &cobra.Command{
		Use:   "recall [ITEM LOT]",
		Short: "Recall list: customer deliveries, stock to block, orders in process, lots on hold",
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := sel.selector(args)
			if err != nil {
				return err
			}
			if err := recallOut.check("recall", report.RecallFormats); err != nil {
				return err
			}
			return a.withStoresAsOf(cmd.Context(), &recallAsOf, func(st, live core.Store) error {
				opts := a.reportOptions()
				opts.AsOf = recallAsOf.at
				rep, err := report.Recall(cmd.Context(), &core.Queries{Store: st}, s, opts)
				if err != nil {
					return err
				}
				return a.writeReport(cmd.Context(), live, &recallOut, rep, rep.Meta.SHA256)
			})
		},
	}
	sel.register(recall)
	recallOut.register(recall, "xlsx", report.RecallFormats)
	recallAsOf.register(recall)

	var fsmaOut reportOutput
	var item, lotCode, from, to string
	fsma := &cobra.Command{
		Use:   "fsma204 --item ITEM --from DATE --to DATE",
		Short: "FSMA 204 electronic sortable spreadsheet (21 CFR 1.1455(c)(3)(ii)): one row per critical tracking event",
		Args:  exactArgs(0, "no arguments: --item, --from and --to"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if item == "" || from == "" || to == "" {
				return usageError{fmt.Errorf("hub report fsma204 needs --item, --from and --to")}
			}
			p := report.FSMAParams{Item: item, Lot: lotCode}
			var err error
			if p.From, err = parseWhen(from, false); err != nil {
				return err
			}
			if p.To, err = parseWhen(to, true); err != nil {
				return err
			}
			if err := fsmaOut.check("fsma204", report.FSMAFormats); err != nil {
				return err
			}
			return a.withStoresAsOf(cmd.Context(), &fsmaAsOf, func(st, live core.Store) error {
				opts := a.reportOptions()
				opts.AsOf = fsmaAsOf.at
				rep, err := report.FSMA204(cmd.Context(), &core.Queries{Store: st}, p, opts)
				if err != nil {
					return err
				}
				return a.writeReport(cmd.Context(), live, &fsmaOut, rep, rep.Meta.SHA256)
			})
		},
	}
	fsma.Flags().StringVar(&item, "item", "", "the food (item) the spreadsheet is about")
	fsma.Flags().StringVar(&lotCode, "lot", "", "only this lot of the item")
	fsma.Flags().StringVar(&from, "from", "", "first day (YYYY-MM-DD) or instant (RFC 3339), inclusive")
	fsma.Flags().StringVar(&to, "to", "", "last day (YYYY-MM-DD, inclusive) or instant (RFC 3339, exclusive)")
	fsmaOut.register(fsma, "xlsx", report.FSMAFormats)
	fsmaAsOf.register(fsma)

	cmd.AddCommand(lot, recall, fsma, a.reportApproveCommand(), a.reportVerifyCommand())
	return cmd
}
