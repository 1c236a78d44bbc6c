-- Whether the gap rules are due is read from the store, not from what one
-- process did: a sync killed after its last commit leaves events that no
-- evaluation has seen, and the sync that completes it writes none.
-- version is raised by every transaction that writes events (new versions
-- or status changes); evaluated is the version the last completed
-- evaluation read before it started. Evaluation is due while
-- version > evaluated.
CREATE TABLE evaluation_mark (version BIGINT NOT NULL, evaluated BIGINT NOT NULL);
-- A store that already holds events may never have been evaluated since
-- its last write (the bug this table fixes): due once.
INSERT INTO evaluation_mark (version, evaluated)
	SELECT CASE WHEN EXISTS (SELECT 1 FROM events) THEN 1 ELSE 0 END, 0;
