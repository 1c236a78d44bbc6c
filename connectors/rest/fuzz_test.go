package rest_test

import (
	"testing"

	"github.com/lothub/lothub/connectors/rest"
	"github.com/lothub/lothub/sdk/sdktest"
)

// FuzzRESTPage feeds the REST connector's page decoder (the
// oracle-fusion-scm profile: items, hasMore, offset paging) hostile
// answers: records or an error, never a panic. Seeded with the fake
// Oracle Fusion server's real answers to a whole read.
func FuzzRESTPage(f *testing.F) {
	fo := newFakeOracle(f, oracleData(12))
	rec := sdktest.NewRecorder(f, fo.URL)
	c := rest.New()
	sdktest.ReadAll(f, c, mustConfig(f, c, fo.config("base_url", rec.URL)), nil, 5)
	for _, b := range rec.Bodies() {
		f.Add(b)
	}
	f.Add([]byte(`{"items":[null,1,"x",{"links":{}}],"hasMore":true,"offset":9223372036854775807,"limit":-1}`))
	srv := sdktest.NewPageServer(f)
	cfg := mustConfig(f, c, fo.config("base_url", srv.URL))
	f.Fuzz(func(t *testing.T, body []byte) {
		srv.Set(200, "application/json", body)
		sdktest.FuzzReads(t, rest.New(), cfg, nil, 5)
	})
}
