// Package bulkgc tunes the garbage collector for the commands that handle
// data in bulk — hub sync, trace and recall — and for the benchmark that
// measures a sync.
package bulkgc

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
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
//
// Until the heap first reaches FirstAt, nothing is collected: a typical
// trace or recall from the command line (a few hundred lots; its
// allocations, package initialisation's included, stay well under
// FirstAt) then ends without a collection, where GOGC=200's first goal
// (8 MB, started at about 5.6 MB) made it collect once or twice. The first collection, at FirstAt,
// sets GOGC=200 and the 1 GiB limit (a finalizer of an object dropped
// here runs after it), so a wide answer collects as it did.
func Tune() {
	gogc, limit := os.Getenv("GOGC") == "", os.Getenv("GOMEMLIMIT") == ""
	if gogc && limit && heap() < FirstAt/2 {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(FirstAt)
		// Not a tiny object (16 bytes or more): the tiny allocator
		// batches those, and their finalizers may never run.
		runtime.SetFinalizer(new([2]*int), func(*[2]*int) { tune(true, true) })
		return
	}
	tune(gogc, limit)
}

// FirstAt is the heap size of Tune's first collection.
const FirstAt = 32 << 20

// heap is the memory of the heap's objects, live or not yet collected. A
// process whose heap is already large (a test binary that runs many
// commands) tunes at once: under a limit below its live heap, the
// collector would run continuously until the finalizer ran.
func heap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return FirstAt // unknown: tune at once
	}
	return s[0].Value.Uint64()
}

func tune(gogc, limit bool) {
	if gogc {
		debug.SetGCPercent(Percent)
	}
	if limit {
		debug.SetMemoryLimit(Limit)
	}
}
