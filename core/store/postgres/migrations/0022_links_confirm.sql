-- links_event indexed every link by its event id: one more B-tree entry
-- for every link ingest writes (about half a million on the 1M plant).
-- Its uses were two: the removal of a superseded or reversed event's links,
-- which now finds them by lot and group (links_lot, links_grp) from the
-- event's stored versions, and the reads of the links confirmed by hand
-- (ids "confirm:…"), which are few and keep a partial index of their own.
-- The predicate is the one those reads (gaps.go, tracedata.go) write.
DROP INDEX links_event;
CREATE INDEX links_confirm ON links (event_id) WHERE event_id >= 'confirm:' AND event_id < 'confirm;';
