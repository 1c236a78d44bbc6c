package sdktest

import (
	"context"
	"testing"

	"github.com/lothub/lothub/sdk"
)

// maxReads bounds ReadAll: a connector that keeps reporting More after
// this many calls is broken.
const maxReads = 1_000_000

// ReadAll reads c from pos to the end in batches of max, as the hub does,
// and returns every record and the last position. It fails the test on an
// error or a Read that never stops reporting More.
func ReadAll(t testing.TB, c sdk.Connector, cfg sdk.Config, pos sdk.Position, max int) ([]sdk.Record, sdk.Position) {
	t.Helper()
	var all []sdk.Record
	for calls := 0; ; calls++ {
		if calls > maxReads {
			t.Fatalf("Read still reports More after %d calls", maxReads)
		}
		res, err := c.Read(context.Background(), cfg, pos, max)
		if err != nil {
			t.Fatalf("Read after %d records: %v", len(all), err)
		}
		all = append(all, res.Records...)
		if len(res.Next) > 0 {
			pos = res.Next
		}
		if !res.More {
			return all, pos
		}
	}
}

// IDs returns the records' ids, in order.
func IDs(rs []sdk.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}
