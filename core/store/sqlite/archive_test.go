package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// The archive's supersede update is driven by the batch's keys: each key
// is one index seek on (source, record id). Joined the other way round,
// SQLite scanned every stored row of the source and parsed the keys for
// each, and a 1M-event capture slowed to a crawl as its archive grew.
func TestSupersedeRawSeeksByKey(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+supersedeRaw, `[["erp","R:1","h"]]`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	keys, seek := -1, -1
	for i, d := range plan {
		switch {
		case strings.HasPrefix(d, "SCAN j"):
			keys = i
		case strings.HasPrefix(d, "SEARCH r") && strings.Contains(d, "source=? AND record_id=?"):
			seek = i
		}
	}
	if keys < 0 || seek < 0 || keys > seek {
		t.Fatalf("the supersede update does not read the keys and seek each (source, record id):\n%s", strings.Join(plan, "\n"))
	}
}
