package report_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/report"
)

// cjk are the names of TestCJKPDF: CJK (set in the fallback font) and
// Latin-1 (set in DejaVu Sans), alone and mixed in one cell.
var cjk = struct{ lot, supplier, supplierLot, customer, shipTo string }{
	lot:         "批次-7",
	supplier:    "東京食品株式会社",
	supplierLot: "Müller-Öl ß",
	customer:    "東京食品株式会社",
	shipTo:      "大阪市 Müller-Öl ß 2",
}

// TestCJKPDF: a lot, supplier and customer named in CJK print in the
// lot audit report, read back exactly by pdftotext, with DejaVu Sans and
// Droid Sans Fallback both embedded; a report without CJK embeds only
// DejaVu Sans.
func TestCJKPDF(t *testing.T) {
	p := openPlant(t)
	ctx := t.Context()
	latin, err := report.Lot(ctx, p.q, p.complaint(), opts)
	if err != nil {
		t.Fatal(err)
	}
	latinPath := write(t, latin, "pdf")

	back, err := p.q.Trace(ctx, core.Backward, core.Selector{Lot: &core.LotRef{Item: p.ComplaintLot.Item, Lot: p.ComplaintLot.Lot}})
	if err != nil {
		t.Fatal(err)
	}
	var order string
	for _, l := range back.Links {
		if l.Child == p.gapLot {
			order = l.Order
		}
	}
	if order == "" {
		t.Fatalf("no order made %v", p.gapLot)
	}
	extra := `{"id":"t:r-cjk","type":"receive","time":"2026-03-01T07:00:00Z","lot":{"item":"SESAME","lot":"` + cjk.lot + `"},"qty":5,"uom":"KG","supplier":{"id":"V-TOKYO","name":"` + cjk.supplier + `"},"supplier_lot":"` + cjk.supplierLot + `","po":"PO-東1","location":"DRY-3"}
{"id":"t:c-cjk","type":"consume","time":"2026-03-01T07:00:00Z","lot":{"item":"SESAME","lot":"` + cjk.lot + `"},"qty":1,"uom":"KG","order":"` + order + `"}
{"id":"t:s-cjk","type":"ship","time":"2026-03-21T07:00:00Z","lot":{"item":"` + p.ComplaintLot.Item + `","lot":"` + p.ComplaintLot.Lot + `"},"qty":1,"uom":"EA","customer":{"id":"C-TOKYO","name":"` + cjk.customer + `"},"sales_order":"SO-批2","ship_to":"` + cjk.shipTo + `"}
`
	ing := &core.Ingester{Store: p.q.Store, Now: func() time.Time { return clock }}
	if _, err := ing.IngestJSONL(ctx, strings.NewReader(extra), "cjk.jsonl"); err != nil {
		t.Fatal(err)
	}
	rep, err := report.Lot(ctx, p.q, p.complaint(), opts)
	if err != nil {
		t.Fatal(err)
	}
	path := write(t, rep, "pdf")
	if dir := os.Getenv("REPORT_DUMP"); dir != "" {
		b, _ := os.ReadFile(path)
		os.WriteFile(dir+"/complaint-cjk.pdf", b, 0o644)
	}

	all := strings.Join(pdfText(t, path), "\n")
	for _, want := range []string{cjk.lot, "SESAME / " + cjk.lot, cjk.supplier, cjk.supplierLot, cjk.customer, "PO-東1", "SO-批2", "Café Zürich Süß", "Großmühle Zürich"} {
		if !strings.Contains(all, want) {
			t.Errorf("pdftotext does not read %q", want)
		}
	}
	if strings.ContainsRune(all, '\ufffd') {
		t.Errorf("pdftotext reads U+FFFD: a glyph has no Unicode mapping")
	}

	fonts := pdfFonts(t, path)
	for _, want := range []string{"dejavu", "droidsansfallback"} {
		if !embedded(fonts, want) {
			t.Errorf("pdffonts lists no embedded %s:\n%s", want, fonts)
		}
	}
	if fonts := pdfFonts(t, latinPath); embedded(fonts, "droidsansfallback") || !embedded(fonts, "dejavu") {
		t.Errorf("a report without CJK: want DejaVu Sans alone embedded:\n%s", fonts)
	}
	st, _ := os.Stat(path)
	lt, _ := os.Stat(latinPath)
	t.Logf("lot report: %d bytes without CJK, %d with", lt.Size(), st.Size())
	if st.Size() > lt.Size()+200_000 {
		t.Errorf("the CJK report is %d bytes, the Latin one %d: the fallback font is not subset", st.Size(), lt.Size())
	}
}

func pdfFonts(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("pdffonts", path).Output()
	if err != nil {
		t.Fatalf("pdffonts %s: %v", path, err)
	}
	return string(out)
}

// embedded: pdffonts lists a font whose name contains name, embedded
// ("emb" yes). fpdf names a font "utf8" + its family and embeds the
// glyphs used without the subset tag, so pdffonts says "sub no"; the file
// size check above is what shows the subsetting.
func embedded(pdffonts, name string) bool {
	for _, l := range strings.Split(pdffonts, "\n") {
		if f := strings.Fields(l); len(f) >= 7 && strings.Contains(f[0], name) && f[len(f)-5] == "yes" {
			return true
		}
	}
	return false
}
