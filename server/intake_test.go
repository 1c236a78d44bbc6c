package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lothub/lothub/core"
)

// answer is the answer to POST /v1/events.
type answer struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Read          int               `json:"read"`
	Stored        int               `json:"stored"`
	Superseded    int               `json:"superseded"`
	Duplicates    int               `json:"duplicates"`
	Quarantined   int               `json:"quarantined"`
	Errors        []core.InputError `json:"errors"`
	ErrorsOmitted int               `json:"errors_omitted"`
}

func decodeAnswer(t *testing.T, body []byte) answer {
	t.Helper()
	var a answer
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields() // the answer has these fields and no other
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	return a
}

// sameCounts compares the counts and the errors' positions and ids, not
// their reasons.
func sameCounts(got, want answer) bool {
	pos := func(es []core.InputError) []core.InputError {
		out := []core.InputError{}
		for _, e := range es {
			out = append(out, core.InputError{Index: e.Index, Line: e.Line, ID: e.ID})
		}
		return out
	}
	return got.Read == want.Read && got.Stored == want.Stored && got.Superseded == want.Superseded &&
		got.Duplicates == want.Duplicates && got.Quarantined == want.Quarantined &&
		got.ErrorsOmitted == want.ErrorsOmitted && slices.Equal(pos(got.Errors), pos(want.Errors))
}

// A body with nothing usable in it answers 400, not a 2xx a client would
// take for accepted; what could be read of it is quarantined all the same,
// for hub errors.
func TestPostEventsNothingUsable(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, body string
		want       answer
	}{
		{"NotJSON", "hello, this is not JSON\n", answer{Read: 1, Quarantined: 1, Errors: []core.InputError{{Index: 0, Line: 1}}}},
		{"HTML", "<html>\n\n<body>oops</body>\n</html>", answer{Read: 3, Quarantined: 3,
			Errors: []core.InputError{{Index: 0, Line: 1}, {Index: 1, Line: 3}, {Index: 2, Line: 4}}}},
		{"InvalidEvents", "{\"id\":\"x1\",\"type\":\"ship\"}\n[1]\n", answer{Read: 2, Quarantined: 2,
			Errors: []core.InputError{{Index: 0, Line: 1, ID: "x1"}, {Index: 1, Line: 2}}}},
		{"ArrayOfInvalid", "[\n {\"id\":\"a1\"},\n\n 42\n]", answer{Read: 2, Quarantined: 2,
			Errors: []core.InputError{{Index: 0, Line: 2, ID: "a1"}, {Index: 1, Line: 4}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := e.do(t, "POST", "/v1/events", token, []byte(c.body), nil)
			if code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", code, body)
			}
			got := decodeAnswer(t, body)
			if got.Error == nil || got.Error.Code != core.EINVALID || !strings.Contains(got.Error.Message, "no event in the body could be used") {
				t.Errorf("error = %+v, want code invalid saying nothing could be used", got.Error)
			}
			if !sameCounts(got, c.want) {
				t.Errorf("answer = %s\nwant counts and errors of %+v", body, c.want)
			}
		})
	}
	// Bodies that cannot be cut into events at all: 400, nothing stored.
	for _, body := range []string{"", " \n ", "[{\"id\":\"a\"}, oops]", "[{\"id\":\"a\"}", "[] []", "[]"} {
		code, b := e.do(t, "POST", "/v1/events", token, []byte(body), nil)
		if code != http.StatusBadRequest || !strings.Contains(string(b), `"code":"invalid"`) {
			t.Errorf("body %q: %d %s, want 400 invalid", body, code, b)
		}
	}
	q, err := e.store.Quarantined(context.Background(), core.QuarantineFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 8 {
		t.Errorf("quarantine holds %d entries, want the 8 events of the bodies that could be cut", len(q))
	}
}

// A request holds at most core.MaxEventsPerRequest events; the answer
// lists at most core.MaxErrorsListed errors and counts the rest, so its
// size does not grow with the body's events.
func TestPostEventsPerRequestLimit(t *testing.T) {
	_, e := serve(t, openStore(t)) // the default body limit: 10,000 events fit
	ctx := context.Background()
	over := strings.Repeat("{}\n", core.MaxEventsPerRequest+1)
	arr := "[" + strings.Repeat("{},", core.MaxEventsPerRequest) + "{}]"
	for name, body := range map[string]string{"Lines": over, "Array": arr} {
		code, b := e.do(t, "POST", "/v1/events", token, []byte(body), nil)
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), fmt.Sprintf("send at most %d events a request", core.MaxEventsPerRequest)) {
			t.Errorf("%s: %d events: %d %s, want 413 saying how to split", name, core.MaxEventsPerRequest+1, code, b)
		}
	}
	if q, _ := e.store.Quarantined(ctx, core.QuarantineFilter{}); len(q) != 0 {
		t.Fatalf("a refused request quarantined %d entries", len(q))
	}
	// At the limit, every event is answered for, compactly.
	var body strings.Builder
	body.WriteString(events + "\n")
	for i := 5; i < core.MaxEventsPerRequest; i++ {
		fmt.Fprintf(&body, "{\"id\":\"e%d\"}\n", i)
	}
	code, b := e.do(t, "POST", "/v1/events", token, []byte(body.String()), nil)
	if code != http.StatusMultiStatus {
		t.Fatalf("%d events, 4 valid: %d, want 207", core.MaxEventsPerRequest, code)
	}
	got := decodeAnswer(t, b)
	quarantined := core.MaxEventsPerRequest - 4
	if got.Read != core.MaxEventsPerRequest || got.Stored != 4 || got.Quarantined != quarantined ||
		len(got.Errors) != core.MaxErrorsListed || got.ErrorsOmitted != quarantined-core.MaxErrorsListed {
		t.Errorf("read %d stored %d quarantined %d, %d errors listed and %d omitted; want %d, 4, %d, %d and %d",
			got.Read, got.Stored, got.Quarantined, len(got.Errors), got.ErrorsOmitted,
			core.MaxEventsPerRequest, quarantined, core.MaxErrorsListed, quarantined-core.MaxErrorsListed)
	}
	if first, last := got.Errors[0], got.Errors[len(got.Errors)-1]; first.ID != "bad" || first.Line != 5 || first.Index != 4 ||
		last.ID != "e103" || last.Line != 104 || last.Index != 103 {
		t.Errorf("errors run from %+v to %+v; want bad at line 5 to e103 at line 104", first, last)
	}
	// About 150 bytes an error listed; without the cap it was 90 bytes an
	// event, whatever became of it (900 KB here).
	if len(b) > 32<<10 {
		t.Errorf("answer to %d events is %d bytes, want at most 32 KiB", core.MaxEventsPerRequest, len(b))
	}
	if q, _ := e.store.Quarantined(ctx, core.QuarantineFilter{}); len(q) != quarantined {
		t.Errorf("quarantine holds %d entries, want all %d (hub errors lists what the answer omits)", len(q), quarantined)
	}
}

// sized returns a step event of lot X/lot of exactly n bytes (n ≥ 200).
func sized(id, lot string, n int) []byte {
	head := `{"id":"` + id + `","type":"step","time":"2026-03-01T08:00:00Z","lot":{"item":"X","lot":"` + lot + `"},"step":"qc","params":{"blob":"`
	tail := `"}}`
	return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}

// One event may have core.MaxEventSize bytes, however it comes in: a line
// of hub ingest, a line, an array element or the one object of POST
// /v1/events. A longer one is quarantined with the same reason each way.
func TestEventSizeLimitEveryWayIn(t *testing.T) {
	_, e := serve(t, openStore(t)) // the default body limit, 10 MiB
	ctx := context.Background()
	ways := []struct {
		name string
		post func(ev []byte) []byte // the body; nil: hub ingest's reader
	}{
		{"HubIngest", nil},
		{"Line", func(ev []byte) []byte { return append(append([]byte(nil), ev...), '\n') }},
		{"Array", func(ev []byte) []byte { return append(append([]byte("[\n"), ev...), "\n]"...) }},
		{"Object", func(ev []byte) []byte { return ev }},
	}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			fits, over := sized("fits-"+w.name, w.name, core.MaxEventSize), sized("over-"+w.name, w.name, core.MaxEventSize+1)
			if w.post == nil {
				in := core.Ingester{Store: e.store}
				st, err := in.IngestJSONL(ctx, bytes.NewReader(slices.Concat(fits, []byte("\n"), over, []byte("\n"))), "big.jsonl")
				if err != nil || st.New != 1 || st.Quarantined != 1 {
					t.Fatalf("hub ingest: %+v %v; want 1 new, 1 quarantined", st, err)
				}
			} else {
				code, b := e.do(t, "POST", "/v1/events", token, w.post(fits), nil)
				if got := decodeAnswer(t, b); code != http.StatusOK || got.Stored != 1 {
					t.Fatalf("event of %d bytes: %d %.300s; want 200, stored", core.MaxEventSize, code, b)
				}
				code, b = e.do(t, "POST", "/v1/events", token, w.post(over), nil)
				got := decodeAnswer(t, b)
				if code != http.StatusBadRequest || got.Quarantined != 1 || len(got.Errors) != 1 || got.Errors[0].Reason != core.EventTooLong() {
					t.Fatalf("event of %d bytes: %d %.300s; want 400 and the reason %q", core.MaxEventSize+1, code, b, core.EventTooLong())
				}
			}
			if _, err := e.store.FindLot(ctx, core.LotRef{Item: "X", Lot: w.name}); err != nil {
				t.Errorf("the event that fits was not stored: %v", err)
			}
			q, err := e.store.Quarantined(ctx, core.QuarantineFilter{})
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(q, func(r core.QuarantineRow) bool { return strings.HasPrefix(r.Raw, `{"id":"over-`+w.name) })
			if i < 0 {
				t.Fatalf("the event over the limit is not in the quarantine")
			}
			if q[i].Reason != core.EventTooLong() || len(q[i].Raw) > 300 {
				t.Errorf("quarantined with %q and %d bytes kept; want %q and its start", q[i].Reason, len(q[i].Raw), core.EventTooLong())
			}
		})
	}
}

// One object may span lines: it is one event, not one per line.
func TestPostEventsOneObject(t *testing.T) {
	e := newEnv(t)
	body := "\n{\n  \"id\": \"r1\", \"type\": \"receive\", \"time\": \"2026-03-01T08:00:00Z\",\n" +
		"  \"lot\": {\"item\": \"FLOUR\", \"lot\": \"F-A\"}, \"qty\": 100, \"uom\": \"KG\"\n}\n"
	code, b := e.do(t, "POST", "/v1/events", token, []byte(body), nil)
	if got := decodeAnswer(t, b); code != http.StatusOK || !sameCounts(got, answer{Read: 1, Stored: 1, Errors: []core.InputError{}}) {
		t.Errorf("pretty-printed event: %d %s, want 200, 1 stored", code, b)
	}
}

// syncBuffer is a log destination that tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A webhook's caller is anonymous until the connector checked the
// signature: its errors name nothing of the configuration, the log does.
func TestWebhookErrorsNameNoConfiguration(t *testing.T) {
	var log syncBuffer
	e := newEnvLog(t, slog.New(slog.NewTextHandler(&log, nil)))
	scan := []byte(`{"scan_id":"W1","time":"2026-03-05T08:00:00Z","station":"MIX-1","order":"WO-7","direction":"IN","item":"SUGAR","lot":"SG-1","qty":5,"uom":"KG"}`)
	cases := []struct {
		name, path string
		body       []byte
		status     int
		message    string
		logged     string // what the hub's log says instead
	}{
		{"UnknownConnector", "/v1/webhooks/nope", scan, http.StatusNotFound,
			"no webhook is received at this address: check the URL", `no connector \"nope\" in ` + e.file},
		{"BrokenConfiguration", "/v1/webhooks/broken", scan, http.StatusServiceUnavailable,
			"the webhook cannot be taken now: nothing was stored; retry later (the hub's log says why)", "webhook_secret"},
		{"BodyTooLarge", "/v1/webhooks/mes", bytes.Repeat([]byte("x"), 200000), http.StatusRequestEntityTooLarge,
			"webhook body too large: nothing was stored", "max_body=100000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := e.do(t, "POST", c.path, "", c.body, map[string]string{"X-Lothub-Signature": sign(c.body)})
			var got struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("%d %s: %v", code, body, err)
			}
			if code != c.status || got.Error.Message != c.message {
				t.Errorf("answer %d %s\nwant %d %q", code, body, c.status, c.message)
			}
			for _, secret := range []string{e.file, "hub.yaml", "mes", "broken", "webhook_secret", "scans", "mapping"} {
				if strings.Contains(got.Error.Message, secret) {
					t.Errorf("answer names %q of the configuration: %s", secret, body)
				}
			}
			if !strings.Contains(log.String(), c.logged) {
				t.Errorf("the log does not say %q:\n%s", c.logged, log.String())
			}
		})
	}
}
