-- Issue 15 §4: returns of material from an order. An adjust event naming
-- an order (SAP 262 without a reference) nets the lot's consumption on the
-- order; when the returns net it to nothing, the lot's input link to the
-- order is not in effect (core/returns.go).
--
-- order_lots: per lot, order group ('o:' || order) and unit, the in-effect
-- consumptions, productions and adjustments naming the order, with their
-- counts. Like lot_qty, it holds sums kept by ingest.
CREATE TABLE order_lots (
    lot_id   INTEGER NOT NULL,
    grp      TEXT    NOT NULL,
    uom      TEXT    NOT NULL,
    consumed REAL    NOT NULL DEFAULT 0,
    consumes INTEGER NOT NULL DEFAULT 0,
    produced REAL    NOT NULL DEFAULT 0,
    produces INTEGER NOT NULL DEFAULT 0,
    adjusted REAL    NOT NULL DEFAULT 0,
    adjusts  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (lot_id, grp, uom)
) WITHOUT ROWID;

-- The inputs returned in full: their links (links, out = 0) are left out
-- of the genealogy. Usually empty: a trace checks it with one seek.
CREATE TABLE returned_inputs (
    lot_id INTEGER NOT NULL,
    grp    TEXT    NOT NULL,
    PRIMARY KEY (lot_id, grp)
) WITHOUT ROWID;

-- A store with events: the sums from its in-effect events, and the inputs
-- they say were returned (the rule of core.InputReturned).
INSERT INTO order_lots (lot_id, grp, uom, consumed, consumes, produced, produces, adjusted, adjusts)
SELECT lot_id, 'o:' || json_extract(body, '$.order'), coalesce(json_extract(body, '$.uom'), ''),
       total(CASE WHEN type = 'consume' THEN json_extract(body, '$.qty') END), sum(type = 'consume'),
       total(CASE WHEN type = 'produce' THEN json_extract(body, '$.qty') END), sum(type = 'produce'),
       total(CASE WHEN type = 'adjust' THEN json_extract(body, '$.qty') END), sum(type = 'adjust')
FROM events
WHERE status = 'active' AND type IN ('consume', 'produce', 'adjust') AND lot_id IS NOT NULL
  AND coalesce(json_extract(body, '$.order'), '') <> ''
GROUP BY 1, 2, 3;

INSERT INTO returned_inputs (lot_id, grp)
SELECT lot_id, grp FROM order_lots GROUP BY lot_id, grp
HAVING sum(consumes > 0) > 0
   AND sum(consumes > 0 AND (adjusts <= 0 OR consumed - adjusted > 1e-9 * max(1, abs(consumed)))) = 0;

UPDATE orders SET ins = ins - (
    SELECT coalesce(sum(o.consumes), 0) FROM order_lots o JOIN returned_inputs r ON r.lot_id = o.lot_id AND r.grp = o.grp
    WHERE o.grp = orders.ord)
WHERE ord IN (SELECT grp FROM returned_inputs);

UPDATE genealogy_version SET version = version + 1 WHERE EXISTS (SELECT 1 FROM returned_inputs);
