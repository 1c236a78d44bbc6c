package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/cmd/hub/internal/early"
	earlypg "github.com/lothub/lothub/cmd/hub/internal/early/pg"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/internal/bulkgc"
)

// isSQLite reports whether st is a SQLite store, whose trace reads its
// shipments on a second connection (core.Queries.SerialPair).
func isSQLite(st core.Store) bool {
	_, ok := st.(*sqlite.DB)
	return ok
}

// earlyAnswer is the answer to a trace or recall (command "forward",
// "backward" or "recall") from one lot that the process read while it
// started (cmd/hub/internal/early/pg), when there is one for this store
// and lot; only for a plain trace from ITEM LOT of the store as it is now.
func earlyAnswer(db, command string, s core.Selector, asOf *asOfFlag) (*core.TraceResult, error, bool) {
	if s.Lot == nil || s.SupplierLot != "" || s.SalesOrder != "" || s.CustomerID != "" || s.Item != "" || asOf.value != "" {
		return nil, nil, false
	}
	return earlypg.Answer(db, early.TraceCall{Command: command, Item: s.Lot.Item, Lot: s.Lot.Lot})
}

// selectorFlags are the ways to say where a trace starts besides ITEM LOT.
type selectorFlags struct {
	supplierLot, salesOrder, customer, item, from, to string
}

func (f *selectorFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.supplierLot, "supplier-lot", "", "start from the lots received with this supplier lot number")
	cmd.Flags().StringVar(&f.salesOrder, "sales-order", "", "start from the lots shipped on this sales order")
	cmd.Flags().StringVar(&f.customer, "customer", "", "start from the lots shipped to this customer id")
	cmd.Flags().StringVar(&f.item, "item", "", "start from every lot of this item received or produced between --from and --to")
	cmd.Flags().StringVar(&f.from, "from", "", "with --item: first day (YYYY-MM-DD) or instant (RFC 3339), inclusive")
	cmd.Flags().StringVar(&f.to, "to", "", "with --item: last day (YYYY-MM-DD, inclusive) or instant (RFC 3339, exclusive)")
}

func parseWhen(s string, endOfDay bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, usageError{fmt.Errorf("date %q: want YYYY-MM-DD or RFC 3339", s)}
	}
	if endOfDay {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// selector builds the core.Selector from ITEM LOT or the flags.
func (f *selectorFlags) selector(args []string) (core.Selector, error) {
	var sel core.Selector
	n := 0
	if len(args) == 2 {
		sel.Lot = &core.LotRef{Item: args[0], Lot: args[1]}
		n++
	} else if len(args) != 0 {
		return sel, usageError{fmt.Errorf("want ITEM LOT, or one of --supplier-lot, --sales-order, --customer, --item")}
	}
	for _, v := range []string{f.supplierLot, f.salesOrder, f.customer, f.item} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return sel, usageError{fmt.Errorf("say where to start with exactly one of: ITEM LOT, --supplier-lot, --sales-order, --customer, --item")}
	}
	sel.SupplierLot, sel.SalesOrder, sel.CustomerID, sel.Item = f.supplierLot, f.salesOrder, f.customer, f.item
	if f.item != "" {
		if f.from == "" || f.to == "" {
			return sel, usageError{fmt.Errorf("--item needs --from and --to")}
		}
		var err error
		if sel.From, err = parseWhen(f.from, false); err != nil {
			return sel, err
		}
		if sel.To, err = parseWhen(f.to, true); err != nil {
			return sel, err
		}
	} else if f.from != "" || f.to != "" {
		return sel, usageError{fmt.Errorf("--from and --to go with --item")}
	}
	return sel, nil
}

func (a *app) traceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trace forward|backward [ITEM LOT]",
		Short: "Trace a lot's genealogy forward (where it went) or backward (where it came from)",
	}
	for _, dir := range []core.Direction{core.Forward, core.Backward} {
		var sel selectorFlags
		var asJSON, summary bool
		var asOf asOfFlag
		sub := &cobra.Command{
			Use:         string(dir) + " [ITEM LOT]",
			Annotations: map[string]string{tunesGC: "yes"},
			Short:       map[core.Direction]string{core.Forward: "Every lot made from this one, and who got them", core.Backward: "Every lot and supplier this one came from"}[dir],
			RunE: func(cmd *cobra.Command, args []string) error {
				bulkgc.Tune()
				a.reads = true
				s, err := sel.selector(args)
				if err != nil {
					return err
				}
				return a.withStoreAsOf(cmd.Context(), &asOf, func(st core.Store) error {
					q := core.Queries{Store: st, Serial: true, SerialPair: isSQLite(st)}
					if summary {
						sum, err := q.TraceSummary(cmd.Context(), dir, s)
						if err != nil {
							return err
						}
						if asJSON {
							return writeJSON(a.stdout, sum)
						}
						printSummary(a.stdout, sum, false)
						return nil
					}
					res, err, ok := earlyAnswer(a.db, string(dir), s, &asOf)
					if !ok {
						res, err = q.Trace(cmd.Context(), dir, s)
					}
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(a.stdout, res)
					}
					printTrace(a.stdout, res, false)
					return nil
				})
			},
		}
		sel.register(sub)
		asOf.register(sub)
		sub.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON (stable interface)")
		sub.Flags().BoolVar(&summary, "summary", false, "answer in counts: lots per depth level and item, customers, no row per lot")
		cmd.AddCommand(sub)
	}
	return cmd
}

func (a *app) recallCommand() *cobra.Command {
	var sel selectorFlags
	var asJSON, summary bool
	var asOf asOfFlag
	cmd := &cobra.Command{
		Use:         "recall [ITEM LOT]",
		Annotations: map[string]string{tunesGC: "yes"},
		Short:       "Recall scope: every lot made from this one, the customers who got them, and what is still on hand",
		RunE: func(cmd *cobra.Command, args []string) error {
			bulkgc.Tune()
			a.reads = true
			s, err := sel.selector(args)
			if err != nil {
				return err
			}
			return a.withStoreAsOf(cmd.Context(), &asOf, func(st core.Store) error {
				q := core.Queries{Store: st, Serial: true, SerialPair: isSQLite(st)}
				if summary {
					sum, err := q.RecallSummary(cmd.Context(), s)
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(a.stdout, sum)
					}
					printSummary(a.stdout, sum, true)
					return nil
				}
				res, err, ok := earlyAnswer(a.db, "recall", s, &asOf)
				if !ok {
					res, err = q.Recall(cmd.Context(), s)
				}
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(a.stdout, res)
				}
				printTrace(a.stdout, res, true)
				if s.Lot != nil {
					// Where the recalled lot itself went: which orders
					// consumed how much, what was shipped, what is left.
					b, err := q.Balance(cmd.Context(), *s.Lot, 0)
					if err != nil {
						return err
					}
					printWhereItWent(a.stdout, b, res.Root != nil && res.Root.OnHold)
				}
				return nil
			})
		},
	}
	sel.register(cmd)
	asOf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON (stable interface)")
	cmd.Flags().BoolVar(&summary, "summary", false, "answer in counts: lots per depth level and item, customers, on-hand totals, holds; no row per lot")
	return cmd
}

// printSummary prints a trace or recall summary for people.
func printSummary(w io.Writer, s *core.TraceSummary, recall bool) {
	roots := s.Roots
	if s.Root != nil {
		roots = []core.RootLot{*s.Root}
	}
	names := make([]string, len(roots))
	for i, rt := range roots {
		names[i] = rt.Ref().String()
	}
	title := map[core.Direction]string{core.Forward: "Forward trace", core.Backward: "Backward trace"}[s.Direction]
	if recall {
		title = "Recall"
	}
	extra := ""
	if s.OnHold != nil && *s.OnHold > 0 {
		extra = fmt.Sprintf(", %d on hold", *s.OnHold)
	}
	fmt.Fprintf(w, "%s of %s (summary): %d lot(s) reached, %d link(s), %d shipment(s), %d receipt(s)%s\n",
		title, strings.Join(names, ", "), s.Lots, s.Links, s.Shipments, s.Suppliers, extra)
	if len(s.Levels) > 0 {
		fmt.Fprintln(w, "\nLots per level")
		t := newTable(w, "  DEPTH", "ITEM", "LOTS")
		for _, l := range s.Levels {
			for _, it := range l.Items {
				t.row(fmt.Sprintf("  %d", l.Depth), it.Item, fmt.Sprint(it.Lots))
			}
		}
		t.flush()
	}
	if s.OnHand != nil && len(*s.OnHand) > 0 {
		fmt.Fprintln(w, "\nOn hand of the lots reached")
		t := newTable(w, "  ITEM", "ON HAND")
		for _, o := range *s.OnHand {
			t.row("  "+o.Item, num(o.Qty)+" "+o.UOM)
		}
		t.flush()
	}
	if s.Direction == core.Forward {
		fmt.Fprintf(w, "\nCustomers to notify: %d\n", len(s.Customers))
		if len(s.Customers) > 0 {
			t := newTable(w, "  CUSTOMER", "NAME", "SHIPPED")
			for _, c := range s.Customers {
				t.row("  "+c.ID, c.Name, qtys(c.Shipped))
			}
			t.flush()
		}
	}
}

// printWhereItWent prints how much of a lot went where: uses confirmed by
// hand say so, and so does stock on hand that is on hold.
func printWhereItWent(w io.Writer, b *core.MassBalance, onHold bool) {
	fmt.Fprintf(w, "\nWhere %s/%s went\n", b.Item, b.Lot)
	t := newTable(w, "  USE", "ORDER OR CUSTOMER", "QTY", "WHEN")
	for _, u := range b.Uses {
		to := u.Order
		if u.Customer != nil {
			to = u.Customer.ID
			if u.Customer.Name != "" {
				to += " " + u.Customer.Name
			}
		}
		use := string(u.Type)
		if u.Confirmed {
			use += " (" + confirmedMark + ")"
		}
		t.row("  "+use, to, num(u.Qty)+" "+u.UOM, u.Time)
	}
	for _, un := range b.Units {
		use := "on hand"
		if onHold {
			use += " (" + holdMark + ")"
		}
		t.row("  "+use, "", num(un.OnHand)+" "+un.UOM, "")
	}
	t.flush()
}

// Marks in text output: a lot on hold, a link or use confirmed by hand.
const (
	holdMark      = "ON HOLD"
	confirmedMark = "confirmed by hand"
)

// linkVia names what made a link: the order or the transform.
func linkVia(l core.Link) string {
	if l.Transform != "" {
		return "transform " + l.Transform
	}
	return l.Order
}

// printTrace prints a trace for people: the genealogy as an indented tree
// (each lot once, under the first lot that reaches it), then suppliers,
// shipments and, for a recall, customers.
func printTrace(w io.Writer, r *core.TraceResult, recall bool) {
	roots := r.Roots
	if r.Root != nil {
		roots = []core.RootLot{*r.Root}
	}
	title := "Forward trace"
	if r.Direction == core.Backward {
		title = "Backward trace"
	}
	if recall {
		title = "Recall"
	}
	names := make([]string, len(roots))
	for i, rt := range roots {
		names[i] = rt.Ref().String()
	}
	onHand := map[core.LotRef]*[]core.Qty{}
	onHold := map[core.LotRef]bool{} // by lot: with several roots, a root can also be reached from another
	depth := map[core.LotRef]int{}
	for _, l := range r.Lots {
		ref := core.LotRef{Item: l.Item, Lot: l.Lot}
		onHand[ref], onHold[ref], depth[ref] = l.OnHand, l.OnHold, l.Depth
	}
	for _, rt := range roots {
		onHand[rt.Ref()], onHold[rt.Ref()], depth[rt.Ref()] = rt.OnHand, rt.OnHold, 0
	}
	held, confirmed := 0, 0
	for _, h := range onHold {
		if h {
			held++
		}
	}
	for _, l := range r.Links {
		if l.Confirmed {
			confirmed++
		}
	}
	var extra string
	if held > 0 {
		extra += fmt.Sprintf(", %d on hold", held)
	}
	if confirmed > 0 {
		extra += fmt.Sprintf(", %d link(s) confirmed by hand", confirmed)
	}
	fmt.Fprintf(w, "%s of %s: %d lot(s) reached, %d link(s), %d shipment(s)%s\n\n", title, strings.Join(names, ", "), len(r.Lots), len(r.Links), len(r.Shipments), extra)

	type edge struct {
		to        core.LotRef
		via       string
		confirmed bool
	}
	next := map[core.LotRef][]edge{}
	for _, l := range r.Links {
		from, to := l.Parent, l.Child
		if r.Direction == core.Backward {
			from, to = to, from
		}
		next[from] = append(next[from], edge{to, linkVia(l), l.Confirmed})
	}
	label := func(ref core.LotRef) string {
		s := ref.String()
		if oh := onHand[ref]; oh != nil {
			s += fmt.Sprintf("  [on hand: %s]", qtys(*oh))
		}
		if onHold[ref] {
			s += "  " + holdMark
		}
		return s
	}
	printed := map[core.LotRef]bool{}
	var walk func(ref core.LotRef, prefix string)
	walk = func(ref core.LotRef, prefix string) {
		var kids []edge
		for _, e := range next[ref] {
			if !printed[e.to] && depth[e.to] == depth[ref]+1 {
				printed[e.to] = true
				kids = append(kids, e)
			}
		}
		sort.Slice(kids, func(i, j int) bool { return kids[i].to.String() < kids[j].to.String() })
		for i, k := range kids {
			branch, indent := "├─ ", "│  "
			if i == len(kids)-1 {
				branch, indent = "└─ ", "   "
			}
			via := k.via
			if k.confirmed {
				via += ", " + confirmedMark
			}
			fmt.Fprintf(w, "%s%s%s  (via %s)\n", prefix, branch, label(k.to), via)
			walk(k.to, prefix+indent)
		}
	}
	for _, rt := range roots {
		printed[rt.Ref()] = true
	}
	for _, rt := range roots {
		fmt.Fprintln(w, label(rt.Ref()))
		walk(rt.Ref(), "")
	}

	if confirmed > 0 {
		// Listed apart too: the tree draws each lot once, so a link to a
		// lot drawn elsewhere would not show its mark.
		fmt.Fprintln(w, "\nLinks confirmed by hand (hub confirm: no scan or ERP record made them)")
		t := newTable(w, "  INPUT", "OUTPUT", "VIA")
		for _, l := range r.Links {
			if l.Confirmed {
				t.row("  "+l.Parent.String(), l.Child.String(), linkVia(l))
			}
		}
		t.flush()
	}
	if len(r.Suppliers) > 0 {
		fmt.Fprintln(w, "\nSuppliers")
		t := newTable(w, "  SUPPLIER", "NAME", "LOT", "SUPPLIER LOT", "PO", "QTY", "RECEIVED")
		for _, s := range r.Suppliers {
			t.row("  "+s.ID, s.Name, s.Item+"/"+s.Lot, s.SupplierLot, s.PO, num(s.Qty)+" "+s.UOM, s.Time)
		}
		t.flush()
	}
	if len(r.Shipments) > 0 {
		fmt.Fprintln(w, "\nShipments")
		t := newTable(w, "  LOT", "QTY", "CUSTOMER", "NAME", "SALES ORDER", "SHIPPED")
		for _, s := range r.Shipments {
			t.row("  "+s.Item+"/"+s.Lot, num(s.Qty)+" "+s.UOM, s.Customer.ID, s.Customer.Name, s.SalesOrder, s.Time)
		}
		t.flush()
	}
	if r.Customers != nil {
		fmt.Fprintf(w, "\nCustomers to notify: %d\n", len(*r.Customers))
		if len(*r.Customers) > 0 {
			t := newTable(w, "  CUSTOMER", "NAME", "SHIPPED")
			for _, c := range *r.Customers {
				t.row("  "+c.ID, c.Name, qtys(c.Shipped))
			}
			t.flush()
		}
	}
}
