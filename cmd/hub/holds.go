package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
)

func (a *app) holdCommands() []*cobra.Command {
	mk := func(typ core.EventType, short string) *cobra.Command {
		var reason, by string
		var propagate, asJSON bool
		cmd := &cobra.Command{
			Use:   string(typ) + " ITEM LOT --reason TEXT [--propagate]",
			Short: short,
			Args:  exactArgs(2, "ITEM LOT"),
			RunE: func(cmd *cobra.Command, args []string) error {
				p := core.HoldParams{Lot: core.LotRef{Item: args[0], Lot: args[1]}, Reason: reason, By: by, Propagate: propagate}
				return a.withMonitor(cmd.Context(), func(m *core.Monitor) error {
					var res *core.HoldResult
					var err error
					if typ == core.Hold {
						res, err = m.Hold(cmd.Context(), p)
					} else {
						res, err = m.Release(cmd.Context(), p)
					}
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(a.stdout, res)
					}
					for _, l := range res.Lots {
						fmt.Fprintf(a.stdout, "%s %s\n", l, map[core.EventType]string{core.Hold: "on hold", core.Release: "released"}[typ])
					}
					return nil
				})
			},
		}
		cmd.Flags().StringVar(&reason, "reason", "", "why (required; recorded in the lot's history)")
		cmd.Flags().StringVar(&by, "by", osActor().Name, "who (default: the operating-system user)")
		cmd.Flags().BoolVar(&propagate, "propagate", false, "also every descendant still on hand (hold) or held because of this lot (release)")
		cmd.Flags().BoolVar(&asJSON, "json", false, "print the lots changed as JSON")
		return cmd
	}
	var asJSON bool
	var holdsAsOf asOfFlag
	holds := &cobra.Command{
		Use:   "holds",
		Short: "Lots on hold now, from the ERP or hub hold",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStoreAsOf(cmd.Context(), &holdsAsOf, func(s core.Store) error {
				hs, err := (&core.Queries{Store: s}).Holds(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, map[string]any{"holds": hs})
				}
				if len(hs) == 0 {
					fmt.Fprintln(a.stdout, "no lot on hold")
					return nil
				}
				t := newTable(a.stdout, "LOT", "SINCE", "BY", "REASON", "EVENT")
				for _, h := range hs {
					t.row(h.Item+"/"+h.Lot, h.Since, h.By, h.Reason, h.Event)
				}
				t.flush()
				return nil
			})
		},
	}
	holds.Flags().BoolVar(&asJSON, "json", false, `print {"holds": [...]}`)
	holdsAsOf.register(holds)
	return []*cobra.Command{
		mk(core.Hold, "Put a lot on hold (and, with --propagate, its descendants on hand); lots made from it later are born on hold"),
		mk(core.Release, "Release a lot from hold (and, with --propagate, the descendants held with it)"),
		holds,
	}
}

func (a *app) balanceCommand() *cobra.Command {
	var asJSON bool
	var order string
	var asOf asOfFlag
	cmd := &cobra.Command{
		Use:   "balance ITEM LOT | --order ORDER",
		Short: "Mass balance of a lot (in vs out per unit, where it went, its orders) or of an order (inputs vs outputs)",
		Args: func(cmd *cobra.Command, args []string) error {
			if order != "" {
				return exactArgs(0, "ITEM LOT or --order ORDER, not both")(cmd, args)
			}
			return exactArgs(2, "ITEM LOT, or --order ORDER")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := a.qualityConfig()
			if err != nil {
				return err
			}
			if order != "" {
				return a.withStoreAsOf(cmd.Context(), &asOf, func(s core.Store) error {
					b, err := (&core.Queries{Store: s}).OrderMassBalance(cmd.Context(), order, h.Gaps.GapRules().Yield.Tolerance)
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(a.stdout, b)
					}
					printOrderBalance(a.stdout, b)
					return nil
				})
			}
			return a.withStoreAsOf(cmd.Context(), &asOf, func(s core.Store) error {
				b, err := (&core.Queries{Store: s}).Balance(cmd.Context(), core.LotRef{Item: args[0], Lot: args[1]}, h.Gaps.GapRules().Overdrawn.Tolerance)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, b)
				}
				w := a.stdout
				fmt.Fprintf(w, "Lot %s/%s\n", b.Item, b.Lot)
				t := newTable(w, "  UOM", "RECEIVED", "PRODUCED", "CONSUMED", "SHIPPED", "ADJUSTED", "REVERSED", "ON HAND", "DIFFERENCE", "OK")
				for _, u := range b.Units {
					ok := "yes"
					if !u.WithinTolerance {
						ok = "NO: more out than in"
					}
					t.row("  "+u.UOM, num(u.Received), num(u.Produced), num(u.Consumed), num(u.Shipped), num(u.Adjusted), num(u.Reversed), num(u.OnHand), num(u.Difference), ok)
				}
				t.flush()
				if len(b.Uses) > 0 {
					fmt.Fprintln(w, "\nWhere it went")
					t := newTable(w, "  TIME", "WHAT", "TO", "QTY", "EVENT")
					for _, u := range b.Uses {
						to := "order " + u.Order
						if u.Customer != nil {
							to = "customer " + u.Customer.ID
						}
						what := string(u.Type)
						if u.Confirmed {
							what += " (" + confirmedMark + ")"
						}
						t.row("  "+u.Time, what, to, num(u.Qty)+" "+u.UOM, u.Event)
					}
					t.flush()
				}
				if len(b.Orders) > 0 {
					fmt.Fprintln(w, "\nOrders")
					t := newTable(w, "  ORDER", "UOM", "IN", "OUT")
					for _, o := range b.Orders {
						t.row("  "+o.Order, o.UOM, num(o.In), num(o.Out))
					}
					t.flush()
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the balance as JSON")
	cmd.Flags().StringVar(&order, "order", "", "the balance of this order: its inputs vs its outputs per unit, against the yield tolerance")
	asOf.register(cmd)
	return cmd
}

// printOrderBalance prints an order's inputs against its outputs.
func printOrderBalance(w io.Writer, b *core.OrderMassBalance) {
	verdict := "within tolerance"
	if !b.WithinTolerance {
		verdict = "NOT within tolerance"
	}
	fmt.Fprintf(w, "Order %s: %s (outputs may exceed inputs by %g %%)\n", b.Order, verdict, b.Tolerance*100)
	t := newTable(w, "  UOM", "IN", "OUT", "DIFFERENCE", "OK")
	for _, u := range b.Units {
		ok := "yes"
		switch {
		case !u.Compared && u.WithinTolerance:
			ok = "not compared: no input in this unit"
		case !u.Compared:
			ok = "NO: nothing went in at all"
		case !u.WithinTolerance:
			ok = fmt.Sprintf("NO: %.1f %% more out than in", (u.Out/u.In-1)*100)
		}
		t.row("  "+u.UOM, num(u.In), num(u.Out), num(u.Difference), ok)
	}
	t.flush()
	for _, part := range []struct {
		title string
		lots  []core.OrderLotQty
	}{{"Inputs", b.Inputs}, {"Outputs", b.Outputs}} {
		if len(part.lots) == 0 {
			fmt.Fprintf(w, "\n%s: none recorded\n", part.title)
			continue
		}
		fmt.Fprintf(w, "\n%s\n", part.title)
		t := newTable(w, "  LOT", "QTY", "TIME", "EVENT")
		for _, l := range part.lots {
			ev := l.Event
			if l.Confirmed {
				ev += " (" + confirmedMark + ")"
			}
			t.row("  "+l.Item+"/"+l.Lot, num(l.Qty)+" "+l.UOM, l.Time, ev)
		}
		t.flush()
	}
	if len(b.Adjustments) > 0 {
		// Netted into IN and OUT above: a return from the order (+) lowers
		// IN.
		fmt.Fprintf(w, "\nAdjustments naming the order (netted above)\n")
		t := newTable(w, "  LOT", "QTY", "NETS", "TIME", "EVENT")
		for _, l := range b.Adjustments {
			nets := "out"
			if l.Side == "in" {
				nets = "in"
			}
			t.row("  "+l.Item+"/"+l.Lot, fmt.Sprintf("%+g %s", l.Qty, l.UOM), nets, l.Time, l.Event)
		}
		t.flush()
	}
}
