package sap_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/sap"
	"github.com/lothub/lothub/connectors/sap/internal/fake"
	"github.com/lothub/lothub/sdk"
	"github.com/lothub/lothub/sdk/sdktest"
)

func parse(t testing.TB, raw map[string]string) sdk.Config {
	t.Helper()
	cfg, err := sdk.ParseConfig(sap.New().Spec(), raw)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// caFile writes the TLS server's certificate as a PEM file.
func caFile(t *testing.T, s *fake.S4) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// readAll reads from pos to the end in batches of max.
func readAll(t testing.TB, c *sap.Connector, cfg sdk.Config, pos sdk.Position, max int) ([]sdk.Record, sdk.Position) {
	t.Helper()
	return sdktest.ReadAll(t, c, cfg, pos, max)
}

func recordIDs(rs []sdk.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func TestS4Conformance(t *testing.T) {
	docs := fake.PlantDocs()
	cases := []struct {
		name  string
		setup func(t *testing.T) (good, bad map[string]string)
	}{
		{"BasicAuthServerPaging", func(t *testing.T) (map[string]string, map[string]string) {
			s := fake.NewS4(t, false)
			s.ServerPage = 3 // fewer than page_size: __next and $skip both used
			s.Add(docs...)
			return s.Config(), s.Config("base_url", "http://127.0.0.1:1")
		}},
		{"OAuthTLS", func(t *testing.T) (map[string]string, map[string]string) {
			s := fake.NewS4(t, true)
			s.Client = ""
			s.Add(docs...)
			oauth := []string{"sap_client", "", "user", "", "password", "", "auth", "oauth2",
				"oauth_url", s.URL + "/oauth/token", "oauth_client_id", s.ClientID, "oauth_client_secret", s.ClientSecret,
				"ca_file", caFile(t, s), "base_url", s.URL + fake.S4Path}
			good := s.Config(oauth...)
			bad := s.Config(append(oauth, "oauth_client_secret", "wrong-secret-value")...)
			return good, bad
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			good, bad := tc.setup(t)
			sdktest.Run(t, sdktest.Harness{
				New:         func() sdk.Connector { return sap.New() },
				Config:      good,
				BadEndpoint: bad,
				Expect:      fake.ItemCount(docs),
			})
		})
	}
}

func TestS4RecordsAndQuery(t *testing.T) {
	s := fake.NewS4(t, false)
	s.ServerPage = 3
	s.Add(fake.PlantDocs()...)
	c := sap.New()
	cfg := parse(t, s.Config())
	recs, pos := readAll(t, c, cfg, nil, 1000)
	if got, want := len(recs), fake.ItemCount(fake.PlantDocs()); got != want {
		t.Fatalf("read %d records, want %d", got, want)
	}
	// Ids are year/document/item, in creation order, ties by document.
	wantFirst := []string{"2026/4900000001/0001", "2026/4900000001/0002", "2026/4900000002/0001", "2026/4900000003/0001"}
	if got := recordIDs(recs[:4]); !slices.Equal(got, wantFirst) {
		t.Errorf("first ids = %v, want %v", got, wantFirst)
	}
	r := recs[0]
	if r.Kind != sap.KindMaterialDocumentItem {
		t.Errorf("kind = %q", r.Kind)
	}
	if want := time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC); !r.Time.Equal(want) {
		t.Errorf("time = %v, want %v (CreationDate + CreationTime)", r.Time, want)
	}
	var fields map[string]any
	if err := json.Unmarshal(r.Payload, &fields); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"MaterialDocumentItem": "0001", "GoodsMovementType": "101", "Batch": "F-A", "QuantityInEntryUnit": "1000.000",
		"PostingDate": "/Date(1772323200000)/", "CreationTime": "PT07H00M00S", "Supplier": "0017300001",
	} {
		if fields[k] != want {
			t.Errorf("payload %s = %v, want %v", k, fields[k], want)
		}
	}
	for k := range fields {
		if strings.HasPrefix(k, "__") || strings.HasPrefix(k, "to_") {
			t.Errorf("payload keeps %s", k)
		}
	}

	_, urls := s.Stats()
	first := queryOf(t, urls[0])
	for k, want := range map[string]string{
		"$format": "json", "sap-client": "100", "$top": "4", "$expand": "to_MaterialDocumentItem",
		"$orderby": "CreationDate asc,CreationTime asc,MaterialDocumentYear asc,MaterialDocument asc",
	} {
		if got := first.Get(k); got != want {
			t.Errorf("first request %s = %q, want %q", k, got, want)
		}
	}
	if first.Has("$filter") {
		t.Errorf("the first read filters (%q); it should read from the start", first.Get("$filter"))
	}
	if sel := first.Get("$select"); !strings.Contains(sel, "CreationTime") || !strings.Contains(sel, "to_MaterialDocumentItem/Batch") {
		t.Errorf("$select = %q", sel)
	}
	var skiptokens, skips int
	for _, u := range urls {
		q := queryOf(t, u)
		if q.Has("$skiptoken") {
			skiptokens++
		}
		if q.Has("$skip") {
			skips++
		}
	}
	if skiptokens == 0 || skips == 0 {
		t.Errorf("server paging followed %d times, client paging %d times; want both", skiptokens, skips)
	}

	// The next read asks from an hour (overlap) before the last document,
	// with OData v2 datetime and time literals, and returns nothing new.
	res, err := c.Read(context.Background(), cfg, pos, 1000)
	if err != nil || len(res.Records) != 0 || res.More {
		t.Fatalf("read at the end = %d records, more %v, %v", len(res.Records), res.More, err)
	}
	_, urls = s.Stats()
	want := "CreationDate gt datetime'2026-03-02T00:00:00' or (CreationDate eq datetime'2026-03-02T00:00:00' and CreationTime ge time'PT11H00M00S')"
	if got := queryOf(t, urls[len(urls)-1]).Get("$filter"); got != want {
		t.Errorf("$filter = %q, want %q", got, want)
	}
}

func TestS4IncrementalOverlap(t *testing.T) {
	for _, tc := range []struct {
		overlap string
		late    bool // the late document is read
	}{
		{"1h", true},
		{"0s", false},
	} {
		t.Run("overlap="+tc.overlap, func(t *testing.T) {
			s := fake.NewS4(t, false)
			s.Add(fake.PlantDocs()...)
			c := sap.New()
			cfg := parse(t, s.Config("overlap", tc.overlap))
			_, pos := readAll(t, c, cfg, nil, 7)

			// A document created at 11:30, committed after the last
			// sync read the one of 12:00 (an update task that ran late),
			// and a new one.
			s.Add(
				fake.MatDoc("4900000099", "2026-03-02T11:30:00", fake.MatItem("101", "SUGAR", "SU-1", "10", "KG", "PurchaseOrder", "4500000009")),
				fake.MatDoc("4900000100", "2026-03-02T13:00:00", fake.MatItem("101", "SUGAR", "SU-2", "10", "KG", "PurchaseOrder", "4500000009")),
			)
			recs, pos := readAll(t, c, cfg, pos, 7)
			want := []string{"2026/4900000100/0001"}
			if tc.late {
				want = []string{"2026/4900000099/0001", "2026/4900000100/0001"}
			}
			if got := recordIDs(recs); !slices.Equal(got, want) {
				t.Errorf("second sync read %v, want %v", got, want)
			}
			// Nothing is read twice.
			if again, _ := readAll(t, c, cfg, pos, 7); len(again) != 0 {
				t.Errorf("third sync read %v, want nothing", recordIDs(again))
			}
		})
	}
}

func TestS4StartDate(t *testing.T) {
	s := fake.NewS4(t, false)
	s.Add(fake.PlantDocs()...)
	recs, _ := readAll(t, sap.New(), parse(t, s.Config("start_date", "2026-03-02")), nil, 100)
	if len(recs) == 0 || recs[0].ID != "2026/4900000011/0001" {
		t.Errorf("with start_date 2026-03-02 the first record is %v, want 2026/4900000011/0001", recordIDs(recs))
	}
	_, urls := s.Stats()
	if got, want := queryOf(t, urls[0]).Get("$filter"), "CreationDate ge datetime'2026-03-02T00:00:00'"; got != want {
		t.Errorf("$filter = %q, want %q", got, want)
	}
}

func TestS4RetryAfter(t *testing.T) {
	for _, tc := range []struct {
		status int
		header string
		wait   time.Duration
	}{
		{http.StatusTooManyRequests, "7", 7 * time.Second},
		{http.StatusServiceUnavailable, "", 0},
		{http.StatusBadGateway, "2", 2 * time.Second},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			s := fake.NewS4(t, false)
			s.Add(fake.PlantDocs()...)
			s.Fault = func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n != 2 && n != 3 { // the second page, and the read that retries it
					return false
				}
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				fake.ODataError(w, tc.status, "/IWFND/CM_BEC/026", "Rate limit exceeded")
				return true
			}
			c := sap.New()
			cfg := parse(t, s.Config("page_size", "2"))
			// The first page is kept; the failure stops the read there.
			res, err := c.Read(context.Background(), cfg, nil, 100)
			if err != nil || len(res.Records) != 3 || !res.More {
				t.Fatalf("read = %d records, more %v, err %v; want the first page's 3 and more", len(res.Records), res.More, err)
			}
			_, err = c.Read(context.Background(), cfg, res.Next, 100)
			if err == nil {
				t.Fatal("no error while the server answers", tc.status)
			}
			d, ok := sdk.RetryDelay(err)
			if !ok || d != tc.wait {
				t.Errorf("RetryDelay = %v, %v; want %v, true (err %v)", d, ok, tc.wait, err)
			}
			if !strings.Contains(err.Error(), "busy or unavailable") || !strings.Contains(err.Error(), "Rate limit exceeded") {
				t.Errorf("error %q does not say what happened", err)
			}
			// After the outage the read goes on, nothing lost or doubled.
			rest, _ := readAll(t, c, cfg, res.Next, 100)
			all := append(recordIDs(res.Records), recordIDs(rest)...)
			if len(all) != fake.ItemCount(fake.PlantDocs()) || hasDuplicates(all) {
				t.Errorf("read %d records (%v), want %d without duplicates", len(all), all, fake.ItemCount(fake.PlantDocs()))
			}
		})
	}
}

func hasDuplicates(ids []string) bool {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return true
		}
		seen[id] = true
	}
	return false
}

func TestS4ConnectionCutMidPage(t *testing.T) {
	s := fake.NewS4(t, false)
	s.Add(fake.PlantDocs()...)
	cuts := map[int]bool{1: true, 4: true} // the very first page, and one later
	s.Fault = func(n int, w http.ResponseWriter, r *http.Request) bool {
		if cuts[n] {
			fake.Cut(w)
			return true
		}
		return false
	}
	c := sap.New()
	cfg := parse(t, s.Config("page_size", "3"))

	_, err := c.Read(context.Background(), cfg, nil, 100)
	if !errors.Is(err, sdk.ErrRetry) || !strings.Contains(err.Error(), "connection broke") {
		t.Fatalf("cut in the first page: %v, want a retryable error saying the connection broke", err)
	}
	var all []string
	var pos sdk.Position
	for i := 0; ; i++ {
		res, err := c.Read(context.Background(), cfg, pos, 100)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		all = append(all, recordIDs(res.Records)...)
		pos = res.Next
		if !res.More {
			break
		}
	}
	if len(all) != fake.ItemCount(fake.PlantDocs()) || hasDuplicates(all) {
		t.Errorf("read %d records across the cut (%v), want %d without duplicates", len(all), all, fake.ItemCount(fake.PlantDocs()))
	}
}

func TestS4OAuthTokenRefresh(t *testing.T) {
	s := fake.NewS4(t, false)
	s.Add(fake.PlantDocs()...)
	c := sap.New()
	cfg := parse(t, s.Config("user", "", "password", "", "auth", "oauth2", "oauth_url", s.URL+"/oauth/token",
		"oauth_client_id", s.ClientID, "oauth_client_secret", s.ClientSecret))
	recs, _ := readAll(t, c, cfg, nil, 5)
	if s.TokenRequests() != 1 {
		t.Errorf("%d token requests for one sync, want 1 (the token is cached)", s.TokenRequests())
	}
	s.RevokeTokens()
	again, _ := readAll(t, c, cfg, nil, 1000)
	if len(again) != len(recs) || s.TokenRequests() != 2 {
		t.Errorf("after the token was revoked: %d records, %d token requests; want %d and 2", len(again), s.TokenRequests(), len(recs))
	}
}

// TestS4Errors checks that each failure says what happened and what to do,
// and never shows a secret.
func TestS4Errors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, s *fake.S4) map[string]string
		want  []string
		retry bool
	}{
		{"wrong password", func(t *testing.T, s *fake.S4) map[string]string {
			return s.Config("password", "not-the-Passw0rd")
		}, []string{"HTTP 401", "check user and password", "SAP_COM_0108"}, false},
		{"wrong client", func(t *testing.T, s *fake.S4) map[string]string {
			return s.Config("sap_client", "200")
		}, []string{"HTTP 401"}, false},
		{"not authorised", func(t *testing.T, s *fake.S4) map[string]string {
			s.Fault = func(n int, w http.ResponseWriter, r *http.Request) bool {
				fake.ODataError(w, http.StatusForbidden, "/IWFND/MED/011", "No authorization to access service API_MATERIAL_DOCUMENT_SRV_0001")
				return true
			}
			return s.Config()
		}, []string{"HTTP 403", "No authorization to access service", "communication arrangement SAP_COM_0108", "roles"}, false},
		{"wrong service path", func(t *testing.T, s *fake.S4) map[string]string {
			return s.Config("base_url", s.URL+"/sap/opu/odata/sap/API_MATERIAL_DOC_SRV")
		}, []string{"HTTP 404", "No service found", "check base_url"}, false},
		{"field missing in this release", func(t *testing.T, s *fake.S4) map[string]string {
			return s.Config("extra_fields", "BatchBySupplier")
		}, []string{"HTTP 400", "Property BatchBySupplier not found", "extra_fields"}, false},
		{"a login page instead of the API", func(t *testing.T, s *fake.S4) map[string]string {
			s.Fault = func(n int, w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "text/html")
				w.Write([]byte("<html><form>SAML login</form></html>"))
				return true
			}
			return s.Config()
		}, []string{"HTML page", "base_url"}, false},
		{"server down", func(t *testing.T, s *fake.S4) map[string]string {
			return s.Config("base_url", "http://127.0.0.1:1")
		}, []string{"cannot reach the server", "check base_url"}, true},
		{"wrong OAuth secret", func(t *testing.T, s *fake.S4) map[string]string {
			return s.Config("user", "", "password", "", "auth", "oauth2", "oauth_url", s.URL+"/oauth/token",
				"oauth_client_id", s.ClientID, "oauth_client_secret", "wrong-client-s3cret")
		}, []string{"OAuth token request", "HTTP 401", "invalid_client", "oauth_client_secret"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := fake.NewS4(t, false)
			s.Add(fake.PlantDocs()...)
			raw := tc.setup(t, s)
			var logs bytes.Buffer
			c := sap.New()
			c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cfg := parse(t, raw)
			checkErr := c.Check(context.Background(), cfg)
			_, readErr := c.Read(context.Background(), cfg, nil, 10)
			for _, err := range []error{checkErr, readErr} {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if got := errors.Is(err, sdk.ErrRetry); got != tc.retry {
					t.Errorf("retryable = %v, want %v (%v)", got, tc.retry, err)
				}
			}
			for _, secret := range []string{s.Password, s.ClientSecret, raw["password"], raw["oauth_client_secret"]} {
				if secret == "" {
					continue
				}
				for _, text := range []string{checkErr.Error(), readErr.Error(), logs.String()} {
					if strings.Contains(text, secret) {
						t.Errorf("a secret shows in %q", text)
					}
				}
			}
		})
	}
}

func TestS4TLS(t *testing.T) {
	s := fake.NewS4(t, true)
	s.Add(fake.PlantDocs()...)
	err := sap.New().Check(context.Background(), parse(t, s.Config()))
	if err == nil || !strings.Contains(err.Error(), "set ca_file") || errors.Is(err, sdk.ErrRetry) {
		t.Errorf("an untrusted certificate: %v; want an error telling to set ca_file, not retried", err)
	}
	if err := sap.New().Check(context.Background(), parse(t, s.Config("ca_file", caFile(t, s)))); err != nil {
		t.Errorf("with ca_file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "not-a-ca.pem")
	os.WriteFile(bad, []byte("hello"), 0o600)
	err = sap.New().Check(context.Background(), parse(t, s.Config("ca_file", bad)))
	var ic *sdk.InvalidConfigError
	if !errors.As(err, &ic) || ic.Param != "ca_file" {
		t.Errorf("a ca_file without a certificate: %v, want an invalid ca_file", err)
	}
}

func TestInvalidConfig(t *testing.T) {
	s := fake.NewS4(t, false)
	cases := []struct {
		name  string
		raw   map[string]string
		param string
	}{
		{"unknown system", s.Config("system", "r3"), "system"},
		{"basic auth without user", s.Config("user", ""), "user"},
		{"basic auth without password", s.Config("password", ""), "password"},
		{"oauth2 without token endpoint", s.Config("auth", "oauth2", "oauth_client_id", "x", "oauth_client_secret", "secret-value"), "oauth_url"},
		{"unknown auth", s.Config("auth", "saml"), "auth"},
		{"client not three digits", s.Config("sap_client", "1000"), "sap_client"},
		{"start date not a date", s.Config("start_date", "01.03.2026"), "start_date"},
		{"unknown time zone", s.Config("timezone", "CET+1"), "timezone"},
		{"credentials in the URL", s.Config("base_url", "https://u:p@sap.example.com"), "base_url"},
		{"page size zero", s.Config("page_size", "0"), "page_size"},
		{"extra field not a name", s.Config("extra_fields", "Batch,X eq 1"), "extra_fields"},
		{"missing ca file", s.Config("ca_file", "/nonexistent/ca.pem"), "ca_file"},
		{"b1 without company", fake.B1Config("https://b1.example.com:50000", "company_db", ""), "company_db"},
		{"b1 with an unknown document set", fake.B1Config("https://b1.example.com:50000", "b1_documents", "Orders"), "b1_documents"},
		{"b1 with oauth", fake.B1Config("https://b1.example.com:50000", "auth", "oauth2"), "auth"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parse(t, tc.raw)
			for name, err := range map[string]error{
				"Check": sap.New().Check(context.Background(), cfg),
				"Read":  func() error { _, err := sap.New().Read(context.Background(), cfg, nil, 1); return err }(),
			} {
				var ic *sdk.InvalidConfigError
				if !errors.As(err, &ic) || ic.Param != tc.param {
					t.Errorf("%s: %v, want an invalid %s", name, err, tc.param)
				}
			}
		})
	}
}

func TestPositionOfAnotherSystem(t *testing.T) {
	s := fake.NewS4(t, false)
	s.Add(fake.PlantDocs()...)
	cfg := parse(t, s.Config())
	res, err := sap.New().Read(context.Background(), cfg, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	b1cfg := parse(t, fake.B1Config("https://b1.example.com:50000"))
	_, err = sap.New().Read(context.Background(), b1cfg, res.Next, 3)
	if !errors.Is(err, sdk.ErrInvalidPosition) || !strings.Contains(err.Error(), "s4hana") {
		t.Errorf("an S/4HANA position read as Business One: %v, want sdk.ErrInvalidPosition naming the system", err)
	}
}

// queryOf returns the decoded query of a recorded request URL.
func queryOf(t *testing.T, uri string) url.Values {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
