package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/postgres"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/internal/testpg"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/server"
)

const scanToken = "scanner-secret"

// newScanEnv is a hub with four scan points over a real SQLite store:
// flour (GTIN …4352) is received at the dock and consumed on the line,
// bread (GTIN …4369) is produced at packing and shipped.
func newScanEnv(t *testing.T) *epcisEnv {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return newScanEnvOn(t, s)
}

// newScanEnvOn is newScanEnv over the store s.
func newScanEnvOn(t *testing.T, s core.Store) *epcisEnv {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("LOTHUB_TEST_SCAN_TOKEN", scanToken)
	h, err := config.Parse(filepath.Join(dir, "hub.yaml"), []byte(`intake:
  tokens:
    - name: readers
      token: ${env:LOTHUB_TEST_SCAN_TOKEN}
epcis:
  gtin_items:
    "09506000134352": FLOUR
    "09506000134369": BREAD
    "80614141123458": TAGGED
scan_points:
  - name: DOCK-1
    makes: receive
    site: P1
    location: DOCK
    supplier: {id: V-MILL, name: Mill Co}
  - name: LINE-1
    makes: consume
    site: P1
  - name: PACK-1
    makes: produce
    site: P1
  - name: SHIP-1
    makes: ship
    customer: {id: C-1, name: Corner Shop}
`))
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(s, h, &runner.Plugins{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	t.Cleanup(srv.Close)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &epcisEnv{store: s, url: ts.URL}
}

type scanAnswer struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Refused []struct {
		Index  int    `json:"index"`
		Point  string `json:"point"`
		AI     string `json:"ai"`
		Reason string `json:"reason"`
	} `json:"refused"`
	Result string `json:"result"`
	Event  *struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Lot  struct {
			Item string `json:"item"`
			Lot  string `json:"lot"`
		} `json:"lot"`
		Qty      float64 `json:"qty"`
		UOM      string  `json:"uom"`
		PO       string  `json:"po"`
		Order    string  `json:"order"`
		Delivery string  `json:"delivery"`
	} `json:"event"`
	Stored     int `json:"stored"`
	Duplicates int `json:"duplicates"`
}

func postScan(t *testing.T, e *epcisEnv, body string) (int, scanAnswer, string) {
	t.Helper()
	code, _, b := e.do(t, "POST", "/v1/scans", scanToken, []byte(body))
	var a scanAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("answer %d %s: %v", code, b, err)
	}
	return code, a, string(b)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

type unitBalance struct {
	UOM      string  `json:"uom"`
	Received float64 `json:"received"`
	Produced float64 `json:"produced"`
	Consumed float64 `json:"consumed"`
	Shipped  float64 `json:"shipped"`
	OnHand   float64 `json:"on_hand"`
}

func lotBalance(t *testing.T, e *epcisEnv, item, lot string) unitBalance {
	t.Helper()
	code, _, b := e.do(t, "GET", "/v1/balance/"+item+"/"+lot, scanToken, nil)
	if code != http.StatusOK {
		t.Fatalf("balance %s/%s: %d %s", item, lot, code, b)
	}
	var mb struct {
		Units []unitBalance `json:"units"`
	}
	if err := json.Unmarshal(b, &mb); err != nil || len(mb.Units) != 1 {
		t.Fatalf("balance %s/%s: %s (%v)", item, lot, b, err)
	}
	return mb.Units[0]
}

// TestScanEndToEnd: a scan at each kind of point makes its event, and the
// lots are on hand, consumed, produced from the flour and shipped.
func TestScanEndToEnd(t *testing.T) {
	e := newScanEnv(t)
	steps := []struct {
		name string
		req  map[string]any
		typ  string
		item string
		qty  float64
		uom  string
	}{
		// GS1-128 with symbology identifier, net weight 100.000 kg (3103).
		{"ReceiveElementString", map[string]any{"scan": "]C101095060001343523103100000" + "10F-A", "point": "DOCK-1", "document": "PO-1",
			"time": "2026-03-01T08:00:00Z"}, "receive", "FLOUR", 100, "KG"},
		// Human-readable, no quantity on the label: the request's.
		{"ConsumeHumanReadable", map[string]any{"scan": "(01)09506000134352(10)F-A", "point": "LINE-1", "document": "WO-1",
			"time": "2026-03-02T08:00:00Z", "qty": 40, "uom": "KG", "operator": "ana"}, "consume", "FLOUR", 40, "KG"},
		// Digital Link with a count (30).
		{"ProduceDigitalLink", map[string]any{"scan": "https://id.gs1.org/01/09506000134369/10/B-1?30=40", "point": "PACK-1", "document": "WO-1",
			"time": "2026-03-02T09:00:00Z"}, "produce", "BREAD", 40, "EA"},
		// DataMatrix with FNC1 as GS, count of trade items (37).
		{"ShipDataMatrix", map[string]any{"scan": "]d2\x1d010950600013436910B-1\x1d3710", "point": "SHIP-1", "document": "DEL-9",
			"time": "2026-03-03T10:00:00Z"}, "ship", "BREAD", 10, "EA"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code, a, body := postScan(t, e, mustJSON(st.req))
			if code != http.StatusCreated || a.Result != "stored" || a.Event == nil {
				t.Fatalf("%d %s", code, body)
			}
			ev := a.Event
			if ev.Type != st.typ || ev.Lot.Item != st.item || ev.Qty != st.qty || ev.UOM != st.uom || !strings.HasPrefix(ev.ID, "scan:"+st.req["point"].(string)+":") {
				t.Errorf("event %s", body)
			}
		})
	}
	flour := lotBalance(t, e, "FLOUR", "F-A")
	if flour.Received != 100 || flour.Consumed != 40 || flour.OnHand != 60 || flour.UOM != "KG" {
		t.Errorf("FLOUR/F-A: %+v, want received 100, consumed 40, 60 KG on hand", flour)
	}
	bread := lotBalance(t, e, "BREAD", "B-1")
	if bread.Produced != 40 || bread.Shipped != 10 || bread.OnHand != 30 || bread.UOM != "EA" {
		t.Errorf("BREAD/B-1: %+v, want produced 40, shipped 10, 30 EA on hand", bread)
	}
	// The order links the flour to the bread; the recall reaches the customer.
	code, _, b := e.do(t, "GET", "/v1/recall/FLOUR/F-A", scanToken, nil)
	if code != http.StatusOK || !strings.Contains(string(b), `"lot":"B-1"`) || !strings.Contains(string(b), `"C-1"`) {
		t.Errorf("recall FLOUR/F-A: %d %s", code, b)
	}
	code, _, b = e.do(t, "GET", "/v1/lots/FLOUR/F-A", scanToken, nil)
	if code != http.StatusOK || !strings.Contains(string(b), `"V-MILL"`) || !strings.Contains(string(b), `"PO-1"`) {
		t.Errorf("lot FLOUR/F-A: %d %s (want supplier V-MILL, PO-1)", code, b)
	}
}

func TestScanRefused(t *testing.T) {
	e := newScanEnv(t)
	tests := []struct {
		name    string
		body    string
		ai      string
		message string
	}{
		{"WrongCheckDigit", `{"scan": "(01)09506000134353(10)X-1(37)5", "point": "DOCK-1", "document": "PO-1"}`,
			"01", "scan refused: AI (01): GTIN 09506000134353 has a wrong check digit"},
		{"UnknownPoint", `{"scan": "(01)09506000134352(10)X-1(37)5", "point": "NOPE", "document": "PO-1"}`,
			"", `scan refused: unknown scan point "NOPE"`},
		{"NoQuantity", `{"scan": "(01)09506000134352(10)X-1", "point": "DOCK-1", "document": "PO-1"}`,
			"", "no quantity: the scan carries none (AI 30, 37 or 310n)"},
		{"NoLot", `{"scan": "(01)09506000134352(37)5", "point": "DOCK-1", "document": "PO-1"}`,
			"10", "AI (10): the scan has no lot number"},
		{"OtherPO", `{"scan": "(01)09506000134352(10)X-1(37)5(400)PO-2", "point": "DOCK-1", "document": "PO-1"}`,
			"400", `AI (400): the label's PO "PO-2" is not the document scanned against, "PO-1"`},
		{"NoDocument", `{"scan": "(01)09506000134352(10)X-1(37)5", "point": "LINE-1"}`,
			"", `no document: send "document", the order the operator scanned against`},
		// An RFID reader's SGTIN-96 (the TDS worked example) names an item
		// and a serial, never a lot.
		{"RFIDWithoutLot", `{"scan": "3074257BF7194E4000001A85", "point": "DOCK-1", "document": "PO-1", "qty": 1, "uom": "EA"}`,
			"", "the RFID tag's EPC urn:epc:id:sgtin:0614141.812345.6789 names the item (GTIN 80614141123458) and serial 6789 but no lot: an SGTIN-96 carries none, and no captured EPCIS event gives this item's lot"},
		{"RFIDNotSGTIN96", `{"scan": "307C257BF7194E4000001A85", "point": "DOCK-1", "document": "PO-1"}`,
			"", "partition 7 does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, a, body := postScan(t, e, tt.body)
			if code != http.StatusBadRequest || a.Error == nil || !strings.HasPrefix(a.Error.Message, tt.message) && !strings.Contains(a.Error.Message, tt.message) {
				t.Fatalf("%d %s\nwant 400 with %q", code, body, tt.message)
			}
			if len(a.Refused) != 1 || a.Refused[0].AI != tt.ai {
				t.Errorf("refused %s, want AI %q", body, tt.ai)
			}
			if tt.name == "UnknownPoint" {
				for _, leak := range []string{"DOCK-1", "LINE-1", "hub.yaml", "scan_points"} {
					if strings.Contains(body, leak) {
						t.Errorf("the answer names %q of the configuration: %s", leak, body)
					}
				}
			}
		})
	}
	// Nothing was stored: no lot X-1 of any item.
	for _, item := range []string{"FLOUR", "09506000134353"} {
		if code, _, b := e.do(t, "GET", "/v1/lots/"+item+"/X-1", scanToken, nil); code != http.StatusNotFound {
			t.Errorf("lot %s/X-1: %d %s, want 404", item, code, b)
		}
	}
	// An array with one bad scan stores none of them.
	code, a, body := postScan(t, e, `[{"scan": "(01)09506000134352(10)X-2(37)5", "point": "DOCK-1", "document": "PO-1"},
	 {"scan": "(01)09506000134353(10)X-2(37)5", "point": "DOCK-1", "document": "PO-1"}]`)
	if code != http.StatusBadRequest || len(a.Refused) != 1 || a.Refused[0].Index != 1 || a.Refused[0].AI != "01" {
		t.Fatalf("array with a bad scan: %d %s", code, body)
	}
	if code, _, b := e.do(t, "GET", "/v1/lots/FLOUR/X-2", scanToken, nil); code != http.StatusNotFound {
		t.Errorf("lot FLOUR/X-2: %d %s, want 404 (nothing stored)", code, b)
	}
	// A token is needed.
	if code, _, _ := e.do(t, "POST", "/v1/scans", "", []byte(`{}`)); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
}

// TestScanRetriedOnce: the same scan posted again, even read another way
// (human-readable instead of the element string), is one event.
func TestScanRetriedOnce(t *testing.T) {
	e := newScanEnv(t)
	first := `{"scan": "]C1010950600013435237100\u001d10F-B", "point": "DOCK-1", "document": "PO-7", "time": "2026-03-01T08:00:00Z"}`
	code, a, body := postScan(t, e, first)
	if code != http.StatusCreated || a.Result != "stored" {
		t.Fatalf("first: %d %s", code, body)
	}
	id := a.Event.ID
	for _, again := range []string{first,
		`{"scan": "(01)09506000134352(37)100(10)F-B", "point": "DOCK-1", "document": "PO-7", "time": "2026-03-01T09:00:00+01:00"}`} {
		code, a, body = postScan(t, e, again)
		if code != http.StatusOK || a.Result != "duplicate" || a.Event.ID != id {
			t.Fatalf("again: %d %s, want 200 duplicate of %s", code, body, id)
		}
	}
	if b := lotBalance(t, e, "FLOUR", "F-B"); b.Received != 100 {
		t.Errorf("FLOUR/F-B received %v, want 100 (stored once)", b.Received)
	}
	// An array of two scans is one request, one transaction.
	code, _, raw := e.do(t, "POST", "/v1/scans", scanToken, []byte(`[
	 {"scan": "(01)09506000134352(37)5(10)F-C", "point": "DOCK-1", "document": "PO-8", "time": "2026-03-01T08:00:00Z"},
	 {"scan": "(01)09506000134352(37)6(10)F-C", "point": "DOCK-1", "document": "PO-8", "time": "2026-03-01T08:01:00Z"}]`))
	if code != http.StatusCreated || !strings.Contains(string(raw), `"stored":2`) {
		t.Fatalf("array: %d %s", code, raw)
	}
	if b := lotBalance(t, e, "FLOUR", "F-C"); b.Received != 11 {
		t.Errorf("FLOUR/F-C received %v, want 11", b.Received)
	}
}

// TestScanCounts: lothub_scans_total counts scans by point and result;
// points the configuration lacks share one label.
func TestScanCounts(t *testing.T) {
	e := newScanEnv(t)
	good := `{"scan": "(01)09506000134352(10)L(37)1", "point": "DOCK-1", "document": "PO-1", "time": "2026-03-01T08:00:00Z"}`
	for _, body := range []string{
		good, good, // accepted twice (once stored, once a duplicate)
		`{"scan": "(01)09506000134353(10)L(37)1", "point": "DOCK-1", "document": "PO-1"}`,
		`{"scan": "(01)09506000134352(10)L", "point": "LINE-1", "document": "WO-1"}`,
		`{"scan": "(01)09506000134352(10)L(37)1", "point": "ELSEWHERE", "document": "PO-1"}`,
		`{"scan": "(01)09506000134352(10)L(37)1", "point": "ELSEWHERE-2", "document": "PO-1"}`,
		// a placeholder lot: made into an event, which core quarantines
		`{"scan": "(01)09506000134352(10)N/A(37)1", "point": "LINE-1", "document": "WO-1"}`,
	} {
		e.do(t, "POST", "/v1/scans", scanToken, []byte(body))
	}
	_, _, b := e.do(t, "GET", "/metrics", "", nil)
	for _, want := range []string{
		`lothub_scans_total{point="DOCK-1",result="accepted"} 2`,
		`lothub_scans_total{point="DOCK-1",result="refused"} 1`,
		`lothub_scans_total{point="LINE-1",result="refused"} 1`,
		`lothub_scans_total{point="LINE-1",result="quarantined"} 1`,
		`lothub_scans_total{point="(unknown)",result="refused"} 2`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(b), "ELSEWHERE") {
		t.Error("an unknown point became a label")
	}
}

// TestScanRFIDLot: an RFID tag's SGTIN-96 carries no lot; the lot comes
// from the captured EPCIS events that made the item — its commissioning
// with an ilmd lot number, or a packing that names it with its lot — on
// both stores. Two lots for one item, or none, is a refusal that says what
// to do; declaring the wrong commissioning erroneous resolves it.
func TestScanRFIDLot(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) { testScanRFIDLot(t, newScanEnv(t)) })
	t.Run("PostgreSQL", func(t *testing.T) {
		db, err := postgres.Open(context.Background(), testpg.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		testScanRFIDLot(t, newScanEnvOn(t, db))
	})
}

func testScanRFIDLot(t *testing.T, e *epcisEnv) {
	// The TDS worked example: GTIN 80614141123458, serials 6789 and 6790.
	const tag6789, tag6790, tag6791 = "3074257BF7194E4000001A85", "3074257BF7194E4000001A86", "3074257BF7194E4000001A87"
	capture := func(ev string) {
		t.Helper()
		doc := `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],` + ev[1:]
		if code, _, b := e.do(t, "POST", "/epcis/events", scanToken, []byte(doc)); code != http.StatusCreated {
			t.Fatalf("capture: %d %s", code, b)
		}
	}
	scan := func(tag, tm string) (int, scanAnswer, string) {
		t.Helper()
		return postScan(t, e, mustJSON(map[string]any{"scan": tag, "point": "DOCK-1", "document": "PO-7", "qty": 1, "uom": "EA", "time": tm}))
	}
	// Commissioning of 6789 with its lot in the ilmd (SGTIN URN).
	capture(`{"type":"ObjectEvent","eventID":"urn:uuid:00000000-0000-4000-8000-0000000000c1","eventTime":"2026-03-01T06:00:00Z","eventTimeZoneOffset":"+00:00",
 "action":"ADD","bizStep":"commissioning","epcList":["urn:epc:id:sgtin:0614141.812345.6789"],
 "ilmd":{"cbvmda:lotNumber":"RF-1"}}`)
	// The commissioning itself is the lot's creation (a receive of 1 EA,
	// docs/epcis.md); the scan at the dock receives the item once more.
	before := lotBalance(t, e, "TAGGED", "RF-1")
	code, a, body := scan(tag6789, "2026-03-02T08:00:00Z")
	if code != http.StatusCreated || a.Event == nil || a.Event.Lot.Item != "TAGGED" || a.Event.Lot.Lot != "RF-1" || a.Event.Type != "receive" {
		t.Fatalf("tag 6789: %d %s, want a receive of TAGGED/RF-1", code, body)
	}
	if b := lotBalance(t, e, "TAGGED", "RF-1"); b.Received != before.Received+1 || b.UOM != "EA" {
		t.Errorf("TAGGED/RF-1: %+v after the scan, %+v before, want one more EA received", b, before)
	}
	// The same scan again is the same event.
	if code, a, body := scan(tag6789, "2026-03-02T08:00:00Z"); code != http.StatusOK || a.Result != "duplicate" {
		t.Errorf("tag 6789 again: %d %s, want a duplicate", code, body)
	}

	// 6790: no event gives its lot yet.
	code, a, body = scan(tag6790, "2026-03-02T08:01:00Z")
	if code != http.StatusBadRequest || len(a.Refused) != 1 || !strings.Contains(a.Refused[0].Reason, "no captured EPCIS event gives this item's lot") ||
		!strings.Contains(a.Refused[0].Reason, "capture that commissioning as EPCIS") {
		t.Fatalf("tag 6790 before its packing: %d %s, want a refusal saying what to do", code, body)
	}
	// A packing names 6790 with its lot (a Digital Link with /10/).
	capture(`{"type":"AggregationEvent","eventID":"urn:uuid:00000000-0000-4000-8000-0000000000c2","eventTime":"2026-03-01T07:00:00Z","eventTimeZoneOffset":"+00:00",
 "action":"ADD","bizStep":"packing","parentID":"urn:epc:id:sscc:0614141.1234567890",
 "childEPCs":["https://id.gs1.org/01/80614141123458/10/RF-2/21/6790"]}`)
	code, a, body = scan(tag6790, "2026-03-02T08:01:00Z")
	if code != http.StatusCreated || a.Event == nil || a.Event.Lot.Lot != "RF-2" {
		t.Fatalf("tag 6790 after its packing: %d %s, want lot RF-2", code, body)
	}

	// 6791 commissioned twice with two lots: refused, naming both.
	first := `{"type":"ObjectEvent","eventID":"urn:uuid:00000000-0000-4000-8000-0000000000c3","eventTime":"2026-03-01T06:00:00Z","eventTimeZoneOffset":"+00:00",
 "action":"ADD","bizStep":"commissioning","epcList":["https://id.gs1.org/01/80614141123458/21/6791"],
 "ilmd":{"cbvmda:lotNumber":"RF-3"}}`
	capture(first)
	capture(`{"type":"ObjectEvent","eventID":"urn:uuid:00000000-0000-4000-8000-0000000000c4","eventTime":"2026-03-01T06:30:00Z","eventTimeZoneOffset":"+00:00",
 "action":"ADD","bizStep":"commissioning","epcList":["urn:epc:id:sgtin:0614141.812345.6791"],
 "ilmd":{"cbvmda:lotNumber":"RF-4"}}`)
	code, a, body = scan(tag6791, "2026-03-02T08:02:00Z")
	if code != http.StatusBadRequest || len(a.Refused) != 1 || !strings.Contains(a.Refused[0].Reason, "RF-3 (EPCIS event urn:uuid:00000000-0000-4000-8000-0000000000c3)") ||
		!strings.Contains(a.Refused[0].Reason, "RF-4") || !strings.Contains(a.Refused[0].Reason, "errorDeclaration") {
		t.Fatalf("tag 6791 with two lots: %d %s, want a refusal naming RF-3 and RF-4", code, body)
	}
	// The first commissioning declared erroneous: RF-4 it is.
	capture(strings.Replace(first, `"ilmd"`, `"errorDeclaration":{"declarationTime":"2026-03-01T09:00:00Z","reason":"incorrect_data"},"ilmd"`, 1))
	code, a, body = scan(tag6791, "2026-03-02T08:02:00Z")
	if code != http.StatusCreated || a.Event == nil || a.Event.Lot.Lot != "RF-4" {
		t.Fatalf("tag 6791 after the error declaration: %d %s, want lot RF-4", code, body)
	}
	// Nothing was stored for the refused scans: RF-2 was received by its
	// scan alone (a packing creates nothing), RF-4 by its commissioning
	// and its scan, RF-3 by nothing (its commissioning was reversed).
	for lot, want := range map[string]float64{"RF-2": 1, "RF-4": 2} {
		if b := lotBalance(t, e, "TAGGED", lot); b.Received != want {
			t.Errorf("TAGGED/%s: %+v, want %v received", lot, b, want)
		}
	}
	if b := lotBalance(t, e, "TAGGED", "RF-3"); b.Received != 0 || b.OnHand != 0 {
		t.Errorf("TAGGED/RF-3: %+v, want nothing received, nothing on hand", b)
	}
}
