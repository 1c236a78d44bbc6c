-- The unique index on (source, record_id, hash) already finds a record's
-- current version by its (source, record_id) prefix (a record has few
-- versions): the partial index on current rows cost every archived
-- record one more b-tree insert of a long key.
DROP INDEX raw_records_current;
