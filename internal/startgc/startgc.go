// Package startgc holds the garbage collector off while the hub's packages
// initialise, and gives it back when the command starts (Done).
//
// Package initialisation allocates about 4.2 MB (two dependencies compile
// JSON meta-schemas and regexps in their init), just past the 4 MB at
// which Go starts its first collection: every hub process collected once
// before main, 1–2 ms of CPU and a mark worker thread for garbage the
// command mostly never adds to. A trace or recall takes the collector
// over as it is (bulkgc.Tune, which holds it off until the heap reaches
// 32 MB): a typical one then ends without any collection.
//
// Only cmd/hub imports it, and main (and Main, for tests) calls Done
// first: a program that imported it and never called Done would never
// collect. The variable below is initialised before the packages that
// allocate most: a package is initialised as soon as its dependencies
// are, in the order of import paths, and this one depends on
// runtime/debug and sync alone (GODEBUG=inittrace=1 shows the order).
package startgc

import (
	"runtime/debug"
	"sync"
)

// percent is the GOGC in effect before initialisation (100, or what the
// GOGC environment variable says).
var percent = debug.SetGCPercent(-1)

var once sync.Once

// Done gives the collector back the GOGC it had before package
// initialisation. Calling it again does nothing: a later
// debug.SetGCPercent (bulkgc.Tune) is kept.
func Done() {
	once.Do(func() { debug.SetGCPercent(percent) })
}
