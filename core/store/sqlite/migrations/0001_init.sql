-- lothub SQLite schema, version 1.
-- Times are Unix microseconds (UTC). Derived tables (links, receipts,
-- shipments, lot_qty, orders, lots.sourced/used) hold only the effects of
-- in-effect (status 'active') events and are rebuilt from events by ingest.

CREATE TABLE lots (
    id      INTEGER PRIMARY KEY,
    item    TEXT NOT NULL,
    lot     TEXT NOT NULL,
    sourced INTEGER NOT NULL DEFAULT 0, -- in-effect receipts and productions
    used    INTEGER NOT NULL DEFAULT 0, -- in-effect consumptions and shipments
    UNIQUE (item, lot)
);

-- Every version of every event ever seen. The current version of an id is
-- the one whose status is not 'superseded'.
CREATE TABLE events (
    seq      INTEGER PRIMARY KEY,
    id       TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    hash     TEXT    NOT NULL,
    type     TEXT    NOT NULL,
    ts       INTEGER NOT NULL,
    lot_id   INTEGER,
    reverses TEXT,
    status   TEXT    NOT NULL CHECK (status IN ('active', 'reversed', 'superseded')),
    seen_at  INTEGER NOT NULL,
    body     TEXT    NOT NULL,
    UNIQUE (id, version)
);
CREATE INDEX events_lot ON events (lot_id) WHERE lot_id IS NOT NULL;
CREATE INDEX events_reverses ON events (reverses) WHERE reverses IS NOT NULL;

-- A lot is an input (out = 0) or output (out = 1) of a group: an order
-- ('o:' || order) or a transform ('t:' || event id).
-- Clustered by lot (WITHOUT ROWID): a trace hop reads one lot's rows
-- with one seek, and ingest writes one b-tree fewer.
CREATE TABLE links (
    lot_id   INTEGER NOT NULL,
    out      INTEGER NOT NULL,
    grp      TEXT    NOT NULL,
    event_id TEXT    NOT NULL,
    ts       INTEGER NOT NULL,
    PRIMARY KEY (lot_id, out, grp, event_id)
) WITHOUT ROWID;
CREATE INDEX links_grp ON links (grp, out, lot_id);
CREATE INDEX links_event ON links (event_id);

CREATE TABLE receipts (
    lot_id        INTEGER NOT NULL,
    event_id      TEXT NOT NULL,
    supplier_id   TEXT NOT NULL,
    supplier_name TEXT NOT NULL,
    supplier_lot  TEXT NOT NULL,
    po            TEXT NOT NULL,
    qty           REAL NOT NULL,
    uom           TEXT NOT NULL,
    ts            INTEGER NOT NULL,
    PRIMARY KEY (lot_id, event_id)
) WITHOUT ROWID;
CREATE INDEX receipts_event ON receipts (event_id);
CREATE INDEX receipts_supplier_lot ON receipts (supplier_lot) WHERE supplier_lot <> '';

CREATE TABLE shipments (
    lot_id        INTEGER NOT NULL,
    event_id      TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    customer_name TEXT NOT NULL,
    sales_order   TEXT NOT NULL,
    delivery      TEXT NOT NULL,
    qty           REAL NOT NULL,
    uom           TEXT NOT NULL,
    ts            INTEGER NOT NULL,
    PRIMARY KEY (lot_id, event_id)
) WITHOUT ROWID;
CREATE INDEX shipments_event ON shipments (event_id);
CREATE INDEX shipments_sales_order ON shipments (sales_order) WHERE sales_order <> '';
CREATE INDEX shipments_customer ON shipments (customer_id);

CREATE TABLE lot_qty (
    lot_id   INTEGER NOT NULL,
    uom      TEXT    NOT NULL,
    received REAL    NOT NULL DEFAULT 0,
    produced REAL    NOT NULL DEFAULT 0,
    consumed REAL    NOT NULL DEFAULT 0,
    shipped  REAL    NOT NULL DEFAULT 0,
    PRIMARY KEY (lot_id, uom)
) WITHOUT ROWID;

CREATE TABLE orders (
    ord  TEXT PRIMARY KEY,
    ins  INTEGER NOT NULL DEFAULT 0,
    outs INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE quarantine (
    seq      INTEGER PRIMARY KEY,
    key      TEXT    NOT NULL UNIQUE,
    source   TEXT    NOT NULL,
    line     INTEGER NOT NULL,
    event_id TEXT    NOT NULL,
    reason   TEXT    NOT NULL,
    raw      TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    resolved INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX quarantine_event ON quarantine (event_id) WHERE event_id <> '';
