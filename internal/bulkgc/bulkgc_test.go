package bulkgc_test

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"

	"github.com/lothub/lothub/internal/bulkgc"
)

func metric(name string) metrics.Value {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value
}

// TestTune: no collection until the heap reaches FirstAt, then GOGC=200
// within the 1 GiB limit.
func TestTune(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT set: Tune leaves the collector as they say")
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	runtime.GC() // a small heap, as a command's at its start
	cycles := metric("/gc/cycles/total:gc-cycles").Uint64()
	bulkgc.Tune()
	if got := int64(metric("/gc/gogc:percent").Uint64()); got != -1 {
		t.Fatalf("GOGC after Tune = %d, want off (-1) until the first collection", got)
	}
	if got := metric("/gc/gomemlimit:bytes").Uint64(); got != bulkgc.FirstAt {
		t.Fatalf("memory limit after Tune = %d, want %d", got, bulkgc.FirstAt)
	}
	var keep [][]byte
	for metric("/gc/cycles/total:gc-cycles").Uint64() == cycles {
		keep = append(keep, make([]byte, 1<<20))
		if len(keep) > 64 {
			keep = keep[1:] // garbage, not a live heap past the limit
		}
	}
	// The finalizer runs after the first collection, on its own goroutine.
	for metric("/gc/gogc:percent").Uint64() != bulkgc.Percent {
		runtime.Gosched()
	}
	if got := metric("/gc/gomemlimit:bytes").Uint64(); got != bulkgc.Limit {
		t.Fatalf("memory limit after the first collection = %d, want %d", got, bulkgc.Limit)
	}
}
