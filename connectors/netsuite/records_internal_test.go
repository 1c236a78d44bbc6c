package netsuite

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkPage measures the connector's own work on one SuiteQL page of
// 1,000 rows: decoding the response and turning rows into records, with
// the keyset and the remembered rows kept up to date.
func BenchmarkPage(b *testing.B) {
	loc, _ := time.LoadLocation("America/Los_Angeles")
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, loc)
	var items []string
	for i := range 1000 {
		items = append(items, fmt.Sprintf(`{"links":[],"tran_id":"%d","tran_number":"IR-%d","tran_type":"ItemRcpt","tran_date":"1/1/2025",`+
			`"last_modified":%q,"voided":"F","entity_id":"301","entity_number":"V-MILL","entity_name":"Mill Co",`+
			`"created_from_id":"4001","created_from_number":"PO-77","created_from_type":"PurchOrd","line_id":"1",`+
			`"line_quantity":"10","location":"Main Warehouse","item_id":"11","item":"FLOUR","assignment_id":"%d",`+
			`"quantity":"10","base_unit":"kg","lot":"L-%d"}`,
			100000+i, 100000+i, start.Add(time.Duration(i/3)*time.Second).Format(goTimestamp), 1000000+i, i))
	}
	data := []byte(`{"links":[],"count":1000,"hasMore":true,"items":[` + strings.Join(items, ",") + `],"offset":0,"totalResults":100500}`)
	o := &options{account: "1234567", loc: loc, overlap: 15 * time.Minute, types: []string{"ItemRcpt"}}
	r := &reader{o: o}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var pg page
		if err := json.Unmarshal(data, &pg); err != nil {
			b.Fatal(err)
		}
		var s streamPos
		for _, rw := range pg.Items {
			if _, _, err := r.row(&transactions, &s, rw); err != nil {
				b.Fatal(err)
			}
		}
		s.prune(o.overlap, loc)
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "records/s")
}
