package postgres

import "github.com/lothub/lothub/core"

// SetWideRead lowers the number of lots from which reads by lot id steer the
// planner, so that the conformance suite's small plants take that path.
func SetWideRead(s *DB, n int) { s.wideRead = n }

// Growth is growth: the rows changed since a table's statistics were
// gathered that make them stale.
var Growth = growth

// Hold holds a statement of an ingest transaction for its next round trip
// or its COMMIT (connTx.hold).
func Hold(tx core.IngestTx, what, sql string) { tx.(*ingestTx).tx.hold(what, sql) }
