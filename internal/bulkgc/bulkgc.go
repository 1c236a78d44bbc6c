// Package bulkgc tunes the garbage collector for commands that load data
// in bulk: hub ingest, sync and remap, and the benchmarks that measure
// them.
package bulkgc

import (
	"os"
	"runtime/debug"
)

// Percent is the GOGC a bulk load runs with, and Limit its soft memory
// limit.
const (
	Percent = 400
	Limit   = 1 << 30
)

// Tune lets the heap grow to five times what is live before collecting
// (GOGC=400) instead of twice, within a soft limit of 1 GiB. Measured on a
// million rows: a filedrop sync 5–8 % faster, an ingest 8 %, for a quarter
// more peak memory (370 → 460 MB for hub ingest). GOGC and GOMEMLIMIT in
// the environment win.
func Tune() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(Limit)
	}
}
