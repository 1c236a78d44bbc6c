-- lothub PostgreSQL schema, version 1. It mirrors the SQLite schema table
-- for table, column for column.
-- Times are Unix microseconds (UTC). Derived tables (links, receipts,
-- shipments, lot_qty, orders, lots.sourced/used) hold only the effects of
-- in-effect (status 'active') events and are rebuilt from events by ingest.
-- Text columns use the "C" collation: they compare and sort bytewise, as in
-- SQLite, whatever the database's locale, and their indexes are faster.

CREATE TABLE lots (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item    text COLLATE "C" NOT NULL,
    lot     text COLLATE "C" NOT NULL,
    sourced bigint NOT NULL DEFAULT 0, -- in-effect receipts and productions
    used    bigint NOT NULL DEFAULT 0, -- in-effect consumptions and shipments
    UNIQUE (item, lot)
) WITH (fillfactor = 50); -- room on each page for HOT updates of sourced and used

-- Every version of every event ever seen. The current version of an id is
-- the one whose status is not 'superseded'.
CREATE TABLE events (
    seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id       text COLLATE "C" NOT NULL,
    version  integer NOT NULL,
    hash     text COLLATE "C" NOT NULL,
    type     text COLLATE "C" NOT NULL,
    ts       bigint NOT NULL,
    lot_id   bigint,
    reverses text COLLATE "C",
    status   text COLLATE "C" NOT NULL CHECK (status IN ('active', 'reversed', 'superseded')),
    seen_at  bigint NOT NULL,
    body     text NOT NULL,
    UNIQUE (id, version)
);
CREATE INDEX events_lot ON events (lot_id) WHERE lot_id IS NOT NULL;
CREATE INDEX events_reverses ON events (reverses) WHERE reverses IS NOT NULL;

-- A lot is an input (out = false) or output (out = true) of a group: an
-- order ('o:' || order) or a transform ('t:' || event id).
CREATE TABLE links (
    event_id text COLLATE "C" NOT NULL,
    lot_id   bigint NOT NULL,
    grp      text COLLATE "C" NOT NULL,
    out      boolean NOT NULL,
    ts       bigint NOT NULL
);
CREATE INDEX links_lot ON links (lot_id, out, grp);
CREATE INDEX links_grp ON links (grp, out, lot_id);
CREATE INDEX links_event ON links (event_id);

CREATE TABLE receipts (
    event_id      text COLLATE "C" PRIMARY KEY,
    lot_id        bigint NOT NULL,
    supplier_id   text COLLATE "C" NOT NULL,
    supplier_name text COLLATE "C" NOT NULL,
    supplier_lot  text COLLATE "C" NOT NULL,
    po            text COLLATE "C" NOT NULL,
    qty           double precision NOT NULL,
    uom           text COLLATE "C" NOT NULL,
    ts            bigint NOT NULL
);
CREATE INDEX receipts_lot ON receipts (lot_id);
CREATE INDEX receipts_supplier_lot ON receipts (supplier_lot) WHERE supplier_lot <> '';

CREATE TABLE shipments (
    event_id      text COLLATE "C" PRIMARY KEY,
    lot_id        bigint NOT NULL,
    customer_id   text COLLATE "C" NOT NULL,
    customer_name text COLLATE "C" NOT NULL,
    sales_order   text COLLATE "C" NOT NULL,
    delivery      text COLLATE "C" NOT NULL,
    qty           double precision NOT NULL,
    uom           text COLLATE "C" NOT NULL,
    ts            bigint NOT NULL
);
CREATE INDEX shipments_lot ON shipments (lot_id);
CREATE INDEX shipments_sales_order ON shipments (sales_order) WHERE sales_order <> '';
CREATE INDEX shipments_customer ON shipments (customer_id);

CREATE TABLE lot_qty (
    lot_id   bigint NOT NULL,
    uom      text COLLATE "C" NOT NULL,
    received double precision NOT NULL DEFAULT 0,
    produced double precision NOT NULL DEFAULT 0,
    consumed double precision NOT NULL DEFAULT 0,
    shipped  double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (lot_id, uom)
) WITH (fillfactor = 50);

CREATE TABLE orders (
    ord  text COLLATE "C" PRIMARY KEY, -- 'o:' || order, as links.grp
    ins  bigint NOT NULL DEFAULT 0,
    outs bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 50);

-- raw is bytea, not text: quarantined input may be any bytes (invalid
-- UTF-8, NUL), which a text column refuses.
CREATE TABLE quarantine (
    seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key      text COLLATE "C" NOT NULL UNIQUE,
    source   text COLLATE "C" NOT NULL,
    line     integer NOT NULL,
    event_id text COLLATE "C" NOT NULL,
    reason   text NOT NULL,
    raw      bytea NOT NULL,
    at       bigint NOT NULL,
    resolved boolean NOT NULL DEFAULT false
);
CREATE INDEX quarantine_event ON quarantine (event_id) WHERE event_id <> '';
