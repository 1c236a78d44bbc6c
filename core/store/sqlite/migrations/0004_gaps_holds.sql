-- lothub SQLite schema, version 4: gap exceptions and their history, and
-- an index for hold status.

-- A gap exception is a broken chain worked to closure. key identifies the
-- condition (kind and subject): the same gap is one row however often the
-- rules are evaluated. Nothing is deleted; gap_history says who did what.
CREATE TABLE gap_exceptions (
    id       INTEGER PRIMARY KEY,
    key      TEXT    NOT NULL UNIQUE,
    kind     TEXT    NOT NULL,
    severity TEXT    NOT NULL,
    item     TEXT    NOT NULL DEFAULT '',
    lot      TEXT    NOT NULL DEFAULT '',
    ord      TEXT    NOT NULL DEFAULT '',
    site     TEXT    NOT NULL DEFAULT '',
    detail   TEXT    NOT NULL,
    records  TEXT    NOT NULL DEFAULT '[]', -- ids of the events involved (JSON array)
    since    INTEGER NOT NULL,              -- when the condition began; 0 if unknown
    opened   INTEGER NOT NULL,
    updated  INTEGER NOT NULL,
    status   TEXT    NOT NULL CHECK (status IN ('open', 'alerted', 'acknowledged', 'resolved', 'confirmed', 'waived')),
    stage    INTEGER NOT NULL DEFAULT 0     -- escalation stage alerted: 1 supervisor, 2 quality
);
CREATE INDEX gap_exceptions_status ON gap_exceptions (status);

CREATE TABLE gap_history (
    seq     INTEGER PRIMARY KEY,
    gap_id  INTEGER NOT NULL REFERENCES gap_exceptions (id),
    at      INTEGER NOT NULL,
    action  TEXT    NOT NULL,
    by_user TEXT    NOT NULL,
    note    TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX gap_history_gap ON gap_history (gap_id, seq);

-- Hold status is the latest in-effect hold or release of a lot.
CREATE INDEX events_holds ON events (lot_id, ts) WHERE type IN ('hold', 'release');
