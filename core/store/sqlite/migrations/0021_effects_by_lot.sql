-- The links, receipts and shipments of a superseded or reversed event are
-- deleted by lot (the first column of their primary keys: the lots the
-- removed versions name, sqlite.go removeEffects), not by event id. The
-- three indexes by event id cost a B-tree insert per row on every ingest
-- and served only that deletion (issue 21 §3), so they go. The confirmed
-- links (ids "confirm:…", hub confirm) are still read by their id prefix
-- (ManualLinks, TraceData): a partial index keeps just those.
DROP INDEX IF EXISTS links_event;
DROP INDEX IF EXISTS receipts_event;
DROP INDEX IF EXISTS shipments_event;
CREATE INDEX IF NOT EXISTS links_confirmed ON links (event_id) WHERE event_id >= 'confirm:' AND event_id < 'confirm;';
