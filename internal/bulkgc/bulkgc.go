// Package bulkgc tunes the garbage collector for the commands that handle
// data in bulk — hub sync, trace and recall — and for the benchmark that
// measures a sync.
package bulkgc

import (
	"os"
	"runtime/debug"
)

// Percent is the GOGC a bulk load runs with, and Limit its soft memory
// limit.
const (
	Percent = 200
	Limit   = 1 << 30
)

// Tune lets the heap grow to three times what is live before collecting
// (GOGC=200) instead of twice, within a soft limit of 1 GiB. Measured on
// a million-row filedrop sync (the runner and an SFTP server in one
// process): 29.0–29.1 s and 425–440 MB peak, against 29.6–31.7 s and
// 296–320 MB with Go's default; GOGC=400 was no faster (28.8–30.9 s) at
// 590–670 MB. The widest recall of a 5M-event plant (72,000 lots, 83 MB
// of JSON): 1.70–1.79 s against 1.87–2.0 s, peak memory about the same
// (575–620 MB against 580 MB). hub ingest gained nothing measurable, so
// it keeps the default. GOGC and GOMEMLIMIT in the environment win.
func Tune() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(Limit)
	}
}
