package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/outbox"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/server"
)

func (a *app) serveCommand() *cobra.Command {
	var listen, tlsCert, tlsKey string
	var genealogyCache bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the hub: scheduled syncs, event and webhook intake, the query API, metrics",
		Long: `Runs until stopped (SIGINT, SIGTERM): the connectors' syncs on their cron
schedules (never two of one connector at once), and an HTTP server with

  POST /v1/events                 canonical events from scanners and MES (integrate)
  POST /v1/webhooks/{connector}   ERP webhooks, signature checked by the connector
  GET  /v1/trace/{forward|backward}/{item}/{lot}, /v1/recall/{item}/{lot},
       /v1/lots/{item}/{lot}, /v1/gaps, /v1/runs   (read; the CLI's --json shapes)
  GET  /login, POST /login, POST /logout            the web UI's sign-in
  GET  /v1/openapi.json            the OpenAPI 3.1 document of the whole API
  GET  /v1/outbox, /v1/outbox/{id}; POST /v1/outbox/{id}/retry|cancel
  GET  /v1/health, /metrics (Prometheus)
  GET  /                          the web application (docs/web.md)

Every route but health, metrics, the OpenAPI document, sign-in and webhooks
needs a user's token (hub token create), an intake token (admin) or a web
session, and the role the route needs (docs/security.md). With --tls-cert and
--tls-key (or serve.tls in the configuration) it serves HTTPS.

and the outbox worker, which delivers the actions events set off in the ERP
(hub.yaml actions:, docs/actions.md).

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
			if cmd.Flags().Changed("tls-cert") || cmd.Flags().Changed("tls-key") {
				h.Serve.TLS.Cert, h.Serve.TLS.Key = tlsCert, tlsKey
			}
			return a.serve(ctx, h, genealogyCache, nil)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to serve on (default: the configuration's intake.listen, 127.0.0.1:8080)")
	cmd.Flags().StringVar(&tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM, chain after the leaf); with --tls-key (default: the configuration's serve.tls.cert)")
	cmd.Flags().StringVar(&tlsKey, "tls-key", "", "the certificate's private key (PEM); with --tls-cert")
	cmd.Flags().BoolVar(&genealogyCache, "genealogy-cache", true, "keep the genealogy and what traces report about each lot in memory for traces and recalls (about 20 bytes per link and 40 MB per million events; traces read the store while it loads or after a change)")
	return cmd
}

// serverTLS loads the certificate and key hub serve answers HTTPS with;
// nil when neither is given. Both are read now: a wrong path or a key
// that does not match is an error before anything starts.
func serverTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, usageError{fmt.Errorf("HTTPS needs both --tls-cert and --tls-key (or serve.tls.cert and serve.tls.key)")}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, core.Errorf(core.EINVALID, "TLS certificate %s and key %s: %v (both PEM; the key must be the certificate's)", certFile, keyFile, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// serve runs the hub on h until ctx ends: hub serve, and hub demo
// --serve. serving, when set, is told the address once it listens.
func (a *app) serve(ctx context.Context, h *config.Hub, genealogyCache bool, serving func(s core.Store, url string) error) error {
	// The certificate and key are read before anything starts.
	tlsConfig, err := serverTLS(h.Serve.TLS.Cert, h.Serve.TLS.Key)
	if err != nil {
		return err
	}
	// Not one-shot: a server runs the same statements again and again.
	return a.withStoreFor(ctx, false, func(s core.Store) error {
		// A SQLite file is served by one process; several replicas
		// share a PostgreSQL database (docs/scaling.md).
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
		r := &runner.Runner{Store: s, Config: h, Plugins: plugins, Logger: log, Actions: outbox.NewPlanner(h)}
		// The configuration this hub serves with, in the audit
		// trail (when it differs from the last recorded).
		if err := r.RecordConfigs(ctx); err != nil {
			log.Warn("configuration not recorded in the audit trail at start (each sync records its connector's)", "err", err)
		}
		sched := &runner.Scheduler{Runner: r, OnRun: func(run core.Run, _ error) {
			if run.ID != 0 {
				metrics.ObserveRun(run)
			}
		}}
		srv := server.New(s, h, plugins, log, metrics)
		defer srv.Close()
		srv.Runner = r // one runner for the API's and the web application's "run now": a connector never syncs twice at once
		if genealogyCache {
			srv.Genealogy.Warm(ctx)
		} else {
			srv.Genealogy.Close()
			srv.Genealogy = nil
		}
		// One monitor for the whole process: its notifiers remember
		// what they delivered, so an alert goes out once.
		srv.Monitor.Alerts = alerter(h, log)
		// The outbox worker: delivers the actions events set off
		// (docs/actions.md). Several hubs on one PostgreSQL database
		// each run one; FOR UPDATE SKIP LOCKED gives each action to
		// one of them.
		if len(h.Actions) > 0 {
			w := a.outboxWorker(s, h)
			done := make(chan struct{})
			go func() { defer close(done); w.Run(ctx) }()
			defer func() { <-done }()
		}
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
		srv.OnSync = sched.OnRun
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
			TLSConfig:         tlsConfig,
		}
		scheme := "http"
		if tlsConfig != nil {
			scheme = "https"
		} else if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
			log.Warn("serving plain HTTP beyond this machine: tokens, passwords and session cookies cross the network unencrypted; give --tls-cert and --tls-key (docs/security.md)", "listen", ln.Addr().String())
		}
		if us, err := s.Users(ctx); err == nil && len(us) == 0 && len(h.Intake.Tokens) == 0 && serving == nil {
			log.Warn("no users and no intake tokens: nobody can sign in or call the API yet; add one with hub user add NAME --role admin (docs/security.md)")
		}
		n, err := sched.Start(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "hub serving on %s://%s (%d scheduled connectors, %d intake tokens)\n", scheme, ln.Addr(), n, len(h.Intake.Tokens))
		if serving != nil {
			if err := serving(s, scheme+"://"+ln.Addr().String()); err != nil {
				ln.Close()
				sched.Stop()
				return err
			}
		}
		errc := make(chan error, 1)
		go func() {
			if tlsConfig != nil {
				errc <- hs.ServeTLS(ln, "", "")
			} else {
				errc <- hs.Serve(ln)
			}
		}()
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
}
