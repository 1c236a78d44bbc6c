package epcis_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/epcis"
	"github.com/lothub/lothub/plantgen"
)

// Capture speed without a store: the schema check and the mapping of a
// generated partner document (plantgen.EPCIS). Figures: docs/benchmarks.md.
func BenchmarkEpcisCheckMap(b *testing.B) {
	for _, format := range []string{"json", "xml"} {
		b.Run(format, func(b *testing.B) {
			var doc bytes.Buffer
			const n = 20000
			if err := plantgen.EPCIS(context.Background(), &doc, n, format == "xml"); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(doc.Len()))
			b.ResetTimer()
			for range b.N {
				d, err := epcis.Check(bytes.NewReader(doc.Bytes()), "bench")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := epcis.Map(bytes.NewReader(doc.Bytes()), d, epcis.Options{}, 2000, func([]core.MappedRecord) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
