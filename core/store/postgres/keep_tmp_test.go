package postgres_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/postgres"
)

func TestKeepTmp(t *testing.T) {
	u := os.Getenv("KEEP_URL")
	if u == "" {
		t.Skip()
	}
	db, err := postgres.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in := core.Ingester{Store: db}
	if _, err := in.IngestJSONL(context.Background(), bytes.NewReader(plant(20000)), "p"); err != nil {
		t.Fatal(err)
	}
}
