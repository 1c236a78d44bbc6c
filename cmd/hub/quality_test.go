package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGapWorkflow(t *testing.T) {
	db := newPlant(t)
	out, errs, code := hub(t, db, "", "gaps", "--json")
	var gaps struct {
		Gaps []struct{ ID, Kind, Order, Status string }
	}
	if err := json.Unmarshal([]byte(out), &gaps); err != nil || code != 0 {
		t.Fatalf("gaps: exit %d, %v: %s", code, err, errs)
	}
	// GAP-2: the plant's bad line is in quarantine.
	if len(gaps.Gaps) != 2 || gaps.Gaps[0].ID != "GAP-1" || gaps.Gaps[0].Status != "open" || gaps.Gaps[1].ID != "GAP-2" || gaps.Gaps[1].Kind != "quarantined" {
		t.Fatalf("gaps = %+v, want GAP-1 and GAP-2 (quarantined) open", gaps.Gaps)
	}
	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut string
	}{
		{"Ack", []string{"gap", "ack", "GAP-1", "--by", "sam", "--note", "asking the line"}, exitOK, "ACKNOWLEDGED"},
		{"UnknownGap", []string{"gap", "show", "GAP-9"}, exitNotFound, "gap GAP-9 not found"},
		{"BadID", []string{"gap", "show", "nine"}, exitInvalid, "want GAP-<number>"},
		{"WaiveWithoutReason", []string{"gap", "waive", "GAP-1", "--by", "sam"}, exitInvalid, "a reason is required"},
		{"BadLot", []string{"confirm", "GAP-1", "--consumed", "FLOUR", "--by", "ana"}, exitInvalid, "want ITEM/LOT"},
		{"BadQty", []string{"confirm", "GAP-1", "--qty", "lots", "--by", "ana"}, exitInvalid, "want QTY or QTY:UOM"},
		{"WrongKindOfConfirmation", []string{"confirm", "GAP-1", "--result", "pass", "--by", "ana"}, exitInvalid, "--consumed ITEM/LOT[:QTY[:UOM]] (the lots the order used)"},
		{"SourceRecords", []string{"gap", "show", "GAP-1"}, exitOK, "Source records"},
		{"Confirm", []string{"confirm", "GAP-1", "--consumed", "FLOUR/F-A:5:KG", "--by", "ana", "--note", "paper batch record"}, exitOK, "CONFIRMED"},
		{"ConfirmAgain", []string{"confirm", "GAP-1", "--consumed", "FLOUR/F-A", "--by", "ana"}, exitConflict, "already confirmed"},
		{"Show", []string{"gap", "show", "GAP-1"}, exitOK, "acknowledged  sam  asking the line"},
		{"ListsQuarantined", []string{"gaps"}, exitOK, "quarantined"},
		{"QuarantinedIsNotConfirmed", []string{"confirm", "GAP-2", "--result", "pass", "--by", "ana"}, exitInvalid, "hub errors lists them"},
		{"WaiveQuarantined", []string{"gap", "waive", "GAP-2", "--by", "sam", "--reason", "test line, never a real shipment"}, exitOK, "WAIVED"},
		{"NoneOpen", []string{"gaps"}, exitOK, "no gaps"},
		{"ByStatus", []string{"gaps", "--status", "confirmed"}, exitOK, "GAP-1"},
		{"TraceShowsConfirmed", []string{"trace", "backward", "BREAD", "BR-9", "--json"}, exitOK, `"confirmed": true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := hub(t, db, "", tt.args...)
			if code != tt.code || !strings.Contains(out+errs, tt.wantOut) {
				t.Errorf("exit %d, want %d; output:\n%s%s\nwant it to contain %q", code, tt.code, out, errs, tt.wantOut)
			}
		})
	}
}

func TestHoldsAndBalance(t *testing.T) {
	db := newPlant(t)
	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut string
	}{
		{"NoReason", []string{"hold", "FLOUR", "F-A", "--by", "qa"}, exitInvalid, "a reason is required"},
		{"Hold", []string{"hold", "FLOUR", "F-A", "--reason", "supplier recall", "--by", "qa", "--propagate"}, exitOK, "BREAD/BR-1 on hold"},
		{"Holds", []string{"holds"}, exitOK, "FLOUR/F-A"},
		{"Lot", []string{"lot", "BREAD", "BR-1"}, exitOK, "YES since"},
		{"Recall", []string{"recall", "FLOUR", "F-A", "--json"}, exitOK, `"on_hold": true`},
		{"Release", []string{"release", "FLOUR", "F-A", "--reason", "cleared", "--by", "qa", "--propagate"}, exitOK, "BREAD/BR-1 released"},
		{"NoneHeld", []string{"holds"}, exitOK, "no lot on hold"},
		{"Balance", []string{"balance", "FLOUR", "F-A"}, exitOK, "order WO-1"},
		{"BalanceJSON", []string{"balance", "BREAD", "BR-1", "--json"}, exitOK, `"shipped": 60`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := hub(t, db, "", tt.args...)
			if code != tt.code || !strings.Contains(out+errs, tt.wantOut) {
				t.Errorf("exit %d, want %d; output:\n%s%s\nwant it to contain %q", code, tt.code, out, errs, tt.wantOut)
			}
		})
	}
}

func TestRecallSaysWhereTheLotWent(t *testing.T) {
	db := newPlant(t)
	out, errs, code := hub(t, db, "", "recall", "FLOUR", "F-A")
	if code != 0 {
		t.Fatalf("recall: exit %d: %s", code, errs)
	}
	i := strings.Index(out, "Where FLOUR/F-A went")
	if i < 0 {
		t.Fatalf("recall does not say where the lot went:\n%s", out)
	}
	where := out[i:]
	for _, want := range []string{"consume", "WO-1", "40 KG", "on hand", "60 KG"} {
		if !strings.Contains(where, want) {
			t.Errorf("where-it-went section lacks %q:\n%s", want, where)
		}
	}
}

// An item whose lots carry quantities in two units is a mixed_units gap
// (issue 15 §7); hub.yaml may allow it.
func TestGapsMixedUnits(t *testing.T) {
	dir := t.TempDir()
	db, file, cfg := filepath.Join(dir, "hub.db"), filepath.Join(dir, "units.jsonl"), filepath.Join(dir, "hub.yaml")
	events := `{"id":"r1","type":"receive","time":"2026-03-01T08:00:00Z","lot":{"item":"FLOUR","lot":"F-A"},"qty":100,"uom":"KG","supplier":{"id":"V"}}
{"id":"r2","type":"receive","time":"2026-03-02T08:00:00Z","lot":{"item":"FLOUR","lot":"F-B"},"qty":50,"uom":"LBR","supplier":{"id":"V"}}
`
	if err := os.WriteFile(file, []byte(events), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("gaps:\n  rules:\n    mixed_units: {allow: {FLOUR: [KG, LBR]}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := hub(t, db, "", "ingest", "--events", file); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errs)
	}
	out, errs, code := hub(t, db, "", "gaps", "--json")
	var gaps struct {
		Gaps []struct{ Kind, Item, Lot, Detail, Since string }
	}
	if err := json.Unmarshal([]byte(out), &gaps); err != nil || code != 0 {
		t.Fatalf("gaps: exit %d, %v: %s", code, err, errs)
	}
	if len(gaps.Gaps) != 1 || gaps.Gaps[0].Kind != "mixed_units" || gaps.Gaps[0].Item != "FLOUR" || gaps.Gaps[0].Since != "2026-03-02T08:00:00Z" ||
		!strings.Contains(gaps.Gaps[0].Detail, "units: table") {
		t.Fatalf("gaps = %+v, want FLOUR mixed_units since the LBR receipt", gaps.Gaps)
	}
	text, _, _ := hub(t, db, "", "gaps")
	if !strings.Contains(text, "mixed_units") || !strings.Contains(text, "FLOUR/") {
		t.Errorf("hub gaps:\n%s", text)
	}
	out, _, _ = hub(t, db, "", "--config", cfg, "gaps", "--evaluate")
	if !strings.Contains(out, "1 resolved") || !strings.Contains(out, "no gaps") {
		t.Errorf("allowed in hub.yaml, the gap resolves:\n%s", out)
	}
}
