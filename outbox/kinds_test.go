package outbox_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/lothub/lothub/connectors/filedrop/sftptest"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/internal/erpfake"
)

// dockConfig is hub.yaml with the receiving dock's scan point, the given
// connectors, and one action triggered by scans there.
func dockConfig(connectors, action string) string {
	return `
connectors:
` + connectors + `
scan_points:
  - name: DOCK-1
    makes: receive
    document: po
actions:
  - name: write-back
    enabled: true
    trigger: {event: receive, source: "scan:DOCK-1"}
    timeout: 2s
` + action
}

// lostThenDelivered runs an action whose first answer is lost (the
// document exists, the hub does not know it) and checks that the second
// attempt finds the document instead of creating another: count must be
// 1 at the end.
func lostThenDelivered(t *testing.T, h *harness, count func() int) core.OutboxAction {
	t.Helper()
	h.scan("scan:DOCK-1:1", "MAT-7", "LOT-42", 12)
	h.run()
	a := h.only()
	if a.State != core.OutboxFailed {
		t.Fatalf("after a lost answer: %s %q", a.State, a.LastError)
	}
	h.clk.t = a.NextAt
	st := h.run()
	a = h.only()
	if a.State != core.OutboxDelivered || count() != 1 {
		t.Fatalf("after the second attempt: %s %q %+v, %d documents (want 1)", a.State, a.LastError, st, count())
	}
	return a
}

func TestB1GoodsReceiptPO(t *testing.T) {
	b1 := erpfake.NewB1(t)
	t.Setenv("B1_WRITE", b1.Password)
	h := newHarness(t, dockConfig(`  - name: b1
    plugin: sap
    mapping: b1.yaml
    config: {system: b1, base_url: "`+b1.URL+`", company_db: SBODEMOUS}`, `    kind: b1_goods_receipt_po
    connector: b1
    credentials: {user: lh-writer, password: "${env:B1_WRITE}"}
    fields:
      po_doc_entry: 311
      po_line: 0
      item: lot.item
      batch: lot.lot
      quantity: qty
      supplier_batch: supplier_lot
      warehouse: "'01'"
`))
	b1.Inject(erpfake.Fault{Lost: true})
	a := lostThenDelivered(t, h, func() int { return len(b1.Docs()) })
	d := b1.Docs()[0]
	line := d["DocumentLines"].([]any)[0].(map[string]any)
	batch := line["BatchNumbers"].([]any)[0].(map[string]any)
	got := fmt.Sprint(d["JournalMemo"], " ", line["BaseType"], " ", line["BaseEntry"], " ", line["BaseLine"], " ", line["ItemCode"], " ", line["WarehouseCode"], " ", batch["BatchNumber"], " ", batch["Quantity"], " ", batch["ManufacturerSerialNumber"])
	if want := a.Key + " 22 311 0 MAT-7 01 LOT-42 12 SUP-LOT-42"; got != want {
		t.Errorf("Goods Receipt PO:\n got  %s\n want %s", got, want)
	}
	if a.Document != fmt.Sprint(d["DocNum"]) {
		t.Errorf("document %q, DocNum %v", a.Document, d["DocNum"])
	}
}

func TestNetSuiteItemReceipt(t *testing.T) {
	ns := erpfake.NewNetSuite(t)
	t.Setenv("NS_TOKEN", ns.Token)
	h := newHarness(t, dockConfig(`  - name: ns
    plugin: netsuite
    mapping: ns.yaml
    config: {account_id: "123456", timezone: UTC, base_url: "`+ns.URL+`"}`, `    kind: netsuite_item_receipt
    connector: ns
    credentials: {token: "${env:NS_TOKEN}"}
    fields:
      purchase_order_id: 4711
      order_line: 1
      lot: lot.lot
      quantity: qty
      location: 3
`))
	ns.Inject(erpfake.Fault{Lost: true})
	a := lostThenDelivered(t, h, func() int { return len(ns.Receipts()) })
	rc := ns.Receipts()[0]
	line := rc["item"].(map[string]any)["items"].([]any)[0].(map[string]any)
	asg := line["inventoryDetail"].(map[string]any)["inventoryAssignment"].(map[string]any)["items"].([]any)[0].(map[string]any)
	got := fmt.Sprint(rc["purchaseOrder"], " ", rc["externalId"], " ", line["orderLine"], " ", line["itemReceive"], " ", line["quantity"], " ", asg["receiptInventoryNumber"], " ", asg["quantity"], " ", line["location"])
	if want := "4711 " + a.Key + " 1 true 12 LOT-42 12 map[id:3]"; got != want {
		t.Errorf("item receipt:\n got  %s\n want %s", got, want)
	}
	if a.Document != "IR9001 (id 9001)" {
		t.Errorf("document %q: the read-back names the receipt by tranId", a.Document)
	}
}

func TestBusinessCentralItemJournal(t *testing.T) {
	bc := erpfake.NewBC(t)
	t.Setenv("BC_SECRET", bc.ClientSecret)
	h := newHarness(t, dockConfig(`  - name: bc
    plugin: dynamics
    mapping: bc.yaml
    config: {system: bc, tenant_id: contoso, client_id: reader, base_url: "`+bc.URL+`/v2.0/contoso/production", bc_company_id: "`+bc.Company+`"}`, `    kind: bc_item_journal
    connector: bc
    credentials: {client_id: lh-app, client_secret: "${env:BC_SECRET}", token_url: "`+bc.URL+`/contoso/oauth2/v2.0/token"}
    fields:
      journal: "'LOTHUB'"
      entry_type: "'Purchase'"
      item: lot.item
      lot: lot.lot
      quantity: qty
`))
	bc.Inject(erpfake.Fault{Lost: true}) // the post's answer
	a := lostThenDelivered(t, h, func() int { return len(bc.Entries()) })
	e := bc.Entries()[0]
	if got := fmt.Sprint(e["documentNumber"], " ", e["itemNumber"], " ", e["lotNumber"], " ", e["quantity"]); got != a.Key[:20]+" MAT-7 LOT-42 12" {
		t.Errorf("item ledger entry: %s", got)
	}
	if !strings.HasPrefix(a.Document, a.Key[:20]) {
		t.Errorf("document %q", a.Document)
	}
}

func TestHTTPPostWithIdempotencyKey(t *testing.T) {
	qms := erpfake.NewReceiver(t)
	t.Setenv("QMS_TOKEN", qms.Token)
	h := newHarness(t, dockConfig("  []", `    kind: http
    url: "`+qms.URL+`/api/incoming-inspections"
    credentials: {token: "${env:QMS_TOKEN}"}
    fields:
      material: lot.item
      lot: lot.lot
      quantity: qty
      inspect: true
`))
	qms.Inject(erpfake.Fault{Lost: true})
	a := lostThenDelivered(t, h, func() int { return len(qms.Bodies) })
	if b := qms.Bodies[0]; fmt.Sprint(b["material"], " ", b["lot"], " ", b["quantity"], " ", b["inspect"]) != "MAT-7 LOT-42 12 true" {
		t.Errorf("posted %v", b)
	}
	if a.Document != "NC-1" {
		t.Errorf("document %q: the receiver's id of the first post", a.Document)
	}
}

func TestFileDropDirectoryAndSFTP(t *testing.T) {
	fileAction := func(url, creds string) string {
		return `    kind: file
    url: "` + url + `"
` + creds + `    fields:
      material: lot.item
      lot: lot.lot
      quantity: qty
      po: po
`
	}
	t.Run("directory", func(t *testing.T) {
		out := t.TempDir()
		h := newHarness(t, dockConfig("  []", fileAction(out, "")+"    options: {format: csv}\n"))
		h.scan("scan:DOCK-1:1", "MAT-7", "LOT-42", 12)
		h.run()
		a := h.only()
		b, err := os.ReadFile(filepath.Join(out, a.Key+".csv"))
		if err != nil || a.State != core.OutboxDelivered {
			t.Fatalf("%s %q: %v", a.State, a.LastError, err)
		}
		want := "key,event,lot,material,po,quantity\n" + a.Key + ",scan:DOCK-1:1,LOT-42,MAT-7,4500000001,12\n"
		if string(b) != want {
			t.Errorf("file:\n%s\nwant\n%s", b, want)
		}
		if left, _ := filepath.Glob(filepath.Join(out, "*.tmp")); len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
	t.Run("SFTP", func(t *testing.T) {
		root := t.TempDir()
		os.Mkdir(filepath.Join(root, "outbound"), 0o755)
		srv, err := sftptest.Start(sftptest.Options{Root: root, Password: "sftp-pw"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		t.Setenv("SFTP_PW", "sftp-pw")
		creds := "    credentials: {password: \"${env:SFTP_PW}\"}\n    options: {host_key: \"" + ssh.FingerprintSHA256(srv.HostKey) + "\", done_dir: done}\n"
		h := newHarness(t, dockConfig("  []", fileAction("sftp://"+srv.User+"@"+srv.Addr+"/~/outbound", creds)))
		h.scan("scan:DOCK-1:1", "MAT-7", "LOT-42", 12)
		h.run()
		a := h.only()
		b, err := os.ReadFile(filepath.Join(root, "outbound", a.Key+".json"))
		if err != nil || a.State != core.OutboxDelivered {
			t.Fatalf("%s %q: %v", a.State, a.LastError, err)
		}
		var got map[string]any
		json.Unmarshal(b, &got)
		if fmt.Sprint(got["key"], " ", got["lot"], " ", got["quantity"]) != a.Key+" LOT-42 12" {
			t.Errorf("file %s", b)
		}
		// The importer moved it to done/: a retry of unknown outcome
		// finds it there and writes nothing.
		os.Mkdir(filepath.Join(root, "outbound", "done"), 0o755)
		os.Rename(filepath.Join(root, "outbound", a.Key+".json"), filepath.Join(root, "outbound", "done", a.Key+".json"))
		if err := h.s.RetryOutbox(h.ctx, a.ID, h.clk.t); err != nil {
			if core.ErrorCode(err) != core.ECONFLICT { // delivered: retry refused
				t.Fatal(err)
			}
		}
		if _, err := os.Stat(filepath.Join(root, "outbound", a.Key+".json")); err == nil {
			t.Error("written again")
		}
	})
}
