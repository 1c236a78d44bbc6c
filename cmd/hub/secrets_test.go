package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sapConfig is a hub.yaml whose SAP connector takes its password from
// $SAP_PASSWORD, on line 12, column 17, and whose chat notifier takes its
// URL from $LOTHUB_TEST_CHAT_URL.
const sapConfig = `# A plant with an SAP connector.
connectors:
  - name: sap
    plugin: sap
    mapping: sap-mapping.yaml
    schedule: "0 2 * * *"
    config:
      base_url: https://sap.example.com
      client: "100"
      user: COMM_USER
      # The password comes from the environment.
      password: ${env:SAP_PASSWORD}
notifiers:
  - name: chat
    type: webhook
    url: ${env:LOTHUB_TEST_CHAT_URL}
`

const sapMissing = "hub.yaml:12:17: environment variable SAP_PASSWORD is not set"

// A quality user has no ERP password: the commands that start no
// connector work without it; hub sync, hub serve and hub config check
// report it at its file:line:col before doing anything.
func TestSecretsOnlyWhenAConnectorStarts(t *testing.T) {
	db := newPlant(t)
	cfg := filepath.Join(t.TempDir(), "hub.yaml")
	if err := os.WriteFile(cfg, []byte(sapConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SAP_PASSWORD", "")
	os.Unsetenv("SAP_PASSWORD")
	t.Setenv("LOTHUB_TEST_CHAT_URL", "")
	os.Unsetenv("LOTHUB_TEST_CHAT_URL")
	for _, args := range [][]string{
		{"gaps", "--json"},
		{"gaps"},
		{"balance", "--order", "WO-1", "--json"},
		{"balance", "FLOUR", "F-A"},
		{"lot", "FLOUR", "F-A", "--json"},
		{"recall", "FLOUR", "F-A"},
		{"trace", "backward", "BREAD", "BR-1"},
		{"errors", "--json"},
		{"runs", "--json"},
		{"holds", "--json"},
		{"hold", "DOUGH", "D-1", "--reason", "retest", "--by", "qa", "--json"},
		{"connectors", "--json"},
	} {
		t.Run(strings.Join(args[:1], "_"), func(t *testing.T) {
			_, errs, code := hub(t, db, "", append([]string{"--config", cfg}, args...)...)
			if code != 0 {
				t.Errorf("hub --config hub.yaml %s: exit %d: %s", strings.Join(args, " "), code, errs)
			}
		})
	}
	// Commands that read only a section of the file (hub ingest: the lot
	// placeholders; hub export epcis: gtin_items) do not resolve secrets
	// either, nor warn about them.
	events := filepath.Join(t.TempDir(), "e.jsonl")
	if err := os.WriteFile(events, []byte(`{"id":"r-s","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"SALT","lot":"S-9"},"qty":5,"uom":"KG","supplier":{"id":"V","name":"V Co"}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"ingest", "--events", events},
		{"export", "epcis", "SALT", "S-9"},
	} {
		t.Run(args[0]+"_quiet", func(t *testing.T) {
			_, errs, code := hub(t, db, "", append([]string{"--config", cfg}, args...)...)
			if code != 0 || strings.Contains(errs, "SAP_PASSWORD") {
				t.Errorf("hub --config hub.yaml %s: exit %d, stderr %q; want it to run without asking for SAP_PASSWORD", strings.Join(args, " "), code, errs)
			}
		})
	}
	for _, args := range [][]string{
		{"sync", "sap"},
		{"serve", "--listen", "127.0.0.1:0"},
		{"config", "check"},
	} {
		t.Run(args[0]+"_refuses", func(t *testing.T) {
			out, errs, code := hub(t, db, "", append([]string{"--config", cfg}, args...)...)
			if code != exitInvalid || !strings.Contains(errs, sapMissing) {
				t.Errorf("hub %s without SAP_PASSWORD: exit %d, stderr %q; want exit 2 and %q", strings.Join(args, " "), code, errs, sapMissing)
			}
			if args[0] == "serve" && strings.Contains(out, "serving") {
				t.Errorf("hub serve started before refusing: %s", out)
			}
		})
	}
	// hub serve and hub config check name the notifier's too.
	_, errs, _ := hub(t, db, "", "--config", cfg, "config", "check")
	if want := "hub.yaml:16:10: environment variable LOTHUB_TEST_CHAT_URL is not set"; !strings.Contains(errs, want) {
		t.Errorf("hub config check: stderr %q, want %q", errs, want)
	}
	// The failed sync started nothing and recorded no run.
	out, _, _ := hub(t, db, "", "runs", "--json")
	if strings.Contains(out, `"connector"`) {
		t.Errorf("a sync refused for a missing secret recorded a run: %s", out)
	}

	// With the secret set, the check passes and never prints it.
	t.Setenv("SAP_PASSWORD", "s3cr3t-sap-password")
	t.Setenv("LOTHUB_TEST_CHAT_URL", "https://chat.example.com/hook/s3cr3t-chat")
	out, errs, code := hub(t, db, "", "--config", cfg, "config", "check")
	if code != 0 || !strings.Contains(out, "ok: 1 connector(s)") {
		t.Errorf("hub config check: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if strings.Contains(out+errs, "s3cr3t") {
		t.Errorf("hub config check printed a secret: %s%s", out, errs)
	}
}
