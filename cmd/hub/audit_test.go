package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
)

// sqlExec edits the database behind the hub's back, as someone with the
// file could.
func sqlExec(t *testing.T, db, query string) {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func TestAuditCommands(t *testing.T) {
	db := newPlant(t)
	if _, errs, code := hub(t, db, "", "hold", "FLOUR", "F-A"); code != exitInvalid || !strings.Contains(errs, "reason") {
		t.Errorf("hold without a reason: exit %d, %s", code, errs)
	}
	if _, errs, code := hub(t, db, "", "hold", "FLOUR", "F-A", "--reason", "supplier recall M-7781"); code != 0 {
		t.Fatalf("hold: exit %d: %s", code, errs)
	}
	if _, errs, code := hub(t, db, "", "cursor", "reset", "sap"); code != exitInvalid || !strings.Contains(errs, "reason") {
		t.Errorf("cursor reset without a reason: exit %d, %s", code, errs)
	}
	out, errs, code := hub(t, db, "", "audit", "log", "--lot", "FLOUR/F-A", "--json")
	if code != 0 {
		t.Fatalf("audit log: exit %d: %s", code, errs)
	}
	var page core.AuditPage
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(page.Entries) != 2 || page.Entries[0].Action != core.AuditHoldPlaced || page.Entries[1].Action != core.AuditIngest {
		t.Fatalf("the lot's entries = %+v, want its hold and the batch that wrote its events", page.Entries)
	}
	if e := page.Entries[0]; e.Actor != osActor() || e.Reason != "supplier recall M-7781" || e.Object != "lot:FLOUR/F-A" {
		t.Errorf("hold entry = %+v: want the OS user, the reason and the lot", e)
	}
	head, _, code := hub(t, db, "", "audit", "head")
	head = strings.TrimSpace(head)
	if code != 0 || !strings.HasPrefix(head, "4:") { // started, the batch, the gaps it opened, the hold
		t.Fatalf("audit head = %q, exit %d", head, code)
	}
	if out, errs, code := hub(t, db, "", "audit", "verify", "--head", head); code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("verify: exit %d: %s%s", code, out, errs)
	}
	if _, _, code := hub(t, db, "", "audit", "verify", "--head", "3:nothex"); code != exitInvalid {
		t.Errorf("verify --head 3:nothex: exit %d, want %d", code, exitInvalid)
	}
	// An edited event row: exit 4, naming the row.
	sqlExec(t, db, `UPDATE events SET body = replace(body, '"qty":40', '"qty":4') WHERE id = 'c1'`)
	out, errs, code = hub(t, db, "", "audit", "verify")
	if code != exitConflict || !strings.Contains(out, "c1 version 1") || !strings.Contains(errs, "does not verify") {
		t.Errorf("verify after an edit: exit %d\n%s%s", code, out, errs)
	}
}

func TestArchiveExportPrune(t *testing.T) {
	db := newPlant(t)
	dir := filepath.Dir(db)
	file := filepath.Join(dir, "archive.jsonl")
	// Everything so far: a date in the future.
	if _, errs, code := hub(t, db, "", "archive", "export", "--before", "2100-01-01", "--out", file); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	if _, _, code := hub(t, db, "", "archive", "export", "--before", "2100-01-01", "--out", file); code != exitConflict {
		t.Errorf("export over an existing file: exit %d, want %d", code, exitConflict)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4 || !strings.Contains(lines[3], `"kind":"head"`) {
		t.Fatalf("export = %d lines (want the start, the batch, the gaps it opened and the head):\n%s", len(lines), b)
	}
	if _, errs, code := hub(t, db, "", "archive", "prune", "--before", "2099-01-01", "--export", file); code != exitInvalid {
		t.Errorf("prune with another date: exit %d: %s", code, errs)
	}
	out, errs, code := hub(t, db, "", "archive", "prune", "--before", "2100-01-01", "--export", file)
	if code != 0 || !strings.Contains(out, "pruned 3 audit entries") {
		t.Fatalf("prune: exit %d: %s%s", code, out, errs)
	}
	out, errs, code = hub(t, db, "", "audit", "verify")
	if code != 0 {
		t.Fatalf("verify after pruning: exit %d: %s%s", code, out, errs)
	}
	out, _, _ = hub(t, db, "", "audit", "log", "--json")
	var page core.AuditPage
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Entries) != 1 || page.Entries[0].Action != core.AuditCheckpoint {
		t.Fatalf("after pruning the log holds the checkpoint only: %s", out)
	}
}
