package outbox

import (
	"encoding/json"
	"fmt"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
)

// Planner sets off the enabled actions of a configuration: it is the
// core.Actions of the hub's ingesters.
type Planner struct {
	Actions []config.Action
}

// NewPlanner returns the planner of cfg's actions, or nil (no core.Actions
// at all) when none is enabled.
func NewPlanner(cfg *config.Hub) core.Actions {
	if cfg == nil {
		return nil
	}
	p := &Planner{}
	for _, a := range cfg.Actions {
		if a.Enabled {
			p.Actions = append(p.Actions, a)
		}
	}
	if len(p.Actions) == 0 {
		return nil
	}
	return p
}

// Trigger returns the actions the event sets off. An action whose fields
// cannot be computed from the event is returned dead, with the reason:
// the operator sees it in hub outbox list, fixes the configuration and
// retries it.
func (p *Planner) Trigger(t core.Trigger) []core.OutboxAction {
	var out []core.OutboxAction
	for i := range p.Actions {
		a := &p.Actions[i]
		if string(t.Event.Type) != a.Trigger.Event || !a.Trigger.MatchSource(t.Source) {
			continue
		}
		oa := core.OutboxAction{
			Key: core.OutboxKey(t.Event.ID, a.Name), Action: a.Name, Kind: a.Kind, EventID: t.Event.ID,
			State: core.OutboxPending, NextAt: t.Now, CreatedAt: t.Now,
		}
		// The event is kept with the action, as it was when it set it off:
		// the fields are computed from it at each attempt, so that an
		// action fixed in hub.yaml and retried uses the fixed fields.
		oa.Payload = t.Body
		if oa.Payload == nil {
			oa.Payload, _ = json.Marshal(t.Event) // an Event always marshals
		}
		if _, err := a.PayloadOf(t.Event, oa.Payload); err != nil {
			oa.State, oa.FailedSince = core.OutboxDead, t.Now
			oa.LastError = fmt.Sprintf("the payload cannot be built from event %s: %v (fix the action's fields in hub.yaml, then hub outbox retry)", t.Event.ID, err)
		}
		out = append(out, oa)
	}
	return out
}
