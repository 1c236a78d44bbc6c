package rest_test

import (
	"context"
	"testing"

	"github.com/lothub/lothub/connectors/rest"
	"github.com/lothub/lothub/sdk/sdktest"
)

// A server that answers every page with the same records and "hasMore":
// true (found by FuzzRESTPage) no longer keeps one Read reading forever:
// the Read hands over what was new with its position, and the next one
// finds nothing new, so the hub's cap on empty reads ends the sync.
func TestRESTEndlessSamePage(t *testing.T) {
	fo := newFakeOracle(t, oracleData(1))
	srv := sdktest.NewPageServer(t)
	c := rest.New()
	cfg := mustConfig(t, c, fo.config("base_url", srv.URL))
	srv.Set(200, "application/json", []byte(`{"items":[null,1,"x",{"links":{}}],"hasMore":true,"offset":0,"limit":500}`))
	res, err := c.Read(context.Background(), cfg, nil, 5)
	if err != nil || !res.More || len(res.Records) != 4 {
		t.Fatalf("first Read: %d records, more %v, err %v; want the page's 4 bad records and more", len(res.Records), res.More, err)
	}
	res, err = c.Read(context.Background(), cfg, res.Next, 5)
	if err != nil || len(res.Records) != 0 {
		t.Fatalf("second Read: %d records, err %v; want nothing new", len(res.Records), err)
	}
}
