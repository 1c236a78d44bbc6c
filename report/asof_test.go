package report_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/report"
)

// TestAsOfSaysSo: a report asked as of a time says which, in its meta and
// in every page footer; one of the store now says nothing of the kind.
func TestAsOfSaysSo(t *testing.T) {
	p := openPlant(t)
	asked := opts
	asked.AsOf = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		o    report.Options
		want string
	}{{"AsOf", asked, "2026-03-04T12:00:00Z"}, {"Now", opts, ""}} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := report.Lot(t.Context(), p.q, p.complaint(), tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Meta.AsOfRequested != tc.want {
				t.Errorf("meta.as_of_requested = %q, want %q", rep.Meta.AsOfRequested, tc.want)
			}
			path := filepath.Join(t.TempDir(), "lot.pdf")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := report.Render(f, rep, "pdf"); err != nil {
				t.Fatal(err)
			}
			f.Close()
			for i, page := range pdfText(t, path) {
				said := strings.Contains(page, "AS OF "+tc.want)
				if said != (tc.want != "") {
					t.Errorf("page %d footer says AS OF: %v, want %v", i+1, said, tc.want != "")
				}
			}
		})
	}
}
