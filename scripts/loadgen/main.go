// Command loadgen posts canonical events to a running hub serve's
// POST /v1/events from many concurrent clients and reports what the
// server sustained: events/s, request latency percentiles and errors
// (docs/benchmarks.md, "HTTP intake under load").
//
//	go run ./scripts/loadgen -url http://127.0.0.1:8080 -clients 32 \
//	    -events 100000 -batch 100 -duration 60s -input plant.jsonl
//
// The token is the bearer token of a user (hub token create) or of an
// intake token, taken from $HUB_TOKEN, -token-file or -token (the last
// shows in the process list: prefer the others). It is never printed.
//
// It is bounded: at most -events events (a cap of 10,000,000) and
// -duration (at most 30 minutes), and it talks only to loopback: a URL
// whose host is not a loopback address (or a name that resolves only to
// loopback addresses) is refused, and every connection is checked again
// when it is dialled. A client whose request gets no answer (the server is
// gone, or the request timed out) stops. Without -input it makes receipts of lots of its own
// (ids start with -prefix), so a run never collides with a plant's events.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits of one run.
const (
	maxEvents   = 10_000_000
	maxDuration = 30 * time.Minute
	maxBatch    = 10_000 // the server's events per request (core.MaxEventsPerRequest)
	maxClients  = 1024
	maxRate     = 10_000_000 // events a second offered
)

// Options say what a run posts, where, and how.
type Options struct {
	URL      string        // the hub's base URL, e.g. http://127.0.0.1:8080
	Token    string        // bearer token
	Clients  int           // concurrent clients
	Events   int           // events to post in all
	Batch    int           // events per request; 1 posts one JSON object a request
	Duration time.Duration // no request starts after this
	// Rate, when above 0, is the events a second offered (an open loop):
	// the request with events first… is due at first/Rate seconds after
	// the start, a client sends it then (or at once, when every client was
	// busy at that time), and its latency counts from when it was due, so
	// a server that falls behind shows it in the latency, not in a slower
	// schedule. 0 is a closed loop: each client sends its next request
	// when its last is answered, as fast as the server goes.
	Rate    float64
	Timeout time.Duration // one request's timeout
	// Lines are the events to post, one JSON object each; nil makes
	// Events receipts with ids starting with Prefix.
	Lines  [][]byte
	Prefix string
	// Acked, when not nil, receives the ids of the events of every
	// request answered with a 2xx status, one a line, as the answers
	// arrive.
	Acked io.Writer
}

// Report is what a run measured.
type Report struct {
	URL          string         `json:"url"`
	Clients      int            `json:"clients"`
	Batch        int            `json:"batch"`
	OfferedRate  float64        `json:"offered_events_per_second,omitempty"` // Options.Rate; absent: a closed loop
	Requests     int            `json:"requests"`
	EventsSent   int            `json:"events_sent"`
	EventsAcked  int            `json:"events_acked"` // in requests answered 2xx
	Seconds      float64        `json:"seconds"`
	EventsPerSec float64        `json:"events_per_second"` // acked / seconds
	RequestsPerS float64        `json:"requests_per_second"`
	P50ms        float64        `json:"p50_ms"`
	P95ms        float64        `json:"p95_ms"`
	P99ms        float64        `json:"p99_ms"`
	Maxms        float64        `json:"max_ms"`
	Errors       int            `json:"errors"`    // requests not answered 2xx
	ByStatus     map[string]int `json:"by_status"` // "200", "207", "413", "transport", …
	// Answers sums the counts of the 2xx answers.
	Stored      int    `json:"stored"`
	Superseded  int    `json:"superseded"`
	Duplicates  int    `json:"duplicates"`
	Quarantined int    `json:"quarantined"`
	FirstError  string `json:"first_error,omitempty"`
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	var o Options
	var tokenFile, input, acked string
	var asJSON bool
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8080", "the hub's base URL (loopback only)")
	fs.StringVar(&o.Token, "token", "", "bearer token (prefer $HUB_TOKEN or -token-file: a flag shows in ps)")
	fs.StringVar(&tokenFile, "token-file", "", "file holding the bearer token")
	fs.IntVar(&o.Clients, "clients", 32, "concurrent clients")
	fs.IntVar(&o.Events, "events", 10000, fmt.Sprintf("events to post in all (at most %d)", maxEvents))
	fs.IntVar(&o.Batch, "batch", 1, "events per request (1: one JSON object a request; more: JSON Lines)")
	fs.DurationVar(&o.Duration, "duration", time.Minute, "stop starting requests after this (at most 30m)")
	fs.Float64Var(&o.Rate, "rate", 0, "events a second to offer (an open loop: latency counts from when each request was due); 0: each client posts again as soon as it is answered")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Second, "one request's timeout")
	fs.StringVar(&input, "input", "", "canonical events to post (JSON Lines, e.g. from hub gen); default: receipts of its own")
	fs.StringVar(&o.Prefix, "prefix", "", "id prefix of the receipts made without -input (default load-TIME)")
	fs.StringVar(&acked, "acked", "", "write the ids of acknowledged (2xx) events to this file")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Token == "" {
		o.Token = os.Getenv("HUB_TOKEN")
	}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return fmt.Errorf("read -token-file: %w", err)
		}
		o.Token = strings.TrimSpace(string(b))
	}
	if input != "" {
		lines, err := readLines(input, o.Events)
		if err != nil {
			return err
		}
		o.Lines = lines
		if len(lines) < o.Events {
			o.Events = len(lines)
		}
	}
	if acked != "" {
		f, err := os.Create(acked)
		if err != nil {
			return fmt.Errorf("create -acked file: %w", err)
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		defer bw.Flush()
		o.Acked = bw
	}
	rep, err := Run(ctx, o)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	offered := "as fast as answered"
	if rep.OfferedRate > 0 {
		offered = fmt.Sprintf("%.0f events/s offered", rep.OfferedRate)
	}
	fmt.Fprintf(stdout, "%d clients, %d events/request, %s: %d requests, %d events sent, %d acknowledged in %.2f s\n",
		rep.Clients, rep.Batch, offered, rep.Requests, rep.EventsSent, rep.EventsAcked, rep.Seconds)
	fmt.Fprintf(stdout, "%.0f events/s, %.0f requests/s; latency p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		rep.EventsPerSec, rep.RequestsPerS, rep.P50ms, rep.P95ms, rep.P99ms, rep.Maxms)
	fmt.Fprintf(stdout, "answers: stored %d, superseded %d, duplicates %d, quarantined %d; errors %d %v\n",
		rep.Stored, rep.Superseded, rep.Duplicates, rep.Quarantined, rep.Errors, rep.ByStatus)
	if rep.FirstError != "" {
		fmt.Fprintf(stdout, "first error: %s\n", rep.FirstError)
	}
	return nil
}

// readLines reads at most n non-blank lines of a JSON Lines file.
func readLines(path string, n int) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open -input: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	var out [][]byte
	for len(out) < n && sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, bytes.Clone(l))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// check validates o and fills in defaults.
func (o *Options) check() error {
	switch {
	case o.Token == "":
		return errors.New("no token: set HUB_TOKEN (hub token create --user NAME), or give -token-file")
	case o.Clients < 1 || o.Clients > maxClients:
		return fmt.Errorf("-clients %d: want 1 to %d", o.Clients, maxClients)
	case o.Events < 1 || o.Events > maxEvents:
		return fmt.Errorf("-events %d: want 1 to %d", o.Events, maxEvents)
	case o.Batch < 1 || o.Batch > maxBatch:
		return fmt.Errorf("-batch %d: want 1 to %d (the server's events per request)", o.Batch, maxBatch)
	case o.Duration <= 0 || o.Duration > maxDuration:
		return fmt.Errorf("-duration %s: want more than 0 and at most %s", o.Duration, maxDuration)
	case o.Rate < 0 || o.Rate > maxRate:
		return fmt.Errorf("-rate %g: want 0 (as fast as answered) to %d events a second", o.Rate, maxRate)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Lines == nil && o.Prefix == "" {
		o.Prefix = "load-" + time.Now().UTC().Format("20060102T150405.000")
	}
	return checkLoopback(o.URL)
}

// checkLoopback refuses a URL whose host is not loopback.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("-url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("-url %q: want http:// or https://", raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("-url %q: %s is not a loopback address; loadgen only loads a hub on this machine", raw, host)
		}
		return nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return fmt.Errorf("-url %q: resolve %s: %w", raw, host, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("-url %q: %s resolves to %s, not a loopback address; loadgen only loads a hub on this machine", raw, host, ip)
		}
	}
	if len(ips) == 0 {
		return fmt.Errorf("-url %q: %s resolves to nothing", raw, host)
	}
	return nil
}

// loopbackOnly refuses, at dial time, a connection to anything but
// loopback (a name that resolved elsewhere since it was checked).
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing to connect to %s: not a loopback address", address)
	}
	return nil
}

// event returns the i-th event to post, as one line of JSON.
func (o *Options) event(i int) []byte {
	if o.Lines != nil {
		return o.Lines[i%len(o.Lines)]
	}
	return fmt.Appendf(nil, `{"id":"%s-%d","type":"receive","time":"2026-01-01T00:00:00Z","lot":{"item":"LOADGEN","lot":"%s-%d"},"qty":1,"uom":"KG","supplier":{"id":"V-LOAD","name":"Load Generator"}}`,
		o.Prefix, i, o.Prefix, i)
}

// eventID reads an event's id.
func eventID(line []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	json.Unmarshal(line, &v)
	return v.ID
}

// answer is the part of POST /v1/events's answer that loadgen sums.
type answer struct {
	Stored      int `json:"stored"`
	Superseded  int `json:"superseded"`
	Duplicates  int `json:"duplicates"`
	Quarantined int `json:"quarantined"`
	Error       *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// Run posts o.Events events and measures the answers.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	endpoint := strings.TrimRight(o.URL, "/") + "/v1/events"
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: loopbackOnly}
	client := &http.Client{
		Timeout: o.Timeout,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: o.Clients,
			MaxConnsPerHost:     o.Clients,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(ctx, o.Duration+o.Timeout)
	defer cancel()
	start := time.Now()
	deadline := start.Add(o.Duration)
	var next atomic.Int64 // index of the next event to post
	var mu sync.Mutex     // guards rep, lat, o.Acked
	rep := &Report{URL: o.URL, Clients: o.Clients, Batch: o.Batch, OfferedRate: o.Rate, ByStatus: map[string]int{}}
	var lat []time.Duration
	var wg sync.WaitGroup
	for range o.Clients {
		wg.Go(func() {
			var body bytes.Buffer
			for ctx.Err() == nil && time.Now().Before(deadline) {
				first := int(next.Add(int64(o.Batch))) - o.Batch
				if first >= o.Events {
					return
				}
				n := min(o.Batch, o.Events-first)
				var due time.Time // when the request is due, with -rate
				if o.Rate > 0 {
					due = start.Add(time.Duration(float64(first) / o.Rate * float64(time.Second)))
					if wait := time.Until(due); wait > 0 {
						t := time.NewTimer(wait)
						select {
						case <-t.C:
						case <-ctx.Done():
							t.Stop()
							return
						}
					}
				}
				body.Reset()
				for i := range n {
					body.Write(o.event(first + i))
					if n > 1 {
						body.WriteByte('\n')
					}
				}
				payload := body.Bytes()
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(payload))
				if err != nil {
					mu.Lock()
					rep.Errors++
					rep.ByStatus["transport"]++
					if rep.FirstError == "" {
						rep.FirstError = err.Error()
					}
					mu.Unlock()
					return
				}
				req.Header.Set("Authorization", "Bearer "+o.Token)
				if n > 1 {
					req.Header.Set("Content-Type", "application/x-ndjson")
				} else {
					req.Header.Set("Content-Type", "application/json")
				}
				t0 := time.Now()
				if o.Rate > 0 {
					t0 = due // a request sent late waited for the server too
				}
				resp, err := client.Do(req)
				var a answer
				var status string
				if err == nil {
					b, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
					resp.Body.Close()
					status = fmt.Sprint(resp.StatusCode)
					err = rerr
					if err == nil {
						json.Unmarshal(b, &a)
					}
				}
				d := time.Since(t0)
				mu.Lock()
				rep.Requests++
				rep.EventsSent += n
				lat = append(lat, d)
				switch {
				case err != nil:
					// The server is gone or does not answer in time: this
					// client stops (its events may or may not be stored).
					rep.Errors++
					rep.ByStatus["transport"]++
					if rep.FirstError == "" {
						rep.FirstError = err.Error()
					}
					mu.Unlock()
					return
				case resp.StatusCode/100 != 2:
					rep.Errors++
					rep.ByStatus[status]++
					if rep.FirstError == "" {
						msg := status
						if a.Error != nil {
							msg += ": " + a.Error.Message
						}
						rep.FirstError = msg
					}
				default:
					rep.ByStatus[status]++
					rep.EventsAcked += n
					rep.Stored += a.Stored
					rep.Superseded += a.Superseded
					rep.Duplicates += a.Duplicates
					rep.Quarantined += a.Quarantined
					if o.Acked != nil {
						for i := range n {
							fmt.Fprintln(o.Acked, eventID(o.event(first+i)))
						}
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	rep.Seconds = elapsed.Seconds()
	if rep.Seconds > 0 {
		rep.EventsPerSec = float64(rep.EventsAcked) / rep.Seconds
		rep.RequestsPerS = float64(rep.Requests) / rep.Seconds
	}
	slices.Sort(lat)
	ms := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := min(len(lat)-1, int(q*float64(len(lat))))
		return float64(lat[i].Microseconds()) / 1000
	}
	rep.P50ms, rep.P95ms, rep.P99ms = ms(0.50), ms(0.95), ms(0.99)
	if len(lat) > 0 {
		rep.Maxms = float64(lat[len(lat)-1].Microseconds()) / 1000
	}
	return rep, nil
}
