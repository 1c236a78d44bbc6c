-- lothub SQLite schema, version 2: the raw-record archive.
-- Every source record that reaches the hub is archived before mapping, so
-- that hub remap can replay a fixed mapping over history. One row per
-- distinct content of a record; "current" marks the latest content of each
-- (source, record_id).

CREATE TABLE raw_records (
    seq         INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    hash        TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    position    BLOB,
    received_at INTEGER NOT NULL,
    mapping     TEXT    NOT NULL DEFAULT '',   -- name@version that last mapped it; '' if it failed
    events      TEXT    NOT NULL DEFAULT '[]', -- ids of the events it produced (JSON array)
    current     INTEGER NOT NULL DEFAULT 1,
    UNIQUE (source, record_id, hash)
);
CREATE INDEX raw_records_current ON raw_records (source, record_id) WHERE current = 1;
CREATE INDEX raw_records_received ON raw_records (received_at);
