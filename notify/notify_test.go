package notify_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/notify"
)

var gap = core.Gap{ID: "GAP-7", Kind: "output_without_input", Item: "BREAD", Lot: "BR-1", Order: "WO-9",
	Detail: "order WO-9 produced BREAD/BR-1 but no consumption arrived within 4h", Since: "2026-03-04T11:00:00Z", Site: "PLANT-1"}

func TestWebhookFormats(t *testing.T) {
	cases := []struct {
		format, want string
	}{
		{"", `"text":"New traceability gap GAP-7`},
		{"teams", `"@type":"MessageCard"`},
		{"json", `"channel":"supervisor"`},
	}
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			var got string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got = string(b)
				if r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("content type %q", r.Header.Get("Content-Type"))
				}
			}))
			defer srv.Close()
			w := &notify.Webhook{URL: srv.URL + "/hooks/T000/SECRETPATH", Format: c.format}
			if err := w.Notify(context.Background(), core.Alert{Stage: core.StageSupervisor, Gap: gap}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got, c.want) || !json.Valid([]byte(got)) {
				t.Errorf("body %s, want JSON containing %s", got, c.want)
			}
		})
	}
}

func TestWebhookErrorHidesTheURLSecret(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer srv.Close()
	w := &notify.Webhook{URL: srv.URL + "/hooks/SECRETPATH"}
	err := w.Notify(context.Background(), core.Alert{Gap: gap})
	if err == nil || strings.Contains(err.Error(), "SECRETPATH") || !strings.Contains(err.Error(), "500") {
		t.Errorf("err = %v, want the status without the URL's path", err)
	}
}

// A notifier that fails and then recovers delivers the alert once, and a
// retry does not repeat the alert to notifiers that took it.
func TestRouterDeliversOncePerNotifier(t *testing.T) {
	var chat, flaky atomic.Int32
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { chat.Add(1) }))
	defer ok.Close()
	failFirst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if flaky.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer failFirst.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a notifier for another site got the alert")
	}))
	defer other.Close()
	r := &notify.Router{Targets: []notify.Target{
		{Name: "chat", Notifier: &notify.Webhook{URL: ok.URL}},
		{Name: "flaky", Stages: []string{"supervisor"}, Notifier: &notify.Webhook{URL: failFirst.URL}},
		{Name: "site-2", Sites: []string{"PLANT-2"}, Notifier: &notify.Webhook{URL: other.URL}},
		{Name: "quality-only", Stages: []string{"quality"}, Notifier: &notify.Webhook{URL: other.URL}},
	}}
	a := core.Alert{Stage: core.StageSupervisor, Gap: gap}
	if err := r.Alert(context.Background(), a); err == nil || !strings.Contains(err.Error(), "flaky") {
		t.Fatalf("first attempt: err = %v, want the flaky notifier's failure", err)
	}
	if err := r.Alert(context.Background(), a); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if err := r.Alert(context.Background(), a); err != nil {
		t.Fatalf("third call: %v", err)
	}
	if chat.Load() != 1 || flaky.Load() != 2 {
		t.Errorf("deliveries: chat %d, flaky %d attempts; want 1 and 2 (one failed, one delivered)", chat.Load(), flaky.Load())
	}
}

// smtpServer is a minimal SMTP server on loopback that records messages
// and logins. With startTLS it offers STARTTLS with a test certificate
// (roots trusts it) and, once the connection is encrypted, AUTH PLAIN.
type smtpServer struct {
	ln       net.Listener
	startTLS bool
	tls      *tls.Config
	roots    *x509.CertPool
	mu       sync.Mutex
	msgs     []string
	rcpts    []string
	secure   []bool      // per message: it arrived over TLS
	logins   []smtpLogin // AUTH PLAIN received
}

// smtpLogin is a login the server received.
type smtpLogin struct {
	User, Password string
	Secure         bool // over TLS
}

func newSMTPServer(t *testing.T, startTLS bool) *smtpServer {
	return listenSMTP(t, "127.0.0.1:0", startTLS)
}

func listenSMTP(t *testing.T, addr string, startTLS bool) *smtpServer {
	t.Helper()
	s := &smtpServer{startTLS: startTLS}
	if startTLS {
		s.tls, s.roots = testCertificate(t)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	go s.serve()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *smtpServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.session(c)
	}
}

func (s *smtpServer) session(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(l string) { io.WriteString(c, l+"\r\n") }
	secure := false
	say("220 test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			switch {
			case secure:
				say("250-test")
				say("250 AUTH PLAIN")
			case s.startTLS:
				say("250-test")
				say("250 STARTTLS")
			default:
				say("250 test")
			}
		case cmd == "STARTTLS" && s.startTLS && !secure:
			say("220 go ahead")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, secure = tc, true
			r = bufio.NewReader(c)
		case strings.HasPrefix(cmd, "AUTH PLAIN "):
			// AUTH PLAIN base64(identity NUL user NUL password)
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(line)[len("AUTH PLAIN "):])
			parts := strings.Split(string(b), "\x00")
			if err != nil || len(parts) != 3 {
				say("501 bad credentials")
				continue
			}
			s.mu.Lock()
			s.logins = append(s.logins, smtpLogin{parts[1], parts[2], secure})
			s.mu.Unlock()
			say("235 ok")
		case strings.HasPrefix(cmd, "MAIL FROM"):
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO"):
			s.mu.Lock()
			s.rcpts = append(s.rcpts, strings.TrimSpace(line[8:]))
			s.mu.Unlock()
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, b.String())
			s.secure = append(s.secure, secure)
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

func TestEmail(t *testing.T) {
	s := newSMTPServer(t, false)
	no := false
	e := &notify.Email{SMTP: config.SMTP{Addr: s.ln.Addr().String(), From: "hub@plant.example", To: []string{"qa@plant.example"}, StartTLS: &no}}
	if err := e.Notify(context.Background(), core.Alert{Stage: core.StageQuality, Gap: gap}); err != nil {
		t.Fatal(err)
	}
	if len(s.msgs) != 1 || !strings.Contains(s.msgs[0], "Subject: lothub: traceability gap GAP-7 still open") ||
		!strings.Contains(s.msgs[0], "hub confirm GAP-7") || s.rcpts[0] != "<qa@plant.example>" {
		t.Errorf("messages %q to %v", s.msgs, s.rcpts)
	}
	// STARTTLS is required unless turned off: a server without it is
	// refused before anything is sent.
	plain := newSMTPServer(t, false)
	e = &notify.Email{SMTP: config.SMTP{Addr: plain.ln.Addr().String(), From: "hub@plant.example", To: []string{"qa@plant.example"}}}
	err := e.Notify(context.Background(), core.Alert{Gap: gap})
	if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") || len(plain.msgs) != 0 {
		t.Errorf("err = %v, messages %d; want a refusal and nothing sent", err, len(plain.msgs))
	}
}
