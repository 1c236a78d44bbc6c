package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

func TestReportCommands(t *testing.T) {
	db := newPlant(t)
	dir := t.TempDir()
	out := func(name string) string { return filepath.Join(dir, name) }

	t.Run("LotJSON", func(t *testing.T) {
		stdout, stderr, code := hub(t, db, "", "report", "lot", "BREAD", "BR-1", "--format", "json")
		var r struct {
			Report string `json:"report"`
			Meta   struct {
				SHA256 string `json:"sha256"`
			} `json:"meta"`
			Lot struct {
				Suppliers []struct {
					SupplierLot string `json:"supplier_lot"`
				} `json:"suppliers"`
			} `json:"lot"`
		}
		if code != 0 || json.Unmarshal([]byte(stdout), &r) != nil || r.Report != "lot" || len(r.Meta.SHA256) != 64 ||
			len(r.Lot.Suppliers) != 1 || r.Lot.Suppliers[0].SupplierLot != "M-7781" {
			t.Fatalf("exit %d, %s\n%.400s", code, stderr, stdout)
		}
	})

	t.Run("LotPDF", func(t *testing.T) {
		_, stderr, code := hub(t, db, "", "report", "lot", "BREAD", "BR-1", "--out", out("bread.pdf"))
		b, _ := os.ReadFile(out("bread.pdf"))
		if code != 0 || !strings.HasPrefix(string(b), "%PDF-") || !strings.Contains(stderr, "wrote "+out("bread.pdf")) {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		// An existing file is kept without --force, and replaced with it.
		_, stderr, code = hub(t, db, "", "report", "lot", "BREAD", "BR-1", "--out", out("bread.pdf"))
		if code != exitInvalid || !strings.Contains(stderr, "exists: give --force") {
			t.Errorf("existing --out: exit %d, %s", code, stderr)
		}
		if _, _, code = hub(t, db, "", "report", "lot", "BREAD", "BR-1", "--out", out("bread.pdf"), "--force"); code != 0 {
			t.Errorf("--force: exit %d", code)
		}
	})

	t.Run("UnknownLot", func(t *testing.T) {
		_, stderr, code := hub(t, db, "", "report", "lot", "BREAD", "BR-404", "--out", out("none.pdf"))
		if code != exitNotFound || !strings.Contains(stderr, "lot BREAD/BR-404 not found") {
			t.Errorf("exit %d, %s; want 3 and the lot named", code, stderr)
		}
		if _, err := os.Stat(out("none.pdf")); !os.IsNotExist(err) {
			t.Errorf("a report of an unknown lot left a file: %v", err)
		}
	})

	t.Run("RecallXLSXAndCSV", func(t *testing.T) {
		if _, stderr, code := hub(t, db, "", "report", "recall", "FLOUR", "F-A", "--out", out("recall.xlsx")); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		f, err := excelize.OpenFile(out("recall.xlsx"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if v, _ := f.GetCellValue("Deliveries", "B2"); v != "Alpha Foods" {
			t.Errorf("Deliveries B2 = %q", v)
		}
		stdout, _, code := hub(t, db, "", "report", "recall", "--item", "FLOUR", "--from", "2026-03-01", "--to", "2026-03-01", "--format", "csv")
		recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
		if code != 0 || err != nil || len(recs) != 2 || recs[1][0] != "C-ALPHA" || recs[1][7] != "BR-1" {
			t.Errorf("exit %d, %q", code, recs)
		}
	})

	t.Run("FSMA", func(t *testing.T) {
		stdout, stderr, code := hub(t, db, "", "report", "fsma204", "--item", "FLOUR", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "csv")
		recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
		if code != 0 || err != nil || len(recs) != 2 || recs[1][0] != "Receiving" || recs[1][2] != "M-7781" {
			t.Fatalf("exit %d %s: %q", code, stderr, recs)
		}
	})

	t.Run("BadUsage", func(t *testing.T) {
		for _, args := range [][]string{
			{"report", "lot", "BREAD", "BR-1", "--format", "docx"},
			{"report", "lot", "BREAD", "BR-1"}, // a PDF needs --out
			{"report", "fsma204", "--item", "FLOUR"},
			{"report", "recall", "--format", "csv"},
		} {
			if _, stderr, code := hub(t, db, "", args...); code != exitInvalid {
				t.Errorf("%v: exit %d (%s), want 2", args, code, stderr)
			}
		}
	})
}
