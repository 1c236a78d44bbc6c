package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/server"
)

func (a *app) serveCommand() *cobra.Command {
	var listen string
	var genealogyCache bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the hub: scheduled syncs, event and webhook intake, the query API, metrics",
		Long: `Runs until stopped (SIGINT, SIGTERM): the connectors' syncs on their cron
schedules (never two of one connector at once), and an HTTP server with

  POST /v1/events                 canonical events from scanners and MES (bearer token)
  POST /v1/webhooks/{connector}   ERP webhooks, signature checked by the connector
  GET  /v1/trace/{forward|backward}/{item}/{lot}, /v1/recall/{item}/{lot},
       /v1/lots/{item}/{lot}, /v1/gaps, /v1/runs   (bearer token; the CLI's --json shapes)
  GET  /v1/health, /metrics (Prometheus)

See docs/operations.md for the configuration file.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			h, found, err := a.configOrDefaults()
			if err != nil {
				return err
			}
			if !found {
				fmt.Fprintf(a.stdout, "hub: no configuration (no --config, $HUB_CONFIG or ./hub.yaml): serving on the defaults: database %s, no connectors, no intake tokens (see docs/operations.md)\n", a.db)
			}
			// Every secret, before anything starts: a missing one is
			// reported at its file:line:col now, not at 2 a.m.
			if err := h.Resolve(); err != nil {
				return err
			}
			if listen != "" {
				h.Intake.Listen = listen
			}
			return a.withStore(ctx, func(s core.Store) error {
				// A SQLite file is served by one process; several
				// replicas share a PostgreSQL database (docs/scaling.md).
				if sq, ok := s.(*sqlite.DB); ok {
					c, err := sq.Claim(ctx, "serve")
					if core.ErrorCode(err) == core.ECONFLICT {
						return core.Errorf(core.ECONFLICT, "another hub serve is running on %s (%v). A SQLite store is served by one process: stop the other one, or use PostgreSQL to run several replicas (docs/scaling.md)", sq.Path(), err)
					}
					if err != nil {
						return err
					}
					defer c.Release()
				}
				log := a.logger()
				plugins := a.plugins(h)
				metrics := server.NewMetrics()
				r := &runner.Runner{Store: s, Config: h, Plugins: plugins, Logger: log}
				sched := &runner.Scheduler{Runner: r, OnRun: func(run core.Run, _ error) {
					if run.ID != 0 {
						metrics.ObserveRun(run)
					}
				}}
				srv := server.New(s, h, plugins, log, metrics)
				defer srv.Close()
				if genealogyCache {
					srv.Genealogy.Warm(ctx)
				} else {
					srv.Genealogy.Close()
					srv.Genealogy = nil
				}
				// One monitor for the whole process: its notifiers remember
				// what they delivered, so an alert goes out once.
				srv.Monitor.Alerts = alerter(h, log)
				evaluate := func(why string) { <-srv.EvaluateGaps(why) }
				// Whether events wait for the gap rules is read from the
				// store (core.Monitor.Due), not from what a run reports:
				// a sync that completes one killed after its last commit
				// writes nothing, and its events are still unevaluated.
				due := func() bool {
					d, err := srv.Monitor.Due(ctx)
					if err != nil {
						log.Warn("cannot tell whether the gap rules are due; evaluating", "err", err)
						return true
					}
					return d
				}
				sched.OnRun = func(run core.Run, _ error) {
					if run.ID != 0 {
						metrics.ObserveRun(run)
					}
					if due() {
						evaluate("sync of " + run.Connector)
					}
				}
				// Events a killed hub, an 'ingest --evaluate=false' or
				// another process left unevaluated: at once, in the
				// background.
				if due() {
					srv.EvaluateGaps("start: events no evaluation has seen")
				}
				// Windows close and escalations fall due with no new
				// events: evaluate on a clock too.
				go func() {
					t := time.NewTicker(time.Duration(h.Gaps.Evaluate))
					defer t.Stop()
					for {
						select {
						case <-ctx.Done():
							return
						case <-t.C:
							evaluate("schedule")
						}
					}
				}()
				ln, err := net.Listen("tcp", h.Intake.Listen)
				if err != nil {
					return core.Errorf(core.EINVALID, "listen on %s: %v (is another hub running? change intake.listen)", h.Intake.Listen, err)
				}
				hs := &http.Server{
					Handler:           srv.Handler(),
					ReadHeaderTimeout: 10 * time.Second,
					ReadTimeout:       2 * time.Minute,
					WriteTimeout:      5 * time.Minute,
					IdleTimeout:       2 * time.Minute,
					ErrorLog:          nil,
				}
				n, err := sched.Start(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "hub serving on http://%s (%d scheduled connectors, %d intake tokens)\n", ln.Addr(), n, len(h.Intake.Tokens))
				errc := make(chan error, 1)
				go func() { errc <- hs.Serve(ln) }()
				select {
				case err := <-errc:
					sched.Stop()
					return fmt.Errorf("http server: %w", err)
				case <-ctx.Done():
				}
				log.Info("shutting down: finishing requests and running syncs")
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				err = hs.Shutdown(sctx)
				sched.Stop()
				if err != nil && !errors.Is(err, http.ErrServerClosed) {
					return fmt.Errorf("shut down http server: %w", err)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to serve on (default: the configuration's intake.listen, 127.0.0.1:8080)")
	cmd.Flags().BoolVar(&genealogyCache, "genealogy-cache", true, "keep the genealogy in memory for traces and recalls (about 20 bytes per link; walks read the store while it loads or after links change)")
	return cmd
}
