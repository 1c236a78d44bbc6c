package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/outbox"
)

// The outbox's operator view (docs/actions.md):
//
//	GET  /v1/outbox?state=failed&action=NAME&limit=N  {"actions": [...]}, newest first
//	GET  /v1/outbox/{id}                              one action, its event and fields
//	POST /v1/outbox/{id}/retry                        failed, dead or cancelled → pending
//	POST /v1/outbox/{id}/cancel {"reason": "…"}       pending, failed or dead → cancelled

func (s *Server) outboxList(w http.ResponseWriter, r *http.Request) {
	f, err := outboxFilter(r.URL.Query().Get("state"), r.URL.Query().Get("action"), r.URL.Query().Get("limit"))
	if err != nil {
		s.fail(w, err)
		return
	}
	as, err := s.store.Outbox(r.Context(), f)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := make([]outbox.View, 0, len(as))
	for _, a := range as {
		out = append(out, outbox.ViewOf(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"actions": out})
}

// outboxFilter reads the list's filters: states comma separated.
func outboxFilter(states, action, limit string) (core.OutboxFilter, error) {
	f := core.OutboxFilter{Action: action}
	for _, st := range strings.Split(states, ",") {
		st = strings.TrimSpace(st)
		if st == "" {
			continue
		}
		ok := false
		for _, known := range core.OutboxStates {
			if string(known) == st {
				ok = true
			}
		}
		if !ok {
			return f, core.Errorf(core.EINVALID, "state %q: want pending, delivering, delivered, failed, dead or cancelled", st)
		}
		f.States = append(f.States, core.OutboxState(st))
	}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 0 {
			return f, core.Errorf(core.EINVALID, "limit %q is not a number", limit)
		}
		f.Limit = n
	}
	return f, nil
}

func outboxID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, core.Errorf(core.EINVALID, "outbox action id %q is not a positive number", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) outboxShow(w http.ResponseWriter, r *http.Request) {
	id, err := outboxID(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	as, err := s.store.Outbox(r.Context(), core.OutboxFilter{ID: id})
	if err != nil {
		s.fail(w, err)
		return
	}
	if len(as) == 0 {
		s.fail(w, core.Errorf(core.ENOTFOUND, "outbox action %d not found", id))
		return
	}
	writeJSON(w, http.StatusOK, outbox.DetailOf(s.cfg, as[0]))
}

func (s *Server) outboxAction(w http.ResponseWriter, r *http.Request) {
	id, err := outboxID(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	now := time.Now().UTC()
	who := core.ActorFrom(r.Context())
	if name := r.Header.Get("X-Lothub-Token-Name"); who == core.SystemActor && name != "" {
		who = core.Actor{Kind: "token", Name: name}
	}
	switch r.PathValue("action") {
	case "retry":
		err = s.store.RetryOutbox(r.Context(), id, now)
	case "cancel":
		var body struct {
			Reason string `json:"reason"`
		}
		if b, rerr := readBody(r, s.maxBody()); rerr == nil && len(strings.TrimSpace(string(b))) > 0 {
			if jerr := json.Unmarshal(b, &body); jerr != nil {
				s.fail(w, core.Errorf(core.EINVALID, "body: want {\"reason\": \"…\"}: %v", jerr))
				return
			}
		}
		if strings.TrimSpace(body.Reason) == "" {
			s.fail(w, core.Errorf(core.EINVALID, "say why: send {\"reason\": \"…\"} (kept with the action)"))
			return
		}
		err = s.store.CancelOutbox(r.Context(), id, fmt.Sprintf("cancelled by %s: %s", who, strings.TrimSpace(body.Reason)), now)
	default:
		s.fail(w, core.Errorf(core.ENOTFOUND, "unknown outbox operation %q: retry or cancel", r.PathValue("action")))
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	s.log.Info("outbox action "+r.PathValue("action"), "id", id, "by", who.String())
	as, err := s.store.Outbox(r.Context(), core.OutboxFilter{ID: id})
	if err != nil || len(as) == 0 {
		s.fail(w, fmt.Errorf("read outbox action %d: %w", id, err))
		return
	}
	writeJSON(w, http.StatusOK, outbox.ViewOf(as[0]))
}
