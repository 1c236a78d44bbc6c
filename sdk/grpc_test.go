package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/lothub/lothub/sdk"
	"github.com/lothub/lothub/sdk/internal/memsource"
)

const memToken = "tok-55e0c1d2a9"

// connect serves c over go-plugin's in-process gRPC connection and returns
// the hub's side of it.
func connect(t *testing.T, c sdk.Connector) interface {
	sdk.Connector
	sdk.WebhookHandler
} {
	t.Helper()
	// Closing the client shuts the server down (go-plugin's controller);
	// stopping the server as well would race with that.
	client, _ := plugin.TestPluginGRPCConn(t, false, sdk.PluginSet(c))
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	conn, ok := raw.(interface {
		sdk.Connector
		sdk.WebhookHandler
	})
	if !ok {
		t.Fatalf("dispensed %T", raw)
	}
	return conn
}

func memConfig(t *testing.T, c sdk.Connector) sdk.Config {
	t.Helper()
	cfg, err := sdk.ParseConfig(c.Spec(), map[string]string{"endpoint": memsource.GoodEndpoint, "token": memToken})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestErrorsCrossTheBoundary(t *testing.T) {
	cause := errors.New("upstream said no")
	tests := []struct {
		name  string
		err   error
		check func(error) bool
	}{
		{"RetryAfter", sdk.RetryAfter(3*time.Second, cause), func(err error) bool {
			d, ok := sdk.RetryDelay(err)
			return ok && d == 3*time.Second
		}},
		{"Retry", fmt.Errorf("list: %w", sdk.ErrRetry), func(err error) bool {
			d, ok := sdk.RetryDelay(err)
			return ok && d == 0
		}},
		{"InvalidConfig", sdk.InvalidConfig("endpoint", "no such tenant"), func(err error) bool {
			var ic *sdk.InvalidConfigError
			return errors.As(err, &ic) && ic.Param == "endpoint" && ic.Reason == "no such tenant" && errors.Is(err, sdk.ErrInvalidConfig)
		}},
		{"InvalidPosition", fmt.Errorf("cursor expired: %w", sdk.ErrInvalidPosition), func(err error) bool {
			return errors.Is(err, sdk.ErrInvalidPosition)
		}},
		{"InvalidSignature", sdk.ErrInvalidSignature, func(err error) bool { return errors.Is(err, sdk.ErrInvalidSignature) }},
		{"Unsupported", errors.ErrUnsupported, func(err error) bool { return errors.Is(err, errors.ErrUnsupported) }},
		{"Deadline", fmt.Errorf("slow ERP: %w", context.DeadlineExceeded), func(err error) bool {
			return errors.Is(err, context.DeadlineExceeded)
		}},
		{"Plain", cause, func(err error) bool {
			_, retry := sdk.RetryDelay(err)
			return !retry && !errors.Is(err, sdk.ErrInvalidConfig) && !errors.Is(err, sdk.ErrPluginExited)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &memsource.Source{Records: 3, Faults: memsource.Faults{Err: tt.err}}
			c := connect(t, src)
			cfg := memConfig(t, c)
			// The source puts the token in its error text; it must not
			// reach the hub.
			want := strings.Replace(fmt.Errorf("token %s: %w", memToken, tt.err).Error(), memToken, sdk.Redacted, 1)
			for name, err := range map[string]error{
				"Check": c.Check(context.Background(), cfg),
				"Read":  func() error { _, err := c.Read(context.Background(), cfg, nil, 10); return err }(),
			} {
				if err == nil {
					t.Fatalf("%s succeeded", name)
				}
				if !tt.check(err) {
					t.Errorf("%s: error %v lost its kind", name, err)
				}
				if got := err.Error(); got != want {
					t.Errorf("%s: error text %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestPanicBecomesError(t *testing.T) {
	src := &memsource.Source{Records: 3, Faults: memsource.Faults{Panic: "index out of range " + memToken}}
	c := connect(t, src)
	cfg := memConfig(t, c)
	_, err := c.Read(context.Background(), cfg, nil, 1)
	if err == nil || !strings.Contains(err.Error(), "panicked in Read") || strings.Contains(err.Error(), memToken) {
		t.Fatalf("Read = %v, want a redacted panic error", err)
	}
	src.Faults.Panic = "" // the server survived the panic
	if _, err := c.Read(context.Background(), cfg, nil, 1); err != nil {
		t.Fatalf("Read after a panic: %v", err)
	}
}

func TestDeadlineReachesTheConnector(t *testing.T) {
	c := connect(t, &memsource.Source{Faults: memsource.Faults{Block: true}})
	cfg := memConfig(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Read(ctx, cfg, nil, 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Read took %v after a 200ms deadline", d)
	}
}

func TestClientRefusesProtocolViolations(t *testing.T) {
	tests := []struct {
		name   string
		faults memsource.Faults
		want   string
	}{
		{"TooMany", memsource.Faults{ExtraRecord: true}, "more than the 2 asked for"},
		{"BadPayload", memsource.Faults{BadPayload: true}, "not valid JSON"},
		{"UndeclaredKind", memsource.Faults{UndeclaredKind: true}, `kind "surprise"`},
		{"NoNext", memsource.Faults{NoNext: true}, "no next position"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connect(t, &memsource.Source{Records: 5, Faults: tt.faults})
			_, err := c.Read(context.Background(), memConfig(t, c), nil, 2)
			if err == nil || !strings.Contains(err.Error(), "broke the protocol") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Read = %v, want a protocol error about %q", err, tt.want)
			}
		})
	}
	c := connect(t, &memsource.Source{Records: 5})
	if _, err := c.Read(context.Background(), memConfig(t, c), nil, 0); err == nil {
		t.Errorf("Read with max 0 succeeded")
	}
}

func TestWebhookOverGRPC(t *testing.T) {
	body := []byte("[4,5]")
	req := sdk.WebhookRequest{
		Method:  "POST",
		Headers: map[string][]string{"X-Signature": {sdk.SignHMACSHA256([]byte(memToken), body)}},
		Query:   map[string][]string{"plant": {"P1"}},
		Body:    body,
	}
	c := connect(t, &memsource.Pusher{})
	res, err := c.Webhook(context.Background(), memConfig(t, c), req)
	if err != nil {
		t.Fatalf("Webhook: %v", err)
	}
	if len(res.Records) != 2 || res.Records[1].ID != "push-5" || !res.Records[1].Time.Equal(time.Date(2026, 3, 2, 0, 0, 5, 0, time.UTC)) {
		t.Errorf("records %+v", res.Records)
	}
	req.Body = []byte("[4,5,6]")
	if _, err := c.Webhook(context.Background(), memConfig(t, c), req); !errors.Is(err, sdk.ErrInvalidSignature) {
		t.Errorf("tampered Webhook = %v, want ErrInvalidSignature", err)
	}

	plain := connect(t, &memsource.Source{})
	if _, err := plain.Webhook(context.Background(), memConfig(t, plain), req); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Webhook on a pull-only connector = %v, want errors.ErrUnsupported", err)
	}
}

// The client hands over each record's payload decoded, as it checked it:
// the hub reads a payload once. A payload that is JSON but no object is
// accepted as before, undecoded; an in-process record has no fields.
func TestReadRecordsComeDecoded(t *testing.T) {
	c := connect(t, &memsource.Source{Records: 3})
	res, err := c.Read(context.Background(), memConfig(t, c), nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Records {
		var want map[string]any
		if err := json.Unmarshal(r.Payload, &want); err != nil {
			t.Fatal(err)
		}
		if got := r.Fields(); got == nil || !reflect.DeepEqual(got, want) {
			t.Errorf("record %s: Fields() = %#v, want %#v (its payload %s decoded)", r.ID, got, want, r.Payload)
		}
	}
	body := []byte("[4,5]")
	push := connect(t, &memsource.Pusher{})
	wres, err := push.Webhook(context.Background(), memConfig(t, push), sdk.WebhookRequest{Method: "POST",
		Headers: map[string][]string{"X-Signature": {sdk.SignHMACSHA256([]byte(memToken), body)}}, Body: body})
	if err != nil {
		t.Fatalf("Webhook: %v", err)
	}
	for _, r := range wres.Records {
		if r.Fields() != nil {
			t.Errorf("record %s with payload %s: Fields() = %#v, want nil (not an object)", r.ID, r.Payload, r.Fields())
		}
	}
	own, err := (&memsource.Source{Records: 1}).Read(context.Background(), memConfig(t, c), nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(own.Records) != 1 || own.Records[0].Fields() != nil {
		t.Errorf("in-process records %+v: want one, without fields", own.Records)
	}
}

// ackOnce is a connector whose Ack refuses its first call with
// errors.ErrUnsupported and records the positions of the others.
type ackOnce struct {
	memsource.Source
	calls int
	acked []string
}

func (a *ackOnce) Ack(ctx context.Context, cfg sdk.Config, pos sdk.Position) error {
	if a.calls++; a.calls == 1 {
		return fmt.Errorf("not now: %w", errors.ErrUnsupported)
	}
	a.acked = append(a.acked, string(pos))
	return nil
}

// A connector without Ack answers every acknowledgement with nothing to
// do; one whose Ack refused one call with ErrUnsupported still gets the
// calls after it (the hub remembers only that a plugin has no Ack).
func TestAckWithoutAndWithAcknowledger(t *testing.T) {
	ctx := context.Background()
	plain := connect(t, &memsource.Source{Records: 1})
	ack, ok := plain.(sdk.Acknowledger)
	if !ok {
		t.Fatalf("the plugin client %T has no Ack", plain)
	}
	for i := range 3 {
		if err := ack.Ack(ctx, memConfig(t, plain), sdk.Position(fmt.Sprint(i))); err != nil {
			t.Errorf("Ack %d of a connector without Ack: %v, want nil", i, err)
		}
	}
	a := &ackOnce{}
	c := connect(t, a)
	cack := c.(sdk.Acknowledger)
	if err := cack.Ack(ctx, memConfig(t, c), sdk.Position("p1")); err != nil {
		t.Errorf("first Ack: %v, want nil (unsupported: nothing to do)", err)
	}
	for _, p := range []string{"p2", "p3"} {
		if err := cack.Ack(ctx, memConfig(t, c), sdk.Position(p)); err != nil {
			t.Errorf("Ack %s: %v", p, err)
		}
	}
	if want := []string{"p2", "p3"}; !reflect.DeepEqual(a.acked, want) {
		t.Errorf("the connector acknowledged %v, want %v", a.acked, want)
	}
}
