package dynamics_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/dynamics"
)

// BenchmarkRead reads 10,000 F&O inventory transactions, or BC item ledger
// entries, from the fake server in the hub's default batches (500) and
// pages of 1000, and reports records per second. The fake's own filtering,
// sorting and JSON encoding on the same machine are in the figure: it is a
// floor for the connector, not a forecast for a real environment, where
// the network and F&O's throttling dominate.
func BenchmarkRead(b *testing.B) {
	const n = 10000
	for _, system := range []string{"fo", "bc"} {
		b.Run(system, func(b *testing.B) {
			f := newFake(b)
			cfg := foConfig(f, "page_size", "1000")
			if system == "fo" {
				f.put(foTrans, generated(0, n)...)
			} else {
				base := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
				for i := range n {
					f.put(bcILE, ile{n: 1000 + i, item: "FLOUR", lot: "F-" + strconv.Itoa(i), typ: "Purchase", qty: 10,
						doc: "PRCPT-1", party: "V-MILL", partyName: "Mill Co", po: "PO-1", date: "2026-03-01",
						mod: base.Add(time.Duration(i/4) * time.Second).Format(time.RFC3339)}.row())
				}
				cfg = bcConfig(f, "page_size", "1000")
			}
			c := dynamics.New()
			conf := parse(b, cfg)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				recs, _ := readAll(b, c, conf, nil, 500)
				if len(recs) != n {
					b.Fatalf("read %d records, want %d", len(recs), n)
				}
			}
			b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}
