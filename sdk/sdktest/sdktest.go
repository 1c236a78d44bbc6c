// Package sdktest is the conformance kit every lothub connector runs in its
// own tests, in about ten lines:
//
//	func TestConformance(t *testing.T) {
//		sdktest.Run(t, sdktest.Harness{
//			New:         func() sdk.Connector { return New() },
//			Config:      map[string]string{"base_url": srv.URL, "token": "t0ken-for-tests"},
//			BadEndpoint: map[string]string{"base_url": "http://127.0.0.1:1", "token": "t0ken-for-tests"},
//			Expect:      25,
//		})
//	}
//
// Run checks the connector twice: called in process, and through a real
// gRPC plugin connection (go-plugin's TestPluginGRPCConn: the SDK's adapters
// and the protocol, without a child process). It checks that the spec is
// filled in; that each required parameter, when removed, is reported by
// name; that Check succeeds on the good source and fails cleanly, with a
// message, on the bad one; that reading to the end in small batches and
// resuming from every saved position neither loses nor repeats records;
// that records have non-empty, unique, stable ids, declared kinds, JSON
// payloads and source times; that a corrupt position is refused with
// sdk.ErrInvalidPosition; that concurrent reads agree; that webhooks accept
// a signed request and refuse a tampered one; and that no secret value
// appears in any error text or record.
//
// Last, it plays a hub that reads ahead of its commits and is killed
// before it commits (CrashBeforeCommit): a new connector resumes from the
// last committed position, acknowledged as the hub does (sdk.Acknowledger),
// and must return every record after it, none lost and none doubled, even
// though the dead hub had read further. A connector whose Read acts on its
// source (moves a file, acknowledges a message) loses records here.
//
// sdktest does not replace the connector's own tests of its source's
// quirks; it checks the contract the hub relies on.
package sdktest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/lothub/lothub/sdk"
)

// Harness describes the connector under test and a source prepared for it.
// The source must not change while Run runs.
type Harness struct {
	// New returns a new connector. Required.
	New func() sdk.Connector
	// Config is a valid configuration (raw values, as in the hub's config
	// file) of a source that holds exactly Expect records. Give secret
	// parameters values of at least 6 characters, so that leaks can be
	// found. Required.
	Config map[string]string
	// BadEndpoint is a configuration that is valid but whose source cannot
	// be reached or refuses access (a closed port, a missing directory, a
	// wrong password). Check must fail on it. Required.
	BadEndpoint map[string]string
	// Expect is the number of records Read returns from the start of the
	// source to its end.
	Expect int
	// BatchSizes are the batch sizes reads are resumed with; default 1, 2
	// and 7.
	BatchSizes []int
	// Webhook is a request the connector must accept. Required when the
	// connector implements sdk.WebhookHandler.
	Webhook *WebhookCase
	// Timeout bounds each call; default 30 seconds.
	Timeout time.Duration
	// Reset puts the source back as it was before Run, for connectors
	// whose Ack changes it (files archived or deleted, messages
	// acknowledged). Run calls it after each check that acknowledged
	// positions. Nil when Ack leaves the source as it is.
	Reset func(t *testing.T)
}

// WebhookCase is a valid, correctly signed webhook request and the number
// of records it holds. Run also sends it with its body altered, and with no
// headers and no query, and expects sdk.ErrInvalidSignature for both.
type WebhookCase struct {
	Request sdk.WebhookRequest
	Expect  int
}

// Run runs the conformance checks as subtests of t: InProcess, then GRPC.
func Run(t *testing.T, h Harness) {
	t.Helper()
	switch {
	case h.New == nil:
		t.Fatal("sdktest: Harness.New is nil")
	case h.Config == nil:
		t.Fatal("sdktest: Harness.Config is nil: give a valid configuration")
	case h.BadEndpoint == nil:
		t.Fatal("sdktest: Harness.BadEndpoint is nil: give a configuration whose source cannot be reached")
	case h.Expect < 0:
		t.Fatalf("sdktest: Harness.Expect is %d", h.Expect)
	}
	if len(h.BatchSizes) == 0 {
		h.BatchSizes = []int{1, 2, 7}
	}
	if h.Timeout <= 0 {
		h.Timeout = 30 * time.Second
	}
	t.Run("InProcess", func(t *testing.T) {
		k := &kit{h: h, fresh: h.New}
		k.c = h.New()
		k.exercise(t)
	})
	t.Run("GRPC", func(t *testing.T) {
		c := overGRPC(t, h.New())
		k := &kit{h: h, c: c, remote: true, fresh: func() sdk.Connector { return c }}
		k.exercise(t)
	})
}

// overGRPC serves c through go-plugin's in-process gRPC test connection and
// returns the client side, as the hub would see it.
func overGRPC(t *testing.T, c sdk.Connector) sdk.Connector {
	t.Helper()
	// Closing the client shuts the server down (go-plugin's controller);
	// stopping the server as well would race with that.
	client, _ := plugin.TestPluginGRPCConn(t, false, sdk.PluginSet(c))
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatalf("dispense connector over gRPC: %v", err)
	}
	conn, ok := raw.(sdk.Connector)
	if !ok {
		t.Fatalf("dispensed %T, which is not an sdk.Connector", raw)
	}
	return conn
}

// kit runs the checks against one connector, in process or over gRPC.
type kit struct {
	h      Harness
	c      sdk.Connector
	fresh  func() sdk.Connector // a new instance in process, the same client over gRPC
	remote bool
	spec   sdk.Spec
	cfg    sdk.Config
	// secrets are the secret values of Config and BadEndpoint.
	secrets []string
}

func (k *kit) exercise(t *testing.T) {
	k.spec = k.c.Spec()
	t.Run("Spec", k.checkSpec)
	cfg, err := sdk.ParseConfig(k.spec, k.h.Config)
	if err != nil {
		t.Fatalf("Harness.Config is not valid for the spec: %v", err)
	}
	k.cfg = cfg
	k.collectSecrets(t)

	t.Run("RequiredParams", k.checkRequired)
	t.Run("Check", k.checkCheck)
	t.Run("CheckBadEndpoint", k.checkBadEndpoint)
	var full []sdk.Record
	t.Run("ReadAll", func(t *testing.T) { full = k.checkReadAll(t) })
	if full == nil && k.h.Expect > 0 {
		return // the rest compares against a full read
	}
	t.Run("Resume", func(t *testing.T) { k.checkResume(t, full) })
	t.Run("InvalidPosition", k.checkInvalidPosition)
	t.Run("ConcurrentReads", func(t *testing.T) { k.checkConcurrent(t, full) })
	t.Run("Webhook", k.checkWebhook)
	// Last: acknowledgements may change the source until Reset.
	t.Run("CrashBeforeCommit", func(t *testing.T) { k.checkCrashBeforeCommit(t, full) })
}

func (k *kit) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), k.h.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// call runs f, failing the test with a stack trace if it panics.
func call[T any](t *testing.T, name string, f func() (T, error)) (T, error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s panicked: %v\n%s", name, r, debug.Stack())
		}
	}()
	return f()
}

func (k *kit) read(t *testing.T, c sdk.Connector, pos sdk.Position, max int) (sdk.ReadResult, error) {
	t.Helper()
	return call(t, "Read", func() (sdk.ReadResult, error) { return c.Read(k.ctx(t), k.cfg, pos, max) })
}

func (k *kit) checkSpec(t *testing.T) {
	s := k.spec
	if err := s.Validate(); err != nil {
		t.Errorf("spec is invalid: %v", err)
	}
	if strings.TrimSpace(s.Description) == "" {
		t.Errorf("spec %q has no description", s.Name)
	}
	for _, p := range s.Params {
		if strings.TrimSpace(p.Description) == "" {
			t.Errorf("param %q has no description", p.Name)
		}
	}
	if len(s.Kinds) == 0 {
		t.Errorf("spec declares no record kinds")
	}
	if again := k.c.Spec(); !sameSpec(s, again) {
		t.Errorf("Spec changed between two calls:\n%+v\n%+v", s, again)
	}
	if k.remote {
		if local := k.h.New().Spec(); !sameSpec(s, local) {
			t.Errorf("spec over gRPC differs from the spec in process:\n got %+v\nwant %+v", s, local)
		}
	}
}

func sameSpec(a, b sdk.Spec) bool {
	return a.Name == b.Name && a.Version == b.Version && a.Description == b.Description &&
		slices.Equal(a.Params, b.Params) && slices.Equal(a.Kinds, b.Kinds)
}

func (k *kit) collectSecrets(t *testing.T) {
	for _, raw := range []map[string]string{k.h.Config, k.h.BadEndpoint} {
		for _, p := range k.spec.Params {
			v := strings.TrimSpace(raw[p.Name])
			if !p.Secret || v == "" {
				continue
			}
			if len(v) < 6 {
				t.Errorf("secret parameter %q has a %d-character value in the harness; use at least 6 characters so that leaks can be found", p.Name, len(v))
				continue
			}
			if !slices.Contains(k.secrets, v) {
				k.secrets = append(k.secrets, v)
			}
		}
	}
	if len(k.secrets) == 0 && slices.ContainsFunc(k.spec.Params, func(p sdk.Param) bool { return p.Secret }) {
		t.Logf("the spec has secret parameters but Harness.Config sets none: secret leaks are not checked")
	}
	if s := k.cfg.String() + fmt.Sprintf("%v %+v %#v", k.cfg, k.cfg, k.cfg); k.leaks(s) != "" {
		t.Errorf("the printed configuration shows a secret: %s", s)
	}
}

// text is err's message with the secrets replaced, for test output: a
// failing kit must not print the secret it caught.
func (k *kit) text(err error) string {
	if err == nil {
		return "<nil>"
	}
	s := err.Error()
	for _, v := range k.secrets {
		s = strings.ReplaceAll(s, v, sdk.Redacted)
	}
	return s
}

// leaks returns the first secret found in s, or "".
func (k *kit) leaks(s string) string {
	for _, v := range k.secrets {
		if strings.Contains(s, v) {
			return v
		}
	}
	return ""
}

func (k *kit) noSecretInError(t *testing.T, where string, err error) {
	t.Helper()
	if err != nil && k.leaks(err.Error()) != "" {
		t.Errorf("%s: the error shows a secret value: %v", where, k.text(err))
	}
}

func (k *kit) checkRequired(t *testing.T) {
	n := 0
	for _, p := range k.spec.Params {
		if !p.Required {
			continue
		}
		n++
		t.Run(p.Name, func(t *testing.T) {
			raw := maps.Clone(k.h.Config)
			delete(raw, p.Name)
			_, err := sdk.ParseConfig(k.spec, raw)
			k.wantInvalidConfig(t, "ParseConfig without "+p.Name, err, p.Name)
			if !k.remote {
				return
			}
			// The hub validates before calling, but the plugin must not
			// rely on it: send a configuration validated against a spec
			// that makes the parameter optional.
			relaxed := k.spec
			relaxed.Params = slices.Clone(k.spec.Params)
			for i := range relaxed.Params {
				if relaxed.Params[i].Name == p.Name {
					relaxed.Params[i].Required = false
				}
			}
			cfg, err := sdk.ParseConfig(relaxed, raw)
			if err != nil {
				t.Fatalf("ParseConfig with %q optional: %v", p.Name, err)
			}
			_, err = call(t, "Check", func() (struct{}, error) { return struct{}{}, k.c.Check(k.ctx(t), cfg) })
			k.wantInvalidConfig(t, "Check without "+p.Name, err, p.Name)
			_, err = call(t, "Read", func() (sdk.ReadResult, error) { return k.c.Read(k.ctx(t), cfg, nil, 1) })
			k.wantInvalidConfig(t, "Read without "+p.Name, err, p.Name)
		})
	}
	if n == 0 {
		t.Logf("the spec has no required parameters")
	}
}

func (k *kit) wantInvalidConfig(t *testing.T, what string, err error, param string) {
	t.Helper()
	var ic *sdk.InvalidConfigError
	switch {
	case err == nil:
		t.Errorf("%s: no error, want one naming %q", what, param)
	case !errors.As(err, &ic) || ic.Param != param:
		t.Errorf("%s: error %q is not an *sdk.InvalidConfigError for %q", what, k.text(err), param)
	case !strings.Contains(err.Error(), param):
		t.Errorf("%s: error %q does not name the parameter %q", what, k.text(err), param)
	}
	k.noSecretInError(t, what, err)
}

func (k *kit) checkCheck(t *testing.T) {
	_, err := call(t, "Check", func() (struct{}, error) { return struct{}{}, k.c.Check(k.ctx(t), k.cfg) })
	if err != nil {
		t.Errorf("Check with Harness.Config: %v", k.text(err))
	}
	k.noSecretInError(t, "Check", err)
}

func (k *kit) checkBadEndpoint(t *testing.T) {
	cfg, err := sdk.ParseConfig(k.spec, k.h.BadEndpoint)
	if err != nil {
		t.Fatalf("Harness.BadEndpoint must be a valid configuration (of an unreachable source): %v", k.text(err))
	}
	_, err = call(t, "Check", func() (struct{}, error) { return struct{}{}, k.c.Check(k.ctx(t), cfg) })
	switch {
	case err == nil:
		t.Errorf("Check with Harness.BadEndpoint succeeded, want an error")
	case errors.Is(err, context.DeadlineExceeded):
		t.Errorf("Check with Harness.BadEndpoint ran until the %v deadline (%v); it must fail fast with a message", k.h.Timeout, k.text(err))
	case len(strings.TrimSpace(err.Error())) < 10:
		t.Errorf("Check with Harness.BadEndpoint: error %q says too little to act on", k.text(err))
	}
	k.noSecretInError(t, "Check with BadEndpoint", err)
}

// readToEnd reads from pos in batches of max until More is false, checking
// each batch. It returns the records and the last position.
func (k *kit) readToEnd(t *testing.T, c func() sdk.Connector, pos sdk.Position, max int) ([]sdk.Record, sdk.Position) {
	t.Helper()
	var all []sdk.Record
	for calls := 0; ; calls++ {
		if calls > k.h.Expect+10 {
			t.Fatalf("Read(max=%d) still reports More after %d calls and %d records", max, calls, len(all))
		}
		res, err := k.read(t, c(), pos, max)
		k.noSecretInError(t, "Read", err)
		if err != nil {
			t.Fatalf("Read(max=%d) after %d records: %v", max, len(all), k.text(err))
		}
		if len(res.Records) > max {
			t.Fatalf("Read(max=%d) returned %d records", max, len(res.Records))
		}
		if len(res.Records) > 0 && len(res.Next) == 0 {
			t.Fatalf("Read(max=%d) returned %d records and an empty Next position: the hub would read them again", max, len(res.Records))
		}
		k.checkRecords(t, "Read", res.Records)
		all = append(all, res.Records...)
		if len(res.Next) > 0 {
			pos = res.Next
		}
		if !res.More {
			return all, pos
		}
	}
}

func (k *kit) checkRecords(t *testing.T, where string, rs []sdk.Record) {
	t.Helper()
	for i, r := range rs {
		at := fmt.Sprintf("%s: record %d (id %q)", where, i, r.ID)
		if strings.TrimSpace(r.ID) == "" {
			t.Errorf("%s: empty id", at)
		}
		if !k.spec.HasKind(r.Kind) {
			t.Errorf("%s: kind %q is not declared in the spec (%v)", at, r.Kind, k.spec.Kinds)
		}
		if !json.Valid(r.Payload) {
			t.Errorf("%s: payload is not valid JSON: %.200s", at, r.Payload)
		}
		if r.Time.IsZero() {
			t.Errorf("%s: no source time", at)
		}
		if s := k.leaks(r.ID + r.Kind + string(r.Payload)); s != "" {
			t.Errorf("%s: shows a secret value", at)
		}
	}
}

// diff describes how got differs from want, for id lists.
func diff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at %d: got %q, want %q (got %d ids, want %d)", i, got[i], want[i], len(got), len(want))
		}
	}
	if len(got) > len(want) {
		return fmt.Sprintf("%d extra ids from %q on", len(got)-len(want), got[len(want)])
	}
	return fmt.Sprintf("%d ids missing from %q on", len(want)-len(got), want[len(got)])
}

func (k *kit) checkReadAll(t *testing.T) []sdk.Record {
	batch := max(k.h.Expect, 1) + 1
	full, last := k.readToEnd(t, k.fresh, nil, batch)
	if len(full) != k.h.Expect {
		t.Fatalf("a full read returned %d records, want Harness.Expect = %d", len(full), k.h.Expect)
	}
	seen := make(map[string]int, len(full))
	for i, r := range full {
		if j, dup := seen[r.ID]; dup {
			t.Errorf("records %d and %d share the id %q", j, i, r.ID)
		}
		seen[r.ID] = i
	}
	again, _ := k.readToEnd(t, k.fresh, nil, batch)
	if got, want := IDs(again), IDs(full); !slices.Equal(got, want) {
		t.Errorf("a second full read gave other ids: %s", diff(got, want))
	} else {
		for i := range full {
			if !bytes.Equal(full[i].Payload, again[i].Payload) || !full[i].Time.Equal(again[i].Time) {
				t.Errorf("record %q changed between two reads of an unchanged source", full[i].ID)
			}
		}
	}
	if len(last) > 0 {
		res, err := k.read(t, k.c, last, batch)
		k.noSecretInError(t, "Read at the end", err)
		switch {
		case err != nil:
			t.Errorf("Read from the last position: %v", k.text(err))
		case len(res.Records) > 0 || res.More:
			t.Errorf("Read from the last position returned %d records (More %v), want none: %s", len(res.Records), res.More, diff(IDs(res.Records), nil))
		}
	}
	return full
}

// sample picks the indexes of n items to resume from: all of them when n is
// small, else the first, the last and about twenty in between.
func sample(n int) []int {
	if n <= 24 {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := []int{0, 1}
	for i := 2; i < n-2; i += n / 20 {
		out = append(out, i)
	}
	return append(out, n-2, n-1)
}

func (k *kit) checkResume(t *testing.T, full []sdk.Record) {
	want := IDs(full)
	for _, n := range k.h.BatchSizes {
		t.Run(fmt.Sprintf("batch=%d", n), func(t *testing.T) {
			// Read to the end in batches of n, each from the position the
			// previous one returned, keeping every position handed out.
			var got []string
			var saved []sdk.Position // saved[j] resumes after the first savedAt[j] records
			var savedAt []int
			var pos sdk.Position
			for calls := 0; ; calls++ {
				if calls > k.h.Expect+10 {
					t.Fatalf("Read(max=%d) still reports More after %d calls", n, calls)
				}
				res, err := k.read(t, k.fresh(), pos, n)
				k.noSecretInError(t, "Read", err)
				if err != nil {
					t.Fatalf("Read(max=%d) after %d records: %v", n, len(got), k.text(err))
				}
				if len(res.Records) > n {
					t.Fatalf("Read(max=%d) returned %d records", n, len(res.Records))
				}
				k.checkRecords(t, "Read", res.Records)
				for _, r := range res.Records {
					got = append(got, r.ID)
					if len(r.Position) > 0 {
						saved, savedAt = append(saved, r.Position), append(savedAt, len(got))
					}
				}
				if len(res.Next) > 0 {
					pos = res.Next
					saved, savedAt = append(saved, res.Next), append(savedAt, len(got))
				} else if len(res.Records) > 0 {
					t.Fatalf("Read(max=%d) returned records and an empty Next position", n)
				}
				if !res.More {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("reading in batches of %d differs from a full read: %s", n, diff(got, want))
			}
			// Resume from saved positions, each with a new connector: the
			// hub restarts plugins between reads.
			for _, i := range sample(len(saved)) {
				rest, _ := k.readToEnd(t, k.fresh, saved[i], max(k.h.Expect, 1)+1)
				if got, want := IDs(rest), want[savedAt[i]:]; !slices.Equal(got, want) {
					t.Errorf("resuming from the position after record %d (%q): %s", savedAt[i], saved[i], diff(got, want))
				}
			}
		})
	}
}

func (k *kit) checkInvalidPosition(t *testing.T) {
	garbage := sdk.Position("\xff\x00 not a position sdktest made up \x01")
	_, err := k.read(t, k.c, garbage, 1)
	switch {
	case err == nil:
		t.Errorf("Read from a corrupt position succeeded; want an error wrapping sdk.ErrInvalidPosition")
	case !errors.Is(err, sdk.ErrInvalidPosition):
		t.Errorf("Read from a corrupt position: %v; want an error wrapping sdk.ErrInvalidPosition", k.text(err))
	}
	k.noSecretInError(t, "Read from a corrupt position", err)
}

func (k *kit) checkConcurrent(t *testing.T, full []sdk.Record) {
	const readers = 4
	want := IDs(full)
	batch := max(k.h.Expect/3, 1)
	var wg sync.WaitGroup
	errs := make(chan string, readers)
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					errs <- fmt.Sprintf("Read panicked: %v\n%s", r, debug.Stack())
				}
			}()
			var got []string
			var pos sdk.Position
			for calls := 0; calls <= k.h.Expect+10; calls++ {
				ctx, cancel := context.WithTimeout(context.Background(), k.h.Timeout)
				res, err := k.c.Read(ctx, k.cfg, pos, batch)
				cancel()
				if err != nil {
					errs <- fmt.Sprintf("concurrent Read: %v", k.text(err))
					return
				}
				got = append(got, IDs(res.Records)...)
				if len(res.Next) > 0 {
					pos = res.Next
				}
				if !res.More {
					if !slices.Equal(got, want) {
						errs <- "concurrent reads differ from a full read: " + diff(got, want)
					}
					return
				}
			}
			errs <- "concurrent Read still reports More"
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func (k *kit) checkWebhook(t *testing.T) {
	_, implements := k.h.New().(sdk.WebhookHandler)
	wc := k.h.Webhook
	switch {
	case !implements && wc != nil:
		t.Fatalf("Harness.Webhook is set but the connector does not implement sdk.WebhookHandler")
	case !implements:
		if wh, ok := k.c.(sdk.WebhookHandler); ok { // the gRPC client always has the method
			_, err := wh.Webhook(k.ctx(t), k.cfg, sdk.WebhookRequest{Method: "POST", Body: []byte("{}")})
			if !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("Webhook on a connector without webhooks: %v, want errors.ErrUnsupported", k.text(err))
			}
		}
		return
	case wc == nil:
		t.Fatalf("the connector implements sdk.WebhookHandler: set Harness.Webhook to a valid signed request")
	}
	wh := k.c.(sdk.WebhookHandler)
	hook := func(req sdk.WebhookRequest) (sdk.WebhookResult, error) {
		return call(t, "Webhook", func() (sdk.WebhookResult, error) { return wh.Webhook(k.ctx(t), k.cfg, req) })
	}

	res, err := hook(wc.Request)
	k.noSecretInError(t, "Webhook", err)
	if err != nil {
		t.Fatalf("Webhook with Harness.Webhook.Request: %v", k.text(err))
	}
	if res.Status != 0 && (res.Status < 200 || res.Status > 299) {
		t.Errorf("Webhook accepted the request but answers status %d", res.Status)
	}
	if len(res.Records) != wc.Expect {
		t.Errorf("Webhook returned %d records, want Harness.Webhook.Expect = %d", len(res.Records), wc.Expect)
	}
	k.checkRecords(t, "Webhook", res.Records)

	tampered := wc.Request
	tampered.Body = append(bytes.Clone(wc.Request.Body), ' ', '{', '}')
	_, err = hook(tampered)
	if !errors.Is(err, sdk.ErrInvalidSignature) {
		t.Errorf("Webhook with a tampered body: %v, want an error wrapping sdk.ErrInvalidSignature", k.text(err))
	}
	k.noSecretInError(t, "Webhook with a tampered body", err)

	unsigned := wc.Request
	unsigned.Headers, unsigned.Query = nil, nil
	_, err = hook(unsigned)
	if !errors.Is(err, sdk.ErrInvalidSignature) {
		t.Errorf("Webhook without headers: %v, want an error wrapping sdk.ErrInvalidSignature", k.text(err))
	}
	k.noSecretInError(t, "Webhook without headers", err)
}

// ack acknowledges pos as committed, as the hub does, when c can be told.
func (k *kit) ack(t *testing.T, c sdk.Connector, pos sdk.Position) {
	t.Helper()
	a, ok := c.(sdk.Acknowledger)
	if !ok || len(pos) == 0 {
		return
	}
	_, err := call(t, "Ack", func() (struct{}, error) { return struct{}{}, a.Ack(k.ctx(t), k.cfg, pos) })
	k.noSecretInError(t, "Ack", err)
	if err != nil {
		t.Fatalf("Ack of a committed position: %v", k.text(err))
	}
}

// checkCrashBeforeCommit plays a hub that commits some batches (and
// acknowledges each), reads two batches ahead, and dies before committing
// them; a new hub resumes from the last committed position. For each crash
// point, the records committed plus the records read after resuming must
// be the full read: none lost, none doubled.
func (k *kit) checkCrashBeforeCommit(t *testing.T, full []sdk.Record) {
	want := IDs(full)
	n := max(1, k.h.Expect/4)
	for _, committedBatches := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("after=%d", committedBatches), func(t *testing.T) {
			if k.h.Reset != nil {
				defer k.h.Reset(t)
			}
			dead := k.fresh()
			var got []string
			var committed sdk.Position
			more := true
			for b := 0; b < committedBatches && more; b++ {
				res, err := k.read(t, dead, committed, n)
				if err != nil {
					t.Fatalf("Read(max=%d) after %d records: %v", n, len(got), k.text(err))
				}
				got = append(got, IDs(res.Records)...)
				if len(res.Next) > 0 {
					committed = res.Next
				}
				k.ack(t, dead, committed)
				more = res.More
			}
			// Read ahead of the commits: these batches die with the hub.
			ahead := committed
			for range 2 {
				if !more {
					break
				}
				res, err := k.read(t, dead, ahead, n)
				if err != nil {
					t.Fatalf("read ahead from a position not yet committed: %v", k.text(err))
				}
				if len(res.Next) > 0 {
					ahead = res.Next
				}
				more = res.More
			}
			// A new hub (and a new connector process) resumes.
			hub := k.fresh()
			k.ack(t, hub, committed)
			pos := committed
			for calls := 0; ; calls++ {
				if calls > k.h.Expect+10 {
					t.Fatalf("Read still reports More after %d calls", calls)
				}
				res, err := k.read(t, hub, pos, n)
				if err != nil {
					t.Fatalf("Read after the crash, after %d records: %v", len(got), k.text(err))
				}
				got = append(got, IDs(res.Records)...)
				if len(res.Next) > 0 {
					pos = res.Next
				}
				k.ack(t, hub, pos)
				if !res.More {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("a hub killed after committing %d batch(es) of %d and reading two ahead, then resumed: %s", committedBatches, n, diff(got, want))
			}
		})
	}
}
