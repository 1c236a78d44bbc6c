package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/internal/crashtest"
	"github.com/lothub/lothub/internal/erpfake"
	"github.com/lothub/lothub/outbox"
)

// outboxHubConfig writes hub.yaml: an SAP connector on the fake, the
// receiving dock's scan point, and an action that posts every receipt
// scanned there (or, with source file, ingested from a file) as a goods
// receipt with a new batch.
func outboxHubConfig(t *testing.T, dir, sapBase, source string) string {
	t.Helper()
	mapping, _ := filepath.Abs("../../connectors/sap/mapping.yaml")
	cfg := fmt.Sprintf(`connectors:
  - name: sap-prod
    plugin: sap
    mapping: %s
    config:
      system: s4
      base_url: %s
      sap_client: "100"
      user: LH_READER
      password: ${env:LOTHUB_TEST_SAP_READ}
intake:
  listen: 127.0.0.1:0
  tokens:
    - name: dock-scanner
      token: ${env:LOTHUB_TEST_TOKEN}
epcis:
  gtin_items:
    "09506000134352": FLOUR
scan_points:
  - name: DOCK-1
    makes: receive
    document: po
    site: "1010"
    location: "101A"
    supplier: {id: V-MILL, name: Mill Co}
outbox:
  poll: 100ms
  lease: 2s
  retry_delay: 200ms
actions:
  - name: sap-goods-receipt
    enabled: true
    kind: sap_goods_receipt
    connector: sap-prod
    trigger: {event: receive, source: %q}
    timeout: 1s
    credentials:
      user: LH_WRITER
      password: ${env:LOTHUB_TEST_SAP_WRITE}
    fields:
      material: lot.item
      plant: site
      storage_location: location
      batch: lot.lot
      quantity: qty
      unit: uom
      purchase_order: po
      purchase_order_item: 10
`, mapping, sapBase, source)
	path := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOTHUB_TEST_SAP_READ", "read-pw")
	t.Setenv("LOTHUB_TEST_SAP_WRITE", "write-s3cret")
	t.Setenv("LOTHUB_TEST_TOKEN", "dock-token-123")
	return path
}

func outboxList(t *testing.T, h crashtest.Hub) []outbox.View {
	t.Helper()
	var v struct {
		Actions []outbox.View `json:"actions"`
	}
	if err := json.Unmarshal(h.Run(t, "outbox", "list", "--json"), &v); err != nil {
		t.Fatal(err)
	}
	return v.Actions
}

// TestScanAtDockBecomesSAPGoodsReceipt is the whole path: a scan posted
// to hub serve at the receiving dock's scan point becomes a goods
// receipt with a new batch in SAP, listed with its document number.
func TestScanAtDockBecomesSAPGoodsReceipt(t *testing.T) {
	hubBin, _ := buildBinaries(t)
	sap := erpfake.NewS4(t)
	dir := t.TempDir()
	h := crashtest.Hub{Bin: hubBin, DB: filepath.Join(dir, "hub.db"), Config: outboxHubConfig(t, dir, sap.BaseURL(), "scan:DOCK-1")}
	cmd := h.Command("serve")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	base := ""
	for base == "" && sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "hub serving on "); ok {
			base, _, _ = strings.Cut(after, " ")
		}
	}
	if base == "" {
		t.Fatalf("hub serve did not start: %s", stderr.String())
	}
	go io.Copy(io.Discard, stdout)
	body := `{"scan": "(01)09506000134352(10)B-7781(3103)025000", "point": "DOCK-1", "document": "4500000123", "time": "2026-03-02T07:15:00Z", "operator": "jo"}`
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/scans", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer dock-token-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/scans: %s %s", resp.Status, b)
	}
	// The worker delivers it within a few polls.
	var acts []outbox.View
	for i := 0; i < 100; i++ {
		acts = outboxList(t, h)
		if len(acts) == 1 && acts[0].State == core.OutboxDelivered {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	docs := sap.Docs()
	if len(docs) != 1 {
		t.Fatalf("SAP holds %d material documents, want 1; outbox %+v\n%s", len(docs), acts, stderr.String())
	}
	it := docs[0].Items[0]
	if got := fmt.Sprint(it["Material"], " ", it["Batch"], " ", it["QuantityInEntryUnit"], " ", it["EntryUnit"], " ", it["PurchaseOrder"], " ", it["Plant"]); got != "FLOUR B-7781 25 KG 4500000123 1010" {
		t.Errorf("goods receipt item: %s", got)
	}
	if got := sap.Batches(); len(got) != 1 || got[0] != "FLOUR/1010/B-7781" {
		t.Errorf("batches created: %v", got)
	}
	if len(acts) != 1 || acts[0].State != core.OutboxDelivered || acts[0].Document != docs[0].Number+"/2026" || acts[0].Lot.Lot != "B-7781" {
		t.Fatalf("hub outbox list: %+v", acts)
	}
	// The table and the lot view show the document number too.
	if out := string(h.Run(t, "outbox", "list")); !strings.Contains(out, docs[0].Number+"/2026") || !strings.Contains(out, "delivered") {
		t.Errorf("hub outbox list:\n%s", out)
	}
	var lot core.LotStatus
	if err := json.Unmarshal(h.Run(t, "lot", "FLOUR", "B-7781", "--json"), &lot); err != nil {
		t.Fatal(err)
	}
	if len(lot.ERPDocuments) != 1 || lot.ERPDocuments[0].Document != docs[0].Number+"/2026" {
		t.Errorf("hub lot erp_documents: %+v", lot.ERPDocuments)
	}
	// GET /v1/outbox answers the same.
	req, _ = http.NewRequest(http.MethodGet, base+"/v1/outbox?state=delivered", nil)
	req.Header.Set("Authorization", "Bearer dock-token-123")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"document":"`+docs[0].Number+`/2026"`) {
		t.Errorf("GET /v1/outbox: %s %s", resp.Status, b)
	}
}

// receipts writes n receive events as hub ingest --events reads them.
func receipts(t *testing.T, dir string, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"gr-%03d","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"MAT-%d","lot":"B-%03d"},"qty":%d,"uom":"KG","po":"4500000%03d","site":"1010","location":"101A"}`+"\n", i, i%3, i, 10+i, i)
	}
	path := filepath.Join(dir, "receipts.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// exactlyOnce checks that SAP holds one material document per event, and
// that the outbox lists each delivered with that document's number.
func exactlyOnce(t *testing.T, sap *erpfake.S4, acts []outbox.View, n int) {
	t.Helper()
	byKey := map[string][]string{}
	for _, d := range sap.Docs() {
		byKey[d.HeaderText] = append(byKey[d.HeaderText], d.Number+"/"+d.Year)
	}
	if len(acts) != n {
		t.Fatalf("%d outbox actions, want %d", len(acts), n)
	}
	for _, a := range acts {
		docs := byKey[a.Key]
		if len(docs) != 1 {
			t.Errorf("event %s: %d material documents in SAP %v, want exactly 1", a.EventID, len(docs), docs)
			continue
		}
		if a.State != core.OutboxDelivered || a.Document != docs[0] {
			t.Errorf("event %s: outbox says %s %q, SAP has %s", a.EventID, a.State, a.Document, docs[0])
		}
	}
	if len(sap.Docs()) != n {
		t.Errorf("SAP holds %d documents for %d events", len(sap.Docs()), n)
	}
}

// TestOutboxKilledBetweenSendAndCommit kills hub outbox run with SIGKILL
// after SAP has posted the goods movement and before the hub has recorded
// it: the next run finds the document by its header text and does not
// post it again.
func TestOutboxKilledBetweenSendAndCommit(t *testing.T) {
	hubBin, _ := buildBinaries(t)
	for _, st := range crashtest.Stores {
		t.Run(st.Name, func(t *testing.T) {
			sap := erpfake.NewS4(t)
			dir := t.TempDir()
			h := crashtest.Hub{Bin: hubBin, DB: st.DB(t, dir, "hub"), Config: outboxHubConfig(t, dir, sap.BaseURL(), "file")}
			h.Run(t, "ingest", "--events", receipts(t, dir, 1))
			p := h.Start(t, "outbox", "run")
			var once sync.Once
			sap.OnPosted(func(erpfake.S4Doc) { once.Do(func() { p.Cmd.Process.Signal(syscall.SIGKILL) }) })
			select {
			case <-p.Done:
			case <-time.After(30 * time.Second):
				t.Fatal("hub outbox run neither posted nor ended")
			}
			sap.OnPosted(nil)
			if n := len(sap.Docs()); n != 1 {
				t.Fatalf("SAP holds %d documents after the kill, want 1\n%s", n, p.Out.String())
			}
			acts := outboxList(t, h)
			if acts[0].State != core.OutboxDelivering {
				t.Fatalf("after the kill the action is %s, want delivering (claimed, outcome unknown)", acts[0].State)
			}
			// Its claim expires after the lease (2s); then the next run
			// reads back.
			var out []byte
			for i := 0; i < 100; i++ {
				out = h.Run(t, "outbox", "run", "--json")
				if acts = outboxList(t, h); acts[0].State != core.OutboxDelivering {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			var stats outbox.Stats
			json.Unmarshal(out, &stats)
			if stats.Found != 1 {
				t.Errorf("the run after the kill: %s, want 1 found by read-back", out)
			}
			exactlyOnce(t, sap, acts, 1)
			if n := sap.Count("POST " + erpfake.S4Service + "/A_MaterialDocumentHeader"); n != 1 {
				t.Errorf("the goods movement was posted %d times", n)
			}
		})
	}
}

// TestOutboxKilledRandomlyUnderFaults delivers 12 receipts while SAP
// answers 429, 500, too late or loses answers, and the hub is killed
// with SIGKILL at random moments: SAP ends with exactly one document per
// receipt.
func TestOutboxKilledRandomlyUnderFaults(t *testing.T) {
	hubBin, _ := buildBinaries(t)
	sap := erpfake.NewS4(t)
	dir := t.TempDir()
	h := crashtest.Hub{Bin: hubBin, DB: filepath.Join(dir, "hub.db"), Config: outboxHubConfig(t, dir, sap.BaseURL(), "file")}
	const n = 12
	h.Run(t, "ingest", "--events", receipts(t, dir, n))
	sap.Inject(erpfake.Fault{Status: 429, RetryAfter: 1}, erpfake.Fault{Status: 500}, erpfake.Fault{Delay: 1500 * time.Millisecond},
		erpfake.Fault{Lost: true}, erpfake.Fault{Status: 503}, erpfake.Fault{Lost: true}, erpfake.Fault{Delay: 1500 * time.Millisecond})
	rng := crashtest.Rand(t)
	kills := 0
	for round := 0; round < 200; round++ {
		acts := outboxList(t, h)
		done := 0
		for _, a := range acts {
			if a.State == core.OutboxDelivered {
				done++
			}
			if a.State == core.OutboxDead {
				t.Fatalf("action %d dead: %s", a.ID, a.LastError)
			}
		}
		if done == n {
			break
		}
		if kills < crashtest.Kills {
			kills += h.KillRandomly(t, rng, 400*time.Millisecond, "outbox", "run")
		} else {
			h.Run(t, "outbox", "run")
		}
		time.Sleep(200 * time.Millisecond) // retries are due after their backoff or lease
	}
	t.Logf("%d kills", kills)
	exactlyOnce(t, sap, outboxList(t, h), n)
}

// hub action test prints the requests an action would send, secrets
// masked, and sends nothing.
func TestActionDryRun(t *testing.T) {
	sap := erpfake.NewS4(t)
	dir := t.TempDir()
	cfg := outboxHubConfig(t, dir, sap.BaseURL(), "file")
	ev := filepath.Join(dir, "event.json")
	os.WriteFile(ev, []byte(`{"id":"gr-1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"B-9"},"qty":25,"uom":"KG","po":"4500000123","site":"1010","location":"101A"}`), 0o644)
	db := filepath.Join(dir, "hub.db")
	out, errs, code := hub(t, db, "", "--config", cfg, "action", "test", "sap-goods-receipt", "--event", ev)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	key := core.OutboxKey("gr-1", "sap-goods-receipt")
	for _, want := range []string{
		"GET " + sap.URL + "/sap/opu/odata/sap/API_BATCH_SRV/?sap-client=100",
		"X-Csrf-Token: Fetch",
		"GET " + sap.URL + "/sap/opu/odata/sap/API_BATCH_SRV/A_Batch(Material=%27FLOUR%27,BatchIdentifyingPlant=%271010%27,Batch=%27B-9%27)",
		"POST " + sap.URL + "/sap/opu/odata/sap/API_BATCH_SRV/A_Batch?sap-client=100",
		"POST " + sap.BaseURL() + "/A_MaterialDocumentHeader?sap-client=100",
		"Authorization: Basic ****",
		`"MaterialDocumentHeaderText":"` + key + `"`,
		`"to_MaterialDocumentItem":{"results":[{`,
		`"PurchaseOrder":"4500000123"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "write-s3cret") || strings.Contains(out, "TEhfV1JJVEVS") {
		t.Errorf("a secret is shown:\n%s", out)
	}
	if n := len(sap.Requests); n != 0 {
		t.Errorf("the dry run sent %d requests", n)
	}
	// Nothing is stored either.
	if out, _, _ := hub(t, db, "", "outbox", "list", "--json"); !strings.Contains(out, `"actions": []`) {
		t.Errorf("outbox after a dry run: %s", out)
	}
}
