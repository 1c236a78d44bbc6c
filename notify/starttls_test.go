package notify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/notify"
)

// testCertificate makes a self-signed certificate for the loopback
// addresses and returns the server's TLS configuration and a pool that
// trusts it.
func testCertificate(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "lothub test SMTP"},
		NotBefore:             time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, roots
}

const smtpPassword = "s3cret-smtp-password"

// emailConfig reads an email notifier from hub.yaml, as the hub does, with
// the password from the environment.
func emailConfig(t *testing.T, addr, starttls string) config.SMTP {
	t.Helper()
	t.Setenv("LOTHUB_TEST_SMTP_PASSWORD", smtpPassword)
	src := fmt.Sprintf(`
notifiers:
  - name: qa-mail
    type: email
    stages: [quality]
    smtp:
      addr: %s
      from: lothub@plant.example
      to: [qa@plant.example]
      username: lothub
      password: ${env:LOTHUB_TEST_SMTP_PASSWORD}
%s`, addr, starttls)
	h, err := config.Parse(filepath.Join(t.TempDir(), "hub.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return h.Notifiers[0].SMTP
}

func (s *smtpServer) seen() (msgs []string, secure []bool, logins []smtpLogin) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...), append([]bool(nil), s.secure...), append([]smtpLogin(nil), s.logins...)
}

// An email alert goes over STARTTLS: the login and the message travel
// encrypted, and the message arrives.
func TestEmailOverSTARTTLS(t *testing.T) {
	s := newSMTPServer(t, true)
	e := &notify.Email{
		SMTP: emailConfig(t, s.ln.Addr().String(), ""),
		TLS:  &tls.Config{RootCAs: s.roots, ServerName: "127.0.0.1"},
	}
	if err := e.Notify(context.Background(), core.Alert{Stage: core.StageQuality, Gap: gap}); err != nil {
		t.Fatal(err)
	}
	msgs, secure, logins := s.seen()
	if len(msgs) != 1 || !strings.Contains(msgs[0], "Subject: lothub: traceability gap GAP-7 still open") || !strings.Contains(msgs[0], "hub confirm GAP-7") {
		t.Fatalf("messages %q, want the alert for GAP-7", msgs)
	}
	if !secure[0] {
		t.Error("the message was sent before STARTTLS")
	}
	if len(logins) != 1 || logins[0] != (smtpLogin{"lothub", smtpPassword, true}) {
		t.Errorf("logins %+v, want lothub with the password, over TLS", logins)
	}
}

// The server's certificate is checked: one the hub does not trust gets
// neither the password nor the alert.
func TestEmailRefusesAnUntrustedCertificate(t *testing.T) {
	s := newSMTPServer(t, true)
	e := &notify.Email{SMTP: emailConfig(t, s.ln.Addr().String(), "")} // the system's roots
	err := e.Notify(context.Background(), core.Alert{Stage: core.StageQuality, Gap: gap})
	msgs, _, logins := s.seen()
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") || len(msgs) != 0 || len(logins) != 0 {
		t.Errorf("err = %v, %d message(s), logins %+v; want a STARTTLS failure and nothing sent", err, len(msgs), logins)
	}
}

// Credentials never cross a network in clear: a server without STARTTLS
// is refused, and with starttls: false they go only to a relay on this
// host.
func TestEmailKeepsCredentialsOffPlainConnections(t *testing.T) {
	alert := core.Alert{Stage: core.StageQuality, Gap: gap}
	t.Run("NoSTARTTLSOffered", func(t *testing.T) {
		s := newSMTPServer(t, false)
		err := (&notify.Email{SMTP: emailConfig(t, s.ln.Addr().String(), "")}).Notify(context.Background(), alert)
		msgs, _, logins := s.seen()
		if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") || len(msgs) != 0 || len(logins) != 0 {
			t.Errorf("err = %v, %d message(s), logins %+v; want a refusal and nothing sent", err, len(msgs), logins)
		}
	})
	t.Run("StartTLSOffToAnotherHost", func(t *testing.T) {
		// 127.0.0.2 is loopback too, but not a name net/smtp takes for
		// this host: it stands for a relay elsewhere on the network.
		probe, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			if os.Getenv("CI") != "" { // CI's machines have all of 127/8 on loopback
				t.Fatalf("this system has no 127.0.0.2 to stand for another host: %v", err)
			}
			t.Skipf("this system has no 127.0.0.2 to stand for another host: %v", err)
		}
		probe.Close()
		s := listenSMTP(t, "127.0.0.2:0", false)
		err = (&notify.Email{SMTP: emailConfig(t, s.ln.Addr().String(), "      starttls: false")}).Notify(context.Background(), alert)
		msgs, _, logins := s.seen()
		if err == nil || !strings.Contains(err.Error(), "unencrypted connection") || len(msgs) != 0 || len(logins) != 0 {
			t.Errorf("err = %v, %d message(s), logins %+v; want the login refused and nothing sent", err, len(msgs), logins)
		}
		if err != nil && strings.Contains(err.Error(), smtpPassword) {
			t.Errorf("the error shows the password: %v", err)
		}
	})
	t.Run("StartTLSOffToALocalRelay", func(t *testing.T) {
		s := newSMTPServer(t, false)
		if err := (&notify.Email{SMTP: emailConfig(t, s.ln.Addr().String(), "      starttls: false")}).Notify(context.Background(), alert); err != nil {
			t.Fatal(err)
		}
		msgs, _, logins := s.seen()
		if len(msgs) != 1 || len(logins) != 1 || logins[0].User != "lothub" {
			t.Errorf("%d message(s), logins %+v; want the alert delivered through the local relay", len(msgs), logins)
		}
	})
}
