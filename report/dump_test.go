package report_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/report"
)

// TestDump writes the demo's reports to $REPORT_DUMP (skipped without it),
// to look at them as a user would.
func TestDump(t *testing.T) {
	dir := os.Getenv("REPORT_DUMP")
	if dir == "" {
		t.Skip("REPORT_DUMP not set")
	}
	p := openPlant(t)
	ctx := t.Context()
	write := func(name, format string, rep any) {
		err := report.WriteFile(filepath.Join(dir, name+"."+format), true, func(w io.Writer) error { return report.Render(w, rep, format) })
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, ref := range map[string]core.LotRef{"contaminated": p.contaminated(), "complaint": p.complaint()} {
		r, err := report.Lot(ctx, p.q, ref, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range report.LotFormats {
			write(name, f, r)
		}
	}
	ref := p.contaminated()
	rc, err := report.Recall(ctx, p.q, core.Selector{Lot: &ref}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range report.RecallFormats {
		write("recall", f, rc)
	}
	fs, err := report.FSMA204(ctx, p.q, report.FSMAParams{Item: "BUN-SESAME", From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range report.FSMAFormats {
		write("fsma", f, fs)
	}
}
