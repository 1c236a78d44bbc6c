-- When the hub claimed an alert stage and started sending it (Unix
-- microseconds; 0 when no delivery is in flight). A stage claimed and never
-- confirmed (the hub was killed mid-delivery) is sent again later: alerts
-- are delivered at least once.
ALTER TABLE gap_exceptions ADD COLUMN sending BIGINT NOT NULL DEFAULT 0;
