package rest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/rest"
	"github.com/lothub/lothub/sdk"
	"github.com/lothub/lothub/sdk/sdktest"
)

func newConnector() sdk.Connector { return rest.New() }

func TestOracleConformance(t *testing.T) {
	f := newFakeOracle(t, oracleData(23))
	bad := f.config()
	bad["base_url"] = "http://127.0.0.1:1"
	sdktest.Run(t, sdktest.Harness{
		New:         newConnector,
		Config:      f.config("page_size", "5"),
		BadEndpoint: bad,
		Expect:      23,
	})
}

// readAll reads to the end from pos, in batches of n.
func readAll(t *testing.T, c sdk.Connector, cfg sdk.Config, pos sdk.Position, n int) ([]sdk.Record, sdk.Position) {
	t.Helper()
	return sdktest.ReadAll(t, c, cfg, pos, n)
}

// Paging across pages, one 429 mid-run, a record modified inside the
// overlap window, a record unchanged in it, and a time-zone boundary.
func TestOracleIncremental(t *testing.T) {
	data := oracleData(12) // 4 pages of 3
	f := newFakeOracle(t, data)
	c := rest.New()
	cfg := mustConfig(t, c, f.config("page_size", "3"))

	// The 429 on the third page: the records of the first two are handed
	// over with a position after them, then the read fails with the
	// Retry-After delay, and resuming loses and repeats nothing.
	f.fail429 = 6
	res, err := c.Read(context.Background(), cfg, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 6 || !res.More {
		t.Fatalf("before the 429: %d records, more %v; want 6, true", len(res.Records), res.More)
	}
	f.fail429 = 6 // the limit still holds when the hub reads on
	_, err = c.Read(context.Background(), cfg, res.Next, 100)
	if d, ok := sdk.RetryDelay(err); !ok || d != 7*time.Second {
		t.Fatalf("429: err %v, delay %v; want a retry after 7s", err, d)
	}
	rest2, pos := readAll(t, c, cfg, res.Next, 100)
	first := append(res.Records, rest2...)
	if len(first) != 12 {
		t.Fatalf("first sync: %d records (%s), want 12", len(first), ids(first))
	}

	// Nothing changed: nothing read, position as it was.
	again, pos2 := readAll(t, c, cfg, pos, 100)
	if len(again) != 0 || string(pos2) != string(pos) {
		t.Fatalf("second sync read %s", ids(again))
	}

	// Transaction 300100010 is corrected five minutes later (inside the
	// overlap: its old LastUpdateDate is re-read too), and a new one is
	// stamped in a +01:00 offset one second after the last UTC one: it
	// sorts after it, and is not lost across the time-zone boundary.
	last := data[len(data)-1].Updated
	data[10].Updated = last.Add(5 * time.Minute)
	data[10].Qty = 30
	cet := time.FixedZone("CET", 3600)
	data = append(data, oracleTxn{ID: 300100099, Type: "Work Order Issue", SourceType: "Job or Schedule",
		Date: last.Add(6 * time.Minute).In(cet), Updated: last.Add(6 * time.Minute).In(cet),
		Item: "SUGAR", Qty: 2, UOM: "KG", Source: "WO-1001",
		Lots: []map[string]any{{"LotNumber": "S-1", "TransactionQuantity": 2}}})
	f.set(data)
	third, _ := readAll(t, c, cfg, pos, 100)
	if got, want := ids(third), "inventoryCompletedTransactions:300100010 inventoryCompletedTransactions:300100099"; got != want {
		t.Fatalf("third sync read %s, want %s", got, want)
	}
	if !third[1].Time.Equal(last.Add(6 * time.Minute)) {
		t.Errorf("time %v, want %v", third[1].Time, last.Add(6*time.Minute))
	}
}

// An HTML page instead of JSON fails the read naming the URL, the status
// and the content type; nothing is handed over.
func TestOracleHTMLAnswer(t *testing.T) {
	f := newFakeOracle(t, oracleData(5))
	f.html = true
	c := rest.New()
	cfg := mustConfig(t, c, f.config())
	res, err := c.Read(context.Background(), cfg, nil, 10)
	if err == nil {
		t.Fatalf("read %d records from an HTML page", len(res.Records))
	}
	for _, want := range []string{f.URL + "/fscmRestApi/", "200 OK", "text/html", "not JSON"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, retry := sdk.RetryDelay(err); retry {
		t.Error("an HTML page is not worth retrying")
	}
	if strings.Contains(err.Error(), oraclePass) {
		t.Error("the password leaked")
	}
}

// A wrong password is refused with a message naming what to check, and
// without the password.
func TestOracleWrongPassword(t *testing.T) {
	f := newFakeOracle(t, oracleData(1))
	c := rest.New()
	cfg := mustConfig(t, c, f.config("password", "wrong-password-123"))
	err := c.Check(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "refused the credentials") || strings.Contains(err.Error(), "wrong-password-123") {
		t.Fatalf("err = %v", err)
	}
}

// Records without their key, or without the records path on the page:
// the first becomes a bad-record (quarantined by the hub) naming the page
// and the index; the second fails the read.
func TestOracleBadRecords(t *testing.T) {
	data := oracleData(3)
	f := newFakeOracle(t, data)
	c := rest.New()
	cfg := mustConfig(t, c, f.config())
	f.dropKey = data[1].ID
	recs, _ := readAll(t, c, cfg, nil, 10)
	var bad []sdk.Record
	for _, r := range recs {
		if r.Kind == rest.KindBadRecord {
			bad = append(bad, r)
		}
	}
	if len(recs) != 3 || len(bad) != 1 {
		t.Fatalf("records %s", ids(recs))
	}
	for _, want := range []string{`"index":1`, `"page":"` + f.URL, "has no TransactionId"} {
		if !strings.Contains(string(bad[0].Payload), want) {
			t.Errorf("bad record %s lacks %s", bad[0].Payload, want)
		}
	}
}

func TestInvalidPosition(t *testing.T) {
	f := newFakeOracle(t, nil)
	c := rest.New()
	cfg := mustConfig(t, c, f.config())
	_, err := c.Read(context.Background(), cfg, sdk.Position(`{"v":1,"profile":"epicor-kinetic"}`), 1)
	if !errors.Is(err, sdk.ErrInvalidPosition) {
		t.Fatalf("err = %v", err)
	}
}
