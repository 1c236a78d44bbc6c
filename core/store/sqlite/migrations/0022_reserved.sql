-- Number 22 is PostgreSQL's (branch pgwriter: links_event replaced by a
-- partial index of confirmed links; SQLite did the same, and more, in 21).
-- This empty migration keeps the numbers of the two stores in step.
SELECT 1;
