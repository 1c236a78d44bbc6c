package dynamics_test

import (
	"testing"

	"github.com/lothub/lothub/connectors/dynamics"
	"github.com/lothub/lothub/sdk/sdktest"
)

// The OData v4 page decoders (Finance and Operations, Business Central)
// on hostile answers: whatever the API (or a proxy in front of it)
// answers, Read returns records or an error, never panics. Seeded with the
// fake Microsoft endpoints' real answers to a whole read; the token comes
// from the fake identity platform, the pages from the fuzzer.

func fuzzDynamics(f *testing.F, system string, config func(*fakeMicrosoft, ...string) map[string]string, setup func(*fakeMicrosoft)) {
	fm := newFake(f)
	setup(fm)
	rec := sdktest.NewRecorder(f, fm.srv.URL)
	scope := []string{}
	if system == "fo" { // the token is for the environment's URL: the fake's
		scope = []string{"scope", fm.foScope()}
	}
	sdktest.ReadAll(f, dynamics.New(), parse(f, config(fm, append([]string{"page_size", "5", "base_url", rec.URL}, scope...)...)), nil, 7)
	for _, b := range rec.Bodies() {
		f.Add(b)
	}
	f.Add([]byte(`{"value":[{}],"@odata.nextLink":"` + rec.URL + `/x"}`))
	srv := sdktest.NewPageServer(f)
	cfg := parse(f, config(fm, append([]string{"page_size", "5", "base_url", srv.URL}, scope...)...))
	f.Fuzz(func(t *testing.T, body []byte) {
		srv.Set(200, "application/json; odata.metadata=minimal", body)
		sdktest.FuzzReads(t, dynamics.New(), cfg, nil, 7)
	})
}

func FuzzFOPage(f *testing.F) {
	fuzzDynamics(f, "fo", foConfig, func(fm *fakeMicrosoft) { fm.put(foTrans, generated(0, 23)...) })
}

func FuzzBCPage(f *testing.F) {
	fuzzDynamics(f, "bc", bcConfig, func(fm *fakeMicrosoft) { fm.put(bcILE, plantBC()...) })
}
