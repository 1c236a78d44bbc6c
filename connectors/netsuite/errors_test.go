package netsuite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/netsuite"
	"github.com/lothub/lothub/sdk"
)

// Rate limits and outages are sdk.RetryAfter errors; the read after them
// continues where the failed one would have, with nothing lost.
func TestTransientErrorsAreRetryable(t *testing.T) {
	tests := []struct {
		name      string
		fault     Fault
		wantDelay time.Duration
		wantText  string
	}{
		{"429 with Retry-After", Fault{Status: 429, Code: "CONCURRENCY_LIMIT_EXCEEDED",
			Detail: "Concurrent request limit exceeded. Request blocked.", RetryAfter: "7"}, 7 * time.Second, "concurrency limit"},
		{"429 without Retry-After", Fault{Status: 429, Code: "CONCURRENCY_LIMIT_EXCEEDED",
			Detail: "Concurrent request limit exceeded. Request blocked."}, 0, "CONCURRENCY_LIMIT_EXCEEDED"},
		{"503 during maintenance", Fault{Status: 503, Code: "SERVICE_UNAVAILABLE",
			Detail: "NetSuite is undergoing maintenance.", RetryAfter: "120"}, 2 * time.Minute, "unavailable"},
		{"500", Fault{Status: 500, Code: "UNEXPECTED_ERROR", Detail: "An unexpected error occurred."}, 0, "UNEXPECTED_ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAccount(t)
			plant(f)
			cfg := parse(t, rawConfig(f))
			c := netsuite.New()
			res, err := c.Read(context.Background(), cfg, nil, 4)
			if err != nil {
				t.Fatal(err)
			}
			got := ids(res.Records)
			f.Inject(tt.fault)
			_, err = c.Read(context.Background(), cfg, res.Next, 4)
			d, retry := sdk.RetryDelay(err)
			switch {
			case err == nil:
				t.Fatal("Read succeeded through the fault")
			case !retry:
				t.Fatalf("error %v is not retryable", err)
			case d != tt.wantDelay:
				t.Errorf("retry after %v, want %v", d, tt.wantDelay)
			case !strings.Contains(err.Error(), tt.wantText):
				t.Errorf("error %q does not say %q", err, tt.wantText)
			}
			rest, _ := readAll(t, c, cfg, res.Next, 4)
			if got = append(got, ids(rest)...); !slices.Equal(got, plantIDs) {
				t.Errorf("after the retry: %v, want %v", got, plantIDs)
			}
		})
	}
}

func TestAccessTokensAreCachedAndRenewed(t *testing.T) {
	f := newAccount(t)
	plant(f)
	cfg := parse(t, with(rawConfig(f), "deleted", "false"))
	c := netsuite.New()
	recs, pos := readAll(t, c, cfg, nil, 2)
	queries, tokens, _ := f.Stats()
	if tokens != 1 || queries < 6 {
		t.Fatalf("%d queries used %d access tokens, want 1", queries, tokens)
	}

	// NetSuite ends the token early (revoked, or its hour is up): the
	// connector gets a new one and the read goes on.
	f.ExpireTokens()
	f.Put(receipt(7100, at(f.Loc, "2026-03-20 10:00:00")))
	more, _ := readAll(t, c, cfg, pos, 2)
	if got := ids(more); !slices.Equal(got, []string{receiptID(7100)}) {
		t.Fatalf("after the token expired: %v (and %d before)", got, len(recs))
	}
	if _, tokens, _ = f.Stats(); tokens != 2 {
		t.Errorf("%d token requests after the expiry, want 2", tokens)
	}

	// A token about to expire is renewed before it is used.
	g := newAccount(t)
	plant(g)
	g.TokenTTL = 90 * time.Second // less than the connector's two-minute margin
	cfg = parse(t, with(rawConfig(g), "deleted", "false"))
	c = netsuite.New()
	for range 3 {
		if _, err := c.Read(context.Background(), cfg, nil, 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, tokens, _ := g.Stats(); tokens != 3 {
		t.Errorf("3 reads with tokens near expiry asked for %d tokens, want 3", tokens)
	}
}

func TestLogins(t *testing.T) {
	keys(t)
	tests := []struct {
		name string
		key  func(f *fakeAccount) // the certificate the account has
		raw  func(f *fakeAccount) map[string]string
	}{
		{"m2m with an RSA key (PS256)", func(f *fakeAccount) { f.PublicKey = &rsaKey.PublicKey }, rawConfig},
		{"m2m with an EC key (ES256)", func(f *fakeAccount) { f.PublicKey = &ecKey.PublicKey },
			func(f *fakeAccount) map[string]string { return with(rawConfig(f), "private_key", ecPEM) }},
		{"m2m with two scopes", func(f *fakeAccount) { f.PublicKey = &rsaKey.PublicKey },
			func(f *fakeAccount) map[string]string {
				return with(rawConfig(f), "scope", "restlets, rest_webservices")
			}},
		{"token-based authentication", func(*fakeAccount) {}, func(f *fakeAccount) map[string]string {
			return map[string]string{"account_id": f.Account, "base_url": f.URL(), "timezone": f.Loc.String(), "auth": "tba",
				"consumer_key": f.TBA[0], "consumer_secret": f.TBA[1], "token_id": f.TBA[2], "token_secret": f.TBA[3]}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAccount(t, losAngeles(t))
			tt.key(f)
			plant(f)
			recs, _ := readAll(t, netsuite.New(), parse(t, tt.raw(f)), nil, 5)
			if len(recs) != len(plantIDs) {
				t.Errorf("read %d records, want %d", len(recs), len(plantIDs))
			}
		})
	}
}

// Errors say what failed and what to do, and never show a secret.
func TestErrorsSayWhatToDo(t *testing.T) {
	keys(t)
	tests := []struct {
		name  string
		setup func(f *fakeAccount) map[string]string
		want  []string
	}{
		{"wrong certificate id", func(f *fakeAccount) map[string]string {
			return with(rawConfig(f), "certificate_id", "cert-other")
		}, []string{"invalid_client", "certificate_id", "M2M) Setup"}},
		{"key of another certificate", func(f *fakeAccount) map[string]string {
			return with(rawConfig(f), "private_key", ecPEM)
		}, []string{"invalid_client", "private_key belongs to the uploaded certificate"}},
		{"wrong client id", func(f *fakeAccount) map[string]string {
			return with(rawConfig(f), "client_id", "client-0000000000")
		}, []string{"invalid_client", "client_id"}},
		{"scope the integration record does not allow", func(f *fakeAccount) map[string]string {
			return with(rawConfig(f), "scope", "rest_webservices,suite_analytics")
		}, []string{"invalid_scope", "Scope on the integration record"}},
		{"role cannot see inventory detail", func(f *fakeAccount) map[string]string {
			f.Deny["inventoryassignment"] = true
			return rawConfig(f)
		}, []string{"cannot see the table inventoryassignment", "Transactions subtab"}},
		{"role cannot see deleted records", func(f *fakeAccount) map[string]string {
			f.Deny["deletedrecord"] = true
			return rawConfig(f)
		}, []string{"Deleted Records", "deleted: false"}},
		{"custom field the role cannot see", func(f *fakeAccount) map[string]string {
			return with(rawConfig(f), "extra_columns", "t.custbody_vendor_lot AS supplier_lot")
		}, []string{"field custbody_vendor_lot of record transaction", "extra_columns", "Access subtab"}},
		{"login refused", func(f *fakeAccount) map[string]string {
			return map[string]string{"account_id": f.Account, "base_url": f.URL(), "timezone": f.Loc.String(), "auth": "tba",
				"consumer_key": f.TBA[0], "consumer_secret": "cs-wrong-9", "token_id": f.TBA[2], "token_secret": f.TBA[3]}
		}, []string{"401", "INVALID_LOGIN", "consumer_secret", "Log in using Access Tokens", "Login Audit Trail"}},
		{"insufficient permission", func(f *fakeAccount) map[string]string {
			f.Inject(Fault{Status: 403, Code: "INSUFFICIENT_PERMISSION", Detail: "Permission Violation: You need the 'REST Web Services' permission to access this page."})
			return rawConfig(f)
		}, []string{"INSUFFICIENT_PERMISSION", "REST Web Services (Full)", "SuiteAnalytics Workbook"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAccount(t)
			plant(f)
			raw := tt.setup(f)
			var logs bytes.Buffer
			c := netsuite.New()
			c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			err := c.Check(context.Background(), parse(t, raw))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if _, retry := sdk.RetryDelay(err); retry {
				t.Errorf("error is retryable; retrying cannot fix it: %v", err)
			}
			noSecrets(t, raw, err.Error(), logs.String())
		})
	}
}

// noSecrets fails if any secret of raw is in texts.
func noSecrets(t *testing.T, raw map[string]string, texts ...string) {
	t.Helper()
	spec := netsuite.New().Spec()
	for _, p := range spec.Params {
		v := raw[p.Name]
		if !p.Secret || v == "" {
			continue
		}
		probes := []string{v}
		if p.Name == "private_key" {
			// Any line of the key's base64 body.
			for _, l := range strings.Split(v, "\n") {
				if len(l) >= 16 && !strings.HasPrefix(l, "-----") {
					probes = append(probes, l)
				}
			}
		}
		for _, text := range texts {
			for _, probe := range probes {
				if probe != "" && strings.Contains(text, probe) {
					t.Errorf("the secret %s shows in: %s", p.Name, text)
				}
			}
		}
	}
}

func TestInvalidConfig(t *testing.T) {
	keys(t)
	f := newAccount(t)
	tests := []struct {
		param string
		raw   map[string]string
	}{
		{"account_id", with(rawConfig(f), "account_id", "12 34")},
		{"timezone", with(rawConfig(f), "timezone", "Pacific Time")},
		{"auth", with(rawConfig(f), "auth", "password")},
		{"client_id", with(rawConfig(f), "client_id", "")},
		{"certificate_id", with(rawConfig(f), "certificate_id", "")},
		{"private_key", with(rawConfig(f), "private_key", "")},
		{"private_key", with(rawConfig(f), "private_key", "not a key at all, just text")},
		{"private_key", with(rawConfig(f), "private_key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n")},
		{"private_key", with(rawConfig(f), "private_key", smallRSA(t))},
		{"scope", with(rawConfig(f), "scope", "restlets")},
		{"consumer_key", with(rawConfig(f), "auth", "tba")},
		{"types", with(rawConfig(f), "types", "ItemRcpt,SalesOrd")},
		{"extra_columns", with(rawConfig(f), "extra_columns", "t.id; DROP TABLE x AS y")},
		{"extra_columns", with(rawConfig(f), "extra_columns", "t.custbody_x AS lot")},
		{"extra_columns", with(rawConfig(f), "extra_columns", "x.custbody_x AS y")},
		{"start", with(rawConfig(f), "start", "03/01/2026")},
		{"overlap", with(rawConfig(f), "overlap", "10s")},
		{"page_size", with(rawConfig(f), "page_size", "5000")},
	}
	for _, tt := range tests {
		t.Run(tt.param, func(t *testing.T) {
			cfg := parse(t, tt.raw)
			for name, call := range map[string]func() error{
				"Check": func() error { return netsuite.New().Check(context.Background(), cfg) },
				"Read": func() error {
					_, err := netsuite.New().Read(context.Background(), cfg, nil, 10)
					return err
				},
			} {
				err := call()
				var ic *sdk.InvalidConfigError
				if !errors.As(err, &ic) || ic.Param != tt.param {
					t.Errorf("%s: %v, want an invalid %s", name, err, tt.param)
				}
				if err != nil {
					noSecrets(t, tt.raw, err.Error())
				}
			}
		})
	}
}

// Nothing the connector returns or logs holds a secret, while it works
// and while it fails.
func TestSecretsStayOutOfLogsRecordsAndPositions(t *testing.T) {
	f := newAccount(t)
	plant(f)
	raw := rawConfig(f)
	var logs bytes.Buffer
	c := netsuite.New()
	c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := parse(t, raw)
	recs, pos := readAll(t, c, cfg, nil, 3)
	var texts []string
	for _, r := range recs {
		texts = append(texts, r.ID, string(r.Payload))
	}
	texts = append(texts, string(pos), cfg.String(), logs.String())
	f.ExpireTokens()
	f.Inject(Fault{Status: 401, Code: "INVALID_LOGIN", Detail: loginDetail}, Fault{Status: 401, Code: "INVALID_LOGIN", Detail: loginDetail})
	_, err := c.Read(context.Background(), cfg, pos, 3)
	if err == nil {
		t.Fatal("Read succeeded through two refused logins")
	}
	texts = append(texts, err.Error(), logs.String())
	if !strings.Contains(logs.String(), "getting a new one") {
		t.Errorf("the token renewal was not logged: %s", logs.String())
	}
	noSecrets(t, raw, texts...)
}

func TestVoidsAndDeletions(t *testing.T) {
	f := newAccount(t)
	plant(f)
	cfg := parse(t, rawConfig(f))
	c := netsuite.New()
	_, pos := readAll(t, c, cfg, nil, 100)

	now := time.Now()
	f.Modify(5002, now.Add(-time.Minute), func(tx *Txn) { tx.Voided = true })
	f.Delete(5600, "Inventory Adjustment", now.Add(-30*time.Second))
	f.AddDeleted(Deleted{RecordID: 201, Type: "Customer", Name: "Alpha Foods", At: now.Add(-20 * time.Second)})
	recs, pos := readAll(t, c, cfg, pos, 100)
	if got, want := ids(recs), []string{"ItemRcpt:5002:1:9003", "deleted:InvAdjst:5600"}; !slices.Equal(got, want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	if v := fields(t, recs[0])["voided"]; v != "T" {
		t.Errorf("voided receipt has voided %v", v)
	}
	del := fields(t, recs[1])
	if recs[1].Kind != netsuite.KindDeletedTransaction || del["tran_type"] != "InvAdjst" || del["name"] != "ADJ-2" {
		t.Errorf("deletion record %s: %v", recs[1].Kind, del)
	}
	if again, _ := readAll(t, c, cfg, pos, 100); len(again) != 0 {
		t.Errorf("the next sync read %v again", ids(again))
	}
}

func TestExtraColumns(t *testing.T) {
	f := newAccount(t)
	plant(f)
	f.CustomFields["inv.custitemnumber_vendor_lot"] = true
	cfg := parse(t, with(rawConfig(f), "extra_columns", "inv.custitemnumber_vendor_lot AS supplier_lot, BUILTIN.DF(tl.location) AS site"))
	recs, _ := readAll(t, netsuite.New(), cfg, nil, 100)
	got := fields(t, recs[0])
	if got["supplier_lot"] != "M-7781" || got["site"] != "Main Warehouse" {
		t.Errorf("first record's extra columns: supplier_lot %v, site %v", got["supplier_lot"], got["site"])
	}
	if v, ok := fields(t, recs[1])["supplier_lot"]; !ok || v != nil {
		t.Errorf("a lot without a vendor lot has supplier_lot %v (present %v), want null", v, ok)
	}
}

// Adding a transaction type reads the older transactions of that type too.
func TestChangedTypesReadAgainFromTheStart(t *testing.T) {
	f := newAccount(t)
	plant(f)
	c := netsuite.New()
	recs, pos := readAll(t, c, parse(t, with(rawConfig(f), "types", "ItemRcpt")), nil, 100)
	if len(recs) != 3 {
		t.Fatalf("receipts only: %v", ids(recs))
	}
	recs, _ = readAll(t, c, parse(t, with(rawConfig(f), "types", "ItemRcpt,ItemShip")), pos, 100)
	want := []string{"ItemRcpt:5001:1:9001", "ItemRcpt:5001:1:9002", "ItemRcpt:5002:1:9003", "ItemShip:5400:1:9400", "ItemShip:5401:1:9401"}
	if got := ids(recs); !slices.Equal(got, want) {
		t.Errorf("after adding ItemShip: %v, want %v", got, want)
	}
}

func TestPositionOfAnotherAccountIsRefused(t *testing.T) {
	f := newAccount(t)
	plant(f)
	_, pos := readAll(t, netsuite.New(), parse(t, rawConfig(f)), nil, 100)
	_, err := netsuite.New().Read(context.Background(), parse(t, with(rawConfig(f), "account_id", "7654321")), pos, 10)
	if !errors.Is(err, sdk.ErrInvalidPosition) || !strings.Contains(err.Error(), "hub cursor reset") {
		t.Errorf("error %v, want an invalid position saying to reset the cursor", err)
	}
}

// smallRSA is a 1024-bit RSA key, which NetSuite does not accept.
func smallRSA(t *testing.T) string {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

// A rate limit in the middle of a read of several pages keeps the pages
// already read.
func TestRateLimitMidReadKeepsThePagesRead(t *testing.T) {
	f := newAccount(t)
	plant(f)
	cfg := parse(t, with(rawConfig(f), "page_size", "4", "deleted", "false"))
	c := netsuite.New()
	f.BeforeQuery = func(n int) {
		if n == 1 { // the second request answers 429
			f.Inject(Fault{Status: 429, Code: "CONCURRENCY_LIMIT_EXCEEDED", Detail: "Concurrent request limit exceeded.", RetryAfter: "5"})
		}
	}
	res, err := c.Read(context.Background(), cfg, nil, 100)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if got, want := ids(res.Records), plantIDs[:4]; !slices.Equal(got, want) || !res.More {
		t.Fatalf("first read: %v (more %v), want the first page %v and more", got, res.More, want)
	}
	rest, _ := readAll(t, c, cfg, res.Next, 100)
	if got, want := ids(rest), plantIDs[4:]; !slices.Equal(got, want) {
		t.Errorf("the rest: %v, want %v", got, want)
	}
}

// A refused query is quoted with NetSuite's own message, and the error
// blames extra_columns only for a column extra_columns asked for.
func TestRefusedQueryIsQuoted(t *testing.T) {
	keys(t)
	t.Run("StandardColumnNotExposed", func(t *testing.T) {
		f := newAccount(t)
		plant(f)
		f.Hidden["tl.createdfrom"] = true
		err := netsuite.New().Check(context.Background(), parse(t, rawConfig(f)))
		if err == nil {
			t.Fatal("Check succeeded")
		}
		for _, w := range []string{
			"Field 'createdfrom' for record 'transactionline' was not found", // NetSuite's message
			"not one of extra_columns",
			"the query was: SELECT t.id AS tran_id",
			"tl.createdfrom AS created_from_id",
		} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error does not say %q:\n%v", w, err)
			}
		}
		if strings.Contains(err.Error(), "spelling in extra_columns") {
			t.Errorf("error blames extra_columns, which is not set:\n%v", err)
		}
	})
	t.Run("ExtraColumnNotExposed", func(t *testing.T) {
		f := newAccount(t)
		plant(f)
		err := netsuite.New().Check(context.Background(), parse(t, with(rawConfig(f), "extra_columns", "t.custbody_vendor_lot AS supplier_lot")))
		if err == nil {
			t.Fatal("Check succeeded")
		}
		for _, w := range []string{"Field 'custbody_vendor_lot' for record 'transaction' was not found", "spelling in extra_columns", "t.custbody_vendor_lot AS supplier_lot FROM transaction t"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error does not say %q:\n%v", w, err)
			}
		}
	})
	// Created From is a transactionline column in SuiteQL; the fake, like
	// an account, refuses it on transaction (the query the connector sent
	// before issue 15).
	t.Run("CreatedFromIsALineColumn", func(t *testing.T) {
		f := newAccount(t)
		plant(f)
		f.mu.Lock()
		_, _, _, status, _, detail := f.run("SELECT t.createdfrom AS x FROM transaction t INNER JOIN transactionline tl ON tl.transaction = t.id"+
			" LEFT JOIN inventoryassignment ia ON ia.transaction = tl.transaction AND ia.transactionline = tl.id"+
			" LEFT JOIN inventorynumber inv ON inv.id = ia.inventorynumber INNER JOIN item i ON i.id = tl.item"+
			" LEFT JOIN transaction cf ON cf.id = tl.createdfrom LEFT JOIN entity e ON e.id = t.entity"+
			" LEFT JOIN unitstypeuom bu ON bu.unitstype = i.unitstype AND bu.baseunit = 'T'", 0, 10)
		f.mu.Unlock()
		if status == 0 || !strings.Contains(detail, "Field 'createdfrom' for record 'transaction' was not found") {
			t.Fatalf("the fake accepted t.createdfrom (status %d, %s)", status, detail)
		}
		recs, _ := readAll(t, netsuite.New(), parse(t, rawConfig(f)), nil, 100)
		if got := fields(t, recs[0]); got["created_from_number"] != "PO-77" || got["created_from_type"] != "PurchOrd" {
			t.Errorf("receipt %s: created from %v %v, want PurchOrd PO-77", recs[0].ID, got["created_from_type"], got["created_from_number"])
		}
	})
}

// The first sync reads deletedrecord from the start of the initial
// window, not from a few minutes before it runs: a deletion older than
// the first sync is read too.
func TestFirstSyncReadsOlderDeletions(t *testing.T) {
	f := newAccount(t)
	plant(f)
	f.Delete(5600, "Inventory Adjustment", at(f.Loc, "2026-03-20 10:00:00"))
	// An adjustment deleted before the start date.
	f.AddDeleted(Deleted{RecordID: 5601, Type: "Inventory Adjustment", Name: "ADJ-1", At: at(f.Loc, "2026-02-01 10:00:00")})
	for _, tc := range []struct {
		name string
		raw  map[string]string
		want []string
	}{
		{"AllHistory", rawConfig(f), []string{"deleted:InvAdjst:5601", "deleted:InvAdjst:5600"}},
		{"FromStart", with(rawConfig(f), "start", "2026-03-01"), []string{"deleted:InvAdjst:5600"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, _ := readAll(t, netsuite.New(), parse(t, tc.raw), nil, 100)
			var dels []string
			for _, r := range recs {
				if r.Kind == netsuite.KindDeletedTransaction {
					dels = append(dels, r.ID)
				}
			}
			if !slices.Equal(dels, tc.want) {
				t.Errorf("first sync read deletions %v, want %v", dels, tc.want)
			}
		})
	}
}
