package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
)

// hub ingest takes a line of core.MaxEventSize bytes and quarantines a
// longer one with the reason every way in gives (POST /v1/events too).
func TestIngestEventSizeLimit(t *testing.T) {
	dir := t.TempDir()
	db, file := filepath.Join(dir, "hub.db"), filepath.Join(dir, "big.jsonl")
	event := func(id string, n int) string {
		head := `{"id":"` + id + `","type":"step","time":"2026-03-01T08:00:00Z","lot":{"item":"X","lot":"L1"},"step":"qc","params":{"blob":"`
		return head + strings.Repeat("x", n-len(head)-3) + `"}}`
	}
	body := event("fits", core.MaxEventSize) + "\n" + event("over", core.MaxEventSize+1) + "\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code := hub(t, db, "", "ingest", "--events", file, "--json", "--evaluate=false")
	if code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errs)
	}
	var st map[string]int
	if err := json.Unmarshal([]byte(out), &st); err != nil || st["new"] != 1 || st["quarantined"] != 1 {
		t.Fatalf("ingest stats = %s (%v), want 1 new, 1 quarantined", out, err)
	}
	out, errs, code = hub(t, db, "", "errors", "--json")
	if code != 0 {
		t.Fatalf("errors: exit %d: %s", code, errs)
	}
	var got struct {
		Errors []struct {
			Line   int    `json:"line"`
			Reason string `json:"reason"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Errors) != 1 || got.Errors[0].Line != 2 || got.Errors[0].Reason != core.EventTooLong() {
		t.Errorf("hub errors = %+v, want line 2 with %q", got.Errors, core.EventTooLong())
	}
}
