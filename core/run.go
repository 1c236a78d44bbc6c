package core

import "time"

// Run is one sync of a connector: reading from its stored position to the
// end of its source, batch by batch. Every run is recorded, failed ones
// too, so that operators can see what happened overnight (hub runs).
type Run struct {
	ID        int64     `json:"id"`
	Connector string    `json:"connector"`
	Trigger   string    `json:"trigger"` // "manual", "schedule", "webhook"
	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended,omitzero"`
	Status    string    `json:"status"` // RunRunning, RunOK, RunFailed
	Batches   int       `json:"batches"`
	Records   int       `json:"records"`     // source records read
	Events    int       `json:"events"`      // events written (new or superseded)
	Unchanged int       `json:"unchanged"`   // events already stored as they are
	Quarant   int       `json:"quarantined"` // records or events quarantined
	Error     string    `json:"error,omitempty"`
}

// Run statuses.
const (
	RunRunning = "running"
	RunOK      = "ok"
	RunFailed  = "failed"
)

// RunFilter selects runs, newest first.
type RunFilter struct {
	Connector string // "" for all
	Limit     int    // 0 for no limit
}

// CursorRow is a connector's stored position.
type CursorRow struct {
	Connector string    `json:"connector"`
	Position  []byte    `json:"position"`
	Updated   time.Time `json:"updated"`
	RunID     int64     `json:"run_id"` // the run that committed it
}
