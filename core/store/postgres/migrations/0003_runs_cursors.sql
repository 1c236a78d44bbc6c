-- lothub PostgreSQL schema, version 3: connector positions and sync runs.

-- A connector's position is written in the same transaction as the events
-- of the batch it ends: a crash loses or doubles nothing.
CREATE TABLE cursors (
    connector text COLLATE "C" PRIMARY KEY,
    position  bytea  NOT NULL,
    updated   bigint NOT NULL,
    run_id    bigint NOT NULL
);

CREATE TABLE runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector   text COLLATE "C" NOT NULL,
    trigger     text   NOT NULL,
    started     bigint NOT NULL,
    ended       bigint,
    status      text   NOT NULL,
    batches     bigint NOT NULL DEFAULT 0,
    records     bigint NOT NULL DEFAULT 0,
    events      bigint NOT NULL DEFAULT 0,
    unchanged   bigint NOT NULL DEFAULT 0,
    quarantined bigint NOT NULL DEFAULT 0,
    error       text   NOT NULL DEFAULT ''
);
CREATE INDEX runs_connector ON runs (connector, id);
