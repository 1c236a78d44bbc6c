package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lothub/lothub/internal/testbuild"
	"github.com/lothub/lothub/internal/testpg"
)

// TestReadsAgreeAcrossStores runs the read commands against the same plant
// in SQLite and in PostgreSQL, whose command-line store runs its small
// reads in pgx's exec mode (text parameters and results, no prepared
// statements; postgres.Options.OneShot): every --json answer must be the
// same bytes.
func TestReadsAgreeAcrossStores(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plant.jsonl")
	// The plant of main_test.go, with a hold, a transform and a second
	// unit, so that the recall's on hand and hold status are read too.
	extra := `{"id":"h1","type":"hold","time":"2026-03-05T08:00:00Z","lot":{"item":"DOUGH","lot":"D-1"},"reason":"QA"}
{"id":"t1","type":"transform","time":"2026-03-05T09:00:00Z","inputs":[{"item":"BREAD","lot":"BR-1","qty":5,"uom":"EA"}],"outputs":[{"item":"CRUMB","lot":"CR-1","qty":1.25,"uom":"KG"}]}
{"id":"s2","type":"ship","time":"2026-03-06T10:00:00Z","lot":{"item":"CRUMB","lot":"CR-1"},"qty":0.1,"uom":"KG","customer":{"id":"C-BETA","name":"Beta Bakers"},"sales_order":"SO-2"}
`
	if err := os.WriteFile(file, []byte(plant+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	stores := []string{filepath.Join(dir, "hub.db"), testpg.NewDatabase(t)}
	for _, db := range stores {
		if _, errs, code := hub(t, db, "", "ingest", "--events", file); code != 0 {
			t.Fatalf("ingest into %s: exit %d: %s", db, code, errs)
		}
	}
	for _, args := range [][]string{
		{"trace", "forward", "FLOUR", "F-A", "--json"},
		{"trace", "backward", "CRUMB", "CR-1", "--json"},
		{"recall", "FLOUR", "F-A", "--json"},
		{"recall", "FLOUR", "F-A", "--summary", "--json"},
		{"trace", "forward", "--supplier-lot", "M-7781", "--json"},
		{"trace", "backward", "--customer", "C-BETA", "--json"},
	} { // not gaps or lot: they carry the time each store saw the events
		var want string
		for i, db := range stores {
			out, errs, code := hub(t, db, "", args...)
			if code != 0 {
				t.Fatalf("%v on %s: exit %d: %s", args, db, code, errs)
			}
			if i == 0 {
				want = out
			} else if out != want {
				t.Errorf("%v: PostgreSQL answers\n%s\nSQLite\n%s", args, out, want)
			}
		}
	}
	// Not found is the same exit status on both.
	for _, db := range stores {
		if _, _, code := hub(t, db, "", "trace", "forward", "FLOUR", "NOPE", "--json"); code != exitNotFound {
			t.Errorf("unknown lot on %s: exit %d, want %d", db, code, exitNotFound)
		}
	}
}

// TestEarlyAnswerSameAsCommand runs the hub binary on PostgreSQL for the
// traces and recalls it answers on its early connection while it starts
// (cmd/hub/internal/early/pg), and the same commands in process, where
// the command reads them itself: the same output, stderr and exit status.
func TestEarlyAnswerSameAsCommand(t *testing.T) {
	hubBin := testbuild.Hub(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "plant.jsonl")
	extra := `{"id":"h1","type":"hold","time":"2026-03-05T08:00:00Z","lot":{"item":"DOUGH","lot":"D-1"},"reason":"QA"}
`
	if err := os.WriteFile(file, []byte(plant+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	db := testpg.NewDatabase(t)
	if _, errs, code := hub(t, db, "", "ingest", "--events", file); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errs)
	}
	for _, args := range [][]string{
		{"trace", "forward", "FLOUR", "F-A", "--json"},
		{"trace", "backward", "BREAD", "BR-1", "--json"},
		{"recall", "FLOUR", "F-A", "--json"},
		{"recall", "FLOUR", "F-A"},
		{"trace", "forward", "FLOUR", "NOPE", "--json"},
	} {
		want, wantErr, wantCode := hub(t, db, "", args...)
		cmd := exec.Command(hubBin, append([]string{"--db", db}, args...)...)
		cmd.Env = append(os.Environ(), "HUB_CONFIG=")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		code := 0
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("%v: %v", args, err)
			}
			code = ee.ExitCode()
		}
		if out.String() != want || errb.String() != wantErr || code != wantCode {
			t.Errorf("%v: the binary answered (exit %d)\n%s\nstderr %q\nin process (exit %d)\n%s\nstderr %q",
				args, code, out.String(), errb.String(), wantCode, want, wantErr)
		}
	}
}
