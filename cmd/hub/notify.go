package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/notify"
)

// alerter builds the configured notifiers; nil when there are none. Their
// secrets are resolved here; a notifier whose secret is missing (a quality
// user's shell without the chat webhook's variable) fails each alert it
// takes, naming the reference's file:line:col, and the monitor keeps the
// alert for a hub that has it (hub serve resolves every secret at start).
func alerter(h *config.Hub, log *slog.Logger) core.Alerter {
	var ready []config.Notifier
	var missing []notify.Target
	for _, n := range h.Notifiers {
		if err := n.Resolve(); err != nil {
			missing = append(missing, notify.Target{Name: n.Name, Stages: n.Stages, Sites: n.Sites, Notifier: unresolvedNotifier{err}})
			continue
		}
		ready = append(ready, n)
	}
	r := notify.New(ready, log)
	if len(missing) > 0 {
		if r == nil {
			r = &notify.Router{Log: log}
		}
		r.Targets = append(r.Targets, missing...)
	}
	if r == nil {
		return nil
	}
	return r
}

// unresolvedNotifier is a notifier whose secret could not be resolved.
type unresolvedNotifier struct{ err error }

func (u unresolvedNotifier) Notify(context.Context, core.Alert) error {
	return fmt.Errorf("not sent: %w", u.err)
}
