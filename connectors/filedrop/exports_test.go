package filedrop

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/xuri/excelize/v2"
)

// The exports plants really drop, synced by the hub through the plugin and
// the shipped mapping into SQLite (issue 15, item 6): every row either
// becomes its event or is quarantined with a reason that says what to do,
// and rows that hold nothing are not rows.

// euroExport is a receipt export as Excel writes "CSV (semicolon
// delimited)" where the decimal separator is a comma: a byte order mark,
// ';' between fields, decimal commas, CRLF, and a row of bare delimiters
// for every formatted but empty row below the data.
const euroExport = "\uFEFFid;time;item;lot;qty;uom\r\n" +
	"R-EU-1;2026-03-02 08:15;FLOUR;F-EU;1,5;KG\r\n" +
	"R-EU-2;2026-03-02 09:00;SALT;S-EU;1.250,75;KG\r\n" +
	";;;;;\r\n;;;;;\r\n\r\n"

// quarantine returns the reasons of the quarantined records, by record id
// (FILE:LINE).
func quarantine(t *testing.T, st core.Store) map[string]string {
	t.Helper()
	q, err := st.Quarantined(context.Background(), core.QuarantineFilter{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range q {
		// "record FILE:LINE (kind KIND): why"
		id, _, _ := strings.Cut(strings.TrimPrefix(r.Reason, "record "), " ")
		out[id] = r.Reason
	}
	return out
}

// lotEvent returns the one event of a lot in the store, decoded.
func lotEvent(t *testing.T, st core.Store, item, lot string) map[string]any {
	t.Helper()
	ctx := context.Background()
	id, err := st.FindLot(ctx, core.LotRef{Item: item, Lot: lot})
	if err != nil {
		t.Fatalf("lot %s/%s: %v", item, lot, err)
	}
	rows, err := st.LotEvents(ctx, id)
	if err != nil || len(rows) != 1 {
		t.Fatalf("lot %s/%s: %d events, %v; want 1", item, lot, len(rows), err)
	}
	var ev map[string]any
	if err := json.Unmarshal(rows[0].Body, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestSyncEuropeanCSVWithTheDefaultMapping: a ';' export read with the
// default ',' is one quarantined record naming the file and the fix, not
// rows that fail for reasons nobody understands; a quantity with a comma
// in a ',' file is quarantined, not read as thousands; an offset time is
// the same instant; bare-delimiter rows at the end are not records.
func TestSyncEuropeanCSVWithTheDefaultMapping(t *testing.T) {
	root := t.TempDir()
	srv := startSFTP(t, root)
	write(t, root, "in/receive_eu.csv", euroExport)
	write(t, root, "in/receive_us.csv", "id,time,item,lot,qty,uom\n"+
		"R-1,2026-03-02T08:15:00Z,FLOUR,F-1,\"1,500\",KG\n"+
		"R-2,2026-03-02T08:30:00+01:00,FLOUR,F-2,1.5,KG\n"+
		",,,,,\n,,,,,\n\n")
	e := newHub(t, srv, 10, "")

	run := e.sync(t)
	if run.Records != 3 || run.Events != 1 || run.Quarant != 2 || run.Status != core.RunOK {
		t.Fatalf("run = %+v, want 3 records (the ';' file's header, R-1, R-2), 1 event, 2 quarantined", run)
	}
	q := quarantine(t, e.store)
	for id, want := range map[string][]string{
		"receive_eu.csv:1": {"receive_eu.csv:1 (kind bad-row)", `the file looks ";"-separated`, `set delimiter: ";"`},
		"receive_us.csv:2": {"receive_us.csv:2", `qty "1,500" has a comma`, "decimal point", "number(record.qty, ',')"},
	} {
		for _, w := range want {
			if !strings.Contains(q[id], w) {
				t.Errorf("quarantine of %s = %q, want it to say %q", id, q[id], w)
			}
		}
	}
	if len(q) != 2 {
		t.Errorf("quarantined %v, want the two above only", q)
	}
	ev := lotEvent(t, e.store, "FLOUR", "F-2")
	if ev["qty"] != 1.5 {
		t.Errorf("F-2 qty = %v, want 1.5", ev["qty"])
	}
	if tm, err := time.Parse(time.RFC3339, ev["time"].(string)); err != nil || !tm.Equal(time.Date(2026, 3, 2, 7, 30, 0, 0, time.UTC)) {
		t.Errorf("F-2 time = %v, want the instant 2026-03-02T07:30:00Z", ev["time"])
	}
	if _, err := e.store.FindLot(context.Background(), core.LotRef{Item: "FLOUR", Lot: "F-1"}); core.ErrorCode(err) != core.ENOTFOUND {
		t.Errorf("lot F-1 (qty \"1,500\"): %v, want no such lot", err)
	}
}

// TestSyncEuropeanCSVWithDecimalCommas is the recipe of
// docs/connectors/filedrop.md for a European export: delimiter ";" and a
// copy of the mapping reading qty with number(record.qty, ',').
func TestSyncEuropeanCSVWithDecimalCommas(t *testing.T) {
	b, err := os.ReadFile("mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(b), "  quantity: >-\n")
	end := strings.Index(string(b), "  input_quantity:")
	if start < 0 || end < start {
		t.Fatal("mapping.yaml has no quantity var to replace")
	}
	euro := string(b[:start]) + "  quantity: number(record.qty, ',')\n" + string(b[end:])
	mappingFile := filepath.Join(t.TempDir(), "erp-files.yaml")
	if err := os.WriteFile(mappingFile, []byte(euro), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	srv := startSFTP(t, root)
	write(t, root, "in/receive_eu.csv", euroExport)
	e := newHubMapping(t, srv, 10, mappingFile, "      delimiter: \";\"\n")

	run := e.sync(t)
	if run.Records != 2 || run.Events != 2 || run.Quarant != 0 {
		t.Fatalf("run = %+v, want 2 records and 2 events (the bare ';;;;;' rows are no records)", run)
	}
	if ev := lotEvent(t, e.store, "FLOUR", "F-EU"); ev["qty"] != 1.5 {
		t.Errorf("F-EU qty = %v, want 1.5", ev["qty"])
	}
	if ev := lotEvent(t, e.store, "SALT", "S-EU"); ev["qty"] != 1250.75 {
		t.Errorf("S-EU qty = %v, want 1250.75", ev["qty"])
	}
}

// TestSyncExcelDatesAndTrailingRows: a workbook's time column as dates in
// two number formats and as raw serial numbers, and formatted empty rows
// below the data. Cells are read as Excel displays them: a date in a
// layout the default mapping knows maps, anything else is quarantined with
// the datetime reason (never read as day 46083 of something).
func TestSyncExcelDatesAndTrailingRows(t *testing.T) {
	root := t.TempDir()
	srv := startSFTP(t, root)
	f := excelize.NewFile()
	sheet := f.GetSheetName(0)
	iso, err := f.NewStyle(&excelize.Style{CustomNumFmt: ptr("yyyy-mm-dd hh:mm")})
	if err != nil {
		t.Fatal(err)
	}
	us, err := f.NewStyle(&excelize.Style{NumFmt: 14}) // Excel's built-in short date
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 3, 2, 8, 15, 0, 0, time.UTC)
	set := func(cell string, v any, style int) {
		t.Helper()
		if err := f.SetCellValue(sheet, cell, v); err != nil {
			t.Fatal(err)
		}
		if style != 0 {
			if err := f.SetCellStyle(sheet, cell, cell, style); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, h := range []string{"id", "time", "item", "lot", "qty", "uom"} {
		cell, _ := excelize.CoordinatesToCellName(i+1, 1)
		set(cell, h, 0)
	}
	rows := []struct {
		id    string
		time  any
		style int
	}{
		{"X-1", when, iso},       // a date cell shown as 2026-03-02 08:15: maps
		{"X-2", when, us},        // a date cell in Excel's built-in short date, shown as 03-02-26: quarantined
		{"X-3", 46083.34375, 0},  // the serial number of the same time, unformatted
		{"X-4", "46083", 0},      // the serial number as text
		{"X-5", "2026-03-02", 0}, // a date as text: maps, at midnight
	}
	for i, r := range rows {
		n := i + 2
		set(cellName(1, n), r.id, 0)
		set(cellName(2, n), r.time, r.style)
		set(cellName(3, n), "FLOUR", 0)
		set(cellName(4, n), r.id, 0)
		set(cellName(5, n), 2.5, 0)
		set(cellName(6, n), "KG", 0)
	}
	// Rows 7 to 9: formatted, empty.
	if err := f.SetCellStyle(sheet, "A7", "F9", iso); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.SaveAs(filepath.Join(root, "in", "receive_1.xlsx")); err != nil {
		t.Fatal(err)
	}
	e := newHub(t, srv, 10, "")

	run := e.sync(t)
	if run.Records != 5 || run.Events != 2 || run.Quarant != 3 || run.Status != core.RunOK {
		t.Fatalf("run = %+v, want 5 records (the formatted empty rows are none), 2 events, 3 quarantined", run)
	}
	q := quarantine(t, e.store)
	for _, id := range []string{"receive_1.xlsx:3", "receive_1.xlsx:4", "receive_1.xlsx:5"} {
		if !strings.Contains(q[id], "is not a date this function recognises") {
			t.Errorf("quarantine of %s = %q, want the datetime reason", id, q[id])
		}
	}
	if !strings.Contains(q["receive_1.xlsx:5"], `"46083"`) || !strings.Contains(q["receive_1.xlsx:4"], `"46083.34375"`) {
		t.Errorf("the serial numbers are not named in their reasons: %q", q)
	}
	if ev := lotEvent(t, e.store, "FLOUR", "X-1"); ev["time"] != "2026-03-02T08:15:00Z" || ev["qty"] != 2.5 {
		t.Errorf("X-1 = %v, want 2026-03-02T08:15:00Z and 2.5", ev)
	}
	if ev := lotEvent(t, e.store, "FLOUR", "X-5"); ev["time"] != "2026-03-02T00:00:00Z" {
		t.Errorf("X-5 = %v, want 2026-03-02T00:00:00Z", ev)
	}
}

func cellName(col, row int) string {
	c, _ := excelize.CoordinatesToCellName(col, row)
	return c
}

func ptr[T any](v T) *T { return &v }
