package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/lothub/lothub/core"
)

func TestAuditLog(t *testing.T) {
	e := newEnv(t)
	if code, b := e.do(t, "POST", "/v1/events", token, []byte(events), nil); code != http.StatusMultiStatus { // one line is quarantined
		t.Fatalf("POST events: %d %s", code, b)
	}
	hold := []byte(`{"item":"FLOUR","lot":"F-A","reason":"supplier recall","by":"ann"}`)
	if code, b := e.do(t, "POST", "/v1/holds", token, hold, nil); code != http.StatusOK {
		t.Fatalf("POST hold: %d %s", code, b)
	}
	if code, _ := e.do(t, "GET", "/v1/audit", "", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/audit without a token: %d, want 401", code)
	}
	get := func(query string) core.AuditPage {
		t.Helper()
		code, b := e.do(t, "GET", "/v1/audit"+query, token, nil, nil)
		if code != http.StatusOK {
			t.Fatalf("GET /v1/audit%s: %d %s", query, code, b)
		}
		var p core.AuditPage
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		return p
	}
	p := get("?lot=FLOUR/F-A")
	if len(p.Entries) != 2 || p.Entries[0].Action != core.AuditHoldPlaced || p.Entries[1].Action != core.AuditIngest {
		t.Fatalf("the lot's entries: %+v", p.Entries)
	}
	for _, en := range p.Entries {
		if en.Actor != (core.Actor{Kind: "token", Name: "line-1", Role: core.RoleAdmin}) {
			t.Errorf("entry %d (%s) actor %+v, want the request's token line-1 (an intake token acts as admin)", en.Seq, en.Action, en.Actor)
		}
	}
	if p.Entries[0].Reason != "supplier recall" {
		t.Errorf("hold reason %q", p.Entries[0].Reason)
	}
	// Pages, newest first, until next_before is 0. The gap rules the
	// posts set off append entries in the background: let them finish
	// first, so the pages and the whole list see the same trail.
	<-e.srv.EvaluateGaps("settle before paging")
	var seqs []int64
	for before := int64(-1); before != 0; {
		q := "?limit=1"
		if before > 0 {
			q += fmt.Sprintf("&before=%d", before)
		}
		pg := get(q)
		for _, en := range pg.Entries {
			seqs = append(seqs, en.Seq)
		}
		before = pg.Next
	}
	all := get("?limit=1000")
	if len(seqs) != len(all.Entries) || seqs[0] != all.Entries[0].Seq || seqs[len(seqs)-1] != 1 {
		t.Errorf("paged seqs %v, want all %d entries down to 1", seqs, len(all.Entries))
	}
	if n := len(get("?action=hold.").Entries); n != 1 {
		t.Errorf("action=hold.: %d entries, want 1", n)
	}
	for _, q := range []string{"?lot=FLOUR", "?limit=0", "?from=yesterday", "?before=x"} {
		if code, _ := e.do(t, "GET", "/v1/audit"+q, token, nil, nil); code != http.StatusBadRequest {
			t.Errorf("GET /v1/audit%s: %d, want 400", q, code)
		}
	}
	if code, _ := e.do(t, "GET", "/v1/audit?lot=NO/SUCH", token, nil, nil); code != http.StatusNotFound {
		t.Errorf("an unknown lot: %d, want 404", code)
	}
}

// A webhook's batch is recorded under its connector.
func TestWebhookAudited(t *testing.T) {
	e := newEnv(t)
	scan := []byte(`{"scan_id":"W1","time":"2026-03-05T08:00:00Z","station":"MIX-1","order":"WO-7","direction":"IN","item":"SUGAR","lot":"SG-1","qty":5,"uom":"KG"}`)
	if code, body := e.do(t, "POST", "/v1/webhooks/mes", "", scan, map[string]string{"X-Lothub-Signature": sign(scan)}); code != http.StatusAccepted {
		t.Fatalf("signed webhook: %d %s", code, body)
	}
	es, err := e.store.AuditLog(context.Background(), core.AuditFilter{Action: core.AuditIngest})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Actor != core.ConnectorActor("mes") || es[0].Object != "source:mes" || es[0].Events == nil || es[0].Events.Count != 1 {
		t.Fatalf("webhook batch entries = %+v, want one by connector:mes with its event", es)
	}
}
