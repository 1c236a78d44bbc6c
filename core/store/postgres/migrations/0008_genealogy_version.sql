-- A counter that ingest raises in every transaction that adds or removes
-- genealogy links. An in-memory copy of the graph (core.GraphCache, kept by
-- `hub serve`) answers walks while the counter has not moved since it was
-- read; otherwise the walk reads the links tables.
CREATE TABLE genealogy_version (version BIGINT NOT NULL);
INSERT INTO genealogy_version VALUES (0);
