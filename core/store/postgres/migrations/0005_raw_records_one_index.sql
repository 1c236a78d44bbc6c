-- Kept in step with SQLite's 0005. PostgreSQL keeps its partial index on
-- current rows: COPY maintains it cheaply and its planner uses it for the
-- prefix scans of deleted records. Nothing to change.
SELECT 1;
