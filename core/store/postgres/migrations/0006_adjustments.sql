-- Inventory adjustments (events of type adjust: count corrections, scrap,
-- write-offs), signed. On hand = received + produced - consumed - shipped
-- + adjusted.
ALTER TABLE lot_qty ADD COLUMN adjusted DOUBLE PRECISION NOT NULL DEFAULT 0;
