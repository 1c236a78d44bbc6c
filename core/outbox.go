package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// The outbox is lothub's write path: an action an event sets off (post a
// goods receipt to the ERP, drop a file for an API-less ERP) is recorded in
// the same transaction as the event, and a worker (package outbox) delivers
// it afterwards. An event committed without its actions, or an action
// without its event, cannot happen; docs/actions.md gives the whole
// exactly-once argument.

// OutboxState is where an action is in its life.
type OutboxState string

const (
	// OutboxPending: waiting to be delivered at NextAt.
	OutboxPending OutboxState = "pending"
	// OutboxDelivering: a worker claimed it and is talking to the ERP.
	// A claim older than the worker's lease belongs to a worker that
	// died: the action is claimed again, and the ERP asked first whether
	// the document exists.
	OutboxDelivering OutboxState = "delivering"
	// OutboxDelivered: the ERP has the document (Document).
	OutboxDelivered OutboxState = "delivered"
	// OutboxFailed: the last attempt failed for a reason that may pass
	// (429, 5xx, a timeout); tried again at NextAt.
	OutboxFailed OutboxState = "failed"
	// OutboxDead: the ERP refused it for good (a 4xx with its message in
	// LastError), the payload could not be built, or the attempts ran
	// out. Only an operator sends it again (hub outbox retry).
	OutboxDead OutboxState = "dead"
	// OutboxCancelled: an operator decided it must not be delivered.
	OutboxCancelled OutboxState = "cancelled"
)

// OutboxStates lists every state, in life order.
var OutboxStates = []OutboxState{OutboxPending, OutboxDelivering, OutboxDelivered, OutboxFailed, OutboxDead, OutboxCancelled}

// OutboxAction is one action of the outbox.
type OutboxAction struct {
	ID int64 `json:"id"`
	// Key is the idempotency key, derived from the event id and the
	// action name (OutboxKey): the same event never makes the same action
	// twice, and the ERP is given the key to recognise a document it
	// already has.
	Key     string `json:"key"`
	Action  string `json:"action"` // the action's name in hub.yaml
	Kind    string `json:"kind"`   // the built-in action: sap_goods_receipt, file, http, …
	EventID string `json:"event"`
	// Payload is the triggering event's canonical JSON as it was when it
	// set the action off; the action's fields are computed from it at
	// each attempt.
	Payload   []byte      `json:"-"`
	State     OutboxState `json:"state"`
	Attempts  int         `json:"attempts"`
	NextAt    time.Time   `json:"next_at"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	// ClaimedAt is when the current (or last) attempt began.
	ClaimedAt time.Time `json:"claimed_at,omitzero"`
	// LastError is why the last attempt failed: the ERP's own message
	// where it gave one.
	LastError string `json:"last_error,omitempty"`
	// Document is the ERP's number of the document the action made.
	Document string `json:"document,omitempty"`
	// FailedSince is when the action first failed since it last
	// succeeded or was retried by hand; zero while it has not failed.
	FailedSince time.Time `json:"failed_since,omitzero"`
	// AlertedAt is when the stuck-action alert was sent; zero if never.
	AlertedAt time.Time `json:"alerted_at,omitzero"`
}

// OutboxKey is the idempotency key of an action set off by an event: 25
// characters, "LH-" and 22 hex digits of SHA-256(event id, action), short
// enough for the shortest field an ERP offers for it (SAP's
// MaterialDocumentHeaderText holds 25).
func OutboxKey(eventID, action string) string {
	h := sha256.New()
	h.Write([]byte(eventID))
	h.Write([]byte{0})
	h.Write([]byte(action))
	return "LH-" + hex.EncodeToString(h.Sum(nil))[:22]
}

// Trigger is what an Ingester asks its Actions about: an event stored for
// the first time, and where it came from.
type Trigger struct {
	Event *Event
	// Body is the event's canonical JSON (PreparedEvent.Body).
	Body []byte
	// Source is where the event came from: "scan:POINT" (POST /v1/scans),
	// "http:TOKEN" (POST /v1/events), "connector:NAME" (a connector's sync
	// or webhook; "connector:epcis" for EPCIS capture), or the file name
	// of hub ingest --events.
	Source string
	Now    time.Time
}

// Actions decides which outbox actions an event sets off. Ingesters call
// it inside the event's write transaction, for each event stored for the
// first time (a new version of a known event sets nothing off: the action
// of its first version stands, and an operator sees both). It must not do
// I/O: an action whose payload cannot be built is returned dead, with the
// reason, never dropped.
type Actions interface {
	Trigger(t Trigger) []OutboxAction
}

// OutboxFilter selects outbox actions. Zero fields select everything.
type OutboxFilter struct {
	ID       int64
	States   []OutboxState
	Action   string
	EventIDs []string
	Limit    int // 0: no limit
}

// OutboxClaim asks for due actions: pending or failed with NextAt ≤ Now,
// and delivering ones claimed before Now − Lease (their worker died).
type OutboxClaim struct {
	Now   time.Time
	Lease time.Duration
	Limit int
}

// OutboxOutcome is how an attempt ended. The store applies it only while
// the action is still delivering under the same attempt (a worker whose
// lease ran out and was replaced cannot overwrite the newer attempt).
type OutboxOutcome struct {
	ID       int64
	Attempts int // the Attempts of the claim
	State    OutboxState
	NextAt   time.Time
	Error    string
	Document string
	Now      time.Time
}

// OutboxStore is the part of a Store that keeps the outbox. Both stores
// implement it and pass core/store/storetest.
type OutboxStore interface {
	// Outbox lists actions, newest first.
	Outbox(ctx context.Context, f OutboxFilter) ([]OutboxAction, error)
	// ClaimOutbox marks due actions delivering, raises their Attempts and
	// sets ClaimedAt, and returns them, oldest due first. Two workers
	// never claim the same action (PostgreSQL: FOR UPDATE SKIP LOCKED;
	// SQLite: one writer at a time).
	ClaimOutbox(ctx context.Context, c OutboxClaim) ([]OutboxAction, error)
	// FinishOutbox records an attempt's outcome: ECONFLICT when the
	// action is no longer delivering under that attempt.
	FinishOutbox(ctx context.Context, o OutboxOutcome) error
	// RetryOutbox makes a failed, dead or cancelled action pending again,
	// due now, and clears its failure streak: ENOTFOUND, or ECONFLICT
	// when it is delivered or being delivered.
	RetryOutbox(ctx context.Context, id int64, now time.Time) error
	// CancelOutbox cancels a pending, failed or dead action, keeping
	// reason as its LastError: ENOTFOUND, or ECONFLICT when it is
	// delivered or being delivered.
	CancelOutbox(ctx context.Context, id int64, reason string, now time.Time) error
	// MarkOutboxAlerted records that the stuck-action alert went out.
	MarkOutboxAlerted(ctx context.Context, id int64, at time.Time) error
}

// The audit trail's actions for the outbox: the changes of an action's
// state that the ERP or a person decided. A retry after a transient
// failure is not recorded (the action's attempts are).
const (
	AuditOutboxDelivered = "outbox.delivered" // the ERP took it: its document number
	AuditOutboxDead      = "outbox.dead"      // the ERP refused it for good: its message
	AuditOutboxRetried   = "outbox.retried"   // hub outbox retry
	AuditOutboxCancelled = "outbox.cancelled" // hub outbox cancel, with the reason
)

// OutboxAudited reports whether an outcome of state is recorded in the
// audit trail.
func OutboxAudited(state OutboxState) bool {
	return state == OutboxDelivered || state == OutboxDead
}

// OutboxEntry is the audit entry of an outbox action's change of state
// (action one of the AuditOutbox constants).
func OutboxEntry(action string, id int64, reason string, details map[string]any) AuditEntry {
	return AuditEntry{Action: action, Object: "outbox:" + strconv.FormatInt(id, 10), Reason: reason, Details: MustJSON(details)}
}

// OutboxAuditOf is the audit entry of a delivered or dead outcome: the
// ERP's document number, or its refusal.
func OutboxAuditOf(o OutboxOutcome) AuditEntry {
	if o.State == OutboxDelivered {
		return OutboxEntry(AuditOutboxDelivered, o.ID, "", map[string]any{"document": o.Document, "attempts": o.Attempts})
	}
	return OutboxEntry(AuditOutboxDead, o.ID, "", map[string]any{"error": o.Error, "attempts": o.Attempts})
}
