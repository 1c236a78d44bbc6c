package netsuite_test

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lothub/lothub/connectors/netsuite"
	"github.com/lothub/lothub/sdk/sdktest"
)

// FuzzSuiteQLPage feeds the SuiteQL page decoder hostile answers: whatever
// NetSuite (or a proxy in front of it) answers a query with, Read returns
// records or an error, never panics. Seeded with the fake account's real
// answers to a whole read of a plant; the token comes as NetSuite's
// token endpoint sends it.
func FuzzSuiteQLPage(f *testing.F) {
	acct := newAccount(f)
	plant(acct)
	// The client assertion names the account's URL as its audience, so
	// the answers are recorded in the fake's own server, not a proxy.
	var bodies [][]byte
	inner := acct.srv.Config.Handler
	acct.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := httptest.NewRecorder()
		inner.ServeHTTP(rw, r)
		if r.URL.Path == "/services/rest/query/v1/suiteql" {
			bodies = append(bodies, rw.Body.Bytes())
		}
		maps.Copy(w.Header(), rw.Header())
		w.WriteHeader(rw.Code)
		w.Write(rw.Body.Bytes())
	})
	sdktest.ReadAll(f, netsuite.New(), parse(f, rawConfig(acct)), nil, 5)
	for _, b := range bodies {
		f.Add(b)
	}
	f.Add([]byte(`{"items":[{"links":[],"id":"1","lastmodifieddate":"x"}],"hasMore":true,"offset":-1,"count":1e9,"totalResults":-5}`))
	srv := sdktest.NewPageServer(f)
	srv.Fixed["/services/rest/auth/oauth2/v1/token"] = `{"access_token":"fuzz-token","expires_in":"3600","token_type":"bearer"}`
	cfg := parse(f, with(rawConfig(acct), "base_url", srv.URL))
	f.Fuzz(func(t *testing.T, body []byte) {
		srv.Set(200, "application/json", body)
		sdktest.FuzzReads(t, netsuite.New(), cfg, nil, 5)
	})
}
