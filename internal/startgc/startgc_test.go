package startgc_test

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"testing"

	"github.com/lothub/lothub/internal/startgc"
)

func gogc() int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// TestDone: the collector is off from package initialisation until Done,
// which gives back GOGC's value once, and only once.
func TestDone(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC set")
	}
	if got := gogc(); got != -1 {
		t.Fatalf("GOGC before Done = %d, want off (-1)", got)
	}
	startgc.Done()
	if got := gogc(); got != 100 {
		t.Fatalf("GOGC after Done = %d, want 100", got)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(200))
	startgc.Done()
	if got := gogc(); got != 200 {
		t.Fatalf("GOGC after a second Done = %d, want the 200 set in between", got)
	}
}
