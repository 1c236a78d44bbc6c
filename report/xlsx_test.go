package report_test

import (
	"archive/zip"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/report"
)

// TestXLSXAutoFilter checks that every table sheet of an XLSX report
// carries its autofilter (the About sheet has none): an autofilter set
// after a sheet was streamed was only a defined name, with no filter
// buttons in the sheet.
func TestXLSXAutoFilter(t *testing.T) {
	p := openPlant(t)
	ref := p.contaminated()
	rc, err := report.Recall(t.Context(), p.q, core.Selector{Lot: &ref}, opts)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := report.FSMA204(t.Context(), p.q, report.FSMAParams{Item: "BUN-SESAME", From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rep    any
		tables int
		first  string // the first table's filter
	}{
		{rc, 4, "$A$1:$L$" + strconv.Itoa(len(rc.Recall.Deliveries)+1)},
		{fs, 3, "$A$1:$T$" + strconv.Itoa(len(fs.FSMA.Rows)+1)},
	} {
		zr, err := zip.OpenReader(write(t, c.rep, "xlsx"))
		if err != nil {
			t.Fatal(err)
		}
		var filters []string
		for _, f := range zr.File {
			if !strings.HasPrefix(f.Name, "xl/worksheets/sheet") {
				continue
			}
			r, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r)
			r.Close()
			if m := regexp.MustCompile(`<autoFilter ref="([^"]+)"`).FindSubmatch(b); m != nil {
				filters = append(filters, f.Name+" "+string(m[1]))
			}
		}
		zr.Close()
		slices.Sort(filters)
		if len(filters) != c.tables || !strings.HasSuffix(filters[0], " "+c.first) {
			t.Errorf("%T: autofilters %q, want %d, the first %s", c.rep, filters, c.tables, c.first)
		}
	}
}
