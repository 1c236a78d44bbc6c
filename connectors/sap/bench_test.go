package sap_test

import (
	"testing"

	"github.com/lothub/lothub/connectors/sap"
	"github.com/lothub/lothub/connectors/sap/internal/fake"
)

// BenchmarkReadS4 reads 1000 material documents (about 2,750 items) from
// the fake S/4HANA over loopback HTTP, in batches of 500 records, pages of
// 200 documents: the connector's own cost (HTTP, JSON, records), not the
// hub's.
func BenchmarkReadS4(b *testing.B) {
	s := fake.NewS4(b, false)
	docs := fake.Synthetic(1000)
	s.Add(docs...)
	cfg := parse(b, s.Config("page_size", "200"))
	records := 0
	for b.Loop() {
		recs, _ := readAll(b, sap.New(), cfg, nil, 500)
		if len(recs) != fake.ItemCount(docs) {
			b.Fatalf("read %d records, want %d", len(recs), fake.ItemCount(docs))
		}
		records += len(recs)
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkReadB1 reads the small Business One plant, many times over.
func BenchmarkReadB1(b *testing.B) {
	s := fake.NewB1(b, "v1")
	n := fake.B1Plant(s)
	cfg := parse(b, fake.B1Config(s.URL, "page_size", "20"))
	c := sap.New()
	records := 0
	for b.Loop() {
		recs, _ := readAll(b, c, cfg, nil, 500)
		if len(recs) != n {
			b.Fatalf("read %d records, want %d", len(recs), n)
		}
		records += len(recs)
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
