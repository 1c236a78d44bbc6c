-- Issue 15 §4: returns of material from an order. An adjust event naming
-- an order (SAP 262 without a reference) nets the lot's consumption on the
-- order; when the returns net it to nothing, the lot's input link to the
-- order is not in effect (core/returns.go).
--
-- order_lots: per lot, order group ('o:' || order) and unit, the in-effect
-- consumptions, productions and adjustments naming the order, with their
-- counts. Like lot_qty, it holds sums kept by ingest.
CREATE TABLE order_lots (
    lot_id   bigint NOT NULL,
    grp      text COLLATE "C" NOT NULL,
    uom      text COLLATE "C" NOT NULL,
    consumed double precision NOT NULL DEFAULT 0,
    consumes bigint NOT NULL DEFAULT 0,
    produced double precision NOT NULL DEFAULT 0,
    produces bigint NOT NULL DEFAULT 0,
    adjusted double precision NOT NULL DEFAULT 0,
    adjusts  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (lot_id, grp, uom)
);

-- The inputs returned in full: their links (links, NOT out) are left out
-- of the genealogy. Usually empty: a trace checks it with one seek.
CREATE TABLE returned_inputs (
    lot_id bigint NOT NULL,
    grp    text COLLATE "C" NOT NULL,
    PRIMARY KEY (lot_id, grp)
);

-- A store with events: the sums from its in-effect events, and the inputs
-- they say were returned (the rule of core.InputReturned).
INSERT INTO order_lots (lot_id, grp, uom, consumed, consumes, produced, produces, adjusted, adjusts)
SELECT lot_id, 'o:' || (body::jsonb ->> 'order'), coalesce(body::jsonb ->> 'uom', ''),
       coalesce(sum((body::jsonb ->> 'qty')::double precision) FILTER (WHERE type = 'consume'), 0), count(*) FILTER (WHERE type = 'consume'),
       coalesce(sum((body::jsonb ->> 'qty')::double precision) FILTER (WHERE type = 'produce'), 0), count(*) FILTER (WHERE type = 'produce'),
       coalesce(sum((body::jsonb ->> 'qty')::double precision) FILTER (WHERE type = 'adjust'), 0), count(*) FILTER (WHERE type = 'adjust')
FROM events
WHERE status = 'active' AND type IN ('consume', 'produce', 'adjust') AND lot_id IS NOT NULL
  AND coalesce(body::jsonb ->> 'order', '') <> ''
GROUP BY 1, 2, 3;

INSERT INTO returned_inputs (lot_id, grp)
SELECT lot_id, grp FROM order_lots GROUP BY lot_id, grp
HAVING bool_or(consumes > 0)
   AND NOT bool_or(consumes > 0 AND (adjusts <= 0 OR consumed - adjusted > 1e-9 * greatest(1, abs(consumed))));

UPDATE orders SET ins = ins - (
    SELECT coalesce(sum(o.consumes), 0) FROM order_lots o JOIN returned_inputs r ON r.lot_id = o.lot_id AND r.grp = o.grp
    WHERE o.grp = orders.ord)
WHERE ord IN (SELECT grp FROM returned_inputs);

UPDATE genealogy_version SET version = version + 1 WHERE EXISTS (SELECT 1 FROM returned_inputs);
