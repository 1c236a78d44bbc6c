package postgres

// SetWideRead lowers the number of lots from which reads by lot id steer the
// planner, so that the conformance suite's small plants take that path.
func SetWideRead(s *DB, n int) { s.wideRead = n }

// Growth is growth: the rows changed since a table's statistics were
// gathered that make them stale.
var Growth = growth
