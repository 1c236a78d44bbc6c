package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/rest"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/sdk"
)

const fusionTestPassword = "fusion-pass-for-connector-test"

// fusionFake serves inventoryCompletedTransactions as Fusion's REST
// framework does (basic authentication, limit/offset, items, hasMore:
// https://docs.oracle.com/en/cloud/saas/supply-chain-and-manufacturing/25c/fasrp/op-inventorycompletedtransactions-get.html):
// a receipt of a lot, a receipt of an item without lot control, an issue
// whose quantity is not a number, a completion.
func fusionFake(t *testing.T) *httptest.Server {
	txn := func(id int, typ, item string, lots ...map[string]any) map[string]any {
		if lots == nil {
			lots = []map[string]any{}
		}
		at := time.Date(2026, 3, 14, 8, id, 0, 0, time.UTC).Format("2006-01-02T15:04:05-07:00")
		return map[string]any{"TransactionId": 300100000 + id, "TransactionTypeName": typ, "TransactionDate": at,
			"LastUpdateDate": at, "OrganizationCode": "M1", "ItemNumber": item, "SubinventoryCode": "STORES",
			"TransactionQuantity": 25, "TransactionUnitOfMeasure": "KG", "SourceReference": "WO-1", "SupplierName": "Mill Co",
			"CustomerName": nil, "lots": lots}
	}
	items := []map[string]any{
		txn(0, "Purchase Order Receipt", "FLOUR", map[string]any{"LotNumber": "L-0", "TransactionQuantity": 25}),
		txn(1, "Purchase Order Receipt", "SALT"),
		txn(2, "Work Order Issue", "FLOUR", map[string]any{"LotNumber": "L-0", "TransactionQuantity": "n/a"}),
		txn(3, "Work Order Completion", "BREAD", map[string]any{"LotNumber": "B-1", "TransactionQuantity": 10}),
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "lothub.integration" || p != fusionTestPassword {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		end := min(offset+limit, len(items))
		w.Header().Set("Content-Type", "application/vnd.oracle.adf.resourcecollection+json")
		json.NewEncoder(w).Encode(map[string]any{"items": items[min(offset, end):end], "count": end - min(offset, end),
			"hasMore": end < len(items), "limit": limit, "offset": offset})
	}))
	t.Cleanup(s.Close)
	return s
}

// connectorTestHub writes a hub.yaml with one rest connector, fusion,
// reading the fake with the Oracle default mapping, 3 records a read.
func connectorTestHub(t *testing.T) (db, cfg string) {
	dir := t.TempDir()
	s := fusionFake(t)
	t.Setenv("LOTHUB_TEST_FUSION_PASSWORD", fusionTestPassword)
	m, _ := filepath.Abs("../../connectors/rest/profiles/oracle-fusion-scm.mapping.yaml")
	cfg = filepath.Join(dir, "hub.yaml")
	yaml := fmt.Sprintf(`connectors:
  - name: fusion
    plugin: rest
    mapping: %s
    batch_size: 3
    config:
      profile: oracle-fusion-scm
      base_url: %s
      username: lothub.integration
      password: ${env:LOTHUB_TEST_FUSION_PASSWORD}
`, m, s.URL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "hub.db"), cfg
}

func TestConnectorTest(t *testing.T) {
	db, cfg := connectorTestHub(t)

	out, errs, code := hub(t, db, "", "--config", cfg, "connector", "test", "fusion", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got connectorTry
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var outcomes []string
	for _, r := range got.Records {
		outcomes = append(outcomes, r.ID+" "+r.Outcome)
	}
	want := []string{
		"inventoryCompletedTransactions:300100000 events",
		"inventoryCompletedTransactions:300100001 skipped",
		"inventoryCompletedTransactions:300100002 quarantined",
	}
	if strings.Join(outcomes, "\n") != strings.Join(want, "\n") || !got.More || got.From != "start" {
		t.Fatalf("from %s, more %v, records:\n%s", got.From, got.More, strings.Join(outcomes, "\n"))
	}
	if e := got.Records[0].Events; len(e) != 1 || e[0].Type != core.Receive || e[0].Lot.Lot != "L-0" {
		t.Errorf("events of the receipt: %+v", e)
	}
	var raw map[string]any
	if json.Unmarshal(got.Records[0].Payload, &raw) != nil || raw["TransactionId"] != 300100000.0 {
		t.Errorf("raw record not printed: %s", got.Records[0].Payload)
	}
	if s := got.Records[1].Skip; s == nil || s.Rule != "not lot controlled" {
		t.Errorf("skip %+v", s)
	}
	if !strings.Contains(got.Records[2].Error, "n/a") {
		t.Errorf("quarantine reason %q", got.Records[2].Error)
	}

	text, _, code := hub(t, db, "", "--config", cfg, "connector", "test", "fusion")
	for _, want := range []string{"one read from the beginning: 3 records", "→ receive {", `skipped by rule "not lot controlled"`,
		"would be quarantined:", "nothing was written"} {
		if code != 0 || !strings.Contains(text, want) {
			t.Errorf("text output (exit %d) lacks %q:\n%s", code, want, text)
		}
	}
	if strings.Contains(out+text, fusionTestPassword) {
		t.Error("the password is in the output")
	}

	// Nothing was committed: no run, no position, no lot.
	assertUntouched(t, db, cfg)
}

// With a stored position the test reads on from it; --from-start reads
// from the beginning; the position stays as it was.
func TestConnectorTestFromPosition(t *testing.T) {
	db, cfg := connectorTestHub(t)
	ctx := context.Background()
	url := ""
	for _, l := range strings.Split(mustRead(t, cfg), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "base_url: "); ok {
			url = v
		}
	}
	c := rest.New()
	spec, err := sdk.ParseConfig(c.Spec(), map[string]string{"profile": "oracle-fusion-scm", "base_url": url,
		"username": "lothub.integration", "password": fusionTestPassword})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Read(ctx, spec, nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Ingest(ctx, func(tx core.IngestTx) error {
		return tx.SetCursor(ctx, core.CursorRow{Connector: "fusion", Position: res.Next, Updated: time.Now()})
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	before, _, _ := hub(t, db, "", "cursor", "show", "fusion", "--json")

	first := func(args ...string) (string, string) {
		out, errs, code := hub(t, db, "", append([]string{"--config", cfg, "connector", "test", "fusion", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var got connectorTry
		if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Records) == 0 {
			t.Fatalf("%v\n%s", err, out)
		}
		return got.From, got.Records[0].ID
	}
	if from, id := first(); from != "position" || id != "inventoryCompletedTransactions:300100002" {
		t.Errorf("from the stored position: %s, first record %s", from, id)
	}
	if from, id := first("--from-start"); from != "start" || id != "inventoryCompletedTransactions:300100000" {
		t.Errorf("--from-start: %s, first record %s", from, id)
	}
	if after, _, _ := hub(t, db, "", "cursor", "show", "fusion", "--json"); after != before {
		t.Errorf("the position changed:\n%s\n%s", before, after)
	}
}

func assertUntouched(t *testing.T, db, cfg string) {
	t.Helper()
	var runs struct{ Runs []any }
	if out, errs, code := hub(t, db, "", "runs", "--json"); code != 0 || json.Unmarshal([]byte(out), &runs) != nil || len(runs.Runs) != 0 {
		t.Errorf("runs after a connector test (exit %d): %s%s", code, out, errs)
	}
	if _, _, code := hub(t, db, "", "cursor", "show", "fusion"); code != exitNotFound {
		t.Errorf("cursor show after a connector test: exit %d, want %d (no position)", code, exitNotFound)
	}
	if _, _, code := hub(t, db, "", "lot", "FLOUR", "L-0"); code != exitNotFound {
		t.Errorf("lot FLOUR L-0 after a connector test: exit %d, want %d (no event stored)", code, exitNotFound)
	}
}

func mustRead(t *testing.T, file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
