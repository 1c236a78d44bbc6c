-- Placeholder: version 14 belongs to another branch (branch fix15 was
-- given 0018). It keeps the versions without a hole until they meet; the
-- lead deletes this file when merging that branch's 0014.
SELECT 1;
