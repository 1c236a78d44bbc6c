-- The outbox (issue 22): actions events set off, written in the events'
-- transaction and delivered to the ERP afterwards by a worker. Times are
-- Unix microseconds; 0 is "never".
CREATE TABLE outbox (
	id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	-- The idempotency key (core.OutboxKey: event id + action name): the
	-- same event never makes the same action twice.
	key          TEXT NOT NULL UNIQUE,
	action       TEXT NOT NULL,
	kind         TEXT NOT NULL,
	event_id     TEXT NOT NULL,
	payload      TEXT NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('pending', 'delivering', 'delivered', 'failed', 'dead', 'cancelled')),
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_at      BIGINT NOT NULL,
	created_at   BIGINT NOT NULL,
	updated_at   BIGINT NOT NULL,
	claimed_at   BIGINT NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	-- The ERP's document number, once delivered.
	document     TEXT NOT NULL DEFAULT '',
	failed_since BIGINT NOT NULL DEFAULT 0,
	alerted_at   BIGINT NOT NULL DEFAULT 0
);
-- What a worker claims: the actions still to deliver, by due time.
CREATE INDEX outbox_due ON outbox (next_at, id) WHERE state IN ('pending', 'failed', 'delivering');
-- The actions of a lot's events (hub lot shows the ERP documents).
CREATE INDEX outbox_event ON outbox (event_id);
