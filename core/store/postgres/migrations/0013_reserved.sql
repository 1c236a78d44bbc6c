-- Placeholder: version 0013 belongs to a branch merged in parallel (audit,
-- users). The outbox branch was given 0015; the lead drops this file at
-- merge. It changes nothing.
SELECT 1;
