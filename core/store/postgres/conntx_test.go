package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/postgres"
)

// TestIngestHeldWrites: the audit entries an ingest transaction appends
// are sent with its next statement or its COMMIT; they are stored with
// the transaction or not at all, and a second entry chains after the
// first.
func TestIngestHeldWrites(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries int
		fail    bool // a held statement fails at the commit
		want    int  // audit entries stored (the genesis entry included)
	}{
		{name: "OneEntry", entries: 1, want: 2},
		{name: "TwoEntriesChain", entries: 2, want: 3},
		{name: "FailedCommitStoresNothing", entries: 1, fail: true, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			url := NewDatabase(t)
			db := open(t, url)
			err := db.Ingest(ctx, func(tx core.IngestTx) error {
				for i := range tc.entries {
					if _, err := tx.Audit(ctx, core.AuditEntry{Actor: core.SystemActor, Action: core.AuditIngest, Object: "test:" + string(rune('a'+i))}); err != nil {
						return err
					}
				}
				if tc.fail {
					postgres.Hold(tx, "a held insert", `INSERT INTO orders (ord) VALUES (NULL)`)
				}
				return nil
			})
			if tc.fail {
				if err == nil || !strings.Contains(err.Error(), "a held insert") {
					t.Fatalf("Ingest with a failing held statement: err = %v, want it named", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			conn := connect(t, url)
			var n, headSeq int64
			var broken int
			if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM audit_log), (SELECT seq FROM audit_head),
				(SELECT count(*) FROM audit_log a JOIN audit_log b ON b.seq = a.seq + 1 WHERE b.prev_hash <> a.hash)`).Scan(&n, &headSeq, &broken); err != nil {
				t.Fatal(err)
			}
			if n != int64(tc.want) || headSeq != int64(tc.want) || broken != 0 {
				t.Errorf("audit log: %d entries, head at %d, %d broken links; want %d, %d, 0", n, headSeq, broken, tc.want, tc.want)
			}
			// The connection went back to the pool usable: another
			// transaction runs.
			if err := db.Ingest(ctx, func(tx core.IngestTx) error {
				_, err := tx.Audit(ctx, core.AuditEntry{Actor: core.SystemActor, Action: core.AuditIngest, Object: "test:after"})
				return err
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
