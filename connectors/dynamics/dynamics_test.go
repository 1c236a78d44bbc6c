package dynamics_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/dynamics"
	"github.com/lothub/lothub/sdk"
	"github.com/lothub/lothub/sdk/sdktest"
)

const hookSecret = "clientState-7f3a9c1e5b2d4f60"

func TestConformance(t *testing.T) {
	t.Run("FO", func(t *testing.T) {
		f := newFake(t)
		f.put(foTrans, generated(0, 23)...)
		sdktest.Run(t, sdktest.Harness{
			// F&O has no webhooks: the connector answers them with
			// errors.ErrUnsupported for system fo, but sdktest finds
			// webhook support by type, so hide the method here. Over gRPC
			// the kit checks the ErrUnsupported answer itself.
			New:         func() sdk.Connector { return struct{ sdk.Connector }{dynamics.New()} },
			Config:      foConfig(f, "page_size", "5"),
			BadEndpoint: foConfig(f, "page_size", "5", "base_url", "http://127.0.0.1:1", "authority_url", "http://127.0.0.1:1"),
			Expect:      23,
		})
	})
	t.Run("BC", func(t *testing.T) {
		f := newFake(t)
		f.put(bcILE, plantBC()...)
		// The notification URL's key comes from the subscription the
		// connector makes, as in production.
		c := dynamics.New()
		var cfg sdk.Config
		hooks := newHubHooks(t, c, func() sdk.Config { return cfg })
		cfg = parse(t, bcConfig(f, "bc_webhook_secret", hookSecret, "bc_webhook_url", hooks.url()))
		readAll(t, c, cfg, nil, 100)
		notify := subscribedURL(t, f)
		body, _ := json.Marshal(map[string]any{"value": []any{map[string]any{
			"subscriptionId": "s1", "clientState": hookSecret, "expirationDateTime": "2026-03-08T10:00:00Z",
			"resource":   "api/lothub/traceability/v1.0/companies(" + testCompany + ")/itemLedgerEntries(" + ile{n: 109}.id() + ")",
			"changeType": "created", "lastModifiedDateTime": "2026-03-03T16:00:00Z",
		}}})
		sdktest.Run(t, sdktest.Harness{
			New:         func() sdk.Connector { return dynamics.New() },
			Config:      bcConfig(f, "page_size", "4", "bc_webhook_secret", hookSecret),
			BadEndpoint: bcConfig(f, "base_url", "http://127.0.0.1:1", "authority_url", "http://127.0.0.1:1", "bc_webhook_secret", hookSecret),
			Expect:      11,
			Webhook: &sdktest.WebhookCase{
				Request: sdk.WebhookRequest{Method: http.MethodPost, Query: notify.Query(),
					Headers: http.Header{"Content-Type": {"application/json"}}, Body: body},
				Expect: 1,
			},
		})
	})
}

// subscribedURL is the notification URL of the fake's only subscription.
func subscribedURL(t *testing.T, f *fakeMicrosoft) *url.URL {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.subs) != 1 {
		t.Fatalf("%d subscriptions, want 1", len(f.subs))
	}
	u, err := url.Parse(f.subs[0].NotificationURL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRequiredByTheSystem(t *testing.T) {
	f := newFake(t)
	tests := []struct {
		name  string
		raw   map[string]string
		param string
	}{
		{"UnknownSystem", foConfig(f, "system", "ax2012"), "system"},
		{"NoCredential", foConfig(f, "client_secret", ""), "client_secret"},
		{"TwoCredentials", foConfig(f, "client_certificate", "-----BEGIN CERTIFICATE-----"), "client_certificate"},
		{"ClientIDNotAGUID", foConfig(f, "client_id", "my-app"), "client_id"},
		{"FOWithoutBaseURL", foConfig(f, "base_url", ""), "base_url"},
		{"FOBaseURLWithPath", foConfig(f, "base_url", f.srv.URL+"/data"), "base_url"},
		{"PlainHTTPElsewhere", foConfig(f, "base_url", "http://contoso.operations.dynamics.com"), "base_url"},
		{"BCWithoutCompany", bcConfig(f, "bc_company_id", ""), "bc_company_id"},
		{"BCCompanyName", bcConfig(f, "bc_company_id", "CRONUS USA, Inc."), "bc_company_id"},
		{"BCBadRoute", bcConfig(f, "bc_api", "lothub"), "bc_api"},
		{"UnknownEntity", foConfig(f, "entities", "inventory-transaction,sales-line"), "entities"},
		{"EntityOfTheOtherSystem", bcConfig(f, "entities", "picking-list-line"), "entities"},
		{"WebhookWithoutSecret", bcConfig(f, "bc_webhook_url", "https://hub.example.com/v1/webhooks/dynamics"), "bc_webhook_secret"},
		{"ShortWebhookSecret", bcConfig(f, "bc_webhook_secret", "short-secret"), "bc_webhook_secret"},
		{"WebhooksOnFO", foConfig(f, "bc_webhook_secret", hookSecret), "bc_webhook_url"},
		{"WebhooksOnAnalyticsAPI", bcConfig(f, "bc_api", "microsoft/analytics/v1.0", "bc_webhook_secret", hookSecret), "bc_webhook_url"},
		{"PageTooLarge", foConfig(f, "page_size", "20000"), "page_size"},
		{"BadStart", foConfig(f, "start", "last tuesday"), "start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := dynamics.New().Check(context.Background(), parse(t, tt.raw))
			var ic *sdk.InvalidConfigError
			if !errors.As(err, &ic) || ic.Param != tt.param {
				t.Fatalf("Check: %v, want an invalid %s", err, tt.param)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	f := newFake(t)
	f.put(foTrans, plantFO()...)
	f.put("ProductionPickingListJournalEntries", map[string]any{"dataAreaId": "usmf", "JournalNumber": "1", "JournalLineNumber": 1, "PostedDateTime": "2026-03-01T00:00:00Z"})
	tests := []struct {
		name string
		raw  map[string]string
		want string // in the error; "" for success
	}{
		{"OK", foConfig(f), ""},
		{"TwoEntities", foConfig(f, "entities", "inventory-transaction,picking-list-line"), ""},
		{"MissingEntity", foConfig(f, "entities", "report-as-finished-line"), "entity set names are case-sensitive"},
		{"RenamedEntity", foConfig(f, "entities", "inventory-transaction=lothubinventorytransactions"), "/data/$metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := dynamics.New().Check(context.Background(), parse(t, tt.raw))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Check: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// Check asks for one record of each entity, no more.
	for _, r := range f.dataRequests() {
		if !strings.Contains(r, "%24top=1") && !strings.Contains(r, "$top=1") {
			t.Errorf("Check sent %s, want $top=1", r)
		}
	}
}

func TestReadsWhatChanged(t *testing.T) {
	tests := []struct {
		name string
		kv   []string // configuration
		// change alters the source after a first full read; want are the
		// ids the next read must return.
		change func(f *fakeMicrosoft)
		want   []string
	}{
		{
			name: "NothingNew",
			want: nil,
		},
		{
			name: "NewAndChangedRecords",
			change: func(f *fakeMicrosoft) {
				f.put(foTrans, itx{rec: 5637145000, item: "FLOUR", batch: "F-C", cat: "Purch", ref: "PO-9", qty: 10, date: "2026-03-05", mod: "2026-03-05T08:00:00Z"}.row())
				// The packing slip of SO-3 was corrected: same record, new modified time.
				f.update(foTrans, "InventTransRecId", 5637144702, map[string]any{"Quantity": -190.0, "ModifiedDateTime": "2026-03-05T09:00:00Z"})
			},
			want: []string{"inventory-transaction/usmf/5637145000", "inventory-transaction/usmf/5637144702"},
		},
		{
			// A transaction committed late, stamped three minutes before the
			// last time read: the overlap window (10m) catches it.
			name: "LateCommitInsideTheOverlap",
			change: func(f *fakeMicrosoft) {
				f.put(foTrans, itx{rec: 5637145001, item: "SALT", batch: "S-9", cat: "Purch", ref: "PO-8", qty: 5, date: "2026-03-04", mod: "2026-03-04T09:57:00Z"}.row())
			},
			want: []string{"inventory-transaction/usmf/5637145001"},
		},
		{
			// Without overlap the same record is lost: the server filters
			// on the modified time for real.
			name: "LateCommitWithoutOverlapIsLost",
			kv:   []string{"overlap", "0s"},
			change: func(f *fakeMicrosoft) {
				f.put(foTrans, itx{rec: 5637145001, item: "SALT", batch: "S-9", cat: "Purch", ref: "PO-8", qty: 5, date: "2026-03-04", mod: "2026-03-04T09:57:00Z"}.row())
			},
			want: nil,
		},
		{
			// A record changed to the very time of the mark is read again.
			name: "ChangedAtTheMark",
			kv:   []string{"overlap", "0s"},
			change: func(f *fakeMicrosoft) {
				f.update(foTrans, "InventTransRecId", 5637144701, map[string]any{"ModifiedDateTime": "2026-03-04T10:00:00Z", "Quantity": -45.0})
			},
			want: []string{"inventory-transaction/usmf/5637144701"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.put(foTrans, plantFO()...)
			c := dynamics.New()
			cfg := parse(t, foConfig(f, tt.kv...))
			first, pos := readAll(t, c, cfg, nil, 500)
			if len(first) != 13 {
				t.Fatalf("first read: %d records, want 13", len(first))
			}
			if tt.change != nil {
				tt.change(f)
			}
			got, pos := readAll(t, c, cfg, pos, 500)
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("second read: %v, want %v", ids(got), tt.want)
			}
			// And nothing more after that.
			if again, _ := readAll(t, c, cfg, pos, 500); len(again) != 0 {
				t.Errorf("third read: %v, want nothing", ids(again))
			}
		})
	}
}

func TestStartAndFilter(t *testing.T) {
	f := newFake(t)
	f.put(foTrans, plantFO()...)
	c := dynamics.New()
	recs, _ := readAll(t, c, parse(t, foConfig(f, "start", "2026-03-03")), nil, 100)
	for _, r := range recs {
		if r.Time.Before(mustTime(t, "2026-03-03T00:00:00Z")) {
			t.Errorf("record %s modified %v, before start", r.ID, r.Time)
		}
	}
	if len(recs) != 5 {
		t.Errorf("%d records since 2026-03-03, want 5", len(recs))
	}
	var filter, order string
	for _, r := range f.dataRequests() {
		u, _ := url.Parse(r)
		filter, order = u.Query().Get("$filter"), u.Query().Get("$orderby")
	}
	if filter != "ModifiedDateTime ge 2026-03-03T00:00:00Z" {
		t.Errorf("$filter %q", filter)
	}
	if order != "ModifiedDateTime asc,dataAreaId asc,InventTransRecId asc" {
		t.Errorf("$orderby %q", order)
	}
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
