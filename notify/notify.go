// Package notify delivers gap alerts: to chat webhooks (Slack, Mattermost,
// Microsoft Teams) or any JSON endpoint, by email over SMTP with STARTTLS,
// and to the log. A Router sends each alert to the notifiers configured for
// its stage (supervisor for a new gap, quality when it stays open) and
// site.
//
// Delivery is at least once per notifier and alert stage within a running
// hub, and at most once too: the Router remembers which notifiers took an
// alert, so when the core retries an alert that failed on one notifier,
// the others are not sent it again.
package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/smtp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
)

// Notifier delivers one alert to one audience.
type Notifier interface {
	Notify(ctx context.Context, a core.Alert) error
}

// Target is a notifier with the alerts it takes.
type Target struct {
	Name     string
	Stages   []string // supervisor, quality; all when empty
	Sites    []string // all when empty
	Notifier Notifier
}

func (t Target) takes(a core.Alert) bool {
	if len(t.Stages) > 0 && !slices.Contains(t.Stages, a.Channel()) {
		return false
	}
	return len(t.Sites) == 0 || slices.Contains(t.Sites, a.Gap.Site)
}

// Router is a core.Alerter over several notifiers.
type Router struct {
	Targets []Target
	Log     *slog.Logger

	mu   sync.Mutex
	done map[string]bool // gap/stage/notifier delivered
}

// New builds the router for the configured notifiers; nil when there are
// none.
func New(ns []config.Notifier, log *slog.Logger) *Router {
	if len(ns) == 0 {
		return nil
	}
	if log == nil {
		log = slog.Default()
	}
	r := &Router{Log: log}
	for _, n := range ns {
		t := Target{Name: n.Name, Stages: n.Stages, Sites: n.Sites}
		switch n.Type {
		case "webhook":
			t.Notifier = &Webhook{URL: n.URL.Value(), Format: n.Format}
		case "email":
			t.Notifier = &Email{SMTP: n.SMTP}
		default:
			t.Notifier = &Log{Logger: log}
		}
		r.Targets = append(r.Targets, t)
	}
	return r
}

// Alert sends a to every notifier that takes it and has not yet. It fails
// when any of them failed; a retry sends only to those.
func (r *Router) Alert(ctx context.Context, a core.Alert) error {
	var errs []error
	for _, t := range r.Targets {
		if !t.takes(a) {
			continue
		}
		key := fmt.Sprintf("%s/%d/%s", a.Gap.ID, a.Stage, t.Name)
		r.mu.Lock()
		sent := r.done[key]
		r.mu.Unlock()
		if sent {
			continue
		}
		if err := t.Notifier.Notify(ctx, a); err != nil {
			errs = append(errs, fmt.Errorf("notifier %s: %w", t.Name, err))
			continue
		}
		r.mu.Lock()
		if r.done == nil {
			r.done = map[string]bool{}
		}
		r.done[key] = true
		r.mu.Unlock()
	}
	return errors.Join(errs...)
}

var _ core.Alerter = (*Router)(nil)

// Text is the one-paragraph message of an alert.
func Text(a core.Alert) string {
	g := a.Gap
	if g.Kind == "outbox_failed" { // an action the outbox cannot deliver (package outbox)
		return fmt.Sprintf("ERP write-back %s is stuck (%s/%s): %s. Failing since %s.", g.ID, g.Item, g.Lot, g.Detail, g.Since)
	}
	what := g.Kind
	if g.Item != "" {
		what += " " + g.Item + "/" + g.Lot
	}
	if g.Order != "" {
		what += " order " + g.Order
	}
	prefix := "New traceability gap"
	if a.Channel() == "quality" {
		prefix = "Traceability gap still open"
	}
	s := fmt.Sprintf("%s %s (%s): %s. Open since %s.", prefix, g.ID, what, g.Detail, g.Since)
	if g.Site != "" {
		s += " Site " + g.Site + "."
	}
	if !core.Confirmable(g.Kind) {
		// Quarantined input, mixed units, a wrong quantity or time:
		// nothing to confirm; the detail says what to fix.
		return s + fmt.Sprintf(" Acknowledge it with 'hub gap ack %s'.", g.ID)
	}
	return s + fmt.Sprintf(" Confirm the missing link with 'hub confirm %s', or acknowledge it with 'hub gap ack %s'.", g.ID, g.ID)
}

// Webhook posts alerts as JSON.
type Webhook struct {
	URL    string // holds the channel's secret for Slack and Teams: never logged
	Format string // slack (default), teams, json
	Client *http.Client
}

func (w *Webhook) Notify(ctx context.Context, a core.Alert) error {
	var body any
	switch w.Format {
	case "teams":
		// The legacy "MessageCard" of Office 365 connectors, which Teams
		// workflows also accept.
		body = map[string]any{"@type": "MessageCard", "@context": "https://schema.org/extensions",
			"summary": "lothub gap " + a.Gap.ID, "title": "lothub: traceability gap " + a.Gap.ID, "text": Text(a)}
	case "json":
		body = map[string]any{"channel": a.Channel(), "gap": a.Gap}
	default: // Slack incoming webhooks; Mattermost reads the same.
		body = map[string]any{"text": Text(a)}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode alert: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(b))
	if err != nil {
		return errors.New("webhook URL is not valid (check the notifier's url)")
	}
	req.Header.Set("Content-Type", "application/json")
	c := w.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		// The URL holds a secret: name the host only.
		return fmt.Errorf("post to %s: %v", req.URL.Host, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", req.URL.Host, resp.Status)
	}
	return nil
}

// Email sends alerts over SMTP, with STARTTLS unless disabled.
type Email struct {
	SMTP config.SMTP
	// TLS configures STARTTLS; the server name is the address's host when
	// nil.
	TLS *tls.Config
}

func (e *Email) Notify(ctx context.Context, a core.Alert) error {
	host, _, err := net.SplitHostPort(e.SMTP.Addr)
	if err != nil {
		return fmt.Errorf("smtp address %q: want host:port", e.SMTP.Addr)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.SMTP.Addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", e.SMTP.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp %s: %w", e.SMTP.Addr, err)
	}
	defer c.Close()
	if e.SMTP.StartTLS == nil || *e.SMTP.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("smtp %s does not offer STARTTLS: refusing to send in clear (set starttls: false only for a relay on this host)", e.SMTP.Addr)
		}
		cfg := e.TLS
		if cfg == nil {
			cfg = &tls.Config{ServerName: host}
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("smtp %s: STARTTLS: %w", e.SMTP.Addr, err)
		}
	}
	if e.SMTP.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", e.SMTP.Username, e.SMTP.Password.Value(), host)); err != nil {
			return fmt.Errorf("smtp %s: log in as %s: %v", e.SMTP.Addr, e.SMTP.Username, config.Scrub(err.Error(), []string{e.SMTP.Password.Value()}))
		}
	}
	if err := c.Mail(e.SMTP.From); err != nil {
		return fmt.Errorf("smtp %s: sender %s: %w", e.SMTP.Addr, e.SMTP.From, err)
	}
	for _, to := range e.SMTP.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("smtp %s: recipient %s: %w", e.SMTP.Addr, to, err)
		}
	}
	wc, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: %w", e.SMTP.Addr, err)
	}
	subject := "lothub: traceability gap " + a.Gap.ID
	if a.Channel() == "quality" {
		subject += " still open"
	}
	msg := "From: " + e.SMTP.From + "\r\nTo: " + strings.Join(e.SMTP.To, ", ") + "\r\nSubject: " + subject +
		"\r\nDate: " + time.Now().UTC().Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		Text(a) + "\r\n"
	if _, err := io.WriteString(wc, msg); err != nil {
		return fmt.Errorf("smtp %s: write message: %w", e.SMTP.Addr, err)
	}
	if err := wc.Close(); err != nil {
		return fmt.Errorf("smtp %s: message refused: %w", e.SMTP.Addr, err)
	}
	return c.Quit()
}

// Log writes alerts to the hub's log.
type Log struct{ Logger *slog.Logger }

func (l *Log) Notify(ctx context.Context, a core.Alert) error {
	l.Logger.WarnContext(ctx, "traceability gap", "channel", a.Channel(), "gap", a.Gap.ID, "kind", a.Gap.Kind,
		"item", a.Gap.Item, "lot", a.Gap.Lot, "order", a.Gap.Order, "detail", a.Gap.Detail)
	return nil
}
