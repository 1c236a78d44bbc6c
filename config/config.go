// Package config reads the hub's configuration file (hub.yaml): the store,
// the connectors with their plugin, mapping, schedule and settings, and the
// intake tokens for scanners and webhooks.
//
// Decoding is strict: an unknown key is an error at its file:line:col, with
// a suggestion when it is close to a known one. Secrets are references,
// ${env:NAME} or ${file:/path}, held in Secret values that never print
// their content; a secret written literally is refused. Load resolves
// every reference; LoadDeferred leaves them to be resolved by what uses
// them (a connector's when it starts), so that a command that uses no
// connector never asks for its password. Either way, a reference that
// cannot be resolved is an error at its file:line:col. Schedules are cron
// specs, validated at load.
package config

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/lothub/lothub/core"
)

// Hub is the whole configuration.
type Hub struct {
	// Store is the database: a SQLite file path or a postgres:// URL
	// (usually a reference, ${env:HUB_DB}). Empty: the command line's --db.
	Store Secret `yaml:"store"`
	// PluginDir holds external connector plugins (lothub-connector-NAME).
	PluginDir string `yaml:"plugin_dir"`
	// Timezone is the zone of the schedules (IANA name); UTC when empty.
	Timezone   string      `yaml:"timezone"`
	Connectors []Connector `yaml:"connectors"`
	Intake     Intake      `yaml:"intake"`
	// Gaps configures gap detection: rules, windows, expected steps and
	// escalation (docs/quality.md).
	Gaps Gaps `yaml:"gaps"`
	// Notifiers deliver gap alerts: webhooks (Slack, Teams, JSON), email,
	// the log.
	Notifiers []Notifier `yaml:"notifiers"`
	// Lots configures the checks on lot numbers at ingest.
	Lots Lots `yaml:"lots"`
	// EPCIS configures EPCIS 2.0 capture (docs/epcis.md).
	EPCIS EPCIS `yaml:"epcis"`
	// ScanPoints are the places barcode and RFID readers POST scans from
	// (POST /v1/scans): what event a scan there makes (docs/epcis.md,
	// "Scans").
	ScanPoints []ScanPoint `yaml:"scan_points"`
	// Serve configures hub serve's sign-in: web sessions, failed sign-in
	// limits and TLS (docs/security.md).
	Serve Serve `yaml:"serve"`
	// Actions are what events set off in other systems (actions.go,
	// docs/actions.md).
	Actions []Action `yaml:"actions"`
	// Outbox configures the worker that delivers actions.
	Outbox Outbox `yaml:"outbox"`

	// File is the path the configuration was read from.
	File string `yaml:"-"`
}

// Lots configures the checks on lot numbers at ingest.
type Lots struct {
	// Placeholders are lot numbers that stand for "no lot" and are
	// quarantined (compared trimmed, in any case). Not given: *, N/A, -
	// and 0 (core.DefaultLotPlaceholders); an empty list refuses only
	// empty and blank lot numbers, which are always refused.
	Placeholders []string `yaml:"placeholders"`
}

// EPCIS configures EPCIS 2.0 capture (hub ingest --format epcis, the
// /epcis routes of hub serve).
type EPCIS struct {
	// GTINItems maps a 14-digit GTIN to the item number the ERP uses for
	// it, so that a lot captured by EPCIS and the same lot in the ERP are
	// one lot. A GTIN not listed is its own item.
	GTINItems map[string]string `yaml:"gtin_items"`
}

// ScanPoint is one place scans come from: a receiving dock, a line, a
// packing or shipping station. A good scan there makes one canonical
// event of kind Makes, about the lot on the label (its GTIN made an item
// by epcis.gtin_items), against the document the operator scanned.
type ScanPoint struct {
	Name string `yaml:"name"` // as readers send it in "point"
	// Makes is the event a scan makes: receive (against a PO), consume
	// (into an order), produce (from an order) or ship (against a
	// delivery).
	Makes    string `yaml:"makes"`
	Site     string `yaml:"site"`
	Location string `yaml:"location"`
	// Document is the event field the operator's document fills: po for
	// receive (the default), order for consume and produce (the only
	// choice), delivery (the default) or sales_order for ship.
	Document string `yaml:"document"`
	// Supplier of what a receiving point receives (optional).
	Supplier *Party `yaml:"supplier"`
	// Customer of what a shipping point ships: required on ship unless
	// every scan names its customer.
	Customer *Party `yaml:"customer"`
	// CountUOM is the unit of a count on the label (AI 30, 37); EA when
	// empty. A net weight (AI 310n) is in KG.
	CountUOM string `yaml:"count_uom"`
}

// Party is a supplier or customer.
type Party struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
}

// ScanPoint returns the scan point named name, or nil.
func (h *Hub) ScanPoint(name string) *ScanPoint {
	for i := range h.ScanPoints {
		if h.ScanPoints[i].Name == name {
			return &h.ScanPoints[i]
		}
	}
	return nil
}

// LotPlaceholders is the placeholder check the configuration asks for.
func (h *Hub) LotPlaceholders() *core.LotPlaceholders {
	if h == nil {
		return core.NewLotPlaceholders(nil)
	}
	return core.NewLotPlaceholders(h.Lots.Placeholders)
}

// DefaultBatchSize is a connector's batch_size when it sets none: the
// records of one read and one transaction. A sync costs per transaction
// (statements, the WAL commit) and per call to the plugin: 100,000 REST
// records took 12.1–13.1 s of CPU in batches of 500, 9.8–11.5 in batches
// of 1,000, 11.3 in batches of 2,000 and 12.9–13.0 in batches of 5,000
// (docs/benchmarks.md, REST connector). 1,000 keeps a batch of 64 KB
// records within the plugin protocol's 64 MB message (sdk.MaxMessageSize).
const DefaultBatchSize = 1000

// Connector is one configured source.
type Connector struct {
	Name    string `yaml:"name"`    // how runs, cursors and archived records name it
	Plugin  string `yaml:"plugin"`  // the connector plugin: built-in or in plugin_dir
	Mapping string `yaml:"mapping"` // the mapping file, relative to the config file
	// Schedule is a cron spec ("0 2 * * *", "@every 15m", "CRON_TZ=Europe/Berlin 0 2 * * *");
	// empty: run only by hand (hub sync NAME) or by webhook.
	Schedule  string   `yaml:"schedule"`
	BatchSize int      `yaml:"batch_size"` // records per read and per transaction; DefaultBatchSize when 0
	Timeout   Duration `yaml:"timeout"`    // bound on one plugin call; 2m when 0
	MaxRetry  Duration `yaml:"max_retry"`  // how long transient errors are retried; 10m when 0
	// Config holds the plugin's parameters, the webhook signing secret of
	// a push source among them. Values whose names look like secrets must
	// be references.
	Config map[string]Secret `yaml:"config"`
}

// Intake configures hub serve's HTTP server.
type Intake struct {
	Listen string `yaml:"listen"` // host:port; 127.0.0.1:8080 when empty
	// Tokens are bearer tokens for scanners and MES. They are kept for
	// compatibility and act as admin (every permission); give new clients
	// a user's token instead (hub token create; docs/security.md).
	Tokens []Token `yaml:"tokens"`
	// MaxBody bounds a request body in bytes (POST /v1/events and
	// webhooks); core.DefaultMaxBody, 10 MiB, when 0. The other intake
	// limits are fixed: see core.MaxEventSize and core.MaxEventsPerRequest.
	MaxBody int64 `yaml:"max_body"`
}

// Serve configures hub serve's sign-in, sessions and TLS. Unset values
// take the defaults written beside them.
type Serve struct {
	TLS     TLS     `yaml:"tls"`
	Session Session `yaml:"session"`
	Login   Login   `yaml:"login"`
}

// TLS names the certificate (PEM, the chain after the leaf) and its
// private key; both or neither. hub serve --tls-cert/--tls-key win.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Session bounds a web UI session.
type Session struct {
	Idle     Duration `yaml:"idle"`     // unused this long, it ends; 1h when unset
	Lifetime Duration `yaml:"lifetime"` // it ends this long after sign-in; 12h when unset
}

// Login limits failed sign-ins: after MaxFailures failures for one user
// name, or MaxFailuresPerAddress from one client address, within Window,
// sign-ins for it are refused (429) until the window has passed.
type Login struct {
	Window                Duration `yaml:"window"`                   // 15m when unset
	MaxFailures           int      `yaml:"max_failures"`             // 5 when unset
	MaxFailuresPerAddress int      `yaml:"max_failures_per_address"` // 20 when unset
}

// Gaps configures gap detection. Unset values keep core.DefaultGapRules.
type Gaps struct {
	// Escalation: how long a gap may stay open before the quality channel
	// is alerted (24h when unset).
	Escalation *Duration `yaml:"escalation"`
	// Evaluate: how often hub serve evaluates the rules, so windows close
	// without new events (5m when unset).
	Evaluate Duration       `yaml:"evaluate"`
	Rules    GapRuleSet     `yaml:"rules"`
	Steps    []ExpectedStep `yaml:"steps"`
}

// GapRuleSet configures each gap rule.
type GapRuleSet struct {
	OutputWithoutInput GapRule `yaml:"output_without_input"`
	InputWithoutOutput GapRule `yaml:"input_without_output"`
	UnknownLot         GapRule `yaml:"unknown_lot"`
	Overdrawn          GapRule `yaml:"overdrawn"`
	Yield              GapRule `yaml:"yield"`
	TimeOrder          GapRule `yaml:"time_order"`
	Quarantined        GapRule `yaml:"quarantined"`
	MixedUnits         GapRule `yaml:"mixed_units"`
}

// GapRule overrides one rule's defaults; unset fields keep them.
type GapRule struct {
	Off       *bool     `yaml:"off"`
	Window    *Duration `yaml:"window"`
	Severity  string    `yaml:"severity"`  // low, medium, high
	Tolerance *float64  `yaml:"tolerance"` // a fraction: 0.02 is 2 %
	// Allow, for mixed_units only: items allowed to carry quantities in
	// several units, with the units allowed (an empty list: any), e.g.
	// {EGGS: [EA, CASE]}.
	Allow map[string][]string `yaml:"allow"`
}

// ExpectedStep is a step every lot produced by a matching order must have
// within Window of the order's first event.
type ExpectedStep struct {
	Step        string   `yaml:"step"`
	Items       []string `yaml:"items"`        // produced items; empty: all
	OrderPrefix string   `yaml:"order_prefix"` // orders; empty: all
	Window      Duration `yaml:"window"`
	Severity    string   `yaml:"severity"`
}

// Notifier delivers gap alerts to one audience.
type Notifier struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"` // webhook, email or log
	// Stages: supervisor (a new gap), quality (still open after the
	// escalation delay); both when empty.
	Stages []string `yaml:"stages"`
	// Sites: only gaps of these sites (the events' site); all when empty.
	Sites []string `yaml:"sites"`
	// URL of a webhook (usually a reference: Slack and Teams URLs hold
	// their secret); Format: slack (default, also read by Mattermost and
	// Teams workflows), teams (a MessageCard), or json (the gap as is).
	URL    Secret `yaml:"url"`
	Format string `yaml:"format"`
	SMTP   SMTP   `yaml:"smtp"`
}

// SMTP is an email notifier's server and addresses.
type SMTP struct {
	Addr     string   `yaml:"addr"` // host:port, e.g. smtp.example.com:587
	From     string   `yaml:"from"`
	To       []string `yaml:"to"`
	Username string   `yaml:"username"`
	Password Secret   `yaml:"password"`
	// StartTLS is required unless set to false (a relay on localhost).
	StartTLS *bool `yaml:"starttls"`
}

// GapRules returns the gap rules: the defaults with the file's overrides.
func (g Gaps) GapRules() core.GapRules {
	r := core.DefaultGapRules()
	apply := func(dst *core.Rule, c GapRule, enableOnMention bool) {
		if enableOnMention && (c.Window != nil || c.Tolerance != nil || c.Severity != "") {
			dst.Off = false
		}
		if c.Off != nil {
			dst.Off = *c.Off
		}
		if c.Window != nil {
			dst.Window = time.Duration(*c.Window)
		}
		if c.Severity != "" {
			dst.Severity = c.Severity
		}
		if c.Tolerance != nil {
			dst.Tolerance = *c.Tolerance
		}
	}
	apply(&r.OutputWithoutInput, g.Rules.OutputWithoutInput, false)
	apply(&r.InputWithoutOutput, g.Rules.InputWithoutOutput, false)
	apply(&r.UnknownLot, g.Rules.UnknownLot, false)
	apply(&r.Overdrawn, g.Rules.Overdrawn, false)
	apply(&r.Yield, g.Rules.Yield, true) // off by default: configuring it turns it on
	apply(&r.TimeOrder, g.Rules.TimeOrder, false)
	apply(&r.Quarantined, g.Rules.Quarantined, false)
	apply(&r.MixedUnits, g.Rules.MixedUnits, false)
	if len(g.Rules.MixedUnits.Allow) > 0 {
		r.UnitsAllowed = g.Rules.MixedUnits.Allow
	}
	for _, s := range g.Steps {
		r.Steps = append(r.Steps, core.ExpectedStep{Step: s.Step, Items: s.Items, OrderPrefix: s.OrderPrefix, Window: time.Duration(s.Window), Severity: s.Severity})
	}
	if g.Escalation != nil {
		r.Escalation = time.Duration(*g.Escalation)
	}
	return r
}

// Token is a named bearer token for scanners and MES.
type Token struct {
	Name  string `yaml:"name"`
	Token Secret `yaml:"token"`
}

// Duration is a time.Duration written as "90s", "5m".
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration: write it like 90s, 5m or 1h30m", n.Value)
	}
	*d = Duration(v)
	return nil
}

// Secret is a configuration value that may hold a credential. Its content
// is never printed: String, GoString and the fmt verbs show only where it
// came from.
type Secret struct {
	value  string
	ref    string // "${env:NAME}", "${file:/path}" or "" for a literal
	secret bool   // came from a reference
	// pending: a reference not resolved yet (LoadDeferred); Resolve reads
	// it, and names the place it is written at if it cannot.
	pending   bool
	file, dir string
	line, col int
}

// Value returns the content, for handing to a connector or a database
// driver. Never log it. It is empty for a reference not resolved yet
// (see Resolve).
func (s Secret) Value() string { return s.value }

// Resolve reads the secret's reference if that has not been done: an
// *Error at the place the reference is written when the variable is not
// set or the file cannot be read.
func (s *Secret) Resolve() error {
	if !s.pending {
		return nil
	}
	v, err := readRef(s.ref, s.dir)
	if err != nil {
		return &Error{File: s.file, Line: s.line, Col: s.col, Msg: err.Error()}
	}
	s.value, s.pending = v, false
	return nil
}

// Resolved reports whether the value is known: a literal, or a resolved
// reference.
func (s Secret) Resolved() bool { return !s.pending }

// IsRef reports whether the value came from a reference.
func (s Secret) IsRef() bool { return s.secret }

// String returns the reference (or, for a literal, the literal).
func (s Secret) String() string {
	if s.secret {
		return s.ref
	}
	return s.value
}

func (s Secret) GoString() string { return s.String() }

// Format makes every fmt verb show String.
func (s Secret) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

var refPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\$\{(env|file):([^}]+)\}$`) })

// parseSecret reads a value written at n: a ${env:NAME} or
// ${file:/path} reference, left pending, or a literal.
func (p *parser) parseSecret(n *yaml.Node) (Secret, error) {
	raw := n.Value
	m := refPattern().FindStringSubmatch(strings.TrimSpace(raw))
	if m == nil {
		if strings.Contains(raw, "${") {
			return Secret{}, errors.New("malformed reference: write ${env:NAME} or ${file:/path/to/file}")
		}
		return Secret{value: raw}, nil
	}
	return Secret{ref: m[0], secret: true, pending: true, file: p.file, dir: p.dir, line: n.Line, col: n.Column}, nil
}

// readRef reads a well-formed ${env:NAME} or ${file:/path} reference;
// a relative path is relative to baseDir.
func readRef(ref, baseDir string) (string, error) {
	m := refPattern().FindStringSubmatch(ref)
	switch m[1] {
	case "env":
		v, ok := os.LookupEnv(m[2])
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set (set it, or change the reference)", m[2])
		}
		return v, nil
	default: // file
		p := m[2]
		if !filepath.IsAbs(p) {
			p = filepath.Join(baseDir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			// The error names the file, never its content.
			return "", fmt.Errorf("cannot read secret file %s: %v", p, errors.Unwrap(err))
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
}

// secretNames are parameter names whose values must be references.
// "token" counts only as the whole name or its last part (api_token), not
// token_url.
var secretNames = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(password|passwd|secret|api_?key|private_?key|certificate|(^|_)token$)`)
})

// publicNames are parameter names that match secretNames but name, not
// hold, a credential (certificate_id, secret_name).
var publicNames = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)(_id|_name|_url|_file)$`) })

// Error is a problem in the configuration file at a position.
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg) }

// Unwrap makes core.ErrorCode report core.EINVALID.
func (e *Error) Unwrap() error { return &core.Error{Code: core.EINVALID, Message: e.Error()} }

// Errors is every problem found in a file.
type Errors []*Error

func (l Errors) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

func (l Errors) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Load reads and checks the configuration file at path, and resolves
// every secret: what hub serve and a configuration check do.
func Load(path string) (*Hub, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, core.Errorf(core.EINVALID, "cannot read configuration: %v", err)
	}
	return Parse(path, src)
}

// LoadDeferred reads and checks the configuration file at path, like
// Load, but resolves no secret: references stay pending (a malformed one
// is still an error) until Resolve is called on what uses them — the
// connector about to start (Connector.Resolve), the store, the notifiers,
// or all of them (Hub.Resolve).
func LoadDeferred(path string) (*Hub, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, core.Errorf(core.EINVALID, "cannot read configuration: %v", err)
	}
	return parse(path, src, true)
}

// Parse checks and decodes a configuration, resolving every secret.
// Relative paths (mappings, secret files, the plugin directory) are
// relative to the file's folder.
func Parse(file string, src []byte) (*Hub, error) { return parse(file, src, false) }

// ParseDeferred is Parse leaving the secrets pending, as LoadDeferred.
func ParseDeferred(file string, src []byte) (*Hub, error) { return parse(file, src, true) }

// Defaults is the configuration of a hub without a file: no connectors,
// no intake tokens, no notifiers, the default gap rules, listening on
// 127.0.0.1:8080.
func Defaults() *Hub {
	h := &Hub{}
	(&parser{}).check(h)
	return h
}

func parse(file string, src []byte, deferSecrets bool) (*Hub, error) {
	p := &parser{file: file, dir: filepath.Dir(file), src: src, deferSecrets: deferSecrets}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		line := 1
		if m := regexp.MustCompile(`line (\d+)`).FindStringSubmatch(err.Error()); m != nil {
			fmt.Sscan(m[1], &line)
		}
		return nil, Errors{{File: file, Line: line, Col: 1, Msg: "YAML syntax: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(doc.Content) == 0 {
		return nil, Errors{{File: file, Line: 1, Col: 1, Msg: "the file is empty (see docs/operations.md for the format)"}}
	}
	h := &Hub{File: file}
	p.decode(doc.Content[0], reflect.ValueOf(h).Elem(), "")
	p.check(h)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return h, nil
}

type parser struct {
	file string
	dir  string
	src  []byte // the file's text, for positions inside expressions
	// deferSecrets leaves references pending instead of resolving them.
	deferSecrets bool
	errs         Errors
	// where remembers the node of each decoded field, for later checks.
	where map[string]*yaml.Node
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) remember(path string, n *yaml.Node) {
	if p.where == nil {
		p.where = map[string]*yaml.Node{}
	}
	p.where[path] = n
}

var (
	secretType   = reflect.TypeFor[Secret]()
	durationType = reflect.TypeFor[Duration]()
	exprType     = reflect.TypeFor[Expr]()
)

// decode fills v from n, reporting unknown keys and wrong kinds at their
// position and going on with the rest.
func (p *parser) decode(n *yaml.Node, v reflect.Value, path string) {
	p.remember(path, n)
	switch {
	case v.Type() == secretType:
		if n.Kind != yaml.ScalarNode {
			p.errorf(n, "want a value or a ${env:NAME} / ${file:/path} reference")
			return
		}
		s, err := p.parseSecret(n)
		if err != nil {
			p.errorf(n, "%v", err)
			return
		}
		if !p.deferSecrets {
			if err := s.Resolve(); err != nil {
				p.errs = append(p.errs, err.(*Error))
				return
			}
		}
		v.Set(reflect.ValueOf(s))
		return
	case v.Type() == exprType:
		if n.Kind != yaml.ScalarNode {
			p.errorf(n, "want an expression (see docs/mapping.md), not a %s", map[yaml.Kind]string{yaml.MappingNode: "mapping", yaml.SequenceNode: "list"}[n.Kind])
			return
		}
		v.Set(reflect.ValueOf(Expr{Node: n}))
		return
	case v.Type() == durationType:
		var d Duration
		if err := d.UnmarshalYAML(n); err != nil {
			p.errorf(n, "%v", err)
			return
		}
		v.Set(reflect.ValueOf(d))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.Type().Elem().Kind() != reflect.Struct {
			break
		}
		e := reflect.New(v.Type().Elem())
		p.decode(n, e.Elem(), path)
		v.Set(e)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			p.errorf(n, "want a mapping of keys (%s)", strings.Join(fieldNames(v.Type()), ", "))
			return
		}
		names := fieldNames(v.Type())
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if seen[k.Value] {
				p.errorf(k, "%s is given twice (keep one)", k.Value)
				continue
			}
			seen[k.Value] = true
			f, ok := fieldByTag(v, k.Value)
			if !ok {
				msg := fmt.Sprintf("unknown key %q", k.Value)
				if s := closest(k.Value, names); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				} else {
					msg += fmt.Sprintf(" (known keys: %s)", strings.Join(names, ", "))
				}
				p.errorf(k, "%s", msg)
				continue
			}
			p.decode(val, f, path+"."+k.Value)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			p.errorf(n, "want a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			p.decode(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			p.errorf(n, "want a mapping of names to values")
			return
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			e := reflect.New(v.Type().Elem()).Elem()
			p.decode(val, e, path+"."+k.Value)
			m.SetMapIndex(reflect.ValueOf(k.Value), e)
		}
		v.Set(m)
	default:
		if n.Kind != yaml.ScalarNode {
			p.errorf(n, "want a single value")
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			p.errorf(n, "want %s, not %q", kindName(v.Kind()), n.Value)
		}
	}
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	}
	return "text"
}

func fieldNames(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		if tag := strings.Split(f.Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	for i := range v.NumField() {
		if tag := strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0]; tag == name && tag != "-" {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// closest returns the known name nearest to s, if it is close.
func closest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := distance(strings.ToLower(s), n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// distance is the Levenshtein distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

var namePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`) })

// CronParser is the parser of schedules: standard five fields, or
// descriptors (@daily, @every 15m), with an optional CRON_TZ= prefix.
var CronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// check validates what decoding cannot: required fields, names, schedules,
// secrets written literally.
func (p *parser) check(h *Hub) {
	node := func(path string) *yaml.Node {
		for {
			if n, ok := p.where[path]; ok {
				return n
			}
			i := strings.LastIndexAny(path, ".[")
			if i < 0 {
				return &yaml.Node{Line: 1, Column: 1}
			}
			path = path[:i]
		}
	}
	if h.Timezone != "" {
		if _, err := time.LoadLocation(h.Timezone); err != nil {
			p.errorf(node(".timezone"), "unknown time zone %q (use an IANA name such as Europe/Berlin)", h.Timezone)
		}
	}
	if h.PluginDir != "" && !filepath.IsAbs(h.PluginDir) {
		h.PluginDir = filepath.Join(p.dir, h.PluginDir)
	}
	names := map[string]bool{}
	for i := range h.Connectors {
		c := &h.Connectors[i]
		at := fmt.Sprintf(".connectors[%d]", i)
		switch {
		case c.Name == "":
			p.errorf(node(at), "connector without a name (add name: a short lowercase name such as sap-prod)")
		case !namePattern().MatchString(c.Name):
			p.errorf(node(at+".name"), "connector name %q: use lowercase letters, digits, - and _", c.Name)
		case names[c.Name]:
			p.errorf(node(at+".name"), "connector name %q is used twice (names must be unique)", c.Name)
		}
		names[c.Name] = true
		if c.Plugin == "" {
			p.errorf(node(at), "connector %q has no plugin (add plugin: sap, netsuite, dynamics, filedrop or an installed plugin's name)", c.Name)
		}
		if c.Mapping == "" {
			p.errorf(node(at), "connector %q has no mapping (add mapping: path/to/mapping.yaml; each connector ships a default in connectors/NAME/)", c.Name)
		} else if !filepath.IsAbs(c.Mapping) {
			c.Mapping = filepath.Join(p.dir, c.Mapping)
		}
		if c.Schedule != "" {
			spec := c.Schedule
			if h.Timezone != "" && !strings.HasPrefix(spec, "CRON_TZ=") && !strings.HasPrefix(spec, "TZ=") && !strings.HasPrefix(spec, "@every") {
				spec = "CRON_TZ=" + h.Timezone + " " + spec
			}
			if _, err := CronParser.Parse(spec); err != nil {
				p.errorf(node(at+".schedule"), "schedule %q: %v (write five fields, minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\", or @hourly, @every 15m)", c.Schedule, err)
			} else {
				c.Schedule = spec
			}
		}
		if c.BatchSize < 0 {
			p.errorf(node(at+".batch_size"), "batch_size must be positive")
		}
		keys := make([]string, 0, len(c.Config))
		for k := range c.Config {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if secretNames().MatchString(k) && !publicNames().MatchString(k) && !c.Config[k].IsRef() && c.Config[k].Value() != "" {
				p.errorf(node(at+".config."+k), "%s looks like a secret written in the file: use a reference, ${env:NAME} or ${file:/path}", k)
			}
		}
	}
	for i, t := range h.Intake.Tokens {
		at := fmt.Sprintf(".intake.tokens[%d]", i)
		if t.Name == "" {
			p.errorf(node(at), "token without a name (name it after the scanner or system that uses it)")
		}
		if t.Token.Resolved() && t.Token.Value() == "" {
			p.errorf(node(at), "token %q has no token (add token: ${env:NAME})", t.Name)
		} else if !t.Token.IsRef() {
			p.errorf(node(at+".token"), "token %q is written in the file: use a reference, ${env:NAME} or ${file:/path}", t.Name)
		}
	}
	if h.Intake.MaxBody < 0 {
		p.errorf(node(".intake.max_body"), "max_body %d is negative: give the most bytes one request body may have (%d when unset)", h.Intake.MaxBody, core.DefaultMaxBody)
	}
	p.checkGaps(h, node)
	p.checkScanPoints(h, node)
	p.checkServe(h, node)
	p.checkActions(h, node)
	p.checkOutbox(h, node)
	if h.Intake.Listen == "" {
		h.Intake.Listen = "127.0.0.1:8080"
	}
	if h.Intake.MaxBody == 0 {
		h.Intake.MaxBody = core.DefaultMaxBody
	}
	for i := range h.Connectors {
		c := &h.Connectors[i]
		if c.BatchSize == 0 {
			c.BatchSize = DefaultBatchSize
		}
		if c.Timeout == 0 {
			c.Timeout = Duration(2 * time.Minute)
		}
		if c.MaxRetry == 0 {
			c.MaxRetry = Duration(10 * time.Minute)
		}
	}
}

// Connector returns the connector named name, or ENOTFOUND.
func (h *Hub) Connector(name string) (*Connector, error) {
	for i := range h.Connectors {
		if h.Connectors[i].Name == name {
			return &h.Connectors[i], nil
		}
	}
	var names []string
	for _, c := range h.Connectors {
		names = append(names, c.Name)
	}
	return nil, core.Errorf(core.ENOTFOUND, "no connector %q in %s (configured: %s)", name, h.File, strings.Join(names, ", "))
}

// Resolve resolves the connector's secrets: what the hub does before it
// starts the connector's plugin. The errors name each reference's
// file:line:col.
func (c *Connector) Resolve() error {
	var errs Errors
	for _, k := range slices.Sorted(maps.Keys(c.Config)) {
		s := c.Config[k]
		if err := s.Resolve(); err != nil {
			errs = append(errs, err.(*Error))
			continue
		}
		c.Config[k] = s
	}
	return errs.orNil()
}

// Resolve resolves the notifier's secrets (its URL, its SMTP password).
func (n *Notifier) Resolve() error {
	var errs Errors
	for _, s := range []*Secret{&n.URL, &n.SMTP.Password} {
		if err := s.Resolve(); err != nil {
			errs = append(errs, err.(*Error))
		}
	}
	if len(errs) == 0 && n.Type == "webhook" && n.URL.Value() == "" {
		errs = append(errs, &Error{File: n.URL.file, Line: n.URL.line, Col: n.URL.col, Msg: fmt.Sprintf("webhook notifier %q has no url (its reference is empty)", n.Name)})
	}
	return errs.orNil()
}

// Resolve resolves every secret of the file: the store, the connectors',
// the intake tokens and the notifiers'. hub serve does it before it starts
// anything, so that a missing one is reported at once, at its
// file:line:col.
func (h *Hub) Resolve() error {
	var errs Errors
	add := func(err error) {
		var l Errors
		if errors.As(err, &l) {
			errs = append(errs, l...)
		} else if err != nil {
			errs = append(errs, err.(*Error))
		}
	}
	add(h.Store.Resolve())
	for i := range h.Connectors {
		add(h.Connectors[i].Resolve())
	}
	for i := range h.Intake.Tokens {
		t := &h.Intake.Tokens[i]
		if err := t.Token.Resolve(); err != nil {
			add(err)
		} else if t.Token.Value() == "" {
			add(&Error{File: t.Token.file, Line: t.Token.line, Col: t.Token.col, Msg: fmt.Sprintf("token %q is empty: its reference holds no token", t.Name)})
		}
	}
	for i := range h.Notifiers {
		add(h.Notifiers[i].Resolve())
	}
	for i := range h.Actions {
		add(h.Actions[i].Resolve())
	}
	return errs.orNil()
}

// orNil returns nil for no errors, so that an empty list is no error.
func (l Errors) orNil() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Values returns the connector's parameters as plain strings for the
// plugin. Never log the result.
func (c *Connector) Values() map[string]string {
	out := make(map[string]string, len(c.Config))
	for k, v := range c.Config {
		out[k] = v.Value()
	}
	return out
}

// Secrets returns the contents of every secret of the connector, so that
// callers can scrub them from text that leaves the hub.
func (c *Connector) Secrets() []string {
	var out []string
	for _, v := range c.Config {
		if v.IsRef() && v.Value() != "" { // a pending reference holds nothing yet
			out = append(out, v.Value())
		}
	}
	return out
}

// Scrub replaces every secret in s with "[redacted]".
func Scrub(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

func validSeverity(s string) bool {
	return s == "" || s == core.SeverityLow || s == core.SeverityMedium || s == core.SeverityHigh
}

// checkGaps validates the gaps and notifiers sections.
func (p *parser) checkGaps(h *Hub, node func(string) *yaml.Node) {
	g := &h.Gaps
	for name, r := range map[string]GapRule{
		"output_without_input": g.Rules.OutputWithoutInput, "input_without_output": g.Rules.InputWithoutOutput,
		"unknown_lot": g.Rules.UnknownLot, "overdrawn": g.Rules.Overdrawn, "yield": g.Rules.Yield, "time_order": g.Rules.TimeOrder,
		"quarantined": g.Rules.Quarantined, "mixed_units": g.Rules.MixedUnits,
	} {
		at := ".gaps.rules." + name
		if r.Allow != nil && name != "mixed_units" {
			p.errorf(node(at+".allow"), "allow applies to mixed_units only (items allowed in several units)")
		}
		for item, units := range r.Allow {
			if strings.TrimSpace(item) == "" || slices.ContainsFunc(units, func(u string) bool { return strings.TrimSpace(u) == "" }) {
				p.errorf(node(at+".allow"), "allow: an item and its units, e.g. {EGGS: [EA, CASE]} ([] allows any unit)")
			}
		}
		if !validSeverity(r.Severity) {
			p.errorf(node(at+".severity"), "severity %q: want low, medium or high", r.Severity)
		}
		if r.Window != nil && *r.Window < 0 {
			p.errorf(node(at+".window"), "window must not be negative")
		}
		if r.Tolerance != nil && (*r.Tolerance < 0 || *r.Tolerance > 10) {
			p.errorf(node(at+".tolerance"), "tolerance %g: write a fraction, 0.02 for 2 %%", *r.Tolerance)
		}
	}
	for i, s := range g.Steps {
		at := fmt.Sprintf(".gaps.steps[%d]", i)
		if s.Step == "" {
			p.errorf(node(at), "expected step without a step name (add step: METAL-DETECT, as the step events name it)")
		}
		if s.Window <= 0 {
			p.errorf(node(at), "expected step %q needs a window (e.g. window: 4h after the order's first event)", s.Step)
		}
		if !validSeverity(s.Severity) {
			p.errorf(node(at+".severity"), "severity %q: want low, medium or high", s.Severity)
		}
	}
	if g.Evaluate == 0 {
		g.Evaluate = Duration(5 * time.Minute)
	}
	names := map[string]bool{}
	for i, n := range h.Notifiers {
		at := fmt.Sprintf(".notifiers[%d]", i)
		if n.Name == "" {
			p.errorf(node(at), "notifier without a name (name it after its audience, e.g. line1-supervisors)")
		} else if names[n.Name] {
			p.errorf(node(at+".name"), "notifier name %q is used twice", n.Name)
		}
		names[n.Name] = true
		for _, st := range n.Stages {
			if st != "supervisor" && st != "quality" {
				p.errorf(node(at+".stages"), "stage %q: want supervisor or quality", st)
			}
		}
		switch n.Type {
		case "webhook":
			if n.URL.Resolved() && n.URL.Value() == "" {
				p.errorf(node(at), "webhook notifier %q has no url", n.Name)
			}
			if n.Format != "" && n.Format != "slack" && n.Format != "teams" && n.Format != "json" {
				p.errorf(node(at+".format"), "format %q: want slack, teams or json", n.Format)
			}
		case "email":
			if n.SMTP.Addr == "" || n.SMTP.From == "" || len(n.SMTP.To) == 0 {
				p.errorf(node(at), "email notifier %q needs smtp.addr (host:port), smtp.from and smtp.to", n.Name)
			}
			if n.SMTP.Password.Value() != "" && !n.SMTP.Password.IsRef() {
				p.errorf(node(at+".smtp.password"), "the SMTP password is written in the file: use a reference, ${env:NAME} or ${file:/path}")
			}
		case "log":
		default:
			p.errorf(node(at), "notifier %q: type %q, want webhook, email or log", n.Name, n.Type)
		}
	}
}

// scanDocuments are the event fields a scan point's document may fill,
// by the event it makes; the first is the default.
var scanDocuments = map[string][]string{
	"receive": {"po"},
	"consume": {"order"},
	"produce": {"order"},
	"ship":    {"delivery", "sales_order"},
}

// checkServe validates serve and fills in its defaults.
func (p *parser) checkServe(h *Hub, node func(string) *yaml.Node) {
	sv := &h.Serve
	if (sv.TLS.Cert == "") != (sv.TLS.Key == "") {
		p.errorf(node(".serve.tls"), "tls needs both cert and key (PEM files), or neither")
	}
	for _, f := range []*string{&sv.TLS.Cert, &sv.TLS.Key} {
		if *f != "" && !filepath.IsAbs(*f) {
			*f = filepath.Join(p.dir, *f)
		}
	}
	if sv.Session.Idle == 0 {
		sv.Session.Idle = Duration(time.Hour)
	}
	if sv.Session.Lifetime == 0 {
		sv.Session.Lifetime = Duration(12 * time.Hour)
	}
	if sv.Session.Idle > sv.Session.Lifetime {
		p.errorf(node(".serve.session"), "session idle %s is longer than its lifetime %s: the idle timeout would never apply",
			time.Duration(sv.Session.Idle), time.Duration(sv.Session.Lifetime))
	}
	if sv.Login.Window == 0 {
		sv.Login.Window = Duration(15 * time.Minute)
	}
	if sv.Login.MaxFailures < 0 || sv.Login.MaxFailuresPerAddress < 0 {
		p.errorf(node(".serve.login"), "max_failures must be positive")
	}
	if sv.Login.MaxFailures == 0 {
		sv.Login.MaxFailures = 5
	}
	if sv.Login.MaxFailuresPerAddress == 0 {
		sv.Login.MaxFailuresPerAddress = 20
	}
}

// checkScanPoints validates scan_points and fills in the defaults.
func (p *parser) checkScanPoints(h *Hub, node func(string) *yaml.Node) {
	names := map[string]bool{}
	for i := range h.ScanPoints {
		sp := &h.ScanPoints[i]
		at := fmt.Sprintf(".scan_points[%d]", i)
		switch {
		case strings.TrimSpace(sp.Name) == "":
			p.errorf(node(at), "scan point without a name (add name: what the readers there send as \"point\", e.g. DOCK-1)")
		case names[sp.Name]:
			p.errorf(node(at+".name"), "scan point %q is given twice (names must be unique)", sp.Name)
		}
		names[sp.Name] = true
		docs, ok := scanDocuments[sp.Makes]
		if !ok {
			if sp.Makes == "" {
				p.errorf(node(at), "scan point %q: add makes: receive, consume, produce or ship (the event a scan there makes)", sp.Name)
			} else {
				p.errorf(node(at+".makes"), "scan point %q: makes %q, want receive, consume, produce or ship", sp.Name, sp.Makes)
			}
			continue
		}
		if sp.Document == "" {
			sp.Document = docs[0]
		} else if !slices.Contains(docs, sp.Document) {
			p.errorf(node(at+".document"), "scan point %q makes %s: document %q, want %s", sp.Name, sp.Makes, sp.Document, strings.Join(docs, " or "))
		}
		if sp.Supplier != nil && sp.Makes != "receive" {
			p.errorf(node(at+".supplier"), "scan point %q makes %s: supplier applies to receive only", sp.Name, sp.Makes)
		}
		if sp.Customer != nil && sp.Makes != "ship" {
			p.errorf(node(at+".customer"), "scan point %q makes %s: customer applies to ship only", sp.Name, sp.Makes)
		}
		for _, pt := range []struct {
			key string
			v   *Party
		}{{"supplier", sp.Supplier}, {"customer", sp.Customer}} {
			if pt.v != nil && strings.TrimSpace(pt.v.ID) == "" {
				p.errorf(node(at+"."+pt.key), "scan point %q: %s needs an id", sp.Name, pt.key)
			}
		}
		if sp.CountUOM == "" {
			sp.CountUOM = "EA"
		}
	}
}
