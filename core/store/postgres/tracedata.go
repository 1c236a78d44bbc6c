package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/lothub/lothub/core"
)

func (s *DB) ReadVersions(ctx context.Context) (core.Versions, error) {
	var v core.Versions
	if err := s.pool.QueryRow(ctx, `SELECT g.version, e.version FROM genealogy_version g, evaluation_mark e`).Scan(&v.Genealogy, &v.Data); err != nil {
		return v, fmt.Errorf("read the versions of %s: %w", s.name, err)
	}
	return v, nil
}

// ReadTraceData reads in one snapshot (a repeatable-read transaction),
// with the queries of Lots, Receipts, Shipments, OnHand, HeldAmong and
// ManualLinks without their lot filter, so that what it reads is what
// they would return.
func (s *DB) ReadTraceData(ctx context.Context, sink core.TraceDataSink) (int64, error) {
	var version int64
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT version FROM evaluation_mark`).Scan(&version); err != nil {
			return fmt.Errorf("data version: %w", err)
		}
		each := func(what, query string, scan func(rows pgx.Rows) error) error {
			rows, err := tx.Query(ctx, query)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			defer rows.Close()
			for rows.Next() {
				if err := scan(rows); err != nil {
					return fmt.Errorf("%s: %w", what, err)
				}
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("%s: %w", what, err)
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
		return firstErr(
			func() error {
				return each("lots", `SELECT id, item, lot FROM lots`, func(rows pgx.Rows) error {
					if err := rows.Scan(&l.ID, &l.Ref.Item, &l.Ref.Lot); err != nil {
						return err
					}
					return sink.Lot(l)
				})
			},
			func() error {
				return each("receipts", `SELECT event_id, lot_id, supplier_id, supplier_name, supplier_lot, po, qty, uom, ts FROM receipts`, func(rows pgx.Rows) error {
					if err := rows.Scan(&r.EventID, &r.LotID, &r.Supplier.ID, &r.Supplier.Name, &r.SupplierLot, &r.PO, &r.Qty, &r.UOM, timeScanner{&r.Time}); err != nil {
						return err
					}
					return sink.Receipt(&r)
				})
			},
			func() error {
				return each("shipments", `SELECT event_id, lot_id, customer_id, customer_name, sales_order, delivery, qty, uom, ts FROM shipments`, func(rows pgx.Rows) error {
					if err := rows.Scan(&p.EventID, &p.LotID, &p.Customer.ID, &p.Customer.Name, &p.SalesOrder, &p.Delivery, &p.Qty, &p.UOM, timeScanner{&p.Time}); err != nil {
						return err
					}
					return sink.Shipment(&p)
				})
			},
			func() error {
				return each("on hand", `SELECT lot_id, uom, received + produced - consumed - shipped + adjusted FROM lot_qty ORDER BY lot_id, uom`, func(rows pgx.Rows) error {
					if err := rows.Scan(&q.LotID, &q.UOM, &q.Qty); err != nil {
						return err
					}
					return sink.OnHand(q)
				})
			},
			func() error {
				return each("holds", `SELECT DISTINCT e.lot_id FROM events e
					WHERE e.type IN ('hold', 'release') AND e.status = 'active' AND `+latestIsHold, func(rows pgx.Rows) error {
					if err := rows.Scan(&h); err != nil {
						return err
					}
					return sink.Held(h)
				})
			},
			func() error {
				return each("confirmed links", `SELECT event_id, lot_id, grp, out FROM links
					WHERE event_id >= 'confirm:' AND event_id < 'confirm;'`, func(rows pgx.Rows) error {
					if err := rows.Scan(&k.EventID, &k.LotID, &k.Group, &k.Out); err != nil {
						return err
					}
					return sink.Manual(k)
				})
			},
		)
	})
	if err != nil {
		return 0, fmt.Errorf("read the trace data of %s: %w", s.name, err)
	}
	return version, nil
}

// firstErr runs the steps in order until one fails.
func firstErr(steps ...func() error) error {
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}
