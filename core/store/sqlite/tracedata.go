package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lothub/lothub/core"
)

func (s *DB) ReadVersions(ctx context.Context) (core.Versions, error) {
	rows, err := s.query(ctx, `SELECT g.version, e.version FROM genealogy_version g, evaluation_mark e`)
	if err != nil {
		return core.Versions{}, fmt.Errorf("read the store's versions: %w", err)
	}
	v, err := collect(rows, "read the store's versions", func(v *core.Versions) []any { return []any{&v.Genealogy, &v.Data} })
	if err != nil {
		return core.Versions{}, err
	}
	if len(v) != 1 {
		return core.Versions{}, fmt.Errorf("read the store's versions: %d rows, want 1", len(v))
	}
	return v[0], nil
}

// ReadTraceData reads in one read transaction, with the queries of Lots,
// Receipts, Shipments, OnHand, HeldAmong and ManualLinks without their
// lot filter, so that what it reads is what they would return.
func (s *DB) ReadTraceData(ctx context.Context, sink core.TraceDataSink) (int64, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("read the trace data: %w", err)
	}
	defer tx.Rollback()
	var version int64
	if err := tx.QueryRowContext(ctx, `SELECT version FROM evaluation_mark`).Scan(&version); err != nil {
		return 0, fmt.Errorf("read the data version: %w", err)
	}
	each := func(what, query string, scan func(rows *sql.Rows) error) error {
		rows, err := tx.QueryContext(ctx, query)
		if err != nil {
			return fmt.Errorf("read the trace data, %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return fmt.Errorf("read the trace data, %s: %w", what, err)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read the trace data, %s: %w", what, err)
		}
		return nil
	}
	var (
		l core.LotRow
		r core.ReceiptRow
		p core.ShipmentRow
		q core.LotQtyRow
		k core.LinkRow
		h int64
	)
	err = each("lots", `SELECT id, item, lot FROM lots`, func(rows *sql.Rows) error {
		if err := rows.Scan(&l.ID, &l.Ref.Item, &l.Ref.Lot); err != nil {
			return err
		}
		return sink.Lot(l)
	})
	if err == nil {
		err = each("receipts", `SELECT event_id, lot_id, supplier_id, supplier_name, supplier_lot, po, qty, uom, ts FROM receipts`, func(rows *sql.Rows) error {
			if err := rows.Scan(&r.EventID, &r.LotID, &r.Supplier.ID, &r.Supplier.Name, &r.SupplierLot, &r.PO, &r.Qty, &r.UOM, timeScanner{&r.Time}); err != nil {
				return err
			}
			return sink.Receipt(&r)
		})
	}
	if err == nil {
		err = each("shipments", `SELECT event_id, lot_id, customer_id, customer_name, sales_order, delivery, qty, uom, ts FROM shipments`, func(rows *sql.Rows) error {
			if err := rows.Scan(&p.EventID, &p.LotID, &p.Customer.ID, &p.Customer.Name, &p.SalesOrder, &p.Delivery, &p.Qty, &p.UOM, timeScanner{&p.Time}); err != nil {
				return err
			}
			return sink.Shipment(&p)
		})
	}
	if err == nil {
		err = each("on hand", `SELECT lot_id, uom, received + produced - consumed - shipped + adjusted FROM lot_qty ORDER BY lot_id, uom`, func(rows *sql.Rows) error {
			if err := rows.Scan(&q.LotID, &q.UOM, &q.Qty); err != nil {
				return err
			}
			return sink.OnHand(q)
		})
	}
	if err == nil {
		err = each("holds", `SELECT DISTINCT e.lot_id FROM events e INDEXED BY events_holds
			WHERE e.type IN ('hold', 'release') AND e.status = 'active' AND `+latestIsHold, func(rows *sql.Rows) error {
			if err := rows.Scan(&h); err != nil {
				return err
			}
			return sink.Held(h)
		})
	}
	if err == nil {
		err = each("confirmed links", `SELECT event_id, lot_id, grp, out FROM links
			WHERE event_id >= 'confirm:' AND event_id < 'confirm;'`, func(rows *sql.Rows) error {
			if err := rows.Scan(&k.EventID, &k.LotID, &k.Group, &k.Out); err != nil {
				return err
			}
			return sink.Manual(k)
		})
	}
	if err != nil {
		return 0, err
	}
	return version, nil
}
