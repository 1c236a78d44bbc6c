package early

import "testing"

func TestStore(t *testing.T) {
	const pg = "postgres://u@127.0.0.1:5432/hub?sslmode=disable"
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "HUB_DB" {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name   string
		args   []string
		hubDB  string
		want   string
		wantOK bool
	}{
		{"trace with --db after the command", []string{"trace", "forward", "A", "L", "--db", pg, "--json"}, "", pg, true},
		{"recall with --db= before the command", []string{"--db=" + pg, "recall", "A", "L"}, "", pg, true},
		{"--db before the command", []string{"--db", "hub.db", "trace", "backward", "A", "L"}, "", "hub.db", true},
		{"the last --db wins", []string{"--db", "a.db", "recall", "A", "L", "--db", pg}, "", pg, true},
		{"$HUB_DB when no --db", []string{"recall", "A", "L"}, pg, pg, true},
		{"--db wins over $HUB_DB", []string{"recall", "A", "L", "--db", "x.db"}, pg, "x.db", true},
		{"--config and its value skipped", []string{"--config", "trace", "recall", "A", "L", "--db", pg}, "", pg, true},
		{"no store given: the configuration's, not guessed", []string{"trace", "forward", "A", "L"}, "", "", false},
		{"another command", []string{"ingest", "--db", pg, "f.jsonl"}, "", "", false},
		{"a command named after a flag's value", []string{"--db", "trace", "gaps"}, "", "", false},
		{"help", []string{"trace", "forward", "--help", "--db", pg}, "", "", false},
		{"help command", []string{"help", "trace", "--db", pg}, "", "", false},
		{"an unknown flag before the command", []string{"--verbose", "trace", "forward", "A", "L", "--db", pg}, "", "", false},
		{"--db without its value", []string{"trace", "forward", "A", "L", "--db"}, "", "", false},
		{"after --", []string{"trace", "forward", "--", "--db", pg}, "", "", false},
		{"nothing", nil, pg, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Store(tc.args, env(tc.hubDB))
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("Store(%q) = %q, %v; want %q, %v", tc.args, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestPostgres(t *testing.T) {
	for db, want := range map[string]bool{
		"postgres://h/db":   true,
		"postgresql://h/db": true,
		"hub.db":            false,
		"./postgres.db":     false,
	} {
		if got := Postgres(db); got != want {
			t.Errorf("Postgres(%q) = %v, want %v", db, got, want)
		}
	}
}

func TestTrace(t *testing.T) {
	const pg = "postgres://u@127.0.0.1:5432/hub?sslmode=disable"
	tests := []struct {
		name string
		args []string
		want TraceCall
		ok   bool
	}{
		{"forward, --db after", []string{"trace", "forward", "A", "L", "--db", pg, "--json"}, TraceCall{"forward", "A", "L"}, true},
		{"backward, --db= before", []string{"--db=" + pg, "trace", "backward", "A", "L"}, TraceCall{"backward", "A", "L"}, true},
		{"recall", []string{"--json", "recall", "A", "L", "--db", pg}, TraceCall{"recall", "A", "L"}, true},
		{"a lot named like a command", []string{"recall", "trace", "forward", "--db", pg}, TraceCall{"recall", "trace", "forward"}, true},
		{"--summary", []string{"recall", "A", "L", "--summary", "--db", pg}, TraceCall{}, false},
		{"--as-of", []string{"recall", "A", "L", "--as-of", "2026-01-01", "--db", pg}, TraceCall{}, false},
		{"a selector", []string{"trace", "forward", "--supplier-lot", "S1", "--db", pg}, TraceCall{}, false},
		{"--config", []string{"--config", "hub.yaml", "recall", "A", "L"}, TraceCall{}, false},
		{"--json=false", []string{"recall", "A", "L", "--json=false"}, TraceCall{}, false},
		{"help", []string{"recall", "A", "L", "-h"}, TraceCall{}, false},
		{"--", []string{"recall", "--", "A", "L"}, TraceCall{}, false},
		{"one argument too many", []string{"recall", "A", "L", "M"}, TraceCall{}, false},
		{"no direction", []string{"trace", "A", "L"}, TraceCall{}, false},
		{"another command", []string{"lot", "A", "L", "--db", pg}, TraceCall{}, false},
		{"--db without its value", []string{"recall", "A", "L", "--db"}, TraceCall{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Trace(tc.args)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Trace(%q) = %+v, %v; want %+v, %v", tc.args, got, ok, tc.want, tc.ok)
			}
		})
	}
}
