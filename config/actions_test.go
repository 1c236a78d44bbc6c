package config_test

import (
	"strings"
	"testing"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
)

const actionBase = `connectors:
  - name: sap-prod
    plugin: sap
    mapping: sap.yaml
    config: {base_url: "https://s4.example.com/sap/opu/odata/sap/API_MATERIAL_DOCUMENT_SRV"}
scan_points:
  - name: DOCK-1
    makes: receive
actions:
`

func TestActionOK(t *testing.T) {
	t.Setenv("LOTHUB_TEST_SAP_WRITE", "pw")
	h, err := config.Parse("hub.yaml", []byte(actionBase+`  - name: sap-gr
    kind: sap_goods_receipt
    connector: sap-prod
    trigger: {event: receive, source: "scan:DOCK-1"}
    credentials: {user: LH_WRITER, password: "${env:LOTHUB_TEST_SAP_WRITE}"}
    fields:
      material: lot.item
      plant: "'1010'"
      storage_location: upper(location)
      batch: lot.lot
      quantity: qty
      unit: uom
      purchase_order: po
      purchase_order_item: 10
`))
	if err != nil {
		t.Fatal(err)
	}
	a := h.Actions[0]
	if a.Enabled {
		t.Error("an action is enabled without enabled: true")
	}
	if a.Credential("password") != "pw" || a.Credential("user") != "LH_WRITER" {
		t.Error("write credentials not read")
	}
	ev := &core.Event{ID: "e1", Type: core.Receive, Time: "2026-03-01T08:00:00Z", Lot: &core.LotRef{Item: "MAT-1", Lot: "B-1"}, Location: "a1", PO: "45"}
	got, err := a.Payload(ev)
	if err != nil {
		t.Fatal(err)
	}
	if got["material"] != "MAT-1" || got["plant"] != "1010" || got["storage_location"] != "A1" || got["purchase_order_item"] != 10.0 || got["po"] != nil {
		t.Errorf("payload %v", got)
	}
	if h.Outbox.Lease != config.Duration(300e9) || a.Timeout != config.Duration(30e9) {
		t.Errorf("defaults: lease %v timeout %v", h.Outbox.Lease, a.Timeout)
	}
	for src, want := range map[string]bool{"scan:DOCK-1": true, "scan:DOCK-2": false, "http:t": false} {
		if a.Trigger.MatchSource(src) != want {
			t.Errorf("source %s: match %v", src, !want)
		}
	}
}

func TestActionErrors(t *testing.T) {
	for _, tc := range []struct {
		name, action, want string
	}{
		{"UnknownKind", `  - name: a
    kind: sap_goodsreceipt
    trigger: {event: receive}
`, `hub.yaml:11:11: action "a": unknown kind "sap_goodsreceipt"`},
		{"BadExpression", `  - name: a
    kind: http
    url: https://qms.example.com
    trigger: {event: receive}
    fields:
      lot: upper(lot.lot
`, `hub.yaml:15:`},
		{"UnknownFunction", `  - name: a
    kind: http
    url: https://qms.example.com
    trigger: {event: receive}
    fields:
      lot: uper(lot.lot)
`, `hub.yaml:15:12: action "a": unknown function uper (did you mean upper?)`},
		{"LiteralSecret", `  - name: a
    kind: http
    url: https://qms.example.com
    trigger: {event: receive}
    credentials: {token: abc123}
`, `hub.yaml:14:26: token looks like a secret written in the file`},
		{"MissingWriteCredential", `  - name: a
    kind: sap_goods_receipt
    connector: sap-prod
    trigger: {event: receive}
    fields: {material: x, plant: x, storage_location: x, batch: x, quantity: x, unit: x, purchase_order: x, purchase_order_item: x}
`, `needs the write credential user`},
		{"MissingField", `  - name: a
    kind: sap_goods_receipt
    connector: sap-prod
    trigger: {event: receive}
    credentials: {user: u, password: "${env:HOME}"}
`, `needs the field material`},
		{"UnknownScanPoint", `  - name: a
    kind: http
    url: https://x
    trigger: {event: receive, source: "scan:DOCK-9"}
`, `hub.yaml:13:39: action "a": no scan point "DOCK-9" in scan_points`},
		{"WrongConnectorPlugin", `  - name: a
    kind: netsuite_item_receipt
    connector: sap-prod
    trigger: {event: receive}
    credentials: {token: "${env:HOME}"}
    fields: {purchase_order_id: x, order_line: x, lot: x, quantity: x}
`, `writes to a netsuite system, and connector "sap-prod" is sap`},
		{"BadEvent", `  - name: a
    kind: http
    url: https://x
    trigger: {event: recieve}
`, `event "recieve" is not an event type`},
		{"LeaseShorterThanTimeout", `  - name: a
    kind: http
    url: https://x
    timeout: 10m
    trigger: {event: receive}
outbox: {lease: 1m}
`, `outbox lease 1m0s must be longer than action "a"'s timeout 10m0s`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("hub.yaml", []byte(actionBase+tc.action))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant it to contain %q", err, tc.want)
			}
			if core.ErrorCode(err) != core.EINVALID {
				t.Errorf("code %s", core.ErrorCode(err))
			}
		})
	}
}
