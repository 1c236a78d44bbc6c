package main

import (
	"log/slog"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
)

// alerter builds the configured notifiers; nil when there are none.
func alerter(h *config.Hub, log *slog.Logger) core.Alerter { return nil }
