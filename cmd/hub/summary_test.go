package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestSummaryFlag: --summary answers in counts that agree with the full
// answer; without it the output is the full answer as before.
func TestSummaryFlag(t *testing.T) {
	db := newPlant(t)
	run := func(args ...string) string {
		t.Helper()
		out, errs, code := hub(t, db, "", args...)
		if code != 0 {
			t.Fatalf("hub %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	var full struct {
		Lots      []json.RawMessage `json:"lots"`
		Shipments []json.RawMessage `json:"shipments"`
		Customers json.RawMessage   `json:"customers"`
	}
	if err := json.Unmarshal([]byte(run("recall", "FLOUR", "F-A", "--json")), &full); err != nil || len(full.Lots) == 0 {
		t.Fatalf("recall --json: %v, %d lots", err, len(full.Lots))
	}
	out := run("recall", "FLOUR", "F-A", "--summary", "--json")
	var sum map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("recall --summary --json: %v\n%s", err, out)
	}
	var keys []string
	for k := range sum {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"customers", "direction", "levels", "links", "lots", "on_hand", "on_hold", "root", "shipments", "suppliers"}; !slices.Equal(keys, want) {
		t.Errorf("recall --summary --json keys %v, want %v", keys, want)
	}
	var n, ships int
	var levels []struct {
		Depth int `json:"depth"`
		Lots  int `json:"lots"`
		Items []struct {
			Item string `json:"item"`
			Lots int    `json:"lots"`
		} `json:"items"`
	}
	_ = json.Unmarshal(sum["lots"], &n)
	_ = json.Unmarshal(sum["shipments"], &ships)
	_ = json.Unmarshal(sum["levels"], &levels)
	perLevel := 0
	for _, l := range levels {
		perLevel += l.Lots
	}
	if n != len(full.Lots) || perLevel != n || ships != len(full.Shipments) || string(sum["customers"]) != string(full.Customers) {
		t.Errorf("summary: %d lots (%d by level), %d shipments, customers %s; the full recall: %d lots, %d shipments, customers %s",
			n, perLevel, ships, sum["customers"], len(full.Lots), len(full.Shipments), full.Customers)
	}
	if c := strings.Count(out, `"lot":`); c != 1 {
		t.Errorf("the summary names %d lots, want the root alone:\n%s", c, out)
	}
	back := run("trace", "backward", "BREAD", "BR-1", "--summary", "--json")
	var bs struct {
		Direction string            `json:"direction"`
		Levels    []json.RawMessage `json:"levels"`
		OnHand    *json.RawMessage  `json:"on_hand"`
	}
	if err := json.Unmarshal([]byte(back), &bs); err != nil || bs.Direction != "backward" || len(bs.Levels) == 0 || bs.OnHand != nil {
		t.Errorf("trace backward --summary --json (%v):\n%s", err, back)
	}
	text := run("recall", "FLOUR", "F-A", "--summary")
	for _, want := range []string{"Recall of FLOUR/F-A (summary)", "Lots per level", "Customers to notify"} {
		if !strings.Contains(text, want) {
			t.Errorf("recall --summary text lacks %q:\n%s", want, text)
		}
	}
	if plain := run("recall", "FLOUR", "F-A", "--json"); strings.Contains(plain, `"levels"`) {
		t.Errorf("recall --json without --summary changed shape:\n%s", plain)
	}
}
