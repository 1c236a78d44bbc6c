package core_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
)

// BenchmarkEventDigest is the trail's per-batch cost in ingest: the digest
// of a batch of 5000 event rows (ingest's default batch).
func BenchmarkEventDigest(b *testing.B) {
	rows := make([]core.EventRow, 5000)
	for i := range rows {
		body := fmt.Sprintf(`{"id":"gen:CON:%09d","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"FLOUR","lot":"F-%d"},"qty":40,"uom":"KG","order":"WO-%d"}`, i, i%700, i/3)
		rows[i] = core.EventRow{ID: fmt.Sprintf("gen:CON:%09d", i), Version: 1, Hash: "0123456789abcdef0123456789abcdef", Type: core.Consume,
			Time: time.Unix(1772438400, 0), SeenAt: time.Unix(1772438400, 0), Body: []byte(body)}
	}
	b.ReportAllocs()
	for b.Loop() {
		core.EventDigest(rows)
	}
}
