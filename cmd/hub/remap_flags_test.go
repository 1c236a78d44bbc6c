package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The fixed and the broken mapping of TestRemapFixesRecall: version 1
// takes a work order's output for a purchase receipt (so a recall of what
// the order consumed reaches nothing) and emits a move with every issue;
// version 2 fixes both.
const (
	movementsV1 = "testdata/movements-v1.yaml"
	movementsV2 = "testdata/movements-v2.yaml"
)

// orderRecords is one work order of a plant as its ERP exports it: flour
// lot FLOUR/flour received, issued to order, and bread lot BREAD/bread
// received from the order.
func orderRecords(doc, order, flour, bread string) string {
	return fmt.Sprintf(`{"doc":"%[1]s-0","mvt":"GR","item":"FLOUR","lot":%[3]q,"qty":"100","uom":"KG","order":"","supplier":"V-MILL","date":"20260301"}
{"doc":"%[1]s-1","mvt":"GI","item":"FLOUR","lot":%[3]q,"qty":"40","uom":"KG","order":%[2]q,"date":"20260302"}
{"doc":"%[1]s-2","mvt":"GR","item":"BREAD","lot":%[4]q,"qty":"100","uom":"EA","order":%[2]q,"date":"20260302"}
`, doc, order, flour, bread)
}

// ingestV1 writes records to dir/name and ingests them with the broken
// mapping, under source when it is not "".
func ingestV1(t *testing.T, db, dir, name, source, records string) {
	t.Helper()
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, []byte(records), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"ingest", "--mapping", movementsV1, "--kind", "movement", file, "--json"}
	if source != "" {
		args = append(args, "--source", source)
	}
	out, errs, code := hub(t, db, "", args...)
	if code != 0 {
		t.Fatalf("ingest %s: exit %d: %s", name, code, errs)
	}
	st := counts(t, out)
	if st["records"] != 3 || st["new"] != 4 || st["quarantined"] != 0 {
		t.Fatalf("ingest %s = %v, want 3 records, 4 new events", name, st)
	}
}

// remapJSON runs hub remap --json with the fixed mapping and args.
func remapJSON(t *testing.T, db string, args ...string) map[string]int {
	t.Helper()
	out, errs, code := hub(t, db, "", append([]string{"remap", "--mapping", movementsV2, "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("remap %v: exit %d: %s", args, code, errs)
	}
	return counts(t, out)
}

// reaches returns the lots a recall of FLOUR/flour reaches, joined.
func reaches(t *testing.T, db, flour string) string {
	t.Helper()
	lots, _ := recallJSON(t, db, "FLOUR", flour)
	return strings.Join(lots, ",")
}

// A hub fed by two connectors: a mapping fixed for one of them is replayed
// over that connector's records only, and the other's events stay as they
// were until it is remapped too.
func TestRemapSourceOnlyThatConnector(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "hub.db")
	ingestV1(t, db, dir, "north.jsonl", "erp-north", orderRecords("N", "WO-N", "FN", "BN"))
	ingestV1(t, db, dir, "south.jsonl", "erp-south", orderRecords("S", "WO-S", "FS", "BS"))
	if got := reaches(t, db, "FN") + reaches(t, db, "FS"); got != "" {
		t.Fatalf("recalls before any remap reach %q, want nothing (the broken mapping)", got)
	}

	// A source no record came from: nothing is replayed, nothing changes.
	out, errs, code := hub(t, db, "", "remap", "--mapping", movementsV2, "--source", "erp-nort")
	if code != 0 || !strings.HasPrefix(out, "remapped 0 records with movements@2: 0 events") {
		t.Errorf("remap --source erp-nort: exit %d, %q %s; want 0 records remapped", code, out, errs)
	}

	st := remapJSON(t, db, "--source", "erp-north")
	if st["records"] != 3 || st["superseded"] != 1 || st["reversed"] != 1 || st["unchanged"] != 2 {
		t.Errorf("remap --source erp-north = %v, want north's 3 records: 1 superseded (receipt → output), 1 reversed (the move), 2 unchanged", st)
	}
	if got := reaches(t, db, "FN"); got != "BREAD/BN" {
		t.Errorf("recall of north's flour after its remap reaches %q, want BREAD/BN", got)
	}
	if got := reaches(t, db, "FS"); got != "" {
		t.Errorf("recall of south's flour reaches %q after a remap of erp-north only, want nothing", got)
	}
	lot, _, _ := hub(t, db, "", "lot", "FLOUR", "FS", "--json")
	if !strings.Contains(lot, `"id": "mv:S-1:move"`) || strings.Contains(lot, `"status": "reversed"`) {
		t.Errorf("south's move was touched by a remap of erp-north:\n%s", lot)
	}

	// Now the other connector.
	st = remapJSON(t, db, "--source", "erp-south")
	if st["records"] != 3 || st["superseded"] != 1 || st["reversed"] != 1 {
		t.Errorf("remap --source erp-south = %v, want south's 3 records, 1 superseded, 1 reversed", st)
	}
	if got := reaches(t, db, "FS"); got != "BREAD/BS" {
		t.Errorf("recall of south's flour after its remap reaches %q, want BREAD/BS", got)
	}
}

// Records archived before --since are left as they are: only the exports
// that arrived since then are replayed, whatever dates the records carry.
func TestRemapSinceOnlyRecordsArchivedSince(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "hub.db")
	// Both exports carry the same business dates (March 2026); they
	// differ only in when the hub received them.
	ingestV1(t, db, dir, "export-1.jsonl", "", orderRecords("E1", "WO-1", "F1", "B1"))
	time.Sleep(10 * time.Millisecond)
	since := time.Now()
	time.Sleep(10 * time.Millisecond)
	ingestV1(t, db, dir, "export-2.jsonl", "", orderRecords("E2", "WO-2", "F2", "B2"))

	out, errs, code := hub(t, db, "", "remap", "--mapping", movementsV2, "--since", since.Format(time.RFC3339Nano))
	if code != 0 {
		t.Fatalf("remap --since: exit %d: %s", code, errs)
	}
	for _, want := range []string{"remapped 3 records with movements@2: 4 events (1 new, 1 superseded, 2 unchanged), 1 reversed, 0 restored, 0 quarantined\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("remap --since printed %q, want the second export's 3 records, 1 superseded and 1 reversed (%q)", out, want)
		}
	}
	if got := reaches(t, db, "F2"); got != "BREAD/B2" {
		t.Errorf("recall of the second export's flour reaches %q, want BREAD/B2", got)
	}
	if got := reaches(t, db, "F1"); got != "" {
		t.Errorf("recall of the first export's flour reaches %q, want nothing: it arrived before --since", got)
	}

	// A date (midnight UTC) before both: the first export is replayed
	// too, the second is unchanged by now.
	st := remapJSON(t, db, "--since", since.UTC().Format(time.DateOnly))
	if st["records"] != 6 || st["superseded"] != 1 || st["reversed"] != 1 || st["unchanged"] != 5 {
		t.Errorf("remap --since %s = %v, want 6 records, the first export's receipt superseded and its move reversed, 5 unchanged", since.UTC().Format(time.DateOnly), st)
	}
	if got := reaches(t, db, "F1"); got != "BREAD/B1" {
		t.Errorf("recall of the first export's flour after the wider remap reaches %q, want BREAD/B1", got)
	}

	// Received in the future: nothing.
	if st := remapJSON(t, db, "--since", since.Add(24*time.Hour).Format(time.RFC3339)); st["records"] != 0 {
		t.Errorf("remap --since tomorrow = %v, want 0 records", st)
	}
	// Not a time: a usage error naming the formats, nothing replayed.
	_, errs, code = hub(t, db, "", "remap", "--mapping", movementsV2, "--since", "last week")
	if code != 2 || !strings.Contains(errs, "want YYYY-MM-DD or RFC 3339") {
		t.Errorf("remap --since 'last week': exit %d, %q; want exit 2 and the formats", code, errs)
	}
}
