package sap_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lothub/lothub/connectors/sap"
	"github.com/lothub/lothub/connectors/sap/internal/fake"
	"github.com/lothub/lothub/sdk/sdktest"
)

// The OData page decoders (S/4HANA OData v2, Business One Service Layer
// OData v4) on hostile answers: whatever a server (or a proxy in front
// of it) answers, Read returns records or an error, never panics. Seeded
// with the fake servers' real answers to a whole read.

func FuzzS4Page(f *testing.F) {
	s := fake.NewS4(f, false)
	s.ServerPage = 3
	s.Add(fake.PlantDocs()...)
	rec := sdktest.NewRecorder(f, s.URL)
	sdktest.ReadAll(f, sap.New(), parse(f, s.Config("base_url", rec.URL)), nil, 5)
	for _, b := range rec.Bodies() {
		f.Add(b)
	}
	f.Add([]byte(`{"d":{"results":[{"MaterialDocument":"1","to_MaterialDocumentItem":{"results":[{}]}}],"__next":"x"}}`))
	srv := sdktest.NewPageServer(f)
	cfg := parse(f, s.Config("base_url", srv.URL))
	f.Fuzz(func(t *testing.T, body []byte) {
		srv.Set(200, "application/json", body)
		sdktest.FuzzReads(t, sap.New(), cfg, nil, 5)
	})
}

func FuzzB1Page(f *testing.F) {
	s := fake.NewB1(f, "v1")
	fake.B1Plant(s)
	rec := sdktest.NewRecorder(f, s.URL)
	sdktest.ReadAll(f, sap.New(), parse(f, fake.B1Config(rec.URL)), nil, 5)
	for _, b := range rec.Bodies() {
		f.Add(b)
	}
	srv := sdktest.NewPageServer(f)
	// The session login answers as the real one; every other request gets
	// the fuzzed body.
	srv.Fixed["/b1s/v1/Login"] = `{"SessionId":"fuzz","Version":"1000190","SessionTimeout":30}`
	cfg := parse(f, fake.B1Config(srv.URL))
	f.Fuzz(func(t *testing.T, body []byte) {
		srv.Set(200, "application/json", body)
		sdktest.FuzzReads(t, sap.New(), cfg, nil, 5)
	})
}

// A server whose next-page link leads back to the page just read (found
// by FuzzS4Page: every answer the same page) fails the read at once with
// a message saying so, instead of reading until the call's deadline.
func TestS4NextLinkLoop(t *testing.T) {
	s := fake.NewS4(t, false)
	srv := sdktest.NewPageServer(t)
	srv.Set(200, "application/json", []byte(`{"d":{"results":[],"__next":"`+srv.URL+fake.S4Path+`/A_MaterialDocumentHeader?$skiptoken=1"}}`))
	_, err := sap.New().Read(context.Background(), parse(t, s.Config("base_url", srv.URL)), nil, 5)
	if err == nil || !strings.Contains(err.Error(), "leads back to a page already read") {
		t.Fatalf("Read = %v, want an error naming the loop", err)
	}
}
