package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
)

func TestParseOK(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "sap.secret")
	if err := os.WriteFile(secretFile, []byte("s3cr3t-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOTHUB_TEST_SAP_USER", "COMM_USER")
	t.Setenv("LOTHUB_TEST_SCANNER", "tok-abcdef")
	src := `
timezone: Europe/Berlin
plugin_dir: plugins
connectors:
  - name: sap-prod
    plugin: sap
    mapping: mappings/sap.yaml
    schedule: "0 2 * * *"
    timeout: 90s
    config:
      url: https://sap.example.com
      user: ${env:LOTHUB_TEST_SAP_USER}
      password: ${file:sap.secret}
intake:
  tokens:
    - name: line-1
      token: ${env:LOTHUB_TEST_SCANNER}
`
	h, err := config.Parse(filepath.Join(dir, "hub.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.Connector("sap-prod")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Values()["password"], "s3cr3t-from-file"; got != want {
		t.Errorf("password = %q, want %q", got, want)
	}
	if got, want := c.Values()["user"], "COMM_USER"; got != want {
		t.Errorf("user = %q, want %q", got, want)
	}
	if got, want := c.Mapping, filepath.Join(dir, "mappings/sap.yaml"); got != want {
		t.Errorf("mapping = %q, want %q", got, want)
	}
	if got, want := c.Schedule, "CRON_TZ=Europe/Berlin 0 2 * * *"; got != want {
		t.Errorf("schedule = %q, want %q", got, want)
	}
	if c.BatchSize != config.DefaultBatchSize {
		t.Errorf("default batch size = %d, want %d", c.BatchSize, config.DefaultBatchSize)
	}
	if h.Intake.Listen != "127.0.0.1:8080" {
		t.Errorf("default listen = %q", h.Intake.Listen)
	}
	// Printing the configuration never shows a secret.
	for _, out := range []string{fmt.Sprint(c.Config), fmt.Sprintf("%+v", *c), fmt.Sprintf("%#v", *h), fmt.Sprintf("%v", h.Intake)} {
		for _, s := range []string{"s3cr3t-from-file", "tok-abcdef", "COMM_USER"} {
			if strings.Contains(out, s) {
				t.Errorf("printed configuration shows secret %q: %s", s, out)
			}
		}
	}
	if got := config.Scrub("login failed for COMM_USER with s3cr3t-from-file", c.Secrets()); strings.Contains(got, "s3cr3t") || strings.Contains(got, "COMM_USER") {
		t.Errorf("Scrub left a secret: %s", got)
	}
}

func TestParseErrors(t *testing.T) {
	t.Setenv("LOTHUB_TEST_TOKEN", "tok-123456")
	os.Unsetenv("LOTHUB_TEST_UNSET")
	cases := []struct {
		name, src, want string
	}{
		{"UnknownKeyDidYouMean", "connectors:\n  - name: a\n    plugin: sap\n    mapping: m.yaml\n    schedul: \"0 2 * * *\"\n",
			`hub.yaml:5:5: unknown key "schedul" (did you mean "schedule"?)`},
		{"UnknownTopKey", "conectors: []\n", `hub.yaml:1:1: unknown key "conectors" (did you mean "connectors"?)`},
		{"BadCron", "connectors:\n  - name: a\n    plugin: sap\n    mapping: m.yaml\n    schedule: \"61 2 * * *\"\n",
			`hub.yaml:5:15: schedule "61 2 * * *"`},
		{"LiteralPassword", "connectors:\n  - name: a\n    plugin: sap\n    mapping: m.yaml\n    config:\n      password: hunter2\n",
			`hub.yaml:6:17: password looks like a secret written in the file`},
		{"UnsetEnv", "connectors:\n  - name: a\n    plugin: sap\n    mapping: m.yaml\n    config:\n      password: ${env:LOTHUB_TEST_UNSET}\n",
			`hub.yaml:6:17: environment variable LOTHUB_TEST_UNSET is not set`},
		{"MissingPlugin", "connectors:\n  - name: a\n    mapping: m.yaml\n", `hub.yaml:2:5: connector "a" has no plugin`},
		{"DuplicateName", "connectors:\n  - {name: a, plugin: x, mapping: m.yaml}\n  - {name: a, plugin: x, mapping: m.yaml}\n", `hub.yaml:3:12: connector name "a" is used twice`},
		{"LiteralToken", "intake:\n  tokens:\n    - name: l1\n      token: abc\n", `hub.yaml:4:14: token "l1" is written in the file`},
		{"BadDuration", "connectors:\n  - name: a\n    plugin: x\n    mapping: m.yaml\n    timeout: soon\n", `hub.yaml:5:14: "soon" is not a duration`},
		{"NegativeTimeout", "connectors:\n  - name: a\n    plugin: x\n    mapping: m.yaml\n    timeout: -5s\n", `hub.yaml:5:14: "-5s" is not a duration`},
		{"NegativeMaxRetry", "connectors:\n  - name: a\n    plugin: x\n    mapping: m.yaml\n    max_retry: -1m\n", `hub.yaml:5:16: "-1m" is not a duration`},
		{"BadTimezone", "timezone: Mars/Olympus\n", `hub.yaml:1:11: unknown time zone "Mars/Olympus"`},
		{"Syntax", "connectors:\n  - name: [a\n", `hub.yaml:`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.Parse("hub.yaml", []byte(c.src))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error:\n got  %s\n want it to contain %s", err, c.want)
			}
			if core.ErrorCode(err) != core.EINVALID {
				t.Errorf("code = %q, want %q", core.ErrorCode(err), core.EINVALID)
			}
			if strings.Contains(err.Error(), "tok-123456") || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows a secret: %s", err)
			}
		})
	}
}

func TestGapsConfig(t *testing.T) {
	src := `gaps:
  escalation: 2h
  rules:
    yield: {tolerance: 0.1}
    unknown_lot: {window: 0s, severity: low}
  steps:
    - {step: METAL-DETECT, items: [BREAD], window: 2h}
notifiers:
  - {name: sup, type: log, stages: [supervisor]}
  - {name: q, type: webhook, url: "https://hooks.example.com/x", format: teams}
`
	h, err := config.Parse("hub.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := h.Gaps.GapRules()
	got := fmt.Sprintf("%v %v %v %v %v %v %v %v %v", r.Escalation, r.Yield.Off, r.Yield.Tolerance, r.UnknownLot.Window, r.UnknownLot.Severity, r.OutputWithoutInput.Window, len(r.Steps), r.Steps[0].Window, time.Duration(h.Gaps.Evaluate))
	if want := "2h0m0s false 0.1 0s low 4h0m0s 1 2h0m0s 5m0s"; got != want {
		t.Errorf("rules:\n got  %s\n want %s", got, want)
	}
	// Issue 15: quarantined input and mixed units are on by default;
	// mixed_units takes the items allowed in several units.
	d := config.Gaps{}.GapRules()
	if d.Quarantined.Off || d.MixedUnits.Off || d.Quarantined.Severity != core.SeverityHigh || d.MixedUnits.Severity != core.SeverityMedium {
		t.Errorf("defaults: quarantined %+v, mixed_units %+v", d.Quarantined, d.MixedUnits)
	}
	h, err = config.Parse("hub.yaml", []byte("gaps:\n  rules:\n    quarantined: {off: true}\n    mixed_units: {severity: low, allow: {EGGS: [EA, CASE], BOTTLE: []}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r = h.Gaps.GapRules()
	if got := fmt.Sprintln(r.Quarantined.Off, r.MixedUnits.Off, r.MixedUnits.Severity, r.UnitsAllowed); got != "true false low map[BOTTLE:[] EGGS:[EA CASE]]\n" {
		t.Errorf("quarantined and mixed_units: %s", got)
	}
	tests := []struct{ name, src, want string }{
		{"BadSeverity", "gaps:\n  rules:\n    yield: {severity: urgent}\n", `hub.yaml:3:`},
		{"AllowElsewhere", "gaps:\n  rules:\n    yield: {allow: {EGGS: [EA]}}\n", "allow applies to mixed_units only"},
		{"AllowBlankUnit", "gaps:\n  rules:\n    mixed_units: {allow: {EGGS: ['']}}\n", "allow: an item and its units"},
		{"StepWithoutWindow", "gaps:\n  steps:\n    - {step: MIX}\n", "needs a window"},
		{"UnknownRule", "gaps:\n  rules:\n    yeild: {}\n", `did you mean "yield"`},
		{"NotifierType", "notifiers:\n  - {name: x, type: pager}\n", "want webhook, email or log"},
		{"LiteralPassword", "notifiers:\n  - {name: x, type: email, smtp: {addr: 'h:587', from: a@b, to: [c@d], password: hunter2}}\n", "use a reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("hub.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// ParseDeferred leaves the secrets to what uses them: a command that
// starts no connector never needs its password; resolving reports a
// missing one at its file:line:col, never a secret's content.
func TestDeferredSecrets(t *testing.T) {
	os.Unsetenv("LOTHUB_TEST_SAP_PASSWORD")
	os.Unsetenv("LOTHUB_TEST_SCANNER_TOKEN")
	t.Setenv("LOTHUB_TEST_FILEDROP_PASSWORD", "fd-s3cr3t")
	src := `connectors:
  - name: sap
    plugin: sap
    mapping: m.yaml
    config:
      user: COMM_USER
      password: ${env:LOTHUB_TEST_SAP_PASSWORD}
  - name: drop
    plugin: filedrop
    mapping: m.yaml
    config:
      password: ${env:LOTHUB_TEST_FILEDROP_PASSWORD}
intake:
  tokens:
    - {name: line-1, token: "${env:LOTHUB_TEST_SCANNER_TOKEN}"}
`
	h, err := config.ParseDeferred("hub.yaml", []byte(src))
	if err != nil {
		t.Fatalf("ParseDeferred with unset variables: %v", err)
	}
	sap, _ := h.Connector("sap")
	if sap.Config["password"].Resolved() || sap.Values()["password"] != "" || sap.Values()["user"] != "COMM_USER" {
		t.Errorf("before Resolve: password resolved %v, values %v; want it pending and the literal user", sap.Config["password"].Resolved(), sap.Values())
	}
	drop, _ := h.Connector("drop")
	if err := drop.Resolve(); err != nil {
		t.Fatalf("resolve the connector whose secret is set: %v", err)
	}
	if got := drop.Values()["password"]; got != "fd-s3cr3t" {
		t.Errorf("drop password = %q after Resolve", got)
	}
	err = sap.Resolve()
	if want := "hub.yaml:7:17: environment variable LOTHUB_TEST_SAP_PASSWORD is not set"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("sap.Resolve() = %v, want %q", err, want)
	}
	if core.ErrorCode(err) != core.EINVALID {
		t.Errorf("code = %q, want %q", core.ErrorCode(err), core.EINVALID)
	}
	err = h.Resolve()
	for _, want := range []string{"hub.yaml:7:17: environment variable LOTHUB_TEST_SAP_PASSWORD", "hub.yaml:15:29: environment variable LOTHUB_TEST_SCANNER_TOKEN"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("h.Resolve() = %v, want it to say %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "fd-s3cr3t") {
		t.Errorf("error shows a secret: %s", err)
	}
	t.Setenv("LOTHUB_TEST_SAP_PASSWORD", "sap-s3cr3t")
	t.Setenv("LOTHUB_TEST_SCANNER_TOKEN", "")
	if err := h.Resolve(); err == nil || !strings.Contains(err.Error(), `hub.yaml:15:29: token "line-1" is empty`) {
		t.Errorf("h.Resolve() with an empty token = %v, want it refused at its place", err)
	}
	if got := sap.Values()["password"]; got != "sap-s3cr3t" {
		t.Errorf("sap password = %q after Resolve", got)
	}
	// Parse resolves at once, as before.
	if _, err := config.Parse("hub.yaml", []byte(src)); err == nil || !strings.Contains(err.Error(), `token "line-1" has no token`) {
		t.Errorf("Parse = %v, want the empty token refused", err)
	}
}

func TestDefaults(t *testing.T) {
	h := config.Defaults()
	if h.Intake.Listen != "127.0.0.1:8080" || len(h.Connectors) != 0 || h.Gaps.Evaluate == 0 || h.Intake.MaxBody != core.DefaultMaxBody {
		t.Errorf("defaults = %+v", h)
	}
}

func TestLotPlaceholders(t *testing.T) {
	hold := func(lot string) *core.Event {
		return &core.Event{ID: "h", Type: core.Hold, Time: "2026-03-01T08:00:00Z", Lot: &core.LotRef{Item: "F", Lot: lot}}
	}
	tests := []struct {
		name, src   string
		refused, ok string
	}{
		{"Default", "timezone: UTC\n", "N/A", "TBD"},
		{"Configured", "lots:\n  placeholders: [TBD, '?']\n", "tbd", "N/A"},
		{"Empty", "lots:\n  placeholders: []\n", "", "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := config.Parse("hub.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			p := h.LotPlaceholders()
			if tt.refused != "" && p.Check(hold(tt.refused)) == nil {
				t.Errorf("lot %q accepted, want it refused", tt.refused)
			}
			if err := p.Check(hold(tt.ok)); err != nil {
				t.Errorf("lot %q: %v, want it accepted", tt.ok, err)
			}
		})
	}
	if _, err := config.Parse("hub.yaml", []byte("lots:\n  placeholder: [X]\n")); err == nil || !strings.Contains(err.Error(), `did you mean "placeholders"`) {
		t.Errorf("misspelt key: err = %v", err)
	}
}

func TestScanPoints(t *testing.T) {
	src := `scan_points:
  - name: DOCK-1
    makes: receive
    site: P1
    supplier: {id: V-MILL, name: Mill Co}
  - name: LINE-1
    makes: consume
  - name: SHIP-1
    makes: ship
    document: sales_order
    customer: {id: C-1}
`
	h, err := config.Parse("hub.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	dock := h.ScanPoint("DOCK-1")
	if dock == nil || dock.Document != "po" || dock.CountUOM != "EA" || dock.Supplier.ID != "V-MILL" || dock.Site != "P1" {
		t.Errorf("DOCK-1 = %+v", dock)
	}
	if l := h.ScanPoint("LINE-1"); l == nil || l.Document != "order" {
		t.Errorf("LINE-1 = %+v", l)
	}
	if s := h.ScanPoint("SHIP-1"); s == nil || s.Document != "sales_order" || s.Customer.ID != "C-1" {
		t.Errorf("SHIP-1 = %+v", s)
	}
	if h.ScanPoint("NOPE") != nil {
		t.Error("an unknown point was found")
	}

	bad := []struct{ src, want string }{
		{"scan_points:\n  - name: D\n    makes: recieve\n", "hub.yaml:3:12: scan point \"D\": makes \"recieve\", want receive, consume, produce or ship"},
		{"scan_points:\n  - name: D\n", "hub.yaml:2:5: scan point \"D\": add makes:"},
		{"scan_points:\n  - makes: ship\n", "hub.yaml:2:5: scan point without a name"},
		{"scan_points:\n  - name: D\n    makes: consume\n    document: po\n", "hub.yaml:4:15: scan point \"D\" makes consume: document \"po\", want order"},
		{"scan_points:\n  - name: D\n    makes: consume\n  - name: D\n    makes: produce\n", "hub.yaml:4:11: scan point \"D\" is given twice"},
		{"scan_points:\n  - name: D\n    makes: ship\n    supplier: {id: V}\n", "hub.yaml:4:15: scan point \"D\" makes ship: supplier applies to receive only"},
		{"scan_points:\n  - name: D\n    makes: ship\n    customer: {name: X}\n", "hub.yaml:4:15: scan point \"D\": customer needs an id"},
		{"scan_points:\n  - name: D\n    makes: ship\n    custmer: {id: X}\n", "hub.yaml:4:5: unknown key \"custmer\" (did you mean \"customer\"?)"},
	}
	for _, b := range bad {
		_, err := config.Parse("hub.yaml", []byte(b.src))
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%q: got %v, want %s", b.src, err, b.want)
		}
	}
}

func TestServeSection(t *testing.T) {
	dir := t.TempDir()
	h, err := config.Parse(filepath.Join(dir, "hub.yaml"), []byte(`
serve:
  tls: {cert: tls/hub.crt, key: /etc/lothub/hub.key}
  session: {idle: 20m}
  login: {max_failures: 3}
`))
	if err != nil {
		t.Fatal(err)
	}
	sv := h.Serve
	got := fmt.Sprintf("%s %s %v %v %v %d %d", sv.TLS.Cert, sv.TLS.Key, time.Duration(sv.Session.Idle), time.Duration(sv.Session.Lifetime),
		time.Duration(sv.Login.Window), sv.Login.MaxFailures, sv.Login.MaxFailuresPerAddress)
	if want := filepath.Join(dir, "tls/hub.crt") + " /etc/lothub/hub.key 20m0s 12h0m0s 15m0s 3 20"; got != want {
		t.Errorf("serve = %s\nwant    %s", got, want)
	}
	if d := config.Defaults().Serve; time.Duration(d.Session.Idle) != time.Hour || d.Login.MaxFailures != 5 || d.TLS.Cert != "" {
		t.Errorf("default serve section: %+v", d)
	}
	for src, want := range map[string]string{
		"serve:\n  tls: {cert: a.crt}\n":        "tls needs both cert and key",
		"serve:\n  session: {idle: 13h}\n":      "session idle 13h0m0s is longer than its lifetime 12h0m0s",
		"serve:\n  login: {max_failures: -1}\n": "max_failures must be positive",
		"serve:\n  session: {idel: 1h}\n":       "idel",
	} {
		_, err := config.Parse(filepath.Join(dir, "hub.yaml"), []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "hub.yaml:2:") {
			t.Errorf("%q: %v, want an error saying %q", src, err, want)
		}
	}
}
