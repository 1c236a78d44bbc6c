package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// into dir, and returns their paths and the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "lothub test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "hub.crt"), filepath.Join(dir, "hub.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile, cert
}

func TestServeTLSFlags(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "hub.db")
	certFile, keyFile, _ := selfSigned(t, dir)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--listen", "127.0.0.1:0", "--tls-cert", certFile}, "both --tls-cert and --tls-key"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", certFile}, "TLS certificate " + certFile + " and key " + certFile},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--tls-cert", filepath.Join(dir, "none.crt"), "--tls-key", keyFile}, "no such file"},
	} {
		out, errs, code := hub(t, db, "", c.args...)
		if code != exitInvalid || !strings.Contains(errs, c.want) || strings.Contains(out, "hub serving on") {
			t.Errorf("hub %s: exit %d, stderr %q, stdout %q; want exit 2 saying %q before serving", strings.Join(c.args, " "), code, errs, out, c.want)
		}
	}
}

// hub serve --tls-cert --tls-key serves HTTPS with the certificate, and
// its cookies are Secure.
func TestServeTLS(t *testing.T) {
	hubBin, _ := buildBinaries(t)
	dir := t.TempDir()
	certFile, keyFile, cert := selfSigned(t, dir)
	cmd := exec.Command(hubBin, "serve", "--listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HUB_DB=", "HUB_CONFIG=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	addr := ""
	for addr == "" && sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "hub serving on "); ok {
			addr, _, _ = strings.Cut(after, " ")
		}
	}
	go io.Copy(io.Discard, stdout)
	if !strings.HasPrefix(addr, "https://127.0.0.1:") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("hub serve with a certificate says it serves on %q, want https://127.0.0.1:…\n%s", addr, stderr.String())
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(addr + "/v1/health")
	if err != nil {
		t.Fatalf("GET /v1/health over HTTPS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || !resp.TLS.PeerCertificates[0].Equal(cert) {
		t.Errorf("GET /v1/health: %s, want 200 over TLS with the given certificate", resp.Status)
	}
	resp, err = client.Get(addr + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cs := resp.Cookies(); len(cs) != 1 || !cs[0].Secure || !cs[0].HttpOnly {
		t.Errorf("cookies of the sign-in form over HTTPS: %+v, want one, Secure and HttpOnly", cs)
	}
	// Plain HTTP on the HTTPS port gets no answer of the hub's.
	plain := "http://" + strings.TrimPrefix(addr, "https://")
	if resp, err := http.Get(plain + "/v1/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP to the HTTPS port answered 200")
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("hub serve stopped by SIGINT: %v\n%s", err, stderr.String())
	}
}
