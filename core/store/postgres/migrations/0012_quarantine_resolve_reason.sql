-- Issue 15: an operator resolves a quarantine entry that no record will
-- ever resolve (its source record was replaced by records with other ids:
-- a NetSuite lot line read without inventory detail, TYPE:TRAN:LINE:0)
-- with hub errors resolve ID --reason TEXT. The reason is kept here; ''
-- for entries resolved by a valid event or record, and when reopened.
ALTER TABLE quarantine ADD COLUMN resolve_reason text NOT NULL DEFAULT '';
