-- lothub SQLite schema, version 3: connector positions and sync runs.

-- A connector's position is written in the same transaction as the events
-- of the batch it ends: a crash loses or doubles nothing.
CREATE TABLE cursors (
    connector TEXT PRIMARY KEY,
    position  BLOB    NOT NULL,
    updated   INTEGER NOT NULL,
    run_id    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    connector   TEXT    NOT NULL,
    trigger     TEXT    NOT NULL,
    started     INTEGER NOT NULL,
    ended       INTEGER,
    status      TEXT    NOT NULL,
    batches     INTEGER NOT NULL DEFAULT 0,
    records     INTEGER NOT NULL DEFAULT 0,
    events      INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    quarantined INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX runs_connector ON runs (connector, id);
