package epcis_test

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/epcis"
	"github.com/lothub/lothub/plantgen"
)

// Capture speed without a store: the schema check and the mapping of a
// generated partner document (plantgen.EPCIS), together and each alone.
// Figures: docs/benchmarks.md.
func BenchmarkEpcisCheckMap(b *testing.B) {
	for _, format := range []string{"json", "xml"} {
		var doc bytes.Buffer
		const n = 20000
		if err := plantgen.EPCIS(context.Background(), &doc, n, format == "xml"); err != nil {
			b.Fatal(err)
		}
		check := func(b *testing.B) *epcis.Document {
			d, err := epcis.Check(bytes.NewReader(doc.Bytes()), "bench")
			if err != nil {
				b.Fatal(err)
			}
			return d
		}
		mapDoc := func(b *testing.B, d *epcis.Document) {
			if _, err := epcis.Map(bytes.NewReader(doc.Bytes()), d, epcis.Options{}, 2000, func([]core.MappedRecord) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
		run := func(name string, body func(b *testing.B)) {
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(doc.Len()))
				b.ReportAllocs()
				cpu0 := cpuTime()
				body(b)
				// CPU time (all goroutines, GC included) is steadier than
				// wall time on a shared machine.
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(n*b.N), "cpu-ns/event")
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
		run(format, func(b *testing.B) {
			for range b.N {
				mapDoc(b, check(b))
			}
		})
		run(format+"/check", func(b *testing.B) {
			for range b.N {
				check(b)
			}
		})
		run(format+"/map", func(b *testing.B) {
			d := check(b)
			b.ResetTimer()
			for range b.N {
				mapDoc(b, d)
			}
		})
	}
}

// cpuTime is the process's CPU time so far (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
