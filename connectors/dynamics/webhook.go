package dynamics

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/lothub/lothub/sdk"
)

// Business Central webhooks (docs: "Working with webhooks in Dynamics 365
// Business Central"): a subscription (POST …/api/{route}/subscriptions with
// notificationUrl, resource and clientState) makes BC call notificationUrl
// with ?validationToken=… and wait for the token back as plain text with
// 200; then it posts notifications {"value":[{subscriptionId, clientState,
// expirationDateTime, resource, changeType, lastModifiedDateTime}]} about 30
// seconds after a change. Subscriptions expire after three days unless
// renewed (PATCH, which repeats the handshake). Notifications are hints:
// a lost one is caught by the next scheduled read.

// notification is one change BC reports.
type notification struct {
	SubscriptionID       string `json:"subscriptionId"`
	ClientState          string `json:"clientState"`
	ExpirationDateTime   string `json:"expirationDateTime"`
	Resource             string `json:"resource"`
	ChangeType           string `json:"changeType"` // created, updated, deleted, collection
	LastModifiedDateTime string `json:"lastModifiedDateTime"`
}

// maxHookRecords bounds what one "collection" notification reads (BC sends
// one when more than 1000 records changed within 30 seconds); the next
// scheduled read takes the rest.
const maxHookRecords = 5000

// urlKey is the key the notification URL carries (?key=…). clientState
// authenticates a notification's body; the key authenticates the request
// itself, including the handshake, whose only content is the token to echo.
// It is derived from the secret, so one secret configures both.
func (o *options) urlKey() string {
	mac := hmac.New(sha256.New, []byte(o.hookSecret))
	mac.Write([]byte("lothub dynamics notification url"))
	return hex.EncodeToString(mac.Sum(nil))[:32]
}

// notificationURL is the URL BC is asked to call.
func (o *options) notificationURL() string {
	u := *o.hookURL
	u.RawQuery = "key=" + o.urlKey()
	return u.String()
}

// Webhook implements sdk.WebhookHandler for Business Central: it answers
// the validation handshake, checks the key and every notification's
// clientState, and reads the records the notifications name.
//
// A transient failure while reading them returns an error wrapping
// sdk.ErrRetry: BC retries only on 408, 429 and 5xx, and deletes the
// subscription on any other error status.
func (c *Connector) Webhook(ctx context.Context, cfg sdk.Config, req sdk.WebhookRequest) (sdk.WebhookResult, error) {
	o, err := optionsFrom(cfg)
	if err != nil {
		return sdk.WebhookResult{}, err
	}
	if o.system != systemBC {
		return sdk.WebhookResult{}, fmt.Errorf("Dynamics 365 F&O sends this connector no webhooks; it is read on its schedule: %w", errors.ErrUnsupported)
	}
	if o.hookSecret == "" {
		return sdk.WebhookResult{}, sdk.InvalidConfig("bc_webhook_secret", "is empty, so webhooks are refused: set it and bc_webhook_url to take Business Central's notifications")
	}
	if req.Method != "" && req.Method != http.MethodPost {
		return sdk.WebhookResult{Status: http.StatusMethodNotAllowed}, nil
	}
	if !hmac.Equal([]byte(req.Query.Get("key")), []byte(o.urlKey())) {
		return sdk.WebhookResult{}, fmt.Errorf("business central webhook: the URL has no valid key (a subscription made for another URL or secret?): %w", sdk.ErrInvalidSignature)
	}
	if tok := req.Query.Get("validationToken"); tok != "" {
		// The handshake of a subscription being created or renewed.
		return sdk.WebhookResult{Status: http.StatusOK, Body: []byte(tok)}, nil
	}
	ns, err := parseNotifications(req.Body)
	if err != nil {
		return sdk.WebhookResult{}, fmt.Errorf("business central webhook: %v, so its clientState cannot be checked: %w", err, sdk.ErrInvalidSignature)
	}
	for _, n := range ns {
		if !hmac.Equal([]byte(n.ClientState), []byte(o.hookSecret)) {
			return sdk.WebhookResult{}, fmt.Errorf("business central webhook: the notification of subscription %q carries a wrong clientState: %w", n.SubscriptionID, sdk.ErrInvalidSignature)
		}
	}
	var recs []sdk.Record
	for _, n := range ns {
		rs, err := c.notified(ctx, &o, n)
		if err != nil {
			return sdk.WebhookResult{}, err
		}
		recs = append(recs, rs...)
	}
	slog.DebugContext(ctx, "business central notifications", "notifications", len(ns), "records", len(recs))
	return sdk.WebhookResult{Records: recs, Status: http.StatusAccepted}, nil
}

func parseNotifications(body []byte) ([]notification, error) {
	var doc struct {
		Value []notification `json:"value"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&doc); err != nil {
		return nil, errors.New("the body is not a notification")
	}
	if dec.More() {
		return nil, errors.New("the body has data after the notification")
	}
	if len(doc.Value) == 0 {
		return nil, errors.New("the body holds no notification")
	}
	return doc.Value, nil
}

// notified reads what notification n is about.
func (c *Connector) notified(ctx context.Context, o *options, n notification) ([]sdk.Record, error) {
	res := strings.TrimPrefix(n.Resource, "/")
	prefix := "api/" + o.bcAPI + "/companies(" + o.bcCompany + ")/"
	if len(res) < len(prefix) || !strings.EqualFold(res[:len(prefix)], prefix) {
		slog.InfoContext(ctx, "business central notification for another resource; ignored", "resource", n.Resource)
		return nil, nil
	}
	rest := res[len(prefix):]
	for _, k := range o.kinds {
		tail, ok := strings.CutPrefix(rest, k.entity)
		if !ok {
			continue
		}
		switch {
		case n.ChangeType == "deleted":
			// Ledger entries are corrected by new entries, never deleted.
			slog.InfoContext(ctx, "business central reports a deleted record; ignored", "resource", n.Resource)
			return nil, nil
		case strings.HasPrefix(tail, "(") && strings.HasSuffix(tail, ")"):
			id := tail[1 : len(tail)-1]
			if !guidRE().MatchString(id) {
				slog.InfoContext(ctx, "business central notification with an unexpected key; ignored", "resource", n.Resource)
				return nil, nil
			}
			return c.readOne(ctx, o, k, id)
		case tail == "" || strings.HasPrefix(tail, "?"):
			since, err := time.Parse(time.RFC3339Nano, n.LastModifiedDateTime)
			if err != nil {
				since = c.now().Add(-time.Hour) // BC always says; be generous if not
			}
			return c.readChanged(ctx, o, k, since.Add(-o.overlap))
		}
	}
	slog.InfoContext(ctx, "business central notification for an entity this connector does not read; ignored", "resource", n.Resource)
	return nil, nil
}

// readOne reads one entity by its id (SystemId).
func (c *Connector) readOne(ctx context.Context, o *options, k kind, id string) ([]sdk.Record, error) {
	u := o.collectionURL(k) + "(" + id + ")"
	if o.selectOn {
		u += "?" + query([2]string{"$select", strings.Join(k.fields, ",")})
	}
	var raw json.RawMessage
	err := c.call(ctx, o, request{method: http.MethodGet, url: u, what: "read the " + k.short + " a Business Central notification names"}, &raw)
	if err != nil {
		return nil, err
	}
	// A single entity comes with @odata.context; in a collection it has
	// none. Drop it so that both reads give the same payload.
	rec, _, err := o.record(k, dropField(raw, "@odata.context"))
	if err != nil {
		return nil, err
	}
	return []sdk.Record{rec}, nil
}

// readChanged reads what changed since, for a "collection" notification.
func (c *Connector) readChanged(ctx context.Context, o *options, k kind, since time.Time) ([]sdk.Record, error) {
	u := o.firstPageURL(k, since)
	var recs []sdk.Record
	for u != "" && len(recs) < maxHookRecords {
		var page collection
		err := c.call(ctx, o, request{method: http.MethodGet, url: u, pageSize: o.pageSize, what: o.readWhat(k)}, &page)
		if err != nil {
			return nil, err
		}
		for _, raw := range page.Value {
			rec, _, err := o.record(k, raw)
			if err != nil {
				return nil, err
			}
			recs = append(recs, rec)
		}
		u = ""
		if page.NextLink != "" {
			next, err := o.relativeLink(page.NextLink)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", o.readWhat(k), err)
			}
			u = o.base.Scheme + "://" + o.base.Host + next
		}
	}
	return recs, nil
}

// dropField removes a top-level field from a JSON object, keeping the
// other fields in order and byte for byte.
func dropField(obj json.RawMessage, name string) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return obj
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return obj
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return obj
		}
		if key == name {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// subscription is BC's webhook subscription entity.
type subscription struct {
	SubscriptionID     string `json:"subscriptionId,omitempty"`
	NotificationURL    string `json:"notificationUrl"`
	Resource           string `json:"resource"`
	ClientState        string `json:"clientState,omitempty"`
	ExpirationDateTime string `json:"expirationDateTime,omitempty"`
	ETag               string `json:"@odata.etag,omitempty"`
}

// keepSubscription makes sure BC notifies the hub: it creates the
// subscription, or renews it when it expires within bc_webhook_renew_before.
// Its failures are logged, never returned: the scheduled read is the
// guarantee, notifications only make changes arrive sooner.
func (c *Connector) keepSubscription(ctx context.Context, o *options) {
	if err := c.ensureSubscription(ctx, o); err != nil {
		slog.WarnContext(ctx, "dynamics: the Business Central webhook subscription is not kept up; scheduled reads still catch every change", "err", err)
	}
}

func (c *Connector) ensureSubscription(ctx context.Context, o *options) error {
	subs := o.bcRoot() + "/api/" + o.bcAPI + "/subscriptions"
	var list struct {
		Value []subscription `json:"value"`
	}
	if err := c.call(ctx, o, request{method: http.MethodGet, url: subs, what: "list Business Central webhook subscriptions"}, &list); err != nil {
		return err
	}
	notify := o.notificationURL()
	for _, k := range o.kinds {
		resource := "/api/" + o.bcAPI + "/companies(" + o.bcCompany + ")/" + k.entity
		want := subscription{NotificationURL: notify, Resource: resource, ClientState: o.hookSecret}
		var found *subscription
		for i, s := range list.Value {
			if s.NotificationURL == notify && strings.EqualFold(strings.TrimPrefix(s.Resource, "/"), strings.TrimPrefix(resource, "/")) {
				found = &list.Value[i]
			}
		}
		if found == nil {
			// BC calls notificationUrl with a validationToken before it
			// answers: the hub must be serving its webhook endpoint.
			var made subscription
			err := c.call(ctx, o, request{method: http.MethodPost, url: subs, body: want, what: "create the Business Central webhook subscription for " + k.entity}, &made)
			if err != nil {
				return err
			}
			slog.InfoContext(ctx, "dynamics: Business Central webhook subscription created", "resource", resource, "expires", made.ExpirationDateTime)
			continue
		}
		exp, err := time.Parse(time.RFC3339Nano, found.ExpirationDateTime)
		if err == nil && exp.Sub(c.now()) > o.renewBefore {
			continue
		}
		var renewed subscription
		err = c.call(ctx, o, request{method: http.MethodPatch, url: subs + "('" + strings.ReplaceAll(found.SubscriptionID, "'", "''") + "')",
			body: want, ifMatch: found.ETag, what: "renew the Business Central webhook subscription for " + k.entity}, &renewed)
		if err != nil {
			return err
		}
		slog.InfoContext(ctx, "dynamics: Business Central webhook subscription renewed", "resource", resource, "expires", renewed.ExpirationDateTime)
	}
	return nil
}
