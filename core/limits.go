package core

import "fmt"

// Intake limits. Events come in by hub ingest, by POST /v1/events and by
// webhooks; every way in applies these, defined once here, so that a limit
// is the same and says the same whichever way an event came.
const (
	// MaxEventSize bounds one event: one line of JSON Lines, one element
	// of a posted JSON array, one posted object (4 MiB, not counting the
	// line end). A longer event is quarantined with its first bytes and
	// EventTooLong's reason; hub ingest never reads it into memory whole.
	MaxEventSize = 4 << 20

	// DefaultMaxBody bounds one HTTP request body (POST /v1/events,
	// webhooks) when the configuration's intake.max_body is unset: 10 MiB.
	// A larger body is refused with 413 before anything is stored.
	DefaultMaxBody = 10 << 20

	// MaxEventsPerRequest bounds the events of one POST /v1/events. A body
	// with more is refused with 413 before anything is stored: one request
	// is one transaction, and its answer and the server's memory must stay
	// small whatever a client sends (three million "{}" lines fit in 9 MB).
	MaxEventsPerRequest = 10000

	// MaxErrorsListed is how many quarantined events the answer to
	// POST /v1/events lists, with line and reason; it counts the others,
	// which hub errors lists with the rest of the quarantine.
	MaxErrorsListed = 100
)

// tooLongKeep is how much of an over-long event the quarantine keeps: enough
// to recognise it in hub errors.
const tooLongKeep = 256

// EventTooLong is the reason an event over MaxEventSize is quarantined.
func EventTooLong() string {
	return fmt.Sprintf("event longer than %d bytes (4 MiB), the most one event may be: split it into smaller events", MaxEventSize)
}

// NewInput returns raw, one event's JSON at line of source, as an Input.
// An event over MaxEventSize keeps only its first bytes and is marked
// TooLong: ingest quarantines it with EventTooLong's reason.
func NewInput(source string, line int, raw []byte) Input {
	if len(raw) > MaxEventSize {
		return tooLongInput(source, line, raw)
	}
	return Input{Source: source, Line: line, Raw: raw}
}

// tooLongInput keeps the start of an over-long event, in a copy of its own.
func tooLongInput(source string, line int, start []byte) Input {
	raw := append(append([]byte(nil), start[:min(len(start), tooLongKeep)]...), "…"...)
	return Input{Source: source, Line: line, Raw: raw, TooLong: true}
}
