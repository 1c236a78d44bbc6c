package outbox

import (
	"encoding/json"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
)

// View is one action as hub outbox list --json and GET /v1/outbox show
// it: the stored action and the lot of its event.
type View struct {
	core.OutboxAction
	Lot *core.LotRef `json:"lot,omitempty"`
}

// Detail is one action as hub outbox show --json and GET /v1/outbox/{id}
// show it: the view, the event that set it off, and the fields the next
// attempt would send (computed with the configuration now), or why they
// cannot be.
type Detail struct {
	View
	Event       json.RawMessage `json:"event"`
	Fields      map[string]any  `json:"fields,omitempty"`
	FieldsError string          `json:"fields_error,omitempty"`
}

// ViewOf is the view of an action.
func ViewOf(a core.OutboxAction) View {
	v := View{OutboxAction: a}
	var ev core.Event
	if json.Unmarshal(a.Payload, &ev) == nil {
		v.Lot = ev.Lot
	}
	return v
}

// DetailOf is the detail of an action under cfg.
func DetailOf(cfg *config.Hub, a core.OutboxAction) Detail {
	d := Detail{View: ViewOf(a), Event: json.RawMessage(a.Payload)}
	var ev core.Event
	if err := json.Unmarshal(a.Payload, &ev); err != nil {
		d.FieldsError = "the stored event is unreadable: " + err.Error()
		return d
	}
	act, err := cfg.Action(a.Action)
	if err != nil {
		d.FieldsError = err.Error()
		return d
	}
	if d.Fields, err = act.Payload(&ev); err != nil {
		d.FieldsError = err.Error()
	}
	return d
}
