package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/intake"
	"github.com/lothub/lothub/mapping"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/sdk"
)

// connectorCommand is hub connector test: a dry run of one read.
func (a *app) connectorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connector test CONNECTOR",
		Short: "Try a configured connector without committing anything",
	}
	var asJSON, fromStart bool
	test := &cobra.Command{
		Use:   "test CONNECTOR",
		Short: "Read the connector's first page and print its records and the events the mapping makes of them",
		Long: `Reads one batch (the connector's batch_size) from the connector's stored
position, or from the beginning with --from-start, and prints every raw
record and what the mapping makes of it: its events, a declared skip (rule
and reason) or the reason it would be quarantined. Nothing is written: no
record, event, quarantine entry, run or position. Use it to try a new
profile or mapping against the real source.`,
		Args: exactArgs(1, "CONNECTOR, a name from the configuration file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := a.loadConfig()
			if err != nil {
				return err
			}
			cc, err := h.Connector(args[0])
			if err != nil {
				return err
			}
			if err := cc.Resolve(); err != nil {
				return fmt.Errorf("connector %s: %w", cc.Name, err)
			}
			var pos sdk.Position
			if !fromStart {
				err := a.withStore(cmd.Context(), func(s core.Store) error {
					c, err := s.Cursor(cmd.Context(), cc.Name)
					if err == nil {
						pos = c.Position
					} else if core.ErrorCode(err) != core.ENOTFOUND {
						return err
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			res, err := a.tryConnector(cmd.Context(), h, cc, pos)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, res)
			}
			res.writeText(a)
			return nil
		},
	}
	test.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	test.Flags().BoolVar(&fromStart, "from-start", false, "read from the beginning of the source, not from the stored position")
	cmd.AddCommand(test)
	return cmd
}

// connectorTry is what hub connector test prints.
type connectorTry struct {
	Connector string        `json:"connector"`
	Plugin    string        `json:"plugin"`
	Mapping   string        `json:"mapping"`
	From      string        `json:"from"` // "start" or "position"
	Position  string        `json:"position,omitempty"`
	Next      string        `json:"next,omitempty"`
	More      bool          `json:"more"`
	Records   []triedRecord `json:"records"`
	Counts    struct {
		Records     int `json:"records"`
		Events      int `json:"events"`
		Skipped     int `json:"skipped"`
		Quarantined int `json:"quarantined"`
	} `json:"counts"`
}

type triedRecord struct {
	ID      string          `json:"id"`
	Kind    string          `json:"kind"`
	Time    string          `json:"time,omitempty"`
	Payload json.RawMessage `json:"payload"`
	Outcome string          `json:"outcome"` // events, skipped or quarantined
	Events  []*core.Event   `json:"events,omitempty"`
	Skip    *core.Skip      `json:"skip,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// recordReader is what the test needs of a connector, in process or a
// plugin.
type recordReader interface {
	Spec() sdk.Spec
	Read(ctx context.Context, cfg sdk.Config, pos sdk.Position, n int) (sdk.ReadResult, error)
}

// tryConnector reads one batch from pos and maps it, writing nothing. A
// built-in runs in this process; an external plugin is started.
func (a *app) tryConnector(ctx context.Context, h *config.Hub, cc *config.Connector, pos sdk.Position) (*connectorTry, error) {
	m, err := mapping.Load(cc.Mapping)
	if err != nil {
		return nil, fmt.Errorf("connector %s: %w", cc.Name, err)
	}
	pl, err := a.plugins(h).Find(cc.Plugin)
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(cc.Timeout)
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var r recordReader
	if f, ok := builtins[pl.Name]; ok && pl.Builtin {
		r = f()
	} else {
		c, err := sdk.Launch(ctx, pl.Command(), slog.New(slog.DiscardHandler))
		if err != nil {
			return nil, fmt.Errorf("start connector plugin %s for %s: %w", pl.Name, cc.Name, err)
		}
		defer c.Close()
		r = c
	}
	cfg, err := sdk.ParseConfig(r.Spec(), cc.Values())
	if err != nil {
		return nil, core.Errorf(core.EINVALID, "connector %s in %s: %v", cc.Name, h.File, err)
	}
	res, err := r.Read(ctx, cfg, pos, cc.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("connector %s: %s", cc.Name, config.Scrub(err.Error(), cc.Secrets()))
	}
	p := &intake.Pipeline{Mapping: m, Source: cc.Name}
	out := &connectorTry{Connector: cc.Name, Plugin: pl.Name, Mapping: cc.Mapping, From: "start",
		Next: string(res.Next), More: res.More, Records: []triedRecord{}}
	if len(pos) > 0 {
		out.From, out.Position = "position", string(pos)
	}
	for _, rec := range res.Records {
		tr := triedRecord{ID: rec.ID, Kind: rec.Kind, Payload: json.RawMessage(rec.Payload)}
		if !rec.Time.IsZero() {
			tr.Time = rec.Time.Format(time.RFC3339)
		}
		if !json.Valid(rec.Payload) {
			tr.Payload, _ = json.Marshal(string(rec.Payload))
		}
		// The record goes through the pipeline's mapping of one input,
		// as a sync's would (runner.Inputs, intake.Pipeline.Map).
		if inputs, err := runner.Inputs([]sdk.Record{rec}); err != nil {
			tr.Error = err.Error()
		} else if mr, err := p.MapInput(inputs[0]); err != nil {
			tr.Error = err.Error()
		} else {
			if mr.Err != nil {
				tr.Error = mr.Err.Error()
			}
			tr.Events, tr.Skip = mr.Events, mr.Skip
		}
		switch {
		case tr.Error != "":
			tr.Outcome, tr.Events = "quarantined", nil
			out.Counts.Quarantined++
		case len(tr.Events) > 0:
			tr.Outcome = "events"
			out.Counts.Events += len(tr.Events)
		default:
			tr.Outcome = "skipped"
			if tr.Skip == nil {
				tr.Skip = &core.Skip{Reason: "made no event (the mapping gave no reason)"}
			}
			out.Counts.Skipped++
		}
		tr.Error = config.Scrub(tr.Error, cc.Secrets())
		out.Records = append(out.Records, tr)
	}
	out.Counts.Records = len(out.Records)
	return out, nil
}

func (r *connectorTry) writeText(a *app) {
	from := "from the beginning"
	if r.From == "position" {
		from = "from the stored position"
	}
	more := "no more for now"
	if r.More {
		more = "more to read"
	}
	fmt.Fprintf(a.stdout, "connector %s (plugin %s), one read %s: %d records (%s)\n", r.Connector, r.Plugin, from, len(r.Records), more)
	for _, rec := range r.Records {
		fmt.Fprintf(a.stdout, "\nrecord %s (kind %s)\n  %s\n", rec.ID, rec.Kind, rec.Payload)
		switch rec.Outcome {
		case "events":
			for _, e := range rec.Events {
				b, _ := json.Marshal(e)
				fmt.Fprintf(a.stdout, "  → %s %s\n", e.Type, b)
			}
		case "skipped":
			if rec.Skip.Rule != "" {
				fmt.Fprintf(a.stdout, "  → skipped by rule %q: %s\n", rec.Skip.Rule, rec.Skip.Reason)
			} else {
				fmt.Fprintf(a.stdout, "  → skipped: %s\n", rec.Skip.Reason)
			}
		default:
			fmt.Fprintf(a.stdout, "  → would be quarantined: %s\n", rec.Error)
		}
	}
	fmt.Fprintf(a.stdout, "\n%d records: %d events, %d skipped, %d would be quarantined; nothing was written (store and position unchanged)\n",
		r.Counts.Records, r.Counts.Events, r.Counts.Skipped, r.Counts.Quarantined)
}
