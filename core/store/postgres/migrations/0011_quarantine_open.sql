-- The gap rules read the open quarantine entries of every source at each
-- evaluation (issue 15: quarantined input is a gap): an index of the open
-- ones only, so that years of resolved entries cost nothing.
CREATE INDEX quarantine_open ON quarantine (source, at, key) WHERE NOT resolved;
