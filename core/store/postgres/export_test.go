package postgres

// SetWideHops lowers the number of lots from which Hops steers the
// planner, so that the conformance suite's small plants take that path.
func SetWideHops(s *DB, n int) { s.wideHops = n }
