-- Skips are never silent (issue 15): every record a mapping turned into no
-- event on purpose is counted with its run, by the rule that skipped it and
-- the rule's reason: a JSON array of {"rule","reason","records"}.
ALTER TABLE runs ADD COLUMN skips TEXT NOT NULL DEFAULT '[]';
