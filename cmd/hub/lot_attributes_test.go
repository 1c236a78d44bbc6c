package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// A receipt's or production's params are the lot's attributes: hub lot
// shows them (issue 15: SAP's ShelfLifeExpirationDate and ManufactureDate
// reach the lot this way).
func TestLotShowsAttributes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hub.db")
	events := `{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG","params":{"expiration_date":"2026-08-31","manufacturing_date":"2026-02-25"}}
`
	if _, errs, code := hub(t, db, events, "ingest", "--events", "-"); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errs)
	}
	out, errs, code := hub(t, db, "", "lot", "FLOUR", "F-A")
	if code != 0 {
		t.Fatalf("hub lot: exit %d: %s", code, errs)
	}
	for _, want := range []string{"expiration date", "2026-08-31", "manufacturing date", "2026-02-25"} {
		if !strings.Contains(out, want) {
			t.Errorf("hub lot does not show %q:\n%s", want, out)
		}
	}
	out, _, _ = hub(t, db, "", "lot", "FLOUR", "F-A", "--json")
	var st struct {
		Attributes map[string]any `json:"attributes"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Attributes["expiration_date"] != "2026-08-31" {
		t.Errorf("hub lot --json attributes = %v (%v), want expiration_date 2026-08-31", st.Attributes, err)
	}
}
