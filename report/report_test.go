package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// write renders rep into dir/name and returns the path.
func write(t *testing.T, rep any, format string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report."+format)
	if err := report.WriteFile(path, false, func(w io.Writer) error { return report.Render(w, rep, format) }); err != nil {
		t.Fatal(err)
	}
	return path
}

// pdfText extracts a PDF's text with pdftotext (poppler-utils, which
// scripts/test installs), one string per page.
func pdfText(t *testing.T, path string) []string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext is not installed: apt-get install poppler-utils (scripts/test does)")
	}
	out, err := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext %s: %v", path, err)
	}
	pages := strings.Split(string(out), "\f")
	if pages[len(pages)-1] == "" || strings.TrimSpace(pages[len(pages)-1]) == "" {
		pages = pages[:len(pages)-1]
	}
	return pages
}

// pdfPages is the page count pdfinfo reads from the file's page tree.
func pdfPages(t *testing.T, path string) int {
	t.Helper()
	out, err := exec.Command("pdfinfo", path).Output()
	if err != nil {
		t.Fatalf("pdfinfo %s: %v", path, err)
	}
	m := regexp.MustCompile(`Pages:\s+(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("pdfinfo %s: no page count in %s", path, out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func TestLotReport(t *testing.T) {
	p := openPlant(t)
	ref := p.complaint()
	rep, err := report.Lot(t.Context(), p.q, ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Lot

	t.Run("Content", func(t *testing.T) {
		if d.Identity.Item != ref.Item || d.Identity.Lot != ref.Lot || len(d.Identity.Produced) == 0 {
			t.Errorf("identity = %+v", d.Identity)
		}
		var raw, unicode bool
		for _, r := range d.Genealogy {
			raw = raw || r.Raw && r.SupplierLot != "" && r.PO != "" && r.Received != ""
			unicode = unicode || r.Lot == p.unicode.Lot && r.SupplierLot == "GM-Ü-19" && r.Qty == 2
		}
		if !raw || !unicode {
			t.Errorf("genealogy lacks raw lots with supplier lot, PO and receipt, or the Unicode lot: %+v", d.Genealogy)
		}
		var gap bool
		for _, e := range d.Exceptions {
			gap = gap || e.Kind == "unknown_lot" && e.Lot == "SA-NEVER-RECEIVED" && e.Touches == "ancestor"
		}
		if !gap {
			t.Errorf("the unknown input lot's gap is not listed: %+v", d.Exceptions)
		}
		if len(d.Process) == 0 || len(d.Steps) == 0 || len(d.Provenance) == 0 {
			t.Errorf("process %d, steps %d, provenance %d: want some of each", len(d.Process), len(d.Steps), len(d.Provenance))
		}
		for _, pv := range d.Provenance {
			if pv.Connector == "filedrop" && strings.Contains(pv.Record, ".csv:") {
				return
			}
		}
		t.Errorf("no provenance names the filedrop record: %+v", d.Provenance)
	})

	t.Run("HashIsOfTheData", func(t *testing.T) {
		other := opts
		other.Now = func() time.Time { return clock.Add(time.Hour) }
		other.Version = "other"
		again, err := report.Lot(t.Context(), p.q, ref, other)
		if err != nil {
			t.Fatal(err)
		}
		if again.Meta.SHA256 != rep.Meta.SHA256 || again.Meta.Generated == rep.Meta.Generated {
			t.Errorf("hash %s then %s (generated %s, %s): want the same hash at another time", rep.Meta.SHA256, again.Meta.SHA256, rep.Meta.Generated, again.Meta.Generated)
		}
		var back struct {
			Meta report.Meta     `json:"meta"`
			Lot  json.RawMessage `json:"lot"`
		}
		b, _ := os.ReadFile(write(t, rep, "json"))
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		var data any
		json.Unmarshal(back.Lot, &data)
		var d2 report.LotData
		json.Unmarshal(back.Lot, &d2)
		if back.Meta.SHA256 != rep.Meta.SHA256 {
			t.Errorf("JSON meta.sha256 = %s, want %s", back.Meta.SHA256, rep.Meta.SHA256)
		}
	})

	t.Run("PDF", func(t *testing.T) {
		path := write(t, rep, "pdf")
		pages := pdfText(t, path)
		n := pdfPages(t, path)
		if len(pages) != n || n < 2 {
			t.Fatalf("pdftotext read %d pages, pdfinfo %d", len(pages), n)
		}
		all := strings.Join(pages, "\n")
		for _, want := range []string{ref.Lot, "Café Zürich Süß", "GM-Ü-19", p.unicode.Lot, "Großmühle Zürich",
			"SA-NEVER-RECEIVED", "unknown_lot", "Provenance", "produce.csv:", "Signature"} {
			if !strings.Contains(all, want) {
				t.Errorf("the PDF does not say %q", want)
			}
		}
		for i, pg := range pages {
			if !strings.Contains(pg, fmt.Sprintf("Page %d of %d", i+1, n)) {
				t.Errorf("page %d has no \"Page %d of %d\"", i+1, i+1, n)
			}
			if !strings.Contains(pg, rep.Meta.SHA256) || !strings.Contains(pg, "Generated 2026-04-01T09:00:00Z") || !strings.Contains(pg, "lothub test") {
				t.Errorf("page %d lacks the footer (hash %s, generation time, version)", i+1, rep.Meta.SHA256)
			}
		}
		for _, sh := range rep.Lot.Forward.Shipments {
			if !strings.Contains(all, sh.Customer.Name) {
				t.Errorf("customer %s is not in the PDF", sh.Customer.Name)
			}
		}
		// Every supplier lot of the genealogy is on the pages.
		for _, s := range rep.Lot.Suppliers {
			if !strings.Contains(all, s.SupplierLot) {
				t.Errorf("supplier lot %s is not in the PDF", s.SupplierLot)
			}
		}
	})

	t.Run("HTMLGolden", func(t *testing.T) {
		got, _ := os.ReadFile(write(t, rep, "html"))
		golden := filepath.Join("testdata", "lot.golden.html")
		if *update {
			os.MkdirAll("testdata", 0o755)
			os.WriteFile(golden, got, 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v: run go test ./report -run TestLotReport/HTMLGolden -update", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("the HTML differs from %s: look at the difference, then run go test ./report -run TestLotReport/HTMLGolden -update if it is right", golden)
		}
	})
}

func TestRecallList(t *testing.T) {
	p := openPlant(t)
	ref := p.contaminated()
	rep, err := report.Recall(t.Context(), p.q, core.Selector{Lot: &ref}, opts)
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Recall
	res, err := p.q.Recall(t.Context(), core.Selector{Lot: &ref})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Deliveries) != len(res.Shipments) || len(d.Deliveries) == 0 {
		t.Fatalf("%d deliveries, hub recall lists %d shipments", len(d.Deliveries), len(res.Shipments))
	}

	t.Run("XLSX", func(t *testing.T) {
		f, err := excelize.OpenFile(write(t, rep, "xlsx"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got, want := strings.Join(f.GetSheetList(), ","), "Deliveries,On Hand,In Process,On Hold,About"; got != want {
			t.Errorf("sheets %s, want %s", got, want)
		}
		rows, _ := f.GetRows("Deliveries")
		if len(rows) != len(d.Deliveries)+1 || rows[0][0] != "Customer ID" || rows[0][7] != "Finished Lot" {
			t.Fatalf("Deliveries has %d rows (header %q), want %d", len(rows), rows[0], len(d.Deliveries)+1)
		}
		first := d.Deliveries[0]
		if rows[1][0] != first.CustomerID || rows[1][1] != first.CustomerName || rows[1][7] != first.Lot {
			t.Errorf("row 2 = %q, want %+v", rows[1], first)
		}
		// Quantities are numbers and dates are dates, not text.
		if typ, _ := f.GetCellType("Deliveries", "I2"); typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
			t.Errorf("quantity cell type %v, want a number", typ)
		}
		v, _ := f.GetCellValue("Deliveries", "I2", excelize.Options{RawCellValue: true})
		if q, err := strconv.ParseFloat(v, 64); err != nil || q != first.Qty {
			t.Errorf("I2 = %q, want the number %g", v, first.Qty)
		}
		raw, _ := f.GetCellValue("Deliveries", "F2", excelize.Options{RawCellValue: true})
		serial, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			t.Fatalf("F2 = %q: the date is not a serial number", raw)
		}
		tm, _ := excelize.ExcelDateToTime(serial, false)
		if tm.Sub(first.Time).Abs() > time.Second {
			t.Errorf("F2 = %v, want %v", tm, first.Time)
		}
		panes, _ := f.GetPanes("Deliveries")
		if !panes.Freeze || panes.YSplit != 1 {
			t.Errorf("the header row is not frozen: %+v", panes)
		}
		about, _ := f.GetRows("About")
		if !strings.Contains(fmt.Sprint(about), rep.Meta.SHA256) {
			t.Errorf("About does not carry the hash %s", rep.Meta.SHA256)
		}
	})

	t.Run("CSV", func(t *testing.T) {
		b, _ := os.ReadFile(write(t, rep, "csv"))
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(d.Deliveries)+1 {
			t.Fatalf("%d records, want %d and a header", len(recs), len(d.Deliveries))
		}
		customers := map[string]bool{}
		for _, r := range recs[1:] {
			customers[r[0]] = true
			if _, err := strconv.ParseFloat(r[8], 64); err != nil {
				t.Errorf("quantity %q is not a number", r[8])
			}
		}
		for _, c := range *res.Customers {
			if !customers[c.ID] {
				t.Errorf("customer %s is not in the CSV", c.ID)
			}
		}
	})

	t.Run("PDFAndHTML", func(t *testing.T) {
		all := strings.Join(pdfText(t, write(t, rep, "pdf")), "\n")
		h, _ := os.ReadFile(write(t, rep, "html"))
		for _, c := range *res.Customers {
			if !strings.Contains(all, c.Name) || !strings.Contains(string(h), c.Name) {
				t.Errorf("customer %s is not in the PDF or the HTML", c.Name)
			}
		}
	})
}

func TestFSMA204(t *testing.T) {
	p := openPlant(t)
	from, to := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	rep, err := report.FSMA204(t.Context(), p.q, report.FSMAParams{Item: "SESAME", From: from, To: to}, opts)
	if err != nil {
		t.Fatal(err)
	}
	d := rep.FSMA
	var recv *report.CTE
	for i := range d.Rows {
		if d.Rows[i].Lot == p.unicode.Lot {
			recv = &d.Rows[i]
		}
	}
	if recv == nil || recv.Event != report.CTEReceiving || recv.TLC != "GM-Ü-19" || recv.Description != "Sesamsaat geschält" ||
		recv.RefDocType != "Purchase Order" || recv.RefDocNumber != "PO-ß1" || !strings.Contains(recv.PrevSource, "Großmühle Zürich") {
		t.Fatalf("receipt of the Unicode lot = %+v", recv)
	}

	t.Run("XLSX", func(t *testing.T) {
		f, err := excelize.OpenFile(write(t, rep, "xlsx"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, _ := f.GetRows("FSMA 204")
		if len(rows) != len(d.Rows)+1 {
			t.Fatalf("%d rows, want one per CTE (%d) and a header", len(rows), len(d.Rows))
		}
		for i, c := range report.FSMAColumns {
			if rows[0][i] != c.Header {
				t.Errorf("column %d = %q, want %q", i+1, rows[0][i], c.Header)
			}
		}
		var found bool
		for _, r := range rows[1:] {
			found = found || len(r) > 16 && r[16] == p.unicode.Lot && r[2] == "GM-Ü-19" && r[0] == "Receiving"
		}
		if !found {
			t.Error("the Unicode lot's receipt does not round-trip through the XLSX")
		}
		raw, _ := f.GetCellValue("FSMA 204", "B2", excelize.Options{RawCellValue: true})
		if _, err := strconv.ParseFloat(raw, 64); err != nil {
			t.Errorf("Event Date B2 = %q: not a typed date", raw)
		}
		missing, _ := f.GetRows("Missing KDEs")
		var desc []string
		for _, r := range missing {
			if r[0] == "Product Description" {
				desc = r
			}
		}
		// Only the lot the test gave a description has one.
		if desc == nil || desc[2] != strconv.Itoa(len(d.Rows)) || desc[3] != strconv.Itoa(len(d.Rows)-1) {
			t.Errorf("Missing KDEs, Product Description = %q; want %d rows, %d missing", desc, len(d.Rows), len(d.Rows)-1)
		}
		panes, _ := f.GetPanes("FSMA 204")
		if !panes.Freeze {
			t.Error("header row not frozen")
		}
	})

	t.Run("CSV", func(t *testing.T) {
		b, _ := os.ReadFile(write(t, rep, "csv"))
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		ctes := map[string]int{}
		for _, r := range recs[1:] {
			ctes[r[0]]++
		}
		if len(recs) != len(d.Rows)+1 || ctes[report.CTEReceiving] == 0 {
			t.Errorf("%d records, CTEs %v; want %d rows with receipts", len(recs)-1, ctes, len(d.Rows))
		}
	})

	t.Run("Transformation", func(t *testing.T) {
		bun, err := report.FSMA204(t.Context(), p.q, report.FSMAParams{Item: "BUN-SESAME", From: from, To: to}, opts)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range bun.FSMA.Rows {
			if r.Event == report.CTETransformation {
				n++
				if r.RefDocType != "Work Order" || r.FoodsUsed == "" {
					t.Errorf("transformation %+v lacks its work order or foods used", r)
				}
			}
		}
		if n == 0 || len(bun.FSMA.Inputs) < n {
			t.Errorf("%d transformations, %d foods used", n, len(bun.FSMA.Inputs))
		}
	})

	t.Run("NeedsItemAndRange", func(t *testing.T) {
		_, err := report.FSMA204(t.Context(), p.q, report.FSMAParams{From: from, To: to}, opts)
		if core.ErrorCode(err) != core.EINVALID {
			t.Errorf("no item: %v, want invalid", err)
		}
		_, err = report.FSMA204(t.Context(), p.q, report.FSMAParams{Item: "SESAME", From: to, To: from}, opts)
		if core.ErrorCode(err) != core.EINVALID {
			t.Errorf("empty range: %v, want invalid", err)
		}
	})
}

func TestUnknownLot(t *testing.T) {
	p := openPlant(t)
	_, err := report.Lot(t.Context(), p.q, core.LotRef{Item: "FLOUR", Lot: "F-X"}, opts)
	if core.ErrorCode(err) != core.ENOTFOUND || !strings.Contains(err.Error(), "lot FLOUR/F-X not found") {
		t.Errorf("err = %v, want not found naming FLOUR/F-X", err)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.csv")
	os.WriteFile(path, []byte("keep"), 0o644)
	err := report.WriteFile(path, false, func(w io.Writer) error { _, err := w.Write([]byte("new")); return err })
	if core.ErrorCode(err) != core.EINVALID || !strings.Contains(err.Error(), "--force") {
		t.Errorf("existing file: %v, want invalid mentioning --force", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep" {
		t.Errorf("the existing file was changed: %q", b)
	}
	failed := filepath.Join(dir, "failed.pdf")
	err = report.WriteFile(failed, false, func(w io.Writer) error { w.Write([]byte("half")); return fmt.Errorf("boom") })
	if err == nil {
		t.Fatal("a failed render succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("a failed render left files behind: %v", entries)
	}
	if err := report.WriteFile(path, true, func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("--force did not overwrite: %q", b)
	}
}

// A 2,000-lot genealogy gives a readable, paginated PDF: levels beyond the
// depth limit are counted, and the page says so.
func TestWideGenealogyPDF(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Level k's lot I-k is made by order O-k from I-(k+1) and 99 raw lots:
	// 20 levels, 2,000 ancestors of I-0.
	var b strings.Builder
	at := "2026-03-01T08:00:00Z"
	for k := 0; k < 20; k++ {
		fmt.Fprintf(&b, `{"id":"p%d","type":"produce","time":"%s","lot":{"item":"MIX","lot":"I-%d"},"qty":100,"uom":"KG","order":"O-%d"}`+"\n", k, at, k, k)
		fmt.Fprintf(&b, `{"id":"c%d","type":"consume","time":"%s","lot":{"item":"MIX","lot":"I-%d"},"qty":10,"uom":"KG","order":"O-%d"}`+"\n", k, at, k+1, k)
		for j := 0; j < 99; j++ {
			fmt.Fprintf(&b, `{"id":"r%d-%d","type":"receive","time":"%s","lot":{"item":"RAW","lot":"R-%d-%d"},"qty":5,"uom":"KG","supplier":{"id":"V-%d"},"supplier_lot":"S-%d-%d"}`+"\n", k, j, at, k, j, j, k, j)
			fmt.Fprintf(&b, `{"id":"c%d-%d","type":"consume","time":"%s","lot":{"item":"RAW","lot":"R-%d-%d"},"qty":1,"uom":"KG","order":"O-%d"}`+"\n", k, j, at, k, j, k)
		}
	}
	ing := &core.Ingester{Store: st, Now: func() time.Time { return clock }}
	if _, err := ing.IngestJSONL(ctx, strings.NewReader(b.String()), "wide.jsonl"); err != nil {
		t.Fatal(err)
	}
	q := &core.Queries{Store: st}
	rep, err := report.Lot(ctx, q, core.LotRef{Item: "MIX", Lot: "I-0"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Lot.Ancestors != 2000 || len(rep.Lot.Genealogy) != 600 {
		t.Fatalf("%d ancestors, %d listed; want 2000 and 600 (6 levels of 100)", rep.Lot.Ancestors, len(rep.Lot.Genealogy))
	}
	path := write(t, rep, "pdf")
	pages := pdfText(t, path)
	n := pdfPages(t, path)
	all := strings.Join(pages, "\n")
	if !strings.Contains(all, "1400 lot(s) beyond depth 6 are summarised, not listed") {
		t.Error("the PDF does not say that the levels beyond the limit are summarised")
	}
	if n < 10 || !strings.Contains(pages[n-1], fmt.Sprintf("Page %d of %d", n, n)) {
		t.Errorf("%d pages; the last says %q", n, pages[n-1][max(0, len(pages[n-1])-300):])
	}
	// The table header is repeated on the pages the genealogy spans.
	repeated := 0
	for _, pg := range pages {
		if strings.Contains(pg, "Input lot (item / lot)") {
			repeated++
		}
	}
	if repeated < 5 {
		t.Errorf("the genealogy header is on %d pages, want it repeated on every page of the table", repeated)
	}
}
