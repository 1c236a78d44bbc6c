package main

import (
	"log/slog"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/notify"
)

// alerter builds the configured notifiers; nil when there are none.
func alerter(h *config.Hub, log *slog.Logger) core.Alerter {
	if r := notify.New(h.Notifiers, log); r != nil {
		return r
	}
	return nil
}
