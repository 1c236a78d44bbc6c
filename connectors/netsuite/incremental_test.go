package netsuite_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/netsuite"
	"github.com/lothub/lothub/sdk"
)

// receipt is a one-line item receipt of one lot.
func receipt(id int, modified time.Time) Txn {
	return Txn{ID: id, Number: fmt.Sprintf("IR-%d", id), Type: "ItemRcpt", Date: modified.Format("2006-01-02"),
		Modified: modified, Entity: 301, CreatedFrom: 4001, Lines: []Line{
			{ID: 1, Item: 11, Qty: 10, Location: locMain, Assign: []Assign{{ID: id*10 + 1, Lot: fmt.Sprintf("L-%d", id), Qty: 10}}}}}
}

func receiptID(id int) string { return fmt.Sprintf("ItemRcpt:%d:1:%d", id, id*10+1) }

// Integration platforms slice incremental reads by date, computed in UTC
// while NetSuite compares in the account's time zone: whatever is saved
// between the sync and local midnight is never read. Here the account is
// in Los Angeles (UTC-7 in March) and syncs run around local midnight,
// with saves during the syncs.
func TestIncrementalLosesNothingAroundLocalMidnight(t *testing.T) {
	f := newAccount(t)
	plant(f)
	loc := f.Loc
	cfg := parse(t, with(rawConfig(f), "page_size", "3"))
	c := netsuite.New()

	first, pos := readAll(t, c, cfg, nil, 100)
	if got := ids(first); !slices.Equal(got, plantIDs) {
		t.Fatalf("first sync read %v, want %v", got, plantIDs)
	}

	// Between syncs: a receipt whose save began at 13:25 commits only now
	// (its last modified time is before the last one read), one is saved
	// a second before local midnight (07:59:59 UTC the next day, so a
	// UTC-date slice skips it), and IR-1001 is edited after midnight.
	f.Put(receipt(7002, at(loc, "2026-03-16 13:25:00")))
	f.Put(receipt(7003, at(loc, "2026-03-16 23:59:59")))
	f.Modify(5001, at(loc, "2026-03-17 00:00:30"), func(tx *Txn) { tx.Lines[0].Assign[0].Qty = 590 })
	// During the second sync, after its first page, a receipt saved at
	// 23:59:58 commits: before rows the sync has already read.
	q0, _, _ := f.Stats()
	f.BeforeQuery = func(n int) {
		if n == q0+2 {
			f.Put(receipt(7005, at(loc, "2026-03-16 23:59:58")))
		}
	}
	second, pos := readAll(t, c, cfg, pos, 100)
	f.BeforeQuery = nil
	want := []string{receiptID(7002), receiptID(7003), "ItemRcpt:5001:1:9001", "ItemRcpt:5001:1:9002"}
	if got := ids(second); !slices.Equal(got, want) {
		t.Fatalf("second sync read %v, want %v (nothing again, nothing lost)", got, want)
	}
	if q := fields(t, second[2])["quantity"]; q != "590" {
		t.Errorf("edited assignment has quantity %v, want 590", q)
	}

	third, pos := readAll(t, c, cfg, pos, 100)
	if got, want := ids(third), []string{receiptID(7005)}; !slices.Equal(got, want) {
		t.Fatalf("third sync read %v, want %v: the receipt committed during the second sync", got, want)
	}
	fourth, _ := readAll(t, c, cfg, pos, 100)
	if len(fourth) != 0 {
		t.Fatalf("fourth sync read %v, want nothing", ids(fourth))
	}
}

// The fake is honest: the date-only filter integration platforms send
// loses the receipt saved before local midnight.
func TestFakeLosesWhatADateOnlyFilterLoses(t *testing.T) {
	f := newAccount(t)
	plant(f)
	f.Put(receipt(7003, at(f.Loc, "2026-03-16 23:59:59")))
	// The last sync ran at 2026-03-17 06:30 UTC; the next one reads "from
	// that date on", which NetSuite reads as local midnight.
	q := "SELECT t.id AS id FROM transaction t INNER JOIN transactionline tl ON tl.transaction = t.id" +
		" LEFT JOIN inventoryassignment ia ON ia.transaction = tl.transaction AND ia.transactionline = tl.id" +
		" LEFT JOIN inventorynumber inv ON inv.id = ia.inventorynumber INNER JOIN item i ON i.id = tl.item" +
		" LEFT JOIN transaction cf ON cf.id = tl.createdfrom LEFT JOIN entity e ON e.id = t.entity" +
		" LEFT JOIN unitstypeuom bu ON bu.unitstype = i.unitstype AND bu.baseunit = 'T'" +
		" WHERE t.lastmodifieddate >= TO_TIMESTAMP('2026-03-17', 'YYYY-MM-DD') ORDER BY t.id"
	f.mu.Lock()
	items, count, total, status, _, detail := f.run(q, 0, 1000)
	f.mu.Unlock()
	if status != 0 {
		t.Fatalf("fake refused the query: %s", detail)
	}
	if total != 0 || count != 0 {
		t.Fatalf("a date-only filter found %v; the fake should lose the receipt as NetSuite does", items)
	}
}

// When clocks fall back, an hour of wall clocks happens twice. SuiteQL
// compares wall clocks, so a record saved in the second 01:20 sorts before
// one read at the first 01:40, and a lower bound of "01:25" may be read as
// the later 01:25, skipping the first hour's records.
func TestIncrementalLosesNothingWhenClocksFallBack(t *testing.T) {
	f := newAccount(t)
	f.AddItem(Item{ID: 11, Name: "FLOUR", BaseUnit: "kg"})
	f.AddEntity(Entity{ID: 301, Number: "V-MILL", Name: "Mill Co"})
	f.Put(Txn{ID: 4001, Number: "PO-77", Type: "PurchOrd", Modified: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)})
	utc := func(s string) time.Time { return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(mustDuration(s)) }
	f.Put(receipt(8001, utc("8h40m"))) // 01:40 PDT
	cfg := parse(t, rawConfig(f))
	c := netsuite.New()
	first, pos := readAll(t, c, cfg, nil, 10)
	if got := ids(first); !slices.Equal(got, []string{receiptID(8001)}) {
		t.Fatalf("first sync: %v", got)
	}
	f.Put(receipt(8002, utc("9h20m"))) // 01:20 PST, an instant after 8001
	f.Put(receipt(8003, utc("8h50m"))) // 01:50 PDT, committed late
	f.Put(receipt(8004, utc("9h50m"))) // 01:50 PST
	second, pos := readAll(t, c, cfg, pos, 10)
	want := []string{receiptID(8002), receiptID(8003), receiptID(8004)}
	if got := ids(second); !slices.Equal(got, want) {
		t.Fatalf("second sync read %v, want %v", got, want)
	}
	if third, _ := readAll(t, c, cfg, pos, 10); len(third) != 0 {
		t.Fatalf("third sync read %v, want nothing", ids(third))
	}
}

func mustDuration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

// A first sync larger than the 100,000 rows SuiteQL returns for one query
// finishes, page by page, each page resumable by a new connector.
func TestFirstSyncPastTheOffsetLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 100,500 records")
	}
	const n = 100_500
	f := newAccount(t)
	f.AddLocation(locMain, "Main Warehouse")
	f.AddItem(Item{ID: 11, Name: "FLOUR", BaseUnit: "kg"})
	f.AddEntity(Entity{ID: 301, Number: "V-MILL", Name: "Mill Co"})
	start := at(f.Loc, "2025-01-01 00:00:00")
	for i := range n {
		// Three receipts per second: page boundaries fall inside a second.
		f.Put(receipt(100000+i, start.Add(time.Duration(i/3)*time.Second)))
	}
	cfg := parse(t, rawConfig(f))
	seen := make(map[string]bool, n)
	var pos sdk.Position
	var biggest int
	began := time.Now()
	for calls := 0; ; calls++ {
		// A new connector each time: the position is all that survives.
		res, err := netsuite.New().Read(t.Context(), cfg, pos, 1000)
		if err != nil {
			t.Fatalf("Read after %d records: %v", len(seen), err)
		}
		for _, r := range res.Records {
			if seen[r.ID] {
				t.Fatalf("record %s read twice", r.ID)
			}
			seen[r.ID] = true
		}
		pos = res.Next
		biggest = max(biggest, len(pos))
		if !res.More {
			break
		}
	}
	elapsed := time.Since(began)
	if len(seen) != n {
		t.Fatalf("read %d records, want %d", len(seen), n)
	}
	queries, _, maxOffset := f.Stats()
	if maxOffset != 0 {
		t.Errorf("paged with offset %d, want keyset pages at offset 0", maxOffset)
	}
	var p struct{ Tx struct{ Seen []string } }
	json.Unmarshal(pos, &p)
	t.Logf("%d records in %d queries, %v: %.0f records/s against the fake; largest position %d bytes (%d rows remembered for the overlap)",
		n, queries, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), biggest, len(p.Tx.Seen))
}

// BenchmarkRead measures a full read of 10,000 records against the fake
// account (which runs every query over all of them), in pages of 1,000.
func BenchmarkRead(b *testing.B) {
	const n = 10_000
	f := newAccount(b)
	f.AddLocation(locMain, "Main Warehouse")
	f.AddItem(Item{ID: 11, Name: "FLOUR", BaseUnit: "kg"})
	f.AddEntity(Entity{ID: 301, Number: "V-MILL", Name: "Mill Co"})
	start := at(f.Loc, "2025-01-01 00:00:00")
	for i := range n {
		f.Put(receipt(100000+i, start.Add(time.Duration(i/3)*time.Second)))
	}
	cfg := parse(b, with(rawConfig(f), "deleted", "false"))
	c := netsuite.New()
	b.ResetTimer()
	for b.Loop() {
		if recs, _ := readAll(b, c, cfg, nil, 1000); len(recs) != n {
			b.Fatalf("read %d records, want %d", len(recs), n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
