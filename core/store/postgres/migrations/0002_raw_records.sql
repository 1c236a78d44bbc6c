-- lothub PostgreSQL schema, version 2: the raw-record archive.
-- Every source record that reaches the hub is archived before mapping, so
-- that hub remap can replay a fixed mapping over history. One row per
-- distinct content of a record; "current" marks the latest content of each
-- (source, record_id).

CREATE TABLE raw_records (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text COLLATE "C" NOT NULL,
    kind        text COLLATE "C" NOT NULL,
    record_id   text COLLATE "C" NOT NULL,
    hash        text COLLATE "C" NOT NULL,
    payload     bytea   NOT NULL,
    position    bytea,
    received_at bigint  NOT NULL,
    mapping     text    NOT NULL DEFAULT '',
    events      text[]  NOT NULL DEFAULT '{}',
    current     boolean NOT NULL DEFAULT true,
    UNIQUE (source, record_id, hash)
);
CREATE INDEX raw_records_current ON raw_records (source, record_id) WHERE current;
CREATE INDEX raw_records_received ON raw_records (received_at);
