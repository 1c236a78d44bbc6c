package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/outbox"
)

// The outbox page lists what events set off in the ERP; an integrator
// cancels (with a reason, kept in the audit trail) and retries; quality
// sees no buttons; a viewer's forged post changes nothing.
func TestOutboxPage(t *testing.T) {
	h := emptyHub(t)
	cfg, err := config.Parse("hub.yaml", []byte(`
actions:
  - name: qms-receipt
    enabled: true
    kind: http
    url: http://127.0.0.1:1/receipts
    trigger: {event: receive, source: any}
    fields: {item: lot.item, lot: lot.lot}
`))
	if err != nil {
		t.Fatal(err)
	}
	in := core.Ingester{Store: h.Store, Actions: outbox.NewPlanner(cfg)}
	if _, err := in.IngestJSONL(context.Background(), strings.NewReader(
		`{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"<b>F-A</b>"},"qty":100,"uom":"KG","supplier":{"id":"V","name":"V Co"}}`), "dock.jsonl"); err != nil {
		t.Fatal(err)
	}
	as, err := h.Store.Outbox(context.Background(), core.OutboxFilter{})
	if err != nil || len(as) != 1 {
		t.Fatalf("outbox after the receipt: %v %v", as, err)
	}
	id := strconv.FormatInt(as[0].ID, 10)
	state := func() core.OutboxState {
		a, err := h.Store.Outbox(context.Background(), core.OutboxFilter{ID: as[0].ID})
		if err != nil {
			t.Fatal(err)
		}
		return a[0].State
	}

	st, body := h.as(t, "q:quality").get("/outbox")
	if st != http.StatusOK || !strings.Contains(body, "qms-receipt") || !strings.Contains(body, "<code>r1</code>") {
		t.Fatalf("the outbox page as quality: %d\n%s", st, body)
	}
	if strings.Contains(body, "/outbox/"+id+"/cancel") {
		t.Error("quality is offered the cancel button (integrate only)")
	}
	if st, _, _ := h.as(t, "v:viewer").post("/outbox/"+id+"/cancel", url.Values{"reason": {"x"}}); st != http.StatusForbidden || state() != core.OutboxPending {
		t.Errorf("a viewer's cancel: %d, state %s; want 403 and pending", st, state())
	}

	ig := h.as(t, "i:integrator")
	if _, body := ig.get("/outbox?state=pending"); !strings.Contains(body, `action="/outbox/`+id+`/cancel"`) {
		t.Fatalf("the integrator has no cancel button:\n%s", body)
	}
	st, body, _ = ig.post("/outbox/"+id+"/cancel", url.Values{"reason": {""}})
	if st != http.StatusBadRequest || !strings.Contains(body, "Say why") || state() != core.OutboxPending {
		t.Errorf("cancel without a reason: %d, state %s; want 400 with the error at the field, still pending", st, state())
	}
	st, _, hdr := ig.post("/outbox/"+id+"/cancel", url.Values{"reason": {"entered by hand in the QMS"}})
	if st != http.StatusSeeOther || state() != core.OutboxCancelled {
		t.Fatalf("cancel: %d, state %s; want 303 and cancelled", st, state())
	}
	if _, body := ig.get(hdr.Get("Location")); !strings.Contains(body, "cancelled: it will not be sent") {
		t.Error("the page after the cancel does not say so")
	}
	es, err := h.Store.AuditLog(context.Background(), core.AuditFilter{Action: core.AuditOutboxCancelled})
	if err != nil || len(es) != 1 || es[0].Actor.Name != "i" || es[0].Reason != "entered by hand in the QMS" {
		t.Errorf("the audit trail of the cancel: %+v %v", es, err)
	}
	if st, _, _ := ig.post("/outbox/"+id+"/retry", url.Values{}); st != http.StatusSeeOther || state() != core.OutboxPending {
		t.Errorf("retry: %d, state %s; want 303 and pending", st, state())
	}
	if st, _ := ig.get("/outbox?state=bogus"); st != http.StatusBadRequest {
		t.Errorf("an unknown state: %d, want 400", st)
	}
}
