-- Issue 18: the audit trail (core/audit.go, docs/audit.md). One entry per
-- change, appended in the change's transaction, hash-chained: hash is the
-- SHA-256 of the entry's canonical encoding, prev_hash the hash of the
-- entry before. at is the store's clock (Unix microseconds). ev_* name the
-- event rows a batch wrote (seqs ev_first..ev_last, ev_count of them) and
-- their digest. Nothing in normal operation deletes from it: only hub
-- archive prune, after a verified export, leaving a checkpoint entry.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor_kind TEXT    NOT NULL,
    actor_name TEXT    NOT NULL,
    actor_role TEXT    NOT NULL DEFAULT '',
    action     TEXT    NOT NULL,
    object     TEXT    NOT NULL DEFAULT '',
    reason     TEXT    NOT NULL DEFAULT '',
    details    TEXT    NOT NULL DEFAULT '',
    ev_first   INTEGER NOT NULL DEFAULT 0,
    ev_last    INTEGER NOT NULL DEFAULT 0,
    ev_count   INTEGER NOT NULL DEFAULT 0,
    ev_digest  TEXT    NOT NULL DEFAULT '',
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);
CREATE INDEX audit_log_object ON audit_log (object);
CREATE INDEX audit_log_action ON audit_log (action);

-- The chain's head: the latest entry's seq and hash, updated with every
-- append (a cut from the end of audit_log no longer matches it), and the
-- last event seq stored before the trail began (events the trail does not
-- cover; the first entry records it too).
CREATE TABLE audit_head (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    seq           INTEGER NOT NULL,
    hash          TEXT    NOT NULL,
    events_before INTEGER NOT NULL
);
INSERT INTO audit_head (id, seq, hash, events_before) VALUES (1, 0, '', (SELECT coalesce(max(seq), 0) FROM events));
