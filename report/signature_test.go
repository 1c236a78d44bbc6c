package report_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/report"
)

// TestSignaturesAndReadBack: a report shows the signatures in its meta in
// every format, and a file read back gives its hash, kind and params; a
// changed JSON no longer hashes to what it states.
func TestSignaturesAndReadBack(t *testing.T) {
	p := openPlant(t)
	ref := p.complaint()
	lot, err := report.Lot(t.Context(), p.q, ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	recall, err := report.Recall(t.Context(), p.q, core.Selector{Lot: &ref}, opts)
	if err != nil {
		t.Fatal(err)
	}
	fsma, err := report.FSMA204(t.Context(), p.q, report.FSMAParams{Item: ref.Item, From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	sig := report.Signature{Signer: "ann", FullName: "Ann Quälity", Role: "quality", Time: "2026-03-05T14:02:11Z", Meaning: "approved", Reason: "mass balance checked", AuditSeq: 42}
	lot.Meta.Signatures = []report.Signature{sig}

	pdf := write(t, lot, "pdf")
	text := strings.Join(pdfText(t, pdf), "\n")
	for _, want := range []string{"Electronic signatures", "Ann Quälity (ann, quality)", "mass balance checked", "#42"} {
		if !strings.Contains(text, want) {
			t.Errorf("the signed PDF does not show %q", want)
		}
	}
	if strings.Contains(text, "Reviewed by (name, title)") {
		t.Error("a signed PDF still prints the blank hand-signature lines")
	}
	html, _ := os.ReadFile(write(t, lot, "html"))
	if !bytes.Contains(html, []byte("Ann Quälity")) || bytes.Contains(html, []byte("Reviewed by (name, title)")) {
		t.Error("the signed HTML does not show the signature in place of the blank lines")
	}

	recall.Meta.Signatures = []report.Signature{sig}
	x, err := excelize.OpenFile(write(t, recall, "xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := x.GetRows("About")
	x.Close()
	var shown bool
	for _, r := range rows {
		shown = shown || len(r) == 2 && r[0] == "Electronic signature" && strings.Contains(r[1], "Approved by Ann Quälity")
	}
	if !shown {
		t.Errorf("the XLSX About sheet does not show the signature: %q", rows)
	}
	recall.Meta.Signatures = nil

	b, _ := os.ReadFile(pdf)
	c, err := report.ReadReportFile(b)
	if err != nil || c.Format != "pdf" || c.Kind != "lot" || c.Claimed != lot.Meta.SHA256 || c.Meta.Params == nil || c.Meta.Params.Lot != ref.Lot || c.Meta.DataVersion != lot.Meta.DataVersion {
		t.Fatalf("PDF read back: %+v, %v", c, err)
	}
	for _, rep := range []any{lot, recall, fsma} {
		js, _ := os.ReadFile(write(t, rep, "json"))
		c, err := report.ReadReportFile(js)
		if err != nil || !c.Intact() || c.Computed != report.MetaOf(rep).SHA256 {
			t.Fatalf("%T read back: %+v, %v", rep, c, err)
		}
	}
	js, _ := os.ReadFile(write(t, recall, "json"))
	changed := bytes.Replace(js, []byte(`"lots": `), []byte(`"lots": 1`), 1) // 3 → 13
	if c, err := report.ReadReportFile(changed); err != nil || c.Intact() {
		t.Errorf("a changed recall reads as intact: %+v, %v", c, err)
	}
	if _, err := report.ReadReportFile([]byte("%PDF-1.4 not ours")); core.ErrorCode(err) != core.EINVALID {
		t.Errorf("a PDF without a hash: %v", err)
	}
	if _, err := report.ReadReportFile([]byte(`{"x":1}`)); core.ErrorCode(err) != core.EINVALID {
		t.Errorf("JSON that is no report: %v", err)
	}
}
