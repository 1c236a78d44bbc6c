package core

import (
	"encoding/json"
	"fmt"
	"time"
)

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
	// Skipped records made no event on purpose; Skips counts them by the
	// mapping rule that skipped them and its reason. Both are derived
	// from the same stored counts.
	Skipped int         `json:"skipped"`
	Skips   []SkipCount `json:"skips,omitempty"`
	Error   string      `json:"error,omitempty"`
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

// EncodeSkips is how a store keeps a run's skip counts: a JSON array.
func EncodeSkips(skips []SkipCount) string {
	if len(skips) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(skips) // plain strings and ints always marshal
	return string(b)
}

// DecodeSkips reads what EncodeSkips wrote ("" is none), and sets r's
// Skips (nil for none) and Skipped.
func (r *Run) DecodeSkips(s string) error {
	r.Skips = nil
	if s != "" && s != "[]" {
		if err := json.Unmarshal([]byte(s), &r.Skips); err != nil {
			return fmt.Errorf("run %d: stored skip counts are not a JSON array of {rule, reason, records}: %v", r.ID, err)
		}
	}
	r.Skipped = SkippedRecords(r.Skips)
	return nil
}
