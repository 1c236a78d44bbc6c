package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const plant = `{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG","supplier":{"id":"V-MILL","name":"Mill Co"},"supplier_lot":"M-7781","po":"PO-1"}
{"id":"c1","type":"consume","time":"2026-03-02T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":40,"uom":"KG","order":"WO-1"}
{"id":"p1","type":"produce","time":"2026-03-02T09:00:00Z","lot":{"item":"DOUGH","lot":"D-1"},"qty":40,"uom":"KG","order":"WO-1"}
{"id":"c2","type":"consume","time":"2026-03-02T10:00:00Z","lot":{"item":"DOUGH","lot":"D-1"},"qty":40,"uom":"KG","order":"WO-2"}
{"id":"p2","type":"produce","time":"2026-03-02T11:00:00Z","lot":{"item":"BREAD","lot":"BR-1"},"qty":100,"uom":"EA","order":"WO-2"}
{"id":"s1","type":"ship","time":"2026-03-03T10:00:00Z","lot":{"item":"BREAD","lot":"BR-1"},"qty":60,"uom":"EA","customer":{"id":"C-ALPHA","name":"Alpha Foods"},"sales_order":"SO-1"}
{"id":"p9","type":"produce","time":"2026-03-04T11:00:00Z","lot":{"item":"BREAD","lot":"BR-9"},"qty":10,"uom":"EA","order":"WO-9"}
{"id":"bad","type":"ship","time":"2026-03-03T10:00:00Z"}
`

// hub runs the CLI in-process against db and returns stdout, stderr and
// the exit status.
func hub(t *testing.T, db, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"--db", db}, args...), strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func newPlant(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "hub.db")
	file := filepath.Join(dir, "plant.jsonl")
	if err := os.WriteFile(file, []byte(plant), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code := hub(t, db, "", "ingest", "--events", file, "--json")
	if code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errs)
	}
	var st map[string]int
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("ingest --json: %v\n%s", err, out)
	}
	if st["new"] != 7 || st["quarantined"] != 1 {
		t.Fatalf("ingest stats = %v, want 7 new and 1 quarantined", st)
	}
	return db
}

func keys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

func TestTraceJSONShape(t *testing.T) {
	db := newPlant(t)
	out, errs, code := hub(t, db, "", "trace", "forward", "FLOUR", "F-A", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if k := keys(got); !slices.Equal(k, []string{"direction", "links", "lots", "root", "shipments", "suppliers"}) {
		t.Errorf("top-level keys = %v", k)
	}
	if got["direction"] != "forward" {
		t.Errorf("direction = %v", got["direction"])
	}
	lots := got["lots"].([]any)
	if len(lots) != 2 {
		t.Fatalf("lots = %v, want DOUGH/D-1 and BREAD/BR-1", lots)
	}
	if k := keys(lots[1].(map[string]any)); !slices.Equal(k, []string{"depth", "item", "lot"}) {
		t.Errorf("lot keys = %v", k)
	}
	if l := lots[1].(map[string]any); l["item"] != "BREAD" || l["depth"] != 2.0 {
		t.Errorf("second lot = %v, want BREAD at depth 2", l)
	}
	link := got["links"].([]any)[1].(map[string]any)
	if k := keys(link); !slices.Equal(k, []string{"child", "order", "parent"}) {
		t.Errorf("link keys = %v", k)
	}
	sup := got["suppliers"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "name", "item", "lot", "supplier_lot", "po"} {
		if _, ok := sup[k]; !ok {
			t.Errorf("supplier lacks %q: %v", k, sup)
		}
	}
	shp := got["shipments"].([]any)[0].(map[string]any)
	for _, k := range []string{"item", "lot", "qty", "uom", "customer", "sales_order", "time"} {
		if _, ok := shp[k]; !ok {
			t.Errorf("shipment lacks %q: %v", k, shp)
		}
	}
}

func TestRecallJSON(t *testing.T) {
	db := newPlant(t)
	out, errs, code := hub(t, db, "", "recall", "FLOUR", "F-A", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got struct {
		Root struct {
			OnHand []struct {
				Qty float64
				UOM string
			} `json:"on_hand"`
		}
		Lots []struct {
			Item, Lot string
			OnHand    *[]map[string]any `json:"on_hand"`
		}
		Customers []struct{ ID, Name string }
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Root.OnHand) != 1 || got.Root.OnHand[0].Qty != 60 || got.Root.OnHand[0].UOM != "KG" {
		t.Errorf("root on hand = %+v, want 60 KG", got.Root.OnHand)
	}
	for _, l := range got.Lots {
		if l.OnHand == nil {
			t.Errorf("lot %s/%s has no on_hand", l.Item, l.Lot)
		}
	}
	if len(got.Customers) != 1 || got.Customers[0].ID != "C-ALPHA" || got.Customers[0].Name != "Alpha Foods" {
		t.Errorf("customers = %+v", got.Customers)
	}
	text, _, _ := hub(t, db, "", "recall", "FLOUR", "F-A")
	for _, want := range []string{"└─ DOUGH/D-1", "BREAD/BR-1  [on hand: 40 EA]", "Customers to notify: 1", "C-ALPHA"} {
		if !strings.Contains(text, want) {
			t.Errorf("recall text lacks %q:\n%s", want, text)
		}
	}
}

func TestGapsAndErrorsJSON(t *testing.T) {
	db := newPlant(t)
	out, _, code := hub(t, db, "", "gaps", "--json")
	var gaps struct {
		Gaps []map[string]any `json:"gaps"`
	}
	if err := json.Unmarshal([]byte(out), &gaps); err != nil || code != 0 {
		t.Fatalf("gaps: exit %d, %v", code, err)
	}
	// The plant's bad line 8 is in quarantine: a gap too (issue 15 §1).
	if len(gaps.Gaps) != 2 || gaps.Gaps[0]["kind"] != "output_without_input" || gaps.Gaps[0]["order"] != "WO-9" ||
		gaps.Gaps[1]["kind"] != "quarantined" || !strings.Contains(fmt.Sprint(gaps.Gaps[1]["detail"]), "plant.jsonl is in quarantine") {
		t.Fatalf("gaps = %v, want WO-9 output_without_input and plant.jsonl quarantined", gaps.Gaps)
	}
	// The design's six keys stay; exceptions added id, status and more.
	for _, k := range []string{"detail", "item", "kind", "lot", "order", "since"} {
		if _, ok := gaps.Gaps[0][k]; !ok {
			t.Errorf("gap keys = %v, missing %q", keys(gaps.Gaps[0]), k)
		}
	}
	out, _, _ = hub(t, db, "", "errors", "--json")
	var errs struct {
		Errors []struct {
			Source  string
			Line    int
			EventID string `json:"event_id"`
			Reason  string
		}
	}
	if err := json.Unmarshal([]byte(out), &errs); err != nil {
		t.Fatal(err)
	}
	if len(errs.Errors) != 1 || errs.Errors[0].Line != 8 || errs.Errors[0].EventID != "bad" || !strings.HasSuffix(errs.Errors[0].Source, "plant.jsonl") {
		t.Errorf("errors = %+v, want plant.jsonl line 8, event bad", errs.Errors)
	}
}

func TestExitStatuses(t *testing.T) {
	db := newPlant(t)
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"NotFound", []string{"trace", "backward", "FLOUR", "F-X"}, exitNotFound, "lot FLOUR/F-X not found"},
		{"NotFoundLot", []string{"lot", "FLOUR", "F-X"}, exitNotFound, "lot FLOUR/F-X not found"},
		{"NoSelector", []string{"recall"}, exitInvalid, "exactly one of"},
		{"TwoSelectors", []string{"recall", "FLOUR", "F-A", "--sales-order", "SO-1"}, exitInvalid, "exactly one of"},
		{"BadFlag", []string{"recall", "--nope"}, exitInvalid, "unknown flag"},
		{"ItemWithoutDates", []string{"recall", "--item", "FLOUR"}, exitInvalid, "--from and --to"},
		{"BadDate", []string{"recall", "--item", "FLOUR", "--from", "March", "--to", "2026-03-07"}, exitInvalid, "YYYY-MM-DD"},
		{"MissingFile", []string{"ingest", "--events", "/nonexistent.jsonl"}, exitInvalid, "cannot read events"},
		{"OKBySalesOrder", []string{"trace", "backward", "--sales-order", "SO-1"}, 0, ""},
		{"OKByItemDates", []string{"recall", "--item", "FLOUR", "--from", "2026-03-01", "--to", "2026-03-01"}, 0, ""},
		{"EmptyRange", []string{"recall", "--item", "FLOUR", "--from", "2026-03-02", "--to", "2026-03-07"}, exitNotFound, "no lot found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, code := hub(t, db, "", tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errs, tt.code, tt.wantErr)
			}
		})
	}
}

func TestIngestStdinIdempotent(t *testing.T) {
	db := filepath.Join(t.TempDir(), "hub.db")
	for i, want := range []string{"7 new", "7 unchanged"} {
		out, errs, code := hub(t, db, plant, "ingest", "--events", "-")
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("ingest #%d: exit %d, out %q, err %q; want %q", i+1, code, out, errs, want)
		}
	}
	out, _, _ := hub(t, db, "", "errors", "--json")
	if n := strings.Count(out, `"line"`); n != 1 {
		t.Errorf("quarantine holds %d entries after two ingests of one bad line, want 1", n)
	}
}

// hub errors resolve closes a quarantine entry no record will ever
// resolve, keeping the operator's reason; the source's quarantined gap
// closes with it. Bad usage exits 2, an unknown entry 3, one already
// resolved 4.
func TestErrorsResolve(t *testing.T) {
	db := newPlant(t)
	out, _, _ := hub(t, db, "", "errors", "--json")
	var errs struct {
		Errors []struct {
			ID     int64  `json:"id"`
			Reason string `json:"reason"`
		}
	}
	if err := json.Unmarshal([]byte(out), &errs); err != nil || len(errs.Errors) != 1 {
		t.Fatalf("errors = %s, %v; want the plant's one bad line", out, err)
	}
	id := fmt.Sprint(errs.Errors[0].ID)
	if _, _, code := hub(t, db, "", "errors", "resolve", id); code != 2 {
		t.Errorf("resolve without --reason: exit %d, want 2", code)
	}
	if _, _, code := hub(t, db, "", "errors", "resolve", "999999", "--reason", "x"); code != 3 {
		t.Errorf("resolve of an unknown entry: exit %d, want 3", code)
	}
	if _, e, code := hub(t, db, "", "errors", "resolve", id, "--reason", "line replaced in the ERP; checked by QA"); code != 0 {
		t.Fatalf("resolve: exit %d: %s", code, e)
	}
	if _, _, code := hub(t, db, "", "errors", "resolve", id, "--reason", "again"); code != 4 {
		t.Errorf("resolve twice: exit %d, want 4", code)
	}
	out, _, _ = hub(t, db, "", "errors", "--json")
	if err := json.Unmarshal([]byte(out), &errs); err != nil || len(errs.Errors) != 0 {
		t.Errorf("open errors after resolve = %s, want none", out)
	}
	out, _, _ = hub(t, db, "", "errors", "--all", "--json")
	if !strings.Contains(out, "line replaced in the ERP; checked by QA") {
		t.Errorf("errors --all does not keep the reason: %s", out)
	}
	out, _, _ = hub(t, db, "", "gaps", "--evaluate", "--json")
	if strings.Contains(out, `"quarantined"`) {
		t.Errorf("the quarantined gap is still open after the entry was resolved: %s", out)
	}
}
