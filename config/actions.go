package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/mapping"
)

// Action is something lothub does in another system when an event arrives
// (hub.yaml actions:, docs/actions.md): post a goods receipt to the ERP,
// drop a file for an API-less one. Actions are off until enabled.
type Action struct {
	Name    string `yaml:"name"`
	Enabled bool   `yaml:"enabled"`
	// Trigger: which events set the action off.
	Trigger ActionTrigger `yaml:"trigger"`
	// Kind is the built-in action (ActionKinds).
	Kind string `yaml:"kind"`
	// Connector is the configured connector of the system written to:
	// its base_url (and sap_client, company_db, account_id) are used, never
	// its read credentials.
	Connector string `yaml:"connector"`
	// URL overrides the connector's base_url; for kind http, the URL
	// posted to; for kind file, the destination folder (a directory or
	// sftp://user@host:port/path).
	URL Secret `yaml:"url"`
	// Credentials are the write credentials, separate from the
	// connector's read credentials: user/password, client_id/
	// client_secret/token_url/scope, token, private_key, host_key, …
	Credentials map[string]Secret `yaml:"credentials"`
	// Fields are the payload, each an expression of the mapping language
	// over the event's canonical JSON (lot.item, qty, po, …).
	Fields map[string]Expr `yaml:"fields"`
	// Options are the kind's settings that are not payload (the HTTP
	// template's headers, the file's format and name).
	Options map[string]string `yaml:"options"`
	// Timeout bounds one attempt; 30s when 0.
	Timeout Duration `yaml:"timeout"`
	// GiveUpAfter is how long transient failures (429, 5xx, timeouts)
	// are retried before the action is dead; 24h when 0.
	GiveUpAfter Duration `yaml:"give_up_after"`
	// AlertAfter: an action failed or dead for this long is alerted
	// through the notifiers; 1h when 0.
	AlertAfter Duration `yaml:"alert_after"`

	compiled *mapping.Fields
}

// ActionTrigger selects the events that set an action off.
type ActionTrigger struct {
	// Event is the event type: receive, consume, produce, ship, …
	Event string `yaml:"event"`
	// Source: "scan:POINT" (a scan point), "scan" (any), "http:TOKEN",
	// "http" (POST /v1/events), "epcis" (EPCIS capture),
	// "connector:NAME", "connector" (any sync or webhook), "file" (hub
	// ingest --events), or "any" (the default).
	Source string `yaml:"source"`
}

// Expr is an expression of the mapping language, compiled when the file
// is loaded.
type Expr struct {
	Node *yaml.Node
}

// ActionKind describes a built-in action: the fields and credentials it
// needs and the connector plugin it writes to ("" when none).
type ActionKind struct {
	Name        string
	Plugin      string
	Fields      []string
	Credentials [][]string // each entry: alternatives, one of which must be given
}

// ActionKinds are the built-in actions (package outbox delivers them).
var ActionKinds = []ActionKind{
	{Name: "sap_goods_receipt", Plugin: "sap", Fields: []string{"material", "plant", "storage_location", "batch", "quantity", "unit", "purchase_order", "purchase_order_item"},
		Credentials: [][]string{{"user"}, {"password"}}},
	{Name: "b1_goods_receipt_po", Plugin: "sap", Fields: []string{"po_doc_entry", "po_line", "item", "batch", "quantity"},
		Credentials: [][]string{{"user"}, {"password"}}},
	{Name: "netsuite_item_receipt", Plugin: "netsuite", Fields: []string{"purchase_order_id", "order_line", "lot", "quantity"},
		Credentials: [][]string{{"token", "client_id"}}},
	{Name: "bc_item_journal", Plugin: "dynamics", Fields: []string{"journal", "item", "lot", "quantity"},
		Credentials: [][]string{{"token", "client_id"}}},
	{Name: "file", Fields: nil},
	{Name: "http", Fields: nil},
}

// Kind returns the built-in action named name, or nil.
func ActionKindNamed(name string) *ActionKind {
	for i := range ActionKinds {
		if ActionKinds[i].Name == name {
			return &ActionKinds[i]
		}
	}
	return nil
}

// Payload computes the action's fields from an event.
func (a *Action) Payload(e *core.Event) (map[string]any, error) {
	if a.compiled == nil {
		return map[string]any{}, nil
	}
	return a.compiled.Eval(EventRecord(e))
}

// PayloadOf is Payload of an event whose canonical JSON is body.
func (a *Action) PayloadOf(e *core.Event, body []byte) (map[string]any, error) {
	if a.compiled == nil {
		return map[string]any{}, nil
	}
	var fields map[string]any
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, fmt.Errorf("event %s: %w", e.ID, err)
	}
	return a.compiled.Eval(mapping.Record{Kind: string(e.Type), ID: e.ID, Fields: fields})
}

// EventRecord is an event as the record of an action's field expressions:
// its canonical JSON, decoded.
func EventRecord(e *core.Event) mapping.Record {
	b, _ := json.Marshal(e) // an Event always marshals
	var fields map[string]any
	_ = json.Unmarshal(b, &fields)
	return mapping.Record{Kind: string(e.Type), ID: e.ID, Fields: fields}
}

// Action returns the action named name, or ENOTFOUND.
func (h *Hub) Action(name string) (*Action, error) {
	for i := range h.Actions {
		if h.Actions[i].Name == name {
			return &h.Actions[i], nil
		}
	}
	var names []string
	for _, a := range h.Actions {
		names = append(names, a.Name)
	}
	return nil, core.Errorf(core.ENOTFOUND, "no action %q in %s (configured: %s)", name, h.File, strings.Join(names, ", "))
}

// Resolve resolves the action's secrets: its URL and credentials.
func (a *Action) Resolve() error {
	var errs Errors
	if err := a.URL.Resolve(); err != nil {
		errs = append(errs, err.(*Error))
	}
	for _, k := range slices.Sorted(maps.Keys(a.Credentials)) {
		s := a.Credentials[k]
		if err := s.Resolve(); err != nil {
			errs = append(errs, err.(*Error))
			continue
		}
		a.Credentials[k] = s
	}
	return errs.orNil()
}

// Secrets returns the contents of the action's secrets, to scrub them from
// what is shown or logged.
func (a *Action) Secrets() []string {
	var out []string
	for _, v := range a.Credentials {
		if v.Value() != "" {
			out = append(out, v.Value())
		}
	}
	if a.URL.IsRef() && a.URL.Value() != "" {
		out = append(out, a.URL.Value())
	}
	return out
}

// Credential returns the value of a write credential ("" when not given).
func (a *Action) Credential(name string) string { return a.Credentials[name].Value() }

// MatchSource reports whether an event from source (core.Trigger.Source)
// is one the trigger selects.
func (t ActionTrigger) MatchSource(source string) bool {
	switch s := t.Source; {
	case s == "" || s == "any":
		return true
	case s == "epcis":
		return source == "connector:epcis"
	case s == "scan" || s == "http" || s == "connector":
		return strings.HasPrefix(source, s+":")
	case s == "file":
		for _, p := range []string{"scan:", "http:", "connector:"} {
			if strings.HasPrefix(source, p) {
				return false
			}
		}
		return true
	}
	return source == t.Source
}

// checkActions validates actions: and compiles their fields.
func (p *parser) checkActions(h *Hub, node func(string) *yaml.Node) {
	names := map[string]bool{}
	for i := range h.Actions {
		a := &h.Actions[i]
		at := fmt.Sprintf(".actions[%d]", i)
		switch {
		case a.Name == "":
			p.errorf(node(at), "action without a name (add name: a short lowercase name such as sap-goods-receipt)")
		case !namePattern().MatchString(a.Name):
			p.errorf(node(at+".name"), "action name %q: use lowercase letters, digits, - and _", a.Name)
		case names[a.Name]:
			p.errorf(node(at+".name"), "action name %q is used twice (names must be unique)", a.Name)
		}
		names[a.Name] = true
		kind := ActionKindNamed(a.Kind)
		if kind == nil {
			var all []string
			for _, k := range ActionKinds {
				all = append(all, k.Name)
			}
			if a.Kind == "" {
				p.errorf(node(at), "action %q has no kind (add kind: %s)", a.Name, strings.Join(all, ", "))
			} else {
				p.errorf(node(at+".kind"), "action %q: unknown kind %q (want %s)", a.Name, a.Kind, strings.Join(all, ", "))
			}
			continue
		}
		// Trigger.
		switch {
		case a.Trigger.Event == "":
			p.errorf(node(at+".trigger"), "action %q: add trigger: {event: receive, source: scan:DOCK-1} (the events that set it off)", a.Name)
		case !core.EventType(a.Trigger.Event).Valid():
			p.errorf(node(at+".trigger.event"), "action %q: event %q is not an event type (receive, consume, produce, ship, …)", a.Name, a.Trigger.Event)
		}
		src := a.Trigger.Source
		kindOf, name, _ := strings.Cut(src, ":")
		switch kindOf {
		case "", "any", "epcis", "file":
			if name != "" {
				p.errorf(node(at+".trigger.source"), "action %q: source %q takes no name", a.Name, src)
			}
		case "scan":
			if name != "" && h.ScanPoint(name) == nil {
				p.errorf(node(at+".trigger.source"), "action %q: no scan point %q in scan_points", a.Name, name)
			}
		case "http":
		case "connector":
			if name != "" {
				if _, err := h.Connector(name); err != nil {
					p.errorf(node(at+".trigger.source"), "action %q: no connector %q in connectors", a.Name, name)
				}
			}
		default:
			p.errorf(node(at+".trigger.source"), "action %q: source %q: want scan:POINT, http:TOKEN, epcis, connector:NAME, file or any", a.Name, src)
		}
		// Target.
		if kind.Plugin != "" {
			if a.Connector == "" {
				p.errorf(node(at), "action %q (%s) has no connector (add connector: the name of the %s connector whose system it writes to)", a.Name, a.Kind, kind.Plugin)
			} else if c, err := h.Connector(a.Connector); err != nil {
				p.errorf(node(at+".connector"), "action %q: no connector %q in connectors", a.Name, a.Connector)
			} else if c.Plugin != kind.Plugin {
				p.errorf(node(at+".connector"), "action %q (%s) writes to a %s system, and connector %q is %s", a.Name, a.Kind, kind.Plugin, a.Connector, c.Plugin)
			}
		}
		if (a.Kind == "http" || a.Kind == "file") && a.URL.Resolved() && a.URL.Value() == "" && !a.URL.IsRef() {
			what := "the URL to post to"
			if a.Kind == "file" {
				what = "the folder to write to: a directory or sftp://user@host:22/path"
			}
			p.errorf(node(at), "action %q (%s) has no url (add url: %s)", a.Name, a.Kind, what)
		}
		for _, alts := range kind.Credentials {
			if !slices.ContainsFunc(alts, func(k string) bool { _, ok := a.Credentials[k]; return ok }) {
				p.errorf(node(at+".credentials"), "action %q (%s) needs the write credential %s (as a ${env:NAME} or ${file:/path} reference, separate from the connector's read credentials)",
					a.Name, a.Kind, strings.Join(alts, " or "))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(a.Credentials)) {
			if secretNames().MatchString(k) && !publicNames().MatchString(k) && !a.Credentials[k].IsRef() && a.Credentials[k].Value() != "" {
				p.errorf(node(at+".credentials."+k), "%s looks like a secret written in the file: use a reference, ${env:NAME} or ${file:/path}", k)
			}
		}
		for _, f := range kind.Fields {
			if _, ok := a.Fields[f]; !ok {
				p.errorf(node(at+".fields"), "action %q (%s) needs the field %s (fields: %s)", a.Name, a.Kind, f, strings.Join(kind.Fields, ", "))
			}
		}
		var srcs []mapping.FieldSource
		for _, k := range slices.Sorted(maps.Keys(a.Fields)) {
			srcs = append(srcs, mapping.FieldSource{Name: k, Node: a.Fields[k].Node})
		}
		if len(srcs) > 0 {
			f, err := mapping.CompileFields(p.file, p.src, srcs)
			if err != nil {
				var l mapping.ErrorList
				if ok := asErrorList(err, &l); ok {
					for _, e := range l {
						p.errs = append(p.errs, &Error{File: e.Pos.File, Line: e.Pos.Line, Col: e.Pos.Col, Msg: fmt.Sprintf("action %q: %s", a.Name, e.Msg)})
					}
				} else {
					p.errorf(node(at+".fields"), "action %q: %v", a.Name, err)
				}
			}
			a.compiled = f
		}
		if a.Timeout == 0 {
			a.Timeout = Duration(30e9)
		}
		if a.GiveUpAfter == 0 {
			a.GiveUpAfter = Duration(24 * 3600e9)
		}
		if a.AlertAfter == 0 {
			a.AlertAfter = Duration(3600e9)
		}
	}
}

func asErrorList(err error, l *mapping.ErrorList) bool {
	el, ok := err.(mapping.ErrorList)
	if ok {
		*l = el
	}
	return ok
}

// Outbox configures the worker that delivers actions (hub serve runs it).
type Outbox struct {
	// Poll is how often the worker looks for due actions; 5s when 0.
	Poll Duration `yaml:"poll"`
	// Lease: an action claimed longer ago than this belongs to a worker
	// that died, and is claimed again (after asking the ERP whether the
	// document exists); 5m when 0. It must exceed every action's timeout.
	Lease Duration `yaml:"lease"`
	// RetryDelay is the delay before the first retry of a failed
	// action, doubled each attempt up to MaxRetryDelay (with ±20 %
	// jitter) unless the ERP says Retry-After; 10s and 15m when 0.
	RetryDelay    Duration `yaml:"retry_delay"`
	MaxRetryDelay Duration `yaml:"max_retry_delay"`
	// Notifiers receive the alert of an action failed for longer than its
	// alert_after; every notifier when empty.
	Notifiers []string `yaml:"notifiers"`
}

func (p *parser) checkOutbox(h *Hub, node func(string) *yaml.Node) {
	o := &h.Outbox
	if o.Poll == 0 {
		o.Poll = Duration(5e9)
	}
	if o.Lease == 0 {
		o.Lease = Duration(300e9)
	}
	for _, a := range h.Actions {
		if a.Timeout >= o.Lease {
			p.errorf(node(".outbox.lease"), "outbox lease %v must be longer than action %q's timeout %v (else an attempt still running is taken for a dead one)", time.Duration(o.Lease), a.Name, time.Duration(a.Timeout))
		}
	}
	for i, n := range o.Notifiers {
		if !slices.ContainsFunc(h.Notifiers, func(x Notifier) bool { return x.Name == n }) {
			p.errorf(node(fmt.Sprintf(".outbox.notifiers[%d]", i)), "no notifier %q in notifiers", n)
		}
	}
}
