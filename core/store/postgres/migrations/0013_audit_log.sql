-- Issue 18: the audit trail (core/audit.go, docs/audit.md). One entry per
-- change, appended in the change's transaction, hash-chained: hash is the
-- SHA-256 of the entry's canonical encoding, prev_hash the hash of the
-- entry before. at is the store's clock (Unix microseconds, clock_timestamp()). ev_* name the
-- event rows a batch wrote (seqs ev_first..ev_last, ev_count of them) and
-- their digest. Nothing in normal operation deletes from it: only hub
-- archive prune, after a verified export, leaving a checkpoint entry.
CREATE TABLE audit_log (
    seq        bigint  PRIMARY KEY,
    at         bigint  NOT NULL,
    actor_kind text    NOT NULL,
    actor_name text    NOT NULL,
    actor_role text    NOT NULL DEFAULT '',
    action     text    NOT NULL,
    object     text    NOT NULL DEFAULT '',
    reason     text    NOT NULL DEFAULT '',
    details    text    NOT NULL DEFAULT '',
    ev_first   bigint  NOT NULL DEFAULT 0,
    ev_last    bigint  NOT NULL DEFAULT 0,
    ev_count   bigint  NOT NULL DEFAULT 0,
    ev_digest  text    NOT NULL DEFAULT '',
    prev_hash  text    NOT NULL,
    hash       text    NOT NULL
);
CREATE INDEX audit_log_object ON audit_log (object);
CREATE INDEX audit_log_action ON audit_log (action);

-- The chain's head: the latest entry's seq and hash, updated with every
-- append (a cut from the end of audit_log no longer matches it), and the
-- last event seq stored before the trail began (events the trail does not
-- cover; the first entry records it too).
CREATE TABLE audit_head (
    id            integer PRIMARY KEY CHECK (id = 1),
    seq           bigint  NOT NULL,
    hash          text    NOT NULL,
    events_before bigint  NOT NULL
);
INSERT INTO audit_head (id, seq, hash, events_before) VALUES (1, 0, '', (SELECT coalesce(max(seq), 0) FROM events));
