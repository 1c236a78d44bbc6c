package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"
)

// sheet is a table the spreadsheet writers (XLSX, CSV) and the recall PDF
// render: cells are string, float64, time.Time (date and time) or date (a
// calendar day).
type sheet struct {
	name  string
	cols  []string
	width []float64 // XLSX column widths (characters)
	rows  [][]any
}

// date is a calendar day: a typed date cell without time.
type date time.Time

// text renders a cell for CSV and PDF.
func cellText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format(time.RFC3339)
	case date:
		if time.Time(x).IsZero() {
			return ""
		}
		return time.Time(x).UTC().Format(time.DateOnly)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// writeXLSX writes sheets into one workbook: a frozen, bold header row
// with an autofilter on each sheet, numbers and dates as typed cells, and
// an "About" sheet with the report's meta and hash.
func writeXLSX(w io.Writer, meta Meta, sheets []sheet, about [][2]string) error {
	f := excelize.NewFile()
	defer f.Close()
	_ = f.SetDocProps(&excelize.DocProperties{Title: meta.Title, Creator: "lothub " + meta.HubVersion, Created: meta.Generated})
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"D2D8E2"}}})
	if err != nil {
		return err
	}
	dateTime, err := f.NewStyle(&excelize.Style{CustomNumFmt: ptr("yyyy-mm-dd hh:mm")})
	if err != nil {
		return err
	}
	day, err := f.NewStyle(&excelize.Style{CustomNumFmt: ptr("yyyy-mm-dd")})
	if err != nil {
		return err
	}
	// The first sheet opens first. Set now, not after the sheets were
	// streamed: excelize would read every streamed sheet back to mark
	// the others unselected (half the time of writing a large report).
	f.SetActiveSheet(0)
	for i, s := range sheets {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", s.name); err != nil {
				return err
			}
		} else if _, err := f.NewSheet(s.name); err != nil {
			return err
		}
		// The filter before the rows: set after them, it made excelize
		// read the streamed sheet back and write it again (two thirds of
		// the time of a 100,000-row sheet).
		last, _ := excelize.CoordinatesToCellName(len(s.cols), max(len(s.rows)+1, 2))
		if err := f.AutoFilter(s.name, "A1:"+last, nil); err != nil {
			return err
		}
		sw, err := f.NewStreamWriter(s.name)
		if err != nil {
			return err
		}
		if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
			return err
		}
		for c, wd := range s.width {
			if err := sw.SetColWidth(c+1, c+1, wd); err != nil {
				return err
			}
		}
		head := make([]any, len(s.cols))
		for c, h := range s.cols {
			head[c] = excelize.Cell{StyleID: bold, Value: h}
		}
		if err := sw.SetRow("A1", head); err != nil {
			return err
		}
		row := make([]any, len(s.cols))
		for r, vals := range s.rows {
			for c := range row {
				var v any
				if c < len(vals) {
					v = vals[c]
				}
				switch x := v.(type) {
				case time.Time:
					if x.IsZero() {
						v = nil
					} else {
						v = excelize.Cell{StyleID: dateTime, Value: x.UTC()}
					}
				case date:
					if time.Time(x).IsZero() {
						v = nil
					} else {
						v = excelize.Cell{StyleID: day, Value: time.Time(x).UTC()}
					}
				}
				row[c] = v
			}
			cell, _ := excelize.CoordinatesToCellName(1, r+2)
			if err := sw.SetRow(cell, row); err != nil {
				return err
			}
		}
		if err := sw.Flush(); err != nil {
			return err
		}
	}
	if _, err := f.NewSheet("About"); err != nil {
		return err
	}
	info := append([][2]string{
		{"Report", meta.Title},
		{"Generated", meta.Generated},
		{"Hub version", meta.HubVersion},
		{"Store as of", meta.AsOf},
		{"Data version", strconv.FormatInt(meta.DataVersion, 10)},
		{"SHA-256 of the report data", meta.SHA256},
	}, about...)
	if meta.AsOfRequested != "" {
		info = append(info, [2]string{"Asked as of", meta.AsOfRequested + ": the store as it stood then (hub report --as-of)"})
	}
	for _, sg := range meta.Signatures {
		info = append(info, [2]string{"Electronic signature", fmt.Sprintf("%s by %s (%s, %s) at %s: %s (audit entry %d)",
			SignatureMeaningText(sg.Meaning), sg.FullName, sg.Signer, sg.Role, sg.Time, sg.Reason, sg.AuditSeq)})
	}
	for i, kv := range info {
		if err := f.SetSheetRow("About", fmt.Sprintf("A%d", i+1), &[]any{kv[0], kv[1]}); err != nil {
			return err
		}
	}
	_ = f.SetColWidth("About", "A", "A", 32)
	_ = f.SetColWidth("About", "B", "B", 90)
	if err := f.Write(w); err != nil {
		return fmt.Errorf("write the workbook: %w", err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// writeCSV writes one sheet as CSV (RFC 4180), header first.
func writeCSV(w io.Writer, s sheet) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(s.cols); err != nil {
		return err
	}
	rec := make([]string, len(s.cols))
	for _, vals := range s.rows {
		for c := range rec {
			rec[c] = ""
			if c < len(vals) {
				rec[c] = cellText(vals[c])
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// recallSheets are the recall list's tables.
func recallSheets(d RecallData) []sheet {
	deliveries := sheet{name: "Deliveries",
		cols:  []string{"Customer ID", "Customer Name", "Ship-To", "Sales Order", "Delivery", "Date", "Item", "Finished Lot", "Quantity", "Unit", "Carrier", "Event"},
		width: []float64{12, 28, 30, 12, 12, 17, 16, 26, 10, 6, 14, 18}}
	for _, x := range d.Deliveries {
		deliveries.rows = append(deliveries.rows, []any{x.CustomerID, x.CustomerName, x.ShipTo, x.SalesOrder, x.Delivery, x.Time, x.Item, x.Lot, x.Qty, x.UOM, x.Carrier, x.Event})
	}
	stock := sheet{name: "On Hand",
		cols:  []string{"Item", "Lot", "Site", "Location", "Quantity", "Unit", "On Hold"},
		width: []float64{16, 28, 10, 12, 10, 6, 8}}
	for _, x := range d.OnHand {
		stock.rows = append(stock.rows, []any{x.Item, x.Lot, x.Site, x.Location, x.Qty, x.UOM, yesNo(x.OnHold)})
	}
	orders := sheet{name: "In Process",
		cols:  []string{"Order", "Item", "Lot", "Quantity", "Unit", "Time", "Event"},
		width: []float64{14, 16, 28, 10, 6, 17, 22}}
	for _, x := range d.InProcess {
		orders.rows = append(orders.rows, []any{x.Order, x.Item, x.Lot, x.Qty, x.UOM, x.Time, x.Event})
	}
	held := sheet{name: "On Hold",
		cols:  []string{"Item", "Lot", "Since", "Reason", "Event"},
		width: []float64{16, 28, 17, 50, 26}}
	for _, x := range d.Held {
		held.rows = append(held.rows, []any{x.Item, x.Lot, parseTime(x.Since), x.Reason, x.Event})
	}
	return []sheet{deliveries, stock, orders, held}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// WriteRecallXLSX writes the recall list as a workbook: one sheet per
// table (deliveries, on hand, in process, on hold) and an About sheet.
func WriteRecallXLSX(w io.Writer, r *RecallReport) error {
	return writeXLSX(w, r.Meta, recallSheets(r.Recall), [][2]string{
		{"Scope", r.Recall.Scope},
		{"Affected lots", strconv.Itoa(r.Recall.Lots)},
		{"Customers", strconv.Itoa(len(r.Recall.Customers))},
	})
}

// WriteRecallCSV writes the recall list's first table, one row per
// customer delivery of an affected lot (the other tables are in the XLSX,
// PDF, HTML and JSON forms).
func WriteRecallCSV(w io.Writer, r *RecallReport) error {
	return writeCSV(w, recallSheets(r.Recall)[0])
}

// fsmaSheets are the FSMA 204 spreadsheet's tables.
func fsmaSheets(d FSMAData) []sheet {
	main := sheet{name: "FSMA 204"}
	for _, c := range FSMAColumns {
		main.cols = append(main.cols, c.Header)
		main.width = append(main.width, min(max(float64(len(c.Header))/2.2, 12), 40))
	}
	for i := range d.Rows {
		r := &d.Rows[i]
		vals := make([]any, len(FSMAColumns))
		for c, col := range FSMAColumns {
			switch col.Header {
			case "Event Date":
				vals[c] = date(r.Date)
			case "Quantity":
				vals[c] = r.Qty
			default:
				vals[c] = col.Text(r)
			}
		}
		main.rows = append(main.rows, vals)
	}
	used := sheet{name: "Foods Used",
		cols:  []string{"New Traceability Lot Code", "Date Transformation Completed", "Traceability Lot Code of Food Used", "Product Description of Food Used", "Quantity Used", "Unit of Measure", "Item", "Internal Lot"},
		width: []float64{28, 16, 28, 28, 10, 8, 16, 28}}
	for _, x := range d.Inputs {
		used.rows = append(used.rows, []any{x.NewTLC, date(x.Date), x.TLC, x.Description, x.Qty, x.UOM, x.Item, x.Lot})
	}
	missing := sheet{name: "Missing KDEs",
		cols:  []string{"Key Data Element", "Rule", "Rows It Applies To", "Rows Missing It"},
		width: []float64{60, 70, 12, 12}}
	for _, k := range d.Missing {
		missing.rows = append(missing.rows, []any{k.Column, k.Rule, float64(k.Rows), float64(k.Missing)})
	}
	return []sheet{main, used, missing}
}

// WriteFSMAXLSX writes the FSMA 204 sortable spreadsheet: one row per CTE
// on the first sheet, the foods used by each transformation on the second,
// and per KDE how many rows lack it on the third.
func WriteFSMAXLSX(w io.Writer, r *FSMAReport) error {
	return writeXLSX(w, r.Meta, fsmaSheets(r.FSMA), [][2]string{
		{"Food (item)", r.FSMA.Item},
		{"Lot", r.FSMA.Lot},
		{"From (inclusive)", r.FSMA.From},
		{"To (exclusive)", r.FSMA.To},
		{"Rule", "21 CFR 1.1455(c)(3)(ii): electronic sortable spreadsheet; KDEs of 21 CFR 1.1340 (shipping), 1.1345 (receiving), 1.1350 (transformation)"},
		{"Empty cells", "A KDE the data does not carry is left empty, never guessed: see the Missing KDEs sheet and docs/reports.md to add it through the mapping."},
	})
}

// WriteFSMACSV writes the FSMA 204 spreadsheet's CTE rows as CSV.
func WriteFSMACSV(w io.Writer, r *FSMAReport) error {
	return writeCSV(w, fsmaSheets(r.FSMA)[0])
}

// WriteRecallPDF renders the recall list as a PDF, one table per section.
func WriteRecallPDF(w io.Writer, r *RecallReport) error {
	d := r.Recall
	p := newPDF("recall", r.Meta)
	p.title("Recall list", d.Scope)
	p.alert([]string{fmt.Sprintf("%d lot(s) affected; %d delivery(ies) to %d customer(s); %d stock line(s) still on hand to block; %d order(s) in process; %d lot(s) on hold.",
		d.Lots, len(d.Deliveries), len(d.Customers), len(d.OnHand), len(d.InProcess), len(d.Held))}, len(d.OnHand)+len(d.InProcess)+len(d.Held) > 0)
	titles := []string{"1. Customer deliveries of affected lots", "2. Still on hand: block these", "3. Orders in process that consume an affected lot", "4. Affected lots on hold"}
	empties := []string{"No affected lot has been shipped.", "No affected lot has stock on hand.", "No order in process consumes an affected lot.", "No affected lot is on hold."}
	for i, s := range recallSheets(d) {
		p.heading(titles[i])
		cols := make([]col, len(s.cols))
		for c, h := range s.cols {
			cols[c] = col{title: h, w: s.width[c]}
		}
		rows := make([][]string, len(s.rows))
		for j, vals := range s.rows {
			rows[j] = make([]string, len(vals))
			for c, v := range vals {
				switch x := v.(type) {
				case time.Time:
					rows[j][c] = x.UTC().Format("2006-01-02 15:04")
				case float64:
					rows[j][c] = num(x)
					cols[c].right = true
				default:
					rows[j][c] = cellText(v)
				}
			}
		}
		p.table(cols, rows, empties[i])
	}
	p.signatures()
	return p.write(w)
}
