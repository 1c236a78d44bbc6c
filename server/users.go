package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/lothub/lothub/access"
	"github.com/lothub/lothub/core"
)

// Users and tokens over HTTP (admin), the same as hub user and hub token:
//
//	GET    /v1/users                  {"users": [...]}
//	POST   /v1/users                  {"name","full_name","role","password"} → 201 the user
//	POST   /v1/users/{name}/disable   → the user
//	GET    /v1/tokens[?user=NAME]     {"tokens": [...]} (never a token itself)
//	POST   /v1/tokens                 {"user","label","expires"} → 201 the token, shown this once
//	DELETE /v1/tokens/{id}            revokes → the token
//
// Cursors: GET /v1/cursors/{connector} (read), DELETE to reset (integrate).
// Syncs: POST /v1/connectors/{connector}/sync starts one now (integrate).

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := s.store.Users(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	if us == nil {
		us = []core.User{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": us})
}

type addUserRequest struct {
	Name     string    `json:"name"`
	FullName string    `json:"full_name"`
	Role     core.Role `json:"role"`
	Password string    `json:"password"`
}

func (s *Server) addUser(w http.ResponseWriter, r *http.Request) {
	var req addUserRequest
	if err := decodeBody(r, &req); err != nil {
		s.fail(w, err)
		return
	}
	u, err := s.users.Add(r.Context(), req.Name, req.FullName, req.Role, req.Password)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.log.Info("user added", "user", u.Name, "role", u.Role, "by", core.ActorFrom(r.Context()).String())
	writeJSON(w, http.StatusCreated, u)
}

func (s *Server) disableUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.users.Disable(r.Context(), name); err != nil {
		s.fail(w, err)
		return
	}
	u, err := s.store.User(r.Context(), name)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.log.Info("user disabled", "user", name, "by", core.ActorFrom(r.Context()).String())
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := s.store.Tokens(r.Context(), core.TokenFilter{User: r.URL.Query().Get("user")})
	if err != nil {
		s.fail(w, err)
		return
	}
	if ts == nil {
		ts = []core.APIToken{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ts})
}

type createTokenRequest struct {
	User    string `json:"user"`
	Label   string `json:"label"`
	Expires string `json:"expires"` // 90d, 36h, 2027-01-01, never; "" never
}

// createdToken is a new token with the token itself, shown this once.
type createdToken struct {
	core.APIToken
	Token string `json:"token"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req createTokenRequest
	if err := decodeBody(r, &req); err != nil {
		s.fail(w, err)
		return
	}
	exp, err := access.ParseExpiry(req.Expires, time.Now())
	if err != nil {
		s.fail(w, err)
		return
	}
	token, t, err := s.users.CreateToken(r.Context(), req.User, req.Label, exp)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.log.Info("token created", "id", t.ID, "user", t.User, "by", core.ActorFrom(r.Context()).String())
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, createdToken{APIToken: t, Token: token})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.users.Revoke(r.Context(), id); err != nil {
		s.fail(w, err)
		return
	}
	t, err := s.store.Token(r.Context(), id)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.log.Info("token revoked", "id", id, "user", t.User, "by", core.ActorFrom(r.Context()).String())
	writeJSON(w, http.StatusOK, t)
}

// cursorView is a connector's stored position as the API shows it.
type cursorView struct {
	Connector string    `json:"connector"`
	Position  string    `json:"position"` // opaque; shown as text
	Updated   time.Time `json:"updated"`
	Run       int64     `json:"run"`
}

func (s *Server) cursor(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("connector")
	if _, err := s.cfg.Connector(name); err != nil {
		s.fail(w, err)
		return
	}
	c, err := s.store.Cursor(r.Context(), name)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, cursorView{Connector: c.Connector, Position: string(c.Position), Updated: c.Updated, Run: c.RunID})
}

// resetCursor forgets a connector's position: its next sync reads the
// source from the beginning (ingest is idempotent: nothing doubles).
func (s *Server) resetCursor(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("connector")
	if _, err := s.cfg.Connector(name); err != nil {
		s.fail(w, err)
		return
	}
	// The reason goes into the audit trail; it is required (400 without).
	reason := strings.TrimSpace(r.URL.Query().Get("reason"))
	if err := s.store.ResetCursor(r.Context(), name, reason); err != nil {
		s.fail(w, err)
		return
	}
	s.log.Info("cursor reset", "connector", name, "by", core.ActorFrom(r.Context()).String(), "reason", reason)
	writeJSON(w, http.StatusOK, map[string]any{"connector": name, "reset": true})
}

// syncNow starts a sync of a connector in the background, as hub sync
// does in the foreground: 202 at once (GET /v1/runs shows its run), 409
// when one is running, 503 when this server runs no syncs.
func (s *Server) syncNow(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("connector")
	if _, err := s.cfg.Connector(name); err != nil {
		s.fail(w, err)
		return
	}
	if s.Runner == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": apiError{Code: "unavailable",
			Message: "this server runs no syncs: run hub sync " + name + " where the hub runs"}})
		return
	}
	if s.Runner.Syncing(name) {
		s.fail(w, core.Errorf(core.ECONFLICT, "a sync of %s is already running: wait for it to end (GET /v1/runs?connector=%s)", name, name))
		return
	}
	by := core.ActorFrom(r.Context())
	s.log.Info("sync asked for", "connector", name, "by", by.String())
	s.syncWG.Add(1)
	go func() {
		defer s.syncWG.Done()
		run, err := s.Runner.Sync(core.WithActor(s.ctx, by), name, "manual")
		if core.ErrorCode(err) == core.ECONFLICT {
			s.log.Warn("sync asked for not started: another began first", "connector", name)
		}
		if s.OnSync != nil {
			s.OnSync(run, err)
		}
	}()
	writeJSON(w, http.StatusAccepted, map[string]any{"connector": name, "started": true})
}
