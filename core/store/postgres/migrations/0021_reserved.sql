-- Number 21 is SQLite's (branch sqlwriter: its effects indexes by event id
-- dropped); this empty migration keeps PostgreSQL's numbers without holes.
SELECT 1;
