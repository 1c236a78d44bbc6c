package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/outbox"
)

// actions is the outbox planner of the hub configuration (its enabled
// actions), or nil: every command that ingests records the actions its
// events set off, in their transaction.
func (a *app) actions() core.Actions {
	h, err := a.optionalConfig()
	if err != nil {
		return nil // lotPlaceholders has said why the configuration is unusable
	}
	return outbox.NewPlanner(h)
}

// outboxWorker is the worker of the configuration's actions, their
// secrets resolved.
func (a *app) outboxWorker(s core.Store, h *config.Hub) *outbox.Worker {
	// The stuck-action alert goes to outbox.notifiers, or to every
	// notifier.
	ah := h
	if len(h.Outbox.Notifiers) > 0 {
		c := *h
		c.Notifiers = nil
		for _, n := range h.Notifiers {
			if slices.Contains(h.Outbox.Notifiers, n.Name) {
				c.Notifiers = append(c.Notifiers, n)
			}
		}
		ah = &c
	}
	return &outbox.Worker{Store: s, Config: h, Alerter: alerter(ah, a.logger()), Log: a.logger(),
		BaseDelay: time.Duration(h.Outbox.RetryDelay), MaxDelay: time.Duration(h.Outbox.MaxRetryDelay),
		// Every delivered action is in the audit trail already: the store
		// records it with the outcome, in one transaction (FinishOutbox).
	}
}

func (a *app) outboxCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "outbox",
		Short: "The actions events set off in the ERP: list, show, retry, cancel, run",
		Long: `The outbox holds every action an event set off (hub.yaml actions:,
docs/actions.md): pending, being delivered, delivered (with the ERP's
document number), failed (retried with backoff) or dead (refused by the ERP,
with its message), or cancelled by an operator. hub serve delivers them;
hub outbox run delivers the due ones once.`,
	}
	cmd.AddCommand(a.outboxListCommand(), a.outboxShowCommand(), a.outboxRetryCommand(), a.outboxCancelCommand(), a.outboxRunCommand())
	return cmd
}

func (a *app) outboxListCommand() *cobra.Command {
	var asJSON bool
	var state, action string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List outbox actions, newest first",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := core.OutboxFilter{Action: action, Limit: limit}
			for _, st := range strings.Split(state, ",") {
				if st = strings.TrimSpace(st); st == "" {
					continue
				}
				if !validOutboxState(st) {
					return usageError{fmt.Errorf("--state %q: want pending, delivering, delivered, failed, dead or cancelled", st)}
				}
				f.States = append(f.States, core.OutboxState(st))
			}
			return a.withStore(cmd.Context(), func(s core.Store) error {
				as, err := s.Outbox(cmd.Context(), f)
				if err != nil {
					return err
				}
				views := make([]outbox.View, 0, len(as))
				for _, x := range as {
					views = append(views, outbox.ViewOf(x))
				}
				if asJSON {
					return writeJSON(a.stdout, map[string]any{"actions": views})
				}
				if len(views) == 0 {
					fmt.Fprintln(a.stdout, "the outbox is empty")
					return nil
				}
				t := newTable(a.stdout, "ID", "ACTION", "EVENT", "LOT", "STATE", "TRIES", "DOCUMENT / LAST ERROR")
				for _, v := range views {
					lot := ""
					if v.Lot != nil {
						lot = v.Lot.Item + "/" + v.Lot.Lot
					}
					what := v.Document
					switch v.State {
					case core.OutboxFailed:
						what = "next " + v.NextAt.Format(time.RFC3339) + ": " + v.LastError
					case core.OutboxDead, core.OutboxCancelled:
						what = v.LastError
					}
					t.row(strconv.FormatInt(v.ID, 10), v.Action, v.EventID, lot, string(v.State), strconv.Itoa(v.Attempts), what)
				}
				t.flush()
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"actions": [...]}`)
	cmd.Flags().StringVar(&state, "state", "", "only these states, comma separated (pending, delivering, delivered, failed, dead, cancelled)")
	cmd.Flags().StringVar(&action, "action", "", "only this action")
	cmd.Flags().IntVar(&limit, "limit", 0, "show at most this many (0: all)")
	return cmd
}

func validOutboxState(s string) bool {
	for _, k := range core.OutboxStates {
		if string(k) == s {
			return true
		}
	}
	return false
}

func parseOutboxID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, core.Errorf(core.EINVALID, "outbox action id %q is not a positive number (hub outbox list shows the ids)", s)
	}
	return id, nil
}

func (a *app) outboxShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "One outbox action: its state, event, and the fields its next attempt sends",
		Args:  exactArgs(1, "the action's id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseOutboxID(args[0])
			if err != nil {
				return err
			}
			h, err := a.optionalConfig()
			if err != nil {
				return err
			}
			return a.withStore(cmd.Context(), func(s core.Store) error {
				as, err := s.Outbox(cmd.Context(), core.OutboxFilter{ID: id})
				if err != nil {
					return err
				}
				if len(as) == 0 {
					return core.Errorf(core.ENOTFOUND, "outbox action %d not found (hub outbox list shows the ids)", id)
				}
				d := outbox.DetailOf(h, as[0])
				if asJSON {
					return writeJSON(a.stdout, d)
				}
				w := a.stdout
				t := newTable(w, "action", fmt.Sprintf("%s (%s), id %d", d.Action, d.Kind, d.ID))
				t.row("event", d.EventID)
				if d.Lot != nil {
					t.row("lot", d.Lot.Item+"/"+d.Lot.Lot)
				}
				t.row("key", d.Key)
				t.row("state", fmt.Sprintf("%s after %d attempt(s)", d.State, d.Attempts))
				if d.Document != "" {
					t.row("document", d.Document)
				}
				if d.State == core.OutboxPending || d.State == core.OutboxFailed {
					t.row("next attempt", d.NextAt.Format(time.RFC3339))
				}
				if !d.FailedSince.IsZero() {
					t.row("failing since", d.FailedSince.Format(time.RFC3339))
				}
				if d.LastError != "" {
					t.row("last error", d.LastError)
				}
				t.row("created", d.CreatedAt.Format(time.RFC3339))
				t.flush()
				if d.FieldsError != "" {
					fmt.Fprintf(w, "\nfields: cannot be computed: %s\n", d.FieldsError)
				} else {
					b, _ := json.MarshalIndent(d.Fields, "", "  ")
					fmt.Fprintf(w, "\nfields\n%s\n", b)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the action as JSON")
	return cmd
}

func (a *app) outboxRetryCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "retry ID",
		Short: "Send a failed, dead or cancelled action again, now",
		Long: `Makes the action pending, due now, with a fresh give_up_after. Its next
attempt first asks the ERP whether the document exists (by the action's
key), so a retry never makes a second document.`,
		Args: exactArgs(1, "the action's id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseOutboxID(args[0])
			if err != nil {
				return err
			}
			return a.withStore(cmd.Context(), func(s core.Store) error {
				if err := s.RetryOutbox(cmd.Context(), id, time.Now().UTC()); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "outbox action %d is pending again: hub serve (or hub outbox run) delivers it\n", id)
				return nil
			})
		},
	}
}

func (a *app) outboxCancelCommand() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "cancel ID --reason TEXT",
		Short: "Cancel a pending, failed or dead action: it is never sent",
		Args:  exactArgs(1, "the action's id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseOutboxID(args[0])
			if err != nil {
				return err
			}
			if strings.TrimSpace(reason) == "" {
				return core.Errorf(core.EINVALID, "--reason is required: say why the action must not be sent (kept with it)")
			}
			who := "os:" + os.Getenv("USER")
			return a.withStore(cmd.Context(), func(s core.Store) error {
				if err := s.CancelOutbox(cmd.Context(), id, fmt.Sprintf("cancelled by %s: %s", who, strings.TrimSpace(reason)), time.Now().UTC()); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "outbox action %d cancelled: %s\n", id, strings.TrimSpace(reason))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the action must not be sent (required)")
	return cmd
}

func (a *app) outboxRunCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Deliver the due actions once (hub serve does it continuously)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := a.loadConfig()
			if err != nil {
				return err
			}
			for i := range h.Actions {
				if err := h.Actions[i].Resolve(); err != nil {
					return err
				}
			}
			for i := range h.Connectors {
				for _, act := range h.Actions {
					if act.Connector == h.Connectors[i].Name {
						if err := h.Connectors[i].Resolve(); err != nil {
							return err
						}
						break
					}
				}
			}
			return a.withStore(cmd.Context(), func(s core.Store) error {
				st, err := a.outboxWorker(s, h).RunOnce(cmd.Context())
				if asJSON {
					if jerr := writeJSON(a.stdout, st); jerr != nil {
						return jerr
					}
				} else {
					fmt.Fprintf(a.stdout, "outbox: %d claimed, %d delivered, %d found delivered, %d failed (will retry), %d dead\n",
						st.Claimed, st.Delivered, st.Found, st.Failed, st.Dead)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the counts as JSON")
	return cmd
}

func (a *app) actionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "action",
		Short: "Configured actions: dry-run one against an event",
	}
	var event string
	var asJSON bool
	test := &cobra.Command{
		Use:   "test NAME --event FILE",
		Short: "Show the exact requests an action would send for an event, without sending them",
		Long: `Computes the action's fields from the event (a canonical event, JSON) and
prints every request the action would send: method, URL, headers and body,
with secrets masked. Nothing is sent: answers are stand-ins (a CSRF token
or session "fetched at delivery", nothing found by reads), so an action
that reads first (SAP's batch lookup) shows the path of a new document.`,
		Args: exactArgs(1, "the action's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if event == "" {
				return usageError{fmt.Errorf("--event FILE is required: the event to try the action on")}
			}
			h, err := a.loadConfig()
			if err != nil {
				return err
			}
			act, err := h.Action(args[0])
			if err != nil {
				return err
			}
			if err := act.Resolve(); err != nil {
				return err
			}
			if act.Connector != "" {
				c, err := h.Connector(act.Connector)
				if err != nil {
					return err
				}
				// Only its non-secret settings are used; a missing read
				// password is no reason to refuse a dry run.
				_ = c.Resolve()
			}
			raw, err := os.ReadFile(event)
			if err != nil {
				return core.Errorf(core.EINVALID, "cannot read the event: %v", err)
			}
			ev, err := core.DecodeEvent(raw)
			if err != nil {
				return core.Errorf(core.EINVALID, "%s: %v", event, err)
			}
			dry, err := outbox.DryRunAction(cmd.Context(), h, act.Name, ev)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, map[string]any{"action": act.Name, "key": core.OutboxKey(ev.ID, act.Name), "requests": dry.Requests})
			}
			fmt.Fprintf(a.stdout, "# action %s (%s) for event %s, key %s: nothing is sent\n\n", act.Name, act.Kind, ev.ID, core.OutboxKey(ev.ID, act.Name))
			dry.Text(a.stdout)
			return nil
		},
	}
	test.Flags().StringVar(&event, "event", "", "a canonical event (JSON file)")
	test.Flags().BoolVar(&asJSON, "json", false, `print {"action", "key", "requests": [{"method", "url", "headers", "body"}]}`)
	cmd.AddCommand(test)
	return cmd
}
