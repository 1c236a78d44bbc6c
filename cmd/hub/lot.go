package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
)

func (a *app) lotCommand() *cobra.Command {
	var asJSON bool
	var asOf asOfFlag
	cmd := &cobra.Command{
		Use:   "lot ITEM LOT",
		Short: "A lot's status now: on hand, hold, location, steps, receipts, and its history",
		Args:  exactArgs(2, "ITEM LOT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStoreAsOf(cmd.Context(), &asOf, func(s core.Store) error {
				q := core.Queries{Store: s}
				st, err := q.Lot(cmd.Context(), core.LotRef{Item: args[0], Lot: args[1]})
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, st)
				}
				w := a.stdout
				hold := "no"
				if st.OnHold {
					hold = "YES"
					if n := len(st.Holds); n > 0 {
						hold += " since " + st.Holds[n-1].Time
						if st.Holds[n-1].Reason != "" {
							hold += ": " + st.Holds[n-1].Reason
						}
					}
				}
				fmt.Fprintf(w, "Lot %s/%s\n", st.Item, st.Lot)
				t := newTable(w, "  on hand", qtys(st.OnHand))
				t.row("  on hold", hold)
				if st.Site != "" || st.Location != "" {
					t.row("  where", st.Site+" "+st.Location)
				}
				// Lot attributes (expiration and manufacturing dates of the
				// receipt or production), sorted by name.
				for _, k := range slices.Sorted(maps.Keys(st.Attributes)) {
					t.row("  "+strings.ReplaceAll(k, "_", " "), fmt.Sprint(st.Attributes[k]))
				}
				t.flush()
				if len(st.Receipts) > 0 {
					fmt.Fprintln(w, "\nReceipts")
					t := newTable(w, "  SUPPLIER", "NAME", "SUPPLIER LOT", "PO", "QTY", "RECEIVED")
					for _, r := range st.Receipts {
						t.row("  "+r.ID, r.Name, r.SupplierLot, r.PO, num(r.Qty)+" "+r.UOM, r.Time)
					}
					t.flush()
				}
				if len(st.Steps) > 0 {
					fmt.Fprintln(w, "\nSteps")
					t := newTable(w, "  STEP", "TIME", "OPERATOR", "EQUIPMENT", "PARAMS")
					for _, s := range st.Steps {
						params := ""
						if len(s.Params) > 0 {
							params = fmt.Sprint(s.Params)
						}
						t.row("  "+s.Step, s.Time, s.Operator, s.Equipment, params)
					}
					t.flush()
				}
				if len(st.ERPDocuments) > 0 {
					fmt.Fprintln(w, "\nERP documents (hub outbox show ID)")
					t := newTable(w, "  EVENT", "ACTION", "OUTBOX", "STATE", "DOCUMENT / ERROR")
					for _, d := range st.ERPDocuments {
						t.row("  "+d.Event, d.Action, fmt.Sprint(d.Outbox), string(d.State), d.Document+d.Error)
					}
					t.flush()
				}
				fmt.Fprintln(w, "\nHistory")
				t = newTable(w, "  TIME", "EVENT", "STATUS", "WHAT")
				for _, e := range st.Events {
					status := string(e.Status)
					if e.Version > 1 || e.Status == core.Superseded {
						status += fmt.Sprintf(" (v%d, seen %s)", e.Version, e.SeenAt)
					}
					t.row("  "+e.Time, e.ID, status, e.Summary)
				}
				t.flush()
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	asOf.register(cmd)
	return cmd
}
