package dynamics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/dynamics"
	"github.com/lothub/lothub/sdk"
)

// TestBusinessCentralWebhooks runs the webhook life cycle against the fake
// BC and a stand-in for the hub's POST /v1/webhooks/dynamics: the sync
// creates the subscription, BC's validation request reaches the connector
// through the hub, notifications with the right clientState become records
// and others are refused, the subscription is renewed before it expires,
// and a lost notification is caught by the scheduled read.
func TestBusinessCentralWebhooks(t *testing.T) {
	f := newFake(t)
	f.put(bcILE, plantBC()...)
	start := time.Now()
	now := start
	f.now = func() time.Time { return now }
	c := &dynamics.Connector{Now: func() time.Time { return now }}
	var cfg sdk.Config
	hooks := newHubHooks(t, c, func() sdk.Config { return cfg })
	cfg = parse(t, bcConfig(f, "bc_webhook_secret", hookSecret, "bc_webhook_url", hooks.url()))

	// The first sync creates the subscription; BC validated it with a
	// handshake through the hub before answering.
	recs, pos := readAll(t, c, cfg, nil, 100)
	if len(recs) != 11 {
		t.Fatalf("first sync read %d records, want 11", len(recs))
	}
	sub := onlySubscription(t, f)
	wantResource := "/api/lothub/traceability/v1.0/companies(" + testCompany + ")/itemLedgerEntries"
	if sub.Resource != wantResource || sub.ClientState != hookSecret {
		t.Fatalf("subscription %+v, want resource %s with the clientState", sub, wantResource)
	}
	if u := subscribedURL(t, f); u.Path != "/v1/webhooks/dynamics" || u.Query().Get("key") == "" {
		t.Fatalf("notification URL %s, want the hub's webhook URL with a key", u)
	}
	created := sub.Expires

	// A day later the subscription is kept as it is.
	now = start.Add(24 * time.Hour)
	_, pos = readAll(t, c, cfg, pos, 100)
	if s := onlySubscription(t, f); !s.Expires.Equal(created) {
		t.Errorf("the subscription was renewed after a day (expires %v, was %v); it lives three days", s.Expires, created)
	}

	t.Run("Notifications", func(t *testing.T) {
		tests := []struct {
			name        string
			send        func() int
			wantStatus  int
			wantRecords []string
		}{
			{"Created", func() int { return f.notify(bcILE, ile{n: 109}.id(), "created", "") },
				http.StatusAccepted, []string{"item-ledger-entry/" + testCompany + "/109"}},
			{"WrongClientState", func() int { return f.notify(bcILE, ile{n: 110}.id(), "updated", "guessed-client-state-0000") },
				http.StatusUnauthorized, nil},
			{"Deleted", func() int { return f.notify(bcILE, ile{n: 110}.id(), "deleted", "") },
				http.StatusAccepted, nil},
			{"Collection", func() int { return f.notifyCollection(bcILE, "2026-03-03T16:05:00Z") },
				http.StatusAccepted, []string{"item-ledger-entry/" + testCompany + "/109", "item-ledger-entry/" + testCompany + "/110", "item-ledger-entry/" + testCompany + "/111"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := len(hooks.records())
				if status := tt.send(); status != tt.wantStatus {
					t.Errorf("the hub answered %d, want %d", status, tt.wantStatus)
				}
				got := ids(hooks.records()[before:])
				if !slices.Equal(got, tt.wantRecords) {
					t.Errorf("records %v, want %v", got, tt.wantRecords)
				}
			})
		}
		// A notified record is the record the scheduled read gives, byte
		// for byte, so that the hub sees the same content twice.
		pushed := hooks.records()[0]
		for _, r := range recs {
			if r.ID == pushed.ID && !bytes.Equal(r.Payload, pushed.Payload) {
				t.Errorf("notified payload\n%s\ndiffers from the read one\n%s", pushed.Payload, r.Payload)
			}
		}
	})

	// Two and a half days in, the subscription expires within the renewal
	// margin (36h): the next sync renews it, with a handshake.
	now = start.Add(60 * time.Hour)
	_, pos = readAll(t, c, cfg, pos, 100)
	renewed := onlySubscription(t, f)
	if !renewed.Expires.After(created) {
		t.Errorf("not renewed: expires %v, was %v", renewed.Expires, created)
	}

	// A change whose notification is lost: the scheduled read has it.
	f.put(bcILE, ile{n: 112, item: "BREAD", lot: "BR-2", typ: "Sale", qty: -20, doc: "SSHP-4", party: "C-ALPHA",
		partyName: "Alpha Foods", so: "SO-4", date: "2026-03-05", mod: "2026-03-05T09:00:00Z"}.row())
	got, pos := readAll(t, c, cfg, pos, 100)
	if want := []string{"item-ledger-entry/" + testCompany + "/112"}; !slices.Equal(ids(got), want) {
		t.Errorf("scheduled read after a lost notification: %v, want %v", ids(got), want)
	}

	// The hub is unreachable when the subscription must be renewed: the
	// sync still reads, and says why notifications may stop.
	hooks.srv.Close()
	now = start.Add(130 * time.Hour)
	f.put(bcILE, ile{n: 113, item: "FLOUR", lot: "F-C", typ: "Purchase", qty: 10, doc: "PRCPT-9", party: "V-MILL",
		partyName: "Mill Co", po: "PO-9", date: "2026-03-06", mod: "2026-03-06T09:00:00Z"}.row())
	if got, _ := readAll(t, c, cfg, pos, 100); len(got) != 1 {
		t.Errorf("read with the subscription failing: %v, want the new entry", ids(got))
	}
}

func onlySubscription(t *testing.T, f *fakeMicrosoft) subscription {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.subs) != 1 {
		t.Fatalf("%d subscriptions, want 1", len(f.subs))
	}
	return *f.subs[0]
}

// notifyCollection sends a "collection" notification, as BC does when more
// than 1000 records changed within its 30-second delay.
func (f *fakeMicrosoft) notifyCollection(entity, lastModified string) int {
	f.mu.Lock()
	s := f.subs[0]
	f.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"value": []any{map[string]any{
		"subscriptionId": s.ID, "clientState": s.ClientState, "expirationDateTime": s.Expires.Format(time.RFC3339),
		"resource":   s.Resource[1:] + "?$filter=lastModifiedDateTime%20gt%202026-03-03T16:00:00Z",
		"changeType": "collection", "lastModifiedDateTime": lastModified,
	}}})
	resp, err := f.hook.Post(s.NotificationURL, "application/json", bytes.NewReader(body))
	if err != nil {
		f.t.Errorf("notify: %v", err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestWebhookRequests(t *testing.T) {
	f := newFake(t)
	f.put(bcILE, plantBC()...)
	ctx := context.Background()
	c := dynamics.New()
	var cfg sdk.Config
	hooks := newHubHooks(t, c, func() sdk.Config { return cfg })
	cfg = parse(t, bcConfig(f, "bc_webhook_secret", hookSecret, "bc_webhook_url", hooks.url()))
	readAll(t, c, cfg, nil, 100)
	key := subscribedURL(t, f).Query()

	tests := []struct {
		name       string
		cfg        sdk.Config
		req        sdk.WebhookRequest
		wantErr    error
		wantStatus int
	}{
		{"Handshake", cfg, sdk.WebhookRequest{Method: "POST", Query: withToken(key, "tok-123")}, nil, http.StatusOK},
		{"HandshakeWithoutKey", cfg, sdk.WebhookRequest{Method: "POST", Query: map[string][]string{"validationToken": {"tok-123"}}}, sdk.ErrInvalidSignature, 0},
		{"Get", cfg, sdk.WebhookRequest{Method: "GET", Query: key}, nil, http.StatusMethodNotAllowed},
		{"NotJSON", cfg, sdk.WebhookRequest{Method: "POST", Query: key, Body: []byte("<xml/>")}, sdk.ErrInvalidSignature, 0},
		{"Empty", cfg, sdk.WebhookRequest{Method: "POST", Query: key, Body: []byte(`{"value":[]}`)}, sdk.ErrInvalidSignature, 0},
		{"NoSecretConfigured", parse(t, bcConfig(f)), sdk.WebhookRequest{Method: "POST", Query: key}, sdk.ErrInvalidConfig, 0},
		{"FO", parse(t, foConfig(f)), sdk.WebhookRequest{Method: "POST", Query: key}, errors.ErrUnsupported, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Webhook(ctx, tt.cfg, tt.req)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("error %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("Webhook: %v", err)
			case res.Status != tt.wantStatus:
				t.Errorf("status %d, want %d", res.Status, tt.wantStatus)
			case tt.name == "Handshake" && string(res.Body) != "tok-123":
				t.Errorf("handshake body %q, want the token", res.Body)
			}
		})
	}
}

func withToken(q map[string][]string, tok string) map[string][]string {
	out := map[string][]string{"validationToken": {tok}}
	for k, v := range q {
		out[k] = v
	}
	return out
}
