package sdk

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Connector is a source of records: the interface an integrator implements.
//
// Call order: the hub calls Spec first (any number of times), validates the
// configuration against it, then calls Check and Read in any order and any
// number of times, each with a [Config] the SDK has already validated.
// Nothing is opened between calls and nothing must be closed: a connector
// holds no state between calls that the hub relies on, since the process may
// be restarted between any two calls. What must survive lives in the
// position.
//
// Concurrency: the hub may call any method from several goroutines at once
// (a Check during a Read, two Reads with different configurations for two
// configured instances of the connector). Connectors must be safe for
// concurrent use; most are, by keeping no mutable state.
//
// Errors: return [RetryAfter] for transient conditions (HTTP 429 or 5xx, a
// lock held by the source), [InvalidConfig] when a parameter's value is wrong
// in a way only the connector can tell, an error wrapping
// [ErrInvalidPosition] for a position it cannot resume from, and any other
// error, wrapped with context, for the rest. Honour ctx: return promptly,
// with ctx.Err() wrapped, once it is done.
type Connector interface {
	// Spec describes the connector: name, version, parameters and the record
	// kinds it emits. It must be cheap, do no I/O and return the same value
	// on every call.
	Spec() Spec

	// Check tests the connection to the source with cfg (reach the host,
	// log in, list the directory) and returns an error that says what failed
	// and what to do about it. It must not read records.
	Check(ctx context.Context, cfg Config) error

	// Read returns at most max (at least 1) records that follow pos, in
	// source order. A nil or empty pos means the beginning of the source.
	//
	// Result.Next is the position right after the last record returned (or
	// pos itself when there was nothing new) and must be non-empty whenever
	// records are returned. Result.More is true when more records are known
	// to be ready right now, so the hub should call again at once; false
	// when the source is drained and the hub should wait for the next run.
	//
	// Reading again from a returned position must neither skip nor repeat
	// records: the hub stores Next in the same transaction as the events it
	// made from the batch, and resumes from it after a crash.
	//
	// A Read from pos is no proof that the records before pos are
	// committed: the hub reads ahead of its commits, and a batch read but
	// not committed when the hub dies is read again from the committed
	// position. Read must therefore change nothing at the source; what
	// must wait for the commit belongs in [Acknowledger.Ack].
	Read(ctx context.Context, cfg Config, pos Position, max int) (ReadResult, error)
}

// Acknowledger is implemented by connectors that act on their source once
// records are safely stored: move or delete an ingested file, acknowledge
// a message or mark a document as transferred in the ERP. The hub finds it
// by type assertion (over the plugin protocol, a plugin without it answers
// that it does not implement Ack, which the hub takes as done).
//
// Ack is the hub saying "committed up to pos", as Kafka Connect's offset
// commit does: every record before pos, the events made from them and pos
// itself are in the store in one committed transaction. It is the only
// proof of commit a connector gets. The hub calls it after each committed
// batch, and at the start of each sync with the stored position (so a
// hub killed between its commit and its Ack catches up).
//
// Ack must be idempotent: it may be called twice with the same position,
// with a position older than one acknowledged before (after an operator
// reset the cursor), and concurrently with Read (the hub reads the next
// batch while it commits this one). An error is logged by the hub and does
// not fail the sync: the next sync acknowledges the stored position again.
type Acknowledger interface {
	Ack(ctx context.Context, cfg Config, pos Position) error
}

// WebhookHandler is implemented by connectors whose source can push (an ERP
// webhook, a scanner POST). The hub finds it by type assertion and routes
// requests for the connector's webhook URL to it. It is called concurrently,
// any number of times, with a validated Config, like the Connector methods.
type WebhookHandler interface {
	// Webhook authenticates req (usually a signature over the body: see
	// [VerifyHMACSHA256]) and turns its body into records. It returns an
	// error wrapping [ErrInvalidSignature] when the request cannot be
	// authenticated; the hub then answers 401 and keeps nothing. The records
	// go through the same archive and mapping as records from Read.
	Webhook(ctx context.Context, cfg Config, req WebhookRequest) (WebhookResult, error)
}

// Position is an opaque cursor owned by the connector: a file and offset, a
// change-pointer id, a last-modified timestamp plus key. The hub stores it
// and hands it back unchanged; it never looks inside. Encode it so that a
// later version of the connector can still read it (a version byte or a
// JSON object with a version field).
type Position []byte

// Record is one source record: a document, a line, a change-pointer entry.
// The hub archives it as is (with a content hash) before any mapping runs.
type Record struct {
	// Kind names what the record is (goods-receipt, scan, …); one of the
	// kinds declared in the connector's Spec. Mappings are chosen by kind.
	Kind string
	// ID identifies the record at the source: non-empty, unique within the
	// source and stable across reads (derive it from the source's own keys,
	// not from the time of reading), so that reading it again is a no-op.
	ID string
	// Payload is the record as a JSON document.
	Payload json.RawMessage
	// Time is when the record was made or last changed at the source, not
	// when it was read.
	Time time.Time
	// Position, when set, is the position right after this record. It lets
	// the hub commit part of a batch; leave it nil when a record cannot be
	// resumed after on its own (then the hub commits whole batches only).
	Position Position
	// Deletes, on a record that says a document was deleted at the source,
	// lists the record-id prefixes of the records the document was read
	// as earlier ("ItemRcpt:12345:" for all lines of transaction 12345).
	// The hub reverses every event those records produced (history keeps
	// them), once the record itself maps without error (usually through a
	// skip rule). Sources that keep nothing of a deleted document but its
	// id need this: the mapping alone cannot name the events to reverse.
	Deletes []string

	// fields is Payload decoded, when the hub's client decoded it while
	// checking it (Fields); a connector cannot set it.
	fields map[string]any
}

// Fields returns the record's payload decoded as encoding/json decodes a
// JSON object into a map[string]any, when the hub's plugin client has
// decoded it already while checking that the payload is JSON (so the hub
// reads each payload once); nil otherwise: decode Payload then. The map is
// shared: do not change it.
func (r Record) Fields() map[string]any { return r.fields }

// ReadResult is one batch returned by [Connector.Read].
type ReadResult struct {
	Records []Record
	// Next is the position to pass to the next Read.
	Next Position
	// More reports that more records are ready now.
	More bool
}

// WebhookRequest is one pushed HTTP request, as received by the hub.
type WebhookRequest struct {
	Method  string
	Headers http.Header
	Query   url.Values
	Body    []byte
}

// WebhookResult is what a [WebhookHandler] made of a request.
type WebhookResult struct {
	Records []Record
	// Status is the HTTP status to answer the sender with; 0 lets the hub
	// choose (202 Accepted once the records are archived).
	Status int
	// Body, when set, is sent back to the sender (some sources expect a
	// challenge to be echoed when the webhook is registered).
	Body []byte
}
