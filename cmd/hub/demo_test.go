package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	demoplant "github.com/lothub/lothub/examples/demo-plant"
)

// hub demo, run as the real binary: it writes the plant, serves it over
// SFTP, syncs it through the filedrop plugin process and prints the story.
// Run twice, it reads nothing the second time and tells the same story.
func TestDemo(t *testing.T) {
	hubBin, _ := buildBinaries(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")
	plant := demoplant.Generate(demoplant.Config{})
	demo := func() string {
		t.Helper()
		cmd := exec.Command(hubBin, "demo", "--db", db, "--plant", filepath.Join(dir, "plant"))
		cmd.Dir = dir
		// The demo keeps its configuration in the user's cache folder.
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("hub demo: %v\n%s", err, out)
		}
		return string(out)
	}

	out := demo()
	for _, want := range []string{
		"431 rows in 6 CSV files",
		"run 1 ok, 431 rows read, 430 events written",
		"quarantined: record " + plant.BadRow + " (kind ship)",
		"Recall of " + plant.Contaminated.Item + "/" + plant.Contaminated.Lot,
		"Customers to notify:",
		plant.ComplaintCustName,
		"Backward trace of " + plant.ComplaintLot.Item,
		plant.SupplierLot,
		"hub --db " + db + " recall " + plant.Contaminated.Item,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("hub demo does not say %q:\n%s", want, out)
		}
	}
	again := demo()
	if !strings.Contains(again, "run 2 ok, 0 rows read, 0 events written") {
		t.Errorf("second hub demo read the files again:\n%s", again)
	}
	story := func(s string) string { return s[strings.Index(s, "\n1. "):] }
	if story(again) != story(out) {
		t.Errorf("the second demo tells another story:\n%s\n---\n%s", story(out), story(again))
	}

	// The recall names the customers in the stable JSON too.
	cmd := exec.Command(hubBin, "--db", db, "recall", plant.Contaminated.Item, plant.Contaminated.Lot, "--json")
	js, err := cmd.Output()
	if err != nil {
		t.Fatalf("hub recall: %v", err)
	}
	var res struct {
		Customers []struct{ ID, Name string } `json:"customers"`
	}
	if err := json.Unmarshal(js, &res); err != nil || len(res.Customers) < 3 {
		t.Errorf("recall --json: %d customers, %v:\n%s", len(res.Customers), err, js)
	}
}

func TestIndent(t *testing.T) {
	tests := []struct {
		writes []string
		want   string
	}{
		{[]string{"a\nb\n"}, "  a\n  b\n"},
		{[]string{"a", "b\n", "\n", "c"}, "  ab\n\n  c"},
	}
	for _, tt := range tests {
		var b strings.Builder
		w := indent(&b)
		for _, s := range tt.writes {
			w.Write([]byte(s))
		}
		if b.String() != tt.want {
			t.Errorf("indent(%q) = %q, want %q", tt.writes, b.String(), tt.want)
		}
	}
}
