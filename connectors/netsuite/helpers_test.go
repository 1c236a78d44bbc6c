package netsuite_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/netsuite"
	"github.com/lothub/lothub/sdk"
	"github.com/lothub/lothub/sdk/sdktest"
)

// Keys are made once per test binary: RSA key generation is slow.
var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	rsaPEM   string
	ecKey    *ecdsa.PrivateKey
	ecPEM    string
)

func keys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 3072); err != nil {
			panic(err)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
		rsaPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		der, _ = x509.MarshalECPrivateKey(ecKey)
		ecPEM = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	})
}

func losAngeles(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// at is a wall clock in loc.
func at(loc *time.Location, s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
	if err != nil {
		panic(err)
	}
	return t
}

// newAccount is a fake account in Los Angeles that trusts the RSA key.
func newAccount(t testing.TB) *fakeAccount {
	t.Helper()
	keys(t)
	f := newFakeAccount(t, losAngeles(t))
	f.PublicKey = &rsaKey.PublicKey
	return f
}

// rawConfig is the connector's configuration for f, as in hub.yaml.
func rawConfig(f *fakeAccount) map[string]string {
	return map[string]string{
		"account_id":     f.Account,
		"base_url":       f.URL(),
		"timezone":       f.Loc.String(),
		"client_id":      f.ClientID,
		"certificate_id": f.CertID,
		"private_key":    rsaPEM,
	}
}

func with(raw map[string]string, kv ...string) map[string]string {
	out := maps.Clone(raw)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func parse(t testing.TB, raw map[string]string) sdk.Config {
	t.Helper()
	cfg, err := sdk.ParseConfig(netsuite.New().Spec(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// readAll reads from pos to the end in batches of max.
func readAll(t testing.TB, c *netsuite.Connector, cfg sdk.Config, pos sdk.Position, max int) ([]sdk.Record, sdk.Position) {
	t.Helper()
	return sdktest.ReadAll(t, c, cfg, pos, max)
}

func ids(rs []sdk.Record) []string { return sdktest.IDs(rs) }

func fields(t testing.TB, r sdk.Record) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Payload, &m); err != nil {
		t.Fatalf("record %s: payload %s: %v", r.ID, r.Payload, err)
	}
	return m
}

// Master data and transactions of a small bakery. Internal ids: entities
// 2xx customers, 3xx vendors; items 1x; transactions 4xxx orders, 5xxx
// inventory transactions; assignments 9xxx.
const (
	locMain = 1
	locEast = 2
)

func plant(f *fakeAccount) {
	f.AddLocation(locMain, "Main Warehouse")
	f.AddLocation(locEast, "East DC")
	f.AddItem(Item{ID: 11, Name: "FLOUR", BaseUnit: "kg", Lot: true})
	f.AddItem(Item{ID: 12, Name: "YEAST", BaseUnit: "g", Lot: true})
	f.AddItem(Item{ID: 13, Name: "BREAD", BaseUnit: "ea", Lot: true})
	f.AddItem(Item{ID: 14, Name: "SALT"}) // no units type, not lot numbered
	f.AddEntity(Entity{ID: 301, Number: "V-MILL", Name: "Mill Co"})
	f.AddEntity(Entity{ID: 201, Number: "C-ALPHA", Name: "Alpha Foods"})
	f.AddEntity(Entity{ID: 202, Number: "C-BETA", Name: "Beta Bakeries"})
	loc := f.Loc
	f.Put(Txn{ID: 4001, Number: "PO-77", Type: "PurchOrd", Date: "2026-03-10", Modified: at(loc, "2026-03-10 08:00:00"), Entity: 301})
	f.Put(Txn{ID: 4101, Number: "SO-55", Type: "SalesOrd", Date: "2026-03-12", Modified: at(loc, "2026-03-12 08:00:00"), Entity: 201})
	f.Put(Txn{ID: 4102, Number: "SO-56", Type: "SalesOrd", Date: "2026-03-12", Modified: at(loc, "2026-03-12 08:00:00"), Entity: 202})
	f.Put(Txn{ID: 4201, Number: "WO-900", Type: "WorkOrd", Date: "2026-03-13", Modified: at(loc, "2026-03-13 08:00:00")})

	f.Put(Txn{ID: 5001, Number: "IR-1001", Type: "ItemRcpt", Date: "2026-03-14", Modified: at(loc, "2026-03-14 09:15:00"),
		Entity: 301, CreatedFrom: 4001, Lines: []Line{
			{ID: 1, Item: 11, Qty: 1000, Location: locMain, Assign: []Assign{
				{ID: 9001, Lot: "L-100", Qty: 600, Expiration: "2026-09-30", Custom: map[string]string{"custitemnumber_vendor_lot": "M-7781"}},
				{ID: 9002, Lot: "L-101", Qty: 400}}},
			{ID: 2, Item: 14, Qty: 3, Location: locMain, Assign: []Assign{{ID: 9999, Qty: 3}}}, // bin only: no lot
		}})
	f.Put(Txn{ID: 5002, Number: "IR-1002", Type: "ItemRcpt", Date: "2026-03-14", Modified: at(loc, "2026-03-14 09:20:00"),
		Entity: 301, CreatedFrom: 4001, Lines: []Line{
			{ID: 1, Item: 12, Qty: 500, Location: locMain, Assign: []Assign{{ID: 9003, Lot: "Y-7", Qty: 500}}}}})
	f.Put(Txn{ID: 5101, Number: "WOI-12", Type: "WOIssue", Date: "2026-03-15", Modified: at(loc, "2026-03-15 10:00:00"),
		CreatedFrom: 4201, Lines: []Line{
			{ID: 2, Item: 11, Qty: -250, Location: locMain, Assign: []Assign{{ID: 9101, Lot: "L-100", Qty: -250}}},
			{ID: 3, Item: 12, Qty: -20, Location: locMain, Assign: []Assign{{ID: 9102, Lot: "Y-7", Qty: -20}}}}})
	f.Put(Txn{ID: 5102, Number: "WOC-13", Type: "WOCompl", Date: "2026-03-15", Modified: at(loc, "2026-03-15 11:00:00"),
		CreatedFrom: 4201, Lines: []Line{
			{ID: 0, Item: 13, Qty: 480, Location: locMain, Assign: []Assign{{ID: 9103, Lot: "BR-1", Qty: 480}}}}})
	// Two fulfillments saved in the same second: the keyset's tie-break.
	f.Put(Txn{ID: 5400, Number: "IF-300", Type: "ItemShip", Date: "2026-03-16", Modified: at(loc, "2026-03-16 12:00:00"),
		Entity: 201, CreatedFrom: 4101, Lines: []Line{
			{ID: 1, Item: 13, Qty: -100, Location: locMain, Assign: []Assign{{ID: 9400, Lot: "BR-1", Qty: -100}}}}})
	f.Put(Txn{ID: 5401, Number: "IF-301", Type: "ItemShip", Date: "2026-03-16", Modified: at(loc, "2026-03-16 12:00:00"),
		Entity: 202, CreatedFrom: 4102, Lines: []Line{
			{ID: 1, Item: 13, Qty: -50, Location: locMain, Assign: []Assign{{ID: 9401, Lot: "BR-1", Qty: -50}}}}})
	f.Put(Txn{ID: 5500, Number: "IT-8", Type: "InvTrnfr", Date: "2026-03-16", Modified: at(loc, "2026-03-16 13:00:00"),
		TransferLocation: locEast, Lines: []Line{
			{ID: 1, Item: 11, Qty: -40, Location: locMain, Assign: []Assign{{ID: 9500, Lot: "L-101", Qty: -40}}},
			{ID: 2, Item: 11, Qty: 40, Location: locEast, Assign: []Assign{{ID: 9501, Lot: "L-101", Qty: 40}}}}})
	f.Put(Txn{ID: 5600, Number: "ADJ-2", Type: "InvAdjst", Date: "2026-03-16", Modified: at(loc, "2026-03-16 13:30:00"),
		Lines: []Line{{ID: 1, Item: 14, Qty: 75, Location: locMain, Assign: []Assign{{ID: 9600, Lot: "S-1", Qty: 75}}}}})
}

// plantIDs are the record ids of plant, in keyset order.
var plantIDs = []string{
	"ItemRcpt:5001:1:9001", "ItemRcpt:5001:1:9002",
	"ItemRcpt:5002:1:9003",
	"WOIssue:5101:2:9101", "WOIssue:5101:3:9102",
	"WOCompl:5102:0:9103",
	"ItemShip:5400:1:9400", "ItemShip:5401:1:9401",
	"InvTrnfr:5500:1:9500", "InvTrnfr:5500:2:9501",
	"InvAdjst:5600:1:9600",
}
