package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/lothub/lothub/core"
)

// maxAuditPage bounds a page of GET /v1/audit.
const maxAuditPage = 1000

// audit lists audit entries, newest first: GET /v1/audit with the filters
// of hub audit log (lot=ITEM/LOT, actor, action, from, to, limit, before).
// The answer is hub audit log --json's: {"entries": [...], "next_before"}.
func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := core.AuditLogParams{AuditFilter: core.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Limit: 100}}
	if v := q.Get("lot"); v != "" {
		item, lot, ok := strings.Cut(v, "/")
		if !ok || item == "" || lot == "" {
			s.fail(w, core.Errorf(core.EINVALID, "parameter \"lot\": %q: want ITEM/LOT", v))
			return
		}
		p.Lot = &core.LotRef{Item: item, Lot: lot}
	}
	var err error
	if v := q.Get("from"); v != "" {
		if p.From, err = parseDay("from", v, false); err != nil {
			s.fail(w, err)
			return
		}
	}
	if v := q.Get("to"); v != "" {
		if p.To, err = parseDay("to", v, false); err != nil {
			s.fail(w, err)
			return
		}
	}
	for name, dst := range map[string]*int64{"before": &p.Before} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				s.fail(w, core.Errorf(core.EINVALID, "parameter %q: %q is not a seq (next_before of the page before)", name, v))
				return
			}
			*dst = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > maxAuditPage {
			s.fail(w, core.Errorf(core.EINVALID, "parameter \"limit\": %q: want 1 to %d", v, maxAuditPage))
			return
		}
		p.Limit = n
	}
	page, err := s.queries().AuditLog(r.Context(), p)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}
