package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/internal/testpg"
	"github.com/lothub/lothub/report"
)

// plantOn ingests the test plant into db (a SQLite file or a PostgreSQL
// URL).
func plantOn(t *testing.T, db string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "plant.jsonl")
	if err := os.WriteFile(file, []byte(plant), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := hub(t, db, "", "ingest", "--events", file); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errs)
	}
}

func TestReportSignatures(t *testing.T) {
	for _, tc := range []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "hub.db") }},
		{"postgres", func(t *testing.T) string { return testpg.NewDatabase(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) { testReportSignatures(t, tc.db(t)) })
	}
}

func testReportSignatures(t *testing.T, db string) {
	plantOn(t, db)
	dir := t.TempDir()
	for _, u := range [][]string{{"ann", "quality", "Ann Quality"}, {"vic", "viewer", "Vic Viewer"}} {
		if _, errs, code := hub(t, db, "correct horse battery\n", "user", "add", u[0], "--role", u[1], "--full-name", u[2], "--password-stdin"); code != 0 {
			t.Fatalf("user add %s: exit %d: %s", u[0], code, errs)
		}
	}
	lotJSON := filepath.Join(dir, "lot.json")
	lotPDF := filepath.Join(dir, "lot.pdf")
	for _, f := range []string{"json", "pdf"} {
		out := map[string]string{"json": lotJSON, "pdf": lotPDF}[f]
		if _, errs, code := hub(t, db, "", "report", "lot", "FLOUR", "F-A", "--format", f, "--out", out); code != 0 {
			t.Fatalf("report lot --format %s: exit %d: %s", f, code, errs)
		}
	}
	var rep report.LotReport
	readJSONFile(t, lotJSON, &rep)
	hash := rep.Meta.SHA256

	signed := func() []core.AuditEntry {
		out, errs, code := hub(t, db, "", "audit", "log", "--json")
		if code != 0 {
			t.Fatalf("audit log: exit %d: %s", code, errs)
		}
		var page core.AuditPage
		if err := json.Unmarshal([]byte(out), &page); err != nil {
			t.Fatal(err)
		}
		var es []core.AuditEntry
		for _, e := range page.Entries {
			if strings.HasPrefix(e.Action, "report.") {
				es = append(es, e)
			}
		}
		return es
	}

	t.Run("WrongPasswordRefused", func(t *testing.T) {
		_, errs, code := hub(t, db, "not the password\n", "report", "approve", lotJSON, "--meaning", "approved", "--reason", "checked", "--user", "ann", "--password-stdin")
		if code != exitInvalid || !strings.Contains(errs, "not signed") || strings.Contains(errs, "not the password") {
			t.Fatalf("wrong password: exit %d: %s", code, errs)
		}
		es := signed()
		if len(es) != 1 || es[0].Action != "report.sign_refused" || es[0].Object != "report:"+hash || bytes.Contains(es[0].Details, []byte("not the password")) {
			t.Fatalf("after a wrong password the trail holds %+v, want one report.sign_refused without the password", es)
		}
	})
	t.Run("ViewerCannotSign", func(t *testing.T) {
		_, errs, code := hub(t, db, "correct horse battery\n", "report", "approve", lotJSON, "--meaning", "approved", "--reason", "checked", "--user", "vic", "--password-stdin")
		if code != exitInvalid || !strings.Contains(errs, "role viewer") {
			t.Fatalf("viewer signs: exit %d: %s", code, errs)
		}
		for _, e := range signed() {
			if e.Action == "report.signed" {
				t.Fatalf("a viewer's refused signing left a signature: %+v", e)
			}
		}
	})
	t.Run("SignShowVerify", func(t *testing.T) {
		// Signed through the PDF: its hash is read from its document information.
		out, errs, code := hub(t, db, "correct horse battery\n", "report", "approve", lotPDF, "--meaning", "approved", "--reason", "genealogy and mass balance checked", "--user", "ann", "--password-stdin")
		if code != 0 || !strings.Contains(out, hash) || !strings.Contains(out, "Ann Quality") {
			t.Fatalf("approve: exit %d: %s%s", code, out, errs)
		}
		es := signed()
		if es[0].Action != "report.signed" || es[0].Actor.Name != "ann" || es[0].Actor.Role != core.RoleQuality || es[0].Reason != "genealogy and mass balance checked" {
			t.Fatalf("signature entry = %+v", es[0])
		}
		// The same report made again shows the signature.
		out, errs, code = hub(t, db, "", "report", "lot", "FLOUR", "F-A", "--format", "json")
		if code != 0 {
			t.Fatalf("report lot: exit %d: %s", code, errs)
		}
		var again report.LotReport
		if err := json.Unmarshal([]byte(out), &again); err != nil {
			t.Fatal(err)
		}
		if len(again.Meta.Signatures) != 1 {
			t.Fatalf("signatures of the report = %+v, want ann's", again.Meta.Signatures)
		}
		s := again.Meta.Signatures[0]
		if s.FullName != "Ann Quality" || s.Meaning != "approved" || s.Role != "quality" || s.Time == "" || s.AuditSeq != es[0].Seq {
			t.Errorf("signature = %+v", s)
		}
		if err := os.WriteFile(lotJSON, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errs, code = hub(t, db, "", "report", "verify", lotJSON)
		if code != 0 || !strings.Contains(out, "content: intact") || !strings.Contains(out, "match") || !strings.Contains(out, "approved by Ann Quality") {
			t.Fatalf("verify: exit %d: %s%s", code, out, errs)
		}
		out, errs, code = hub(t, db, "", "report", "verify", lotPDF, "--json")
		var v verification
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil || !v.OK || v.SHA256 != hash || len(v.Signatures) != 1 || v.Regenerated != "match" || !v.AuditOK {
			t.Fatalf("verify the PDF: exit %d: %s%s", code, out, errs)
		}
		// The PDF made now carries the signature block.
		pdf := filepath.Join(dir, "signed.pdf")
		if _, errs, code := hub(t, db, "", "report", "lot", "FLOUR", "F-A", "--out", pdf); code != 0 {
			t.Fatalf("report lot pdf: %s", errs)
		}
		out, errs, code = hub(t, db, "", "report", "verify", pdf)
		if code != 0 || !strings.Contains(out, "approved by Ann Quality") {
			t.Fatalf("verify the signed PDF: exit %d: %s%s", code, out, errs)
		}
	})
	t.Run("SignByHash", func(t *testing.T) {
		out, errs, code := hub(t, db, "correct horse battery\n", "report", "approve", hash, "--meaning", "released", "--reason", "released for shipment", "--user", "ann", "--password-stdin")
		if code != 0 || !strings.Contains(out, "released by Ann Quality") {
			t.Fatalf("approve by hash: exit %d: %s%s", code, out, errs)
		}
		out, _, code = hub(t, db, "", "report", "verify", lotPDF, "--json")
		var v verification
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil || len(v.Signatures) != 2 || v.Signatures[0].Meaning != "approved" || v.Signatures[1].Meaning != "released" {
			t.Fatalf("signatures after signing by hash, oldest first: %s", out)
		}
		es := signed()
		var d map[string]any
		if err := json.Unmarshal(es[0].Details, &d); err != nil || d["kind"] != "lot" || d["subject"] != "FLOUR/F-A" {
			t.Errorf("a signature by hash does not carry the report's kind and subject from the earlier one: %s", es[0].Details)
		}
	})
	t.Run("NotOnAnotherReport", func(t *testing.T) {
		out, errs, code := hub(t, db, "", "report", "lot", "BREAD", "BR-1", "--format", "json")
		if code != 0 {
			t.Fatalf("report lot: exit %d: %s", code, errs)
		}
		var other report.LotReport
		if err := json.Unmarshal([]byte(out), &other); err != nil {
			t.Fatal(err)
		}
		if other.Meta.SHA256 == hash || len(other.Meta.Signatures) != 0 {
			t.Fatalf("another lot's report shows %+v", other.Meta.Signatures)
		}
		// A signature copied into the other report's file is caught.
		var signedRep report.LotReport
		readJSONFile(t, lotJSON, &signedRep)
		other.Meta.Signatures = signedRep.Meta.Signatures
		b, _ := json.MarshalIndent(other, "", "  ")
		copied := filepath.Join(dir, "copied.json")
		if err := os.WriteFile(copied, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out, errs, code = hub(t, db, "", "report", "verify", copied)
		if code != exitConflict || !strings.Contains(out, "does not hold for this report") {
			t.Fatalf("verify a copied signature: exit %d: %s%s", code, out, errs)
		}
	})
	t.Run("TamperedFileFails", func(t *testing.T) {
		b, err := os.ReadFile(lotJSON)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(b, []byte(`"lot": {`))
		j := bytes.Index(b[i:], []byte(`"F-A"`))
		if i < 0 || j < 0 {
			t.Fatalf("no lot data in %s", b)
		}
		b[i+j+3] = 'B' // F-A → F-B in the report's data
		tampered := filepath.Join(dir, "tampered.json")
		if err := os.WriteFile(tampered, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out, errs, code := hub(t, db, "", "report", "verify", tampered)
		if code != exitConflict || !strings.Contains(out, "CHANGED after it was made") || !strings.Contains(errs, "does not verify") {
			t.Fatalf("verify a tampered report: exit %d: %s%s", code, out, errs)
		}
		if _, errs, code := hub(t, db, "correct horse battery\n", "report", "approve", tampered, "--meaning", "approved", "--reason", "x", "--user", "ann", "--password-stdin"); code != exitConflict {
			t.Fatalf("approve a tampered report: exit %d: %s", code, errs)
		}
	})
	t.Run("RemadeAsOf", func(t *testing.T) {
		recall := filepath.Join(dir, "recall.json")
		if _, errs, code := hub(t, db, "", "report", "recall", "FLOUR", "F-A", "--format", "json", "--as-of", time.Now().UTC().Format(time.RFC3339Nano), "--out", recall); code != 0 {
			t.Fatalf("report recall --as-of: exit %d: %s", code, errs)
		}
		// New events after the report: a report asked as of a time is
		// still made again the same; one of the store "now" cannot be.
		more := filepath.Join(dir, "more.jsonl")
		os.WriteFile(more, []byte(`{"id":"late1","type":"ship","time":"2026-03-09T10:00:00Z","lot":{"item":"BREAD","lot":"BR-1"},"qty":1,"uom":"EA","customer":{"id":"C-BETA","name":"Beta"},"sales_order":"SO-9"}`+"\n"), 0o600)
		if _, errs, code := hub(t, db, "", "ingest", "--events", more); code != 0 {
			t.Fatalf("ingest: %s", errs)
		}
		out, errs, code := hub(t, db, "", "report", "verify", recall, "--json")
		var v verification
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Regenerated != "match" || v.Kind != "recall" {
			t.Fatalf("verify the as-of recall: exit %d: %s%s", code, out, errs)
		}
		out, errs, code = hub(t, db, "", "report", "verify", lotJSON)
		if code != 0 || !strings.Contains(out, "store changed since the report was made") {
			t.Fatalf("verify a report of the store then: exit %d: %s%s", code, out, errs)
		}
	})
	if out, errs, code := hub(t, db, "", "audit", "verify"); code != 0 {
		t.Fatalf("audit verify after signing: exit %d: %s%s", code, out, errs)
	}
}

func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestUserTokenAudit: adding and disabling users and creating and
// revoking tokens appear in the audit trail, with the actor and without
// a secret.
func TestUserTokenAudit(t *testing.T) {
	for _, tc := range []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "hub.db") }},
		{"postgres", func(t *testing.T) string { return testpg.NewDatabase(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := tc.db(t)
			const pw = "correct horse battery"
			if _, errs, code := hub(t, db, pw+"\n", "user", "add", "ann", "--role", "quality", "--password-stdin"); code != 0 {
				t.Fatalf("user add: %s", errs)
			}
			out, errs, code := hub(t, db, "", "token", "create", "--user", "ann", "--label", "line 4", "--json")
			var tok struct {
				ID    string `json:"id"`
				Token string `json:"token"`
			}
			if code != 0 || json.Unmarshal([]byte(out), &tok) != nil || tok.ID == "" || tok.Token == "" {
				t.Fatalf("token create: exit %d: %s%s", code, out, errs)
			}
			if _, errs, code := hub(t, db, "", "token", "revoke", tok.ID); code != 0 {
				t.Fatalf("token revoke: %s", errs)
			}
			if _, errs, code := hub(t, db, "", "user", "disable", "ann"); code != 0 {
				t.Fatalf("user disable: %s", errs)
			}
			out, errs, code = hub(t, db, "", "audit", "log", "--json")
			if code != 0 {
				t.Fatalf("audit log: %s", errs)
			}
			if strings.Contains(out, pw) || strings.Contains(out, tok.Token) {
				t.Fatalf("the audit log holds a secret:\n%s", out)
			}
			var page core.AuditPage
			if err := json.Unmarshal([]byte(out), &page); err != nil {
				t.Fatal(err)
			}
			var got []string
			for i := len(page.Entries) - 1; i >= 0; i-- {
				e := page.Entries[i]
				if e.Action == core.AuditStarted {
					continue
				}
				if e.Actor != osActor() {
					t.Errorf("%s by %v, want the OS user", e.Action, e.Actor)
				}
				got = append(got, e.Action+" "+e.Object)
			}
			want := []string{"user.added user:ann", "token.created token:" + tok.ID, "token.revoked token:" + tok.ID, "user.disabled user:ann"}
			if strings.Join(got, ", ") != strings.Join(want, ", ") {
				t.Errorf("audit entries = %q\nwant %q", got, want)
			}
		})
	}
}
