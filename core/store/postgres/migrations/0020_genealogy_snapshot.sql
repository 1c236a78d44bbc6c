-- The genealogy saved as one value (core.Graph.EncodeSnapshot) with the
-- genealogy_version it is of: a command-line process walks a wide trace
-- in memory after one read instead of one query per depth level. Read
-- only while its version equals genealogy_version's; at most one row.
CREATE TABLE genealogy_snapshot (
    version  BIGINT NOT NULL,
    saved_at BIGINT NOT NULL, -- Unix microseconds
    data     BYTEA  NOT NULL
);
-- Stored out of line uncompressed: read whole on every wide walk, where
-- decompressing tens of megabytes would cost more than the disk saved.
ALTER TABLE genealogy_snapshot ALTER COLUMN data SET STORAGE EXTERNAL;
