package core

import (
	"context"
	"fmt"
)

// Role is what a user of the hub may do. Roles are not a ladder but for
// admin: quality and integrator each add their own rights to viewer's.
type Role string

// The roles. viewer reads; quality also places and releases holds,
// confirms and dismisses exceptions and approves reports; integrator
// manages connectors, mappings and cursors and ingests events; admin may
// do everything, and manages users and tokens.
const (
	RoleViewer     Role = "viewer"
	RoleQuality    Role = "quality"
	RoleIntegrator Role = "integrator"
	RoleAdmin      Role = "admin"
)

// Roles lists every role, weakest first.
var Roles = []Role{RoleViewer, RoleQuality, RoleIntegrator, RoleAdmin}

// Permission is one kind of thing a request or command does.
type Permission string

// The permissions a route or an action needs.
const (
	PermRead      Permission = "read"      // traces, recalls, lots, gaps, runs, reports
	PermQuality   Permission = "quality"   // holds, exception decisions, report approval
	PermIntegrate Permission = "integrate" // ingest, connectors, mappings, cursors
	PermAdmin     Permission = "admin"     // users and tokens
)

// ParseRole checks a role's name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q: use viewer, quality, integrator or admin", s)
}

// Can reports whether the role grants the permission.
func (r Role) Can(p Permission) bool {
	switch r {
	case RoleAdmin:
		return true
	case RoleQuality:
		return p == PermRead || p == PermQuality
	case RoleIntegrator:
		return p == PermRead || p == PermIntegrate
	case RoleViewer:
		return p == PermRead
	}
	return false
}

// Actor is who made a change: a user (through a token, a UI session or
// the CLI's OS user) or a connector. It is recorded with every change in
// the audit trail.
type Actor struct {
	// Kind is "user" (a hub user, by token or session), "os" (the CLI's
	// operating-system user), "connector" (a sync or webhook), "token" (a
	// configured intake token) or "system" (the hub itself: schedules,
	// gap rules).
	Kind string `json:"kind"`
	Name string `json:"name"`
	Role Role   `json:"role,omitempty"`
}

// String is the actor as the audit log shows it: "connector:sap",
// "user:alice", "os:root".
func (a Actor) String() string {
	if a.Kind == "" && a.Name == "" {
		return "system"
	}
	return a.Kind + ":" + a.Name
}

// SystemActor is the hub acting on its own (schedules, gap rules).
var SystemActor = Actor{Kind: "system", Name: "hub"}

// ConnectorActor is a connector's sync or webhook.
func ConnectorActor(name string) Actor { return Actor{Kind: "connector", Name: name} }

type actorKey struct{}

// WithActor returns a context that carries who acts.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor the context carries, or SystemActor.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return SystemActor
}
