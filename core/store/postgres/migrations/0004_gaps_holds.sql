-- lothub PostgreSQL schema, version 4: gap exceptions and their history,
-- and an index for hold status.

-- A gap exception is a broken chain worked to closure. key identifies the
-- condition (kind and subject): the same gap is one row however often the
-- rules are evaluated. Nothing is deleted; gap_history says who did what.
CREATE TABLE gap_exceptions (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key      text COLLATE "C" NOT NULL UNIQUE,
    kind     text   NOT NULL,
    severity text   NOT NULL,
    item     text COLLATE "C" NOT NULL DEFAULT '',
    lot      text COLLATE "C" NOT NULL DEFAULT '',
    ord      text COLLATE "C" NOT NULL DEFAULT '',
    site     text   NOT NULL DEFAULT '',
    detail   text   NOT NULL,
    records  text   NOT NULL DEFAULT '[]', -- ids of the events involved (JSON array)
    since    bigint NOT NULL,              -- when the condition began; 0 if unknown
    opened   bigint NOT NULL,
    updated  bigint NOT NULL,
    status   text   NOT NULL CHECK (status IN ('open', 'alerted', 'acknowledged', 'resolved', 'confirmed', 'waived')),
    stage    integer NOT NULL DEFAULT 0    -- escalation stage alerted: 1 supervisor, 2 quality
);
CREATE INDEX gap_exceptions_status ON gap_exceptions (status);

CREATE TABLE gap_history (
    seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    gap_id  bigint NOT NULL REFERENCES gap_exceptions (id),
    at      bigint NOT NULL,
    action  text   NOT NULL,
    by_user text   NOT NULL,
    note    text   NOT NULL DEFAULT ''
);
CREATE INDEX gap_history_gap ON gap_history (gap_id, seq);

-- Hold status is the latest in-effect hold or release of a lot.
CREATE INDEX events_holds ON events (lot_id, ts) WHERE type IN ('hold', 'release');
