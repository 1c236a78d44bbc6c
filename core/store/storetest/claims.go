package storetest

import (
	"fmt"
	"os"
	"strings"

	"github.com/lothub/lothub/core"
)

// Cases for claims (issue 21, replicas): a store shared by several hub
// processes gives each named claim to one holder at a time, says who holds
// it, and frees it on Release. The claim of a process that dies is freed
// with it: cmd/hub's TestReplicas kills real processes for that.

func init() {
	cases = append(cases, testCase{"ClaimsAreExclusive", func(h *harness) {
		cl, ok := h.s.(core.Claimer)
		if !ok {
			h.t.Fatalf("%T hands out no claims: hub serve cannot keep two processes from running one sync", h.s)
		}
		a, err := cl.Claim(h.ctx, "sync sap-prod")
		if err != nil {
			h.t.Fatalf("first claim: %v", err)
		}
		// Another holder (a claim is per session or open file, so a
		// second claim in this process stands for another process).
		_, err = cl.Claim(h.ctx, "sync sap-prod")
		if core.ErrorCode(err) != core.ECONFLICT {
			h.t.Fatalf("a second claim of a held name: %v, want a conflict", err)
		}
		if me := fmt.Sprintf("lothub pid %d", os.Getpid()); !strings.Contains(err.Error(), me) {
			h.t.Errorf("the conflict does not name the holder (%q): %v", me, err)
		}
		if !strings.Contains(a.Holder(), fmt.Sprintf("pid %d", os.Getpid())) {
			h.t.Errorf("Holder() = %q, want this process", a.Holder())
		}
		// Names are independent.
		b, err := cl.Claim(h.ctx, "sync netsuite")
		if err != nil {
			h.t.Fatalf("a claim of another name while the first is held: %v", err)
		}
		defer b.Release()
		select {
		case <-a.Lost():
			h.t.Fatal("a held claim reports itself lost")
		default:
		}
		// Inside a batch's transaction, the holder can check it still
		// holds its claim (stores whose claims can be lost).
		fenced := false
		err = h.s.Ingest(h.ctx, func(tx core.IngestTx) error {
			f, ok := tx.(core.ClaimFence)
			if !ok {
				return nil
			}
			fenced = true
			return f.CheckClaim(h.ctx, a)
		})
		if err != nil {
			h.t.Fatalf("check a held claim in a transaction: %v", err)
		}
		a.Release()
		a.Release() // twice is harmless
		if fenced {
			err = h.s.Ingest(h.ctx, func(tx core.IngestTx) error {
				return tx.(core.ClaimFence).CheckClaim(h.ctx, a)
			})
			if core.ErrorCode(err) != core.ECONFLICT {
				h.t.Errorf("check a released claim in a transaction: %v, want a conflict", err)
			}
		}
		c, err := cl.Claim(h.ctx, "sync sap-prod")
		if err != nil {
			h.t.Fatalf("claim after release: %v", err)
		}
		c.Release()
	}})
}
