package dynamics_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/dynamics"
	"github.com/lothub/lothub/internal/testlog"
	"github.com/lothub/lothub/sdk"
)

func TestPaging(t *testing.T) {
	tests := []struct {
		name         string
		pageSize     string
		max          int
		ignorePrefer bool // the server sends pages of 10 whatever is asked
	}{
		{"PagesSmallerThanBatches", "3", 7, false},
		{"BatchesSmallerThanPages", "10", 4, false},
		{"ServerIgnoresThePreferredSize", "3", 4, true},
		{"OneByOne", "1000", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.put(foTrans, generated(0, 30)...)
			if tt.ignorePrefer {
				f.maxPage, f.ignorePrefer = 10, true
			}
			c := dynamics.New()
			cfg := parse(t, foConfig(f, "page_size", tt.pageSize))
			got, _ := readAll(t, c, cfg, nil, tt.max)
			want := ids(generatedRecords(t, f))
			if !slices.Equal(ids(got), want) {
				t.Fatalf("read %d records %v, want the 30 generated ones in order: %v", len(got), ids(got), want)
			}
			follows := 0
			for _, r := range f.dataRequests() {
				u, _ := url.Parse(r)
				if u.Query().Get("$skiptoken") != "" {
					follows++
				}
			}
			if follows == 0 {
				t.Errorf("no request followed an @odata.nextLink: %v", f.dataRequests())
			}
		})
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestLegalEntities(t *testing.T) {
	tests := []struct {
		name string
		kv   []string
		want map[string]int // records per company
	}{
		{"CrossCompany", nil, map[string]int{"usmf": 12, "demf": 1}},
		{"DefaultCompanyOnly", []string{"fo_cross_company", "false"}, map[string]int{"usmf": 12}},
		{"ChosenCompanies", []string{"fo_companies", "demf"}, map[string]int{"demf": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.put(foTrans, plantFO()...)
			recs, _ := readAll(t, dynamics.New(), parse(t, foConfig(f, tt.kv...)), nil, 100)
			got := map[string]int{}
			for _, r := range recs {
				got[strings.Split(r.ID, "/")[1]]++
			}
			if len(got) != len(tt.want) || got["usmf"] != tt.want["usmf"] || got["demf"] != tt.want["demf"] {
				t.Errorf("records per company %v, want %v", got, tt.want)
			}
		})
	}
}

// selfSigned returns a PEM with a certificate and its RSA key, and the
// certificate.
func selfSigned(t *testing.T) ([]byte, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lothub"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pk, _ := x509.MarshalPKCS8PrivateKey(key)
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	return b.Bytes(), cert
}

func TestSignIn(t *testing.T) {
	ctx := context.Background()
	t.Run("TokenIsCached", func(t *testing.T) {
		f := newFake(t)
		f.put(foTrans, generated(0, 30)...)
		c := dynamics.New()
		cfg := parse(t, foConfig(f, "page_size", "4"))
		readAll(t, c, cfg, nil, 3)
		if err := c.Check(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		if n := f.tokenCount(); n != 1 {
			t.Errorf("%d tokens fetched for one sync, want 1", n)
		}
	})
	t.Run("ExpiredTokenIsRenewed", func(t *testing.T) {
		f := newFake(t)
		f.put(foTrans, plantFO()...)
		now := time.Now()
		c := &dynamics.Connector{Now: func() time.Time { return now }}
		cfg := parse(t, foConfig(f))
		readAll(t, c, cfg, nil, 100)
		now = now.Add(59 * time.Minute) // the token is good for 3599 s, less a margin
		readAll(t, c, cfg, nil, 100)
		if n := f.tokenCount(); n != 2 {
			t.Errorf("%d tokens fetched, want 2", n)
		}
	})
	t.Run("RevokedTokenIsFetchedAgain", func(t *testing.T) {
		f := newFake(t)
		f.put(bcILE, plantBC()...)
		c := dynamics.New()
		cfg := parse(t, bcConfig(f))
		readAll(t, c, cfg, nil, 100)
		f.revokeTokens()
		if err := c.Check(ctx, cfg); err != nil {
			t.Fatalf("Check after the token was revoked: %v", err)
		}
		if n := f.tokenCount(); n != 2 {
			t.Errorf("%d tokens fetched, want 2", n)
		}
	})
	t.Run("Certificate", func(t *testing.T) {
		f := newFake(t)
		f.put(bcILE, plantBC()...)
		pemData, cert := selfSigned(t)
		f.trust(cert)
		raw := bcConfig(f, "client_secret", "", "client_certificate", string(pemData))
		recs, _ := readAll(t, dynamics.New(), parse(t, raw), nil, 100)
		if len(recs) != 11 {
			t.Errorf("read %d records with a certificate, want 11", len(recs))
		}
		other, _ := selfSigned(t)
		err := dynamics.New().Check(ctx, parse(t, bcConfig(f, "client_secret", "", "client_certificate", string(other))))
		if err == nil || !strings.Contains(err.Error(), "rejected the certificate") {
			t.Errorf("Check with a certificate Entra does not know: %v", err)
		}
		if err != nil && strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Errorf("the error shows the key: %v", err)
		}
	})

	tests := []struct {
		name string
		raw  func(f *fakeMicrosoft) map[string]string
		want []string // in the error
	}{
		{"WrongSecret", func(f *fakeMicrosoft) map[string]string { return foConfig(f, "client_secret", "not-the-secret-value") },
			[]string{"401", "AADSTS7000215", "Certificates & secrets"}},
		{"UnknownApp", func(f *fakeMicrosoft) map[string]string {
			return foConfig(f, "client_id", "0f3e9d2c-1111-4111-8111-000000000ccc")
		}, []string{"AADSTS700016", "check client_id and tenant_id"}},
		{"UnknownTenant", func(f *fakeMicrosoft) map[string]string {
			return bcConfig(f, "tenant_id", "contoso.onmicrosoft.com")
		}, []string{"AADSTS90002", "no such tenant"}},
		{"WrongScope", func(f *fakeMicrosoft) map[string]string {
			return foConfig(f, "scope", "https://contoso.operations.dynamics.com/.default")
		}, []string{"AADSTS500011", "does not know the scope"}},
		{"TokenForAnotherResource", func(f *fakeMicrosoft) map[string]string { return foConfig(f, "scope", bcScope) },
			[]string{"401", "Microsoft Entra applications", "mapped to an enabled user"}},
		{"BCAppNotSetUp", func(f *fakeMicrosoft) map[string]string { return bcConfig(f, "scope", f.foScope()) },
			[]string{"Authentication_InvalidCredentials", "Microsoft Entra Applications page"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.put(foTrans, plantFO()...)
			f.put(bcILE, plantBC()...)
			raw := tt.raw(f)
			err := dynamics.New().Check(ctx, parse(t, raw))
			if err == nil {
				t.Fatal("Check succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if _, retry := sdk.RetryDelay(err); retry {
				t.Errorf("error %v is marked transient; retrying a refused sign-in does not help", err)
			}
			if v := raw["client_secret"]; v != "" && strings.Contains(err.Error(), v) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestPermissions(t *testing.T) {
	tests := []struct {
		name string
		raw  func(f *fakeMicrosoft) map[string]string
		want string
	}{
		{"FO", func(f *fakeMicrosoft) map[string]string { return foConfig(f) }, "security role"},
		{"BC", func(f *fakeMicrosoft) map[string]string { return bcConfig(f) }, "permission sets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.put(foTrans, plantFO()...)
			f.put(bcILE, plantBC()...)
			f.forbid[foTrans], f.forbid[bcILE] = true, true
			_, err := dynamics.New().Read(context.Background(), parse(t, tt.raw(f)), nil, 10)
			if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Read of a forbidden entity: %v, want a 403 that speaks of %s", err, tt.want)
			}
		})
	}
}

// TestTransientFailures injects throttling, outages and a cut connection
// in the middle of a sync: each is reported as transient (with the delay
// the server asked for), and reading on from the same position loses and
// repeats nothing.
func TestTransientFailures(t *testing.T) {
	tests := []struct {
		name      string
		fault     fault
		wantDelay time.Duration
		want      string
	}{
		{"Throttled", fault{status: 429, retryAfter: "7"}, 7 * time.Second, "priority-based throttling"},
		{"ThrottledUntil", fault{status: 429, retryAfter: time.Now().Add(90 * time.Second).UTC().Format(http1123)}, 89 * time.Second, "Retry-After"},
		{"Unavailable", fault{status: 503, retryAfter: "30"}, 30 * time.Second, "unavailable"},
		{"ServerError", fault{status: 500}, 0, "500"},
		{"GatewayTimeout", fault{status: 504}, 0, "504"},
		{"ConnectionCutMidPage", fault{cut: true}, 0, "connection was cut"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.put(foTrans, generated(0, 20)...)
			c := dynamics.New()
			cfg := parse(t, foConfig(f, "page_size", "4"))
			var got []sdk.Record
			res, err := c.Read(context.Background(), cfg, nil, 6)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, res.Records...)
			pos := res.Next
			tt.fault.match = "/data/"
			f.inject(tt.fault)
			_, err = c.Read(context.Background(), cfg, pos, 6)
			delay, retry := sdk.RetryDelay(err)
			switch {
			case !retry:
				t.Fatalf("Read during the fault: %v, want a transient error", err)
			case tt.wantDelay > 0 && (delay < tt.wantDelay || delay > tt.wantDelay+2*time.Second):
				t.Errorf("retry after %v, want %v", delay, tt.wantDelay)
			case !strings.Contains(err.Error(), tt.want):
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			rest, _ := readAll(t, c, cfg, pos, 6)
			got = append(got, rest...)
			if len(got) != 20 || !sameSet(ids(got), ids(generatedRecords(t, f))) {
				t.Errorf("after the fault: %d records, want the 20 exactly once: %v", len(got), ids(got))
			}
		})
	}
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

// generatedRecords reads the fake's source afresh, as the reference.
func generatedRecords(t *testing.T, f *fakeMicrosoft) []sdk.Record {
	t.Helper()
	recs, _ := readAll(t, dynamics.New(), parse(t, foConfig(f)), nil, 1000)
	return recs
}

func TestODataErrors(t *testing.T) {
	tests := []struct {
		name  string
		raw   func(f *fakeMicrosoft) map[string]string
		fault *fault
		want  []string
	}{
		{"BadRequestBody", func(f *fakeMicrosoft) map[string]string { return foConfig(f) },
			&fault{match: "/data/", status: 400, body: `{"error":{"code":"","message":"An error has occurred.","innererror":{"message":"The query specified in the URI is not valid. The property 'Qty' cannot be used in the $filter query option.","type":"Microsoft.OData.ODataException","stacktrace":""}}}`},
			[]string{"400 Bad Request", "The property 'Qty' cannot be used"}},
		{"FieldMissingInThisVersion", func(f *fakeMicrosoft) map[string]string {
			return foConfig(f, "entities", "picking-list-line")
		}, nil, []string{"Could not find a property named", "select: false"}},
		{"WrongCompany", func(f *fakeMicrosoft) map[string]string {
			return bcConfig(f, "bc_company_id", "00000000-0000-0000-0000-000000000000")
		}, nil, []string{"404", "BadRequest_NotFound", "bc_company_id"}},
		{"APIPageNotInstalled", func(f *fakeMicrosoft) map[string]string { return bcConfig(f, "bc_api", "contoso/trace/v1.0") },
			nil, []string{"404", "is the lothub API page installed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.put(foTrans, plantFO()...)
			f.put(bcILE, plantBC()...)
			// A picking list entity of an older version, without BOMUnitSymbol.
			f.put("ProductionPickingListJournalEntries", map[string]any{"dataAreaId": "usmf", "JournalNumber": "1", "JournalLineNumber": 1, "PostedDateTime": "2026-03-01T00:00:00Z", "IsPosted": "Yes"})
			if tt.fault != nil {
				f.inject(*tt.fault)
			}
			_, err := dynamics.New().Read(context.Background(), parse(t, tt.raw(f)), nil, 10)
			if err == nil {
				t.Fatal("Read succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if _, retry := sdk.RetryDelay(err); retry {
				t.Errorf("error %v is marked transient", err)
			}
		})
	}
}

// TestSecretsStayOut drives the connector through failures and webhooks
// and looks for the secrets in every error and log line.
func TestSecretsStayOut(t *testing.T) {
	logs := &testlog.Buffer{}
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })

	ctx := context.Background()
	f := newFake(t)
	f.put(bcILE, plantBC()...)
	c := dynamics.New()
	var cfg sdk.Config
	hooks := newHubHooks(t, c, func() sdk.Config { return cfg })
	cfg = parse(t, bcConfig(f, "bc_webhook_secret", hookSecret, "bc_webhook_url", hooks.url()))
	readAll(t, c, cfg, nil, 100)
	f.notify(bcILE, ile{n: 101}.id(), "updated", "")
	f.notify(bcILE, ile{n: 101}.id(), "updated", "wrong-client-state-000000")

	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	wrong := "Wrong~Secret.Value-1234567"
	collect(c.Check(ctx, parse(t, bcConfig(f, "client_secret", wrong))))
	f.inject(fault{match: "/itemLedgerEntries", cut: true}, fault{match: "/itemLedgerEntries", status: 429, retryAfter: "1"})
	_, err := c.Read(ctx, cfg, nil, 5)
	collect(err)
	_, err = c.Read(ctx, cfg, nil, 5)
	collect(err)
	_, err = c.Webhook(ctx, cfg, sdk.WebhookRequest{Method: "POST", Body: []byte(`{"value":[]}`)})
	collect(err)
	collect(c.Check(ctx, parse(t, bcConfig(f, "base_url", "http://127.0.0.1:1", "bc_webhook_secret", hookSecret))))
	if len(errs) != 5 {
		t.Fatalf("%d errors, want 5: %v", len(errs), errs)
	}
	text := logs.String() + cfg.String()
	for _, err := range errs {
		text += "\n" + err.Error()
	}
	for _, secret := range []string{testSecret, hookSecret, wrong} {
		if strings.Contains(text, secret) {
			t.Errorf("a secret shows in the errors or logs:\n%s", text)
		}
	}
	if !strings.Contains(logs.String(), "level=") {
		t.Errorf("nothing was logged; the test looked at nothing")
	}
}

func TestInvalidPositions(t *testing.T) {
	f := newFake(t)
	f.put(foTrans, plantFO()...)
	for _, p := range []string{
		`{"v":2}`,
		`{"v":1,"kinds":{"fo.sales-line":{}}}`,
		`{"v":1,"kinds":{"fo.inventory-transaction":{"mark":"yesterday"}}}`,
		`{"v":1,"kinds":{"fo.inventory-transaction":{"run":true,"next":"https://evil.example.com/data/X"}}}`,
		`{"v":1,"extra":true}`,
	} {
		_, err := dynamics.New().Read(context.Background(), parse(t, foConfig(f)), sdk.Position(p), 10)
		if !errors.Is(err, sdk.ErrInvalidPosition) {
			t.Errorf("Read from %s: %v, want an invalid position", p, err)
		}
	}
}
