package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/internal/crashtest"
	"github.com/lothub/lothub/internal/startgc"
	"github.com/lothub/lothub/internal/testbuild"
)

// Crash tests run the real hub binary and the example connector as a
// real plugin process, and kill the hub with SIGKILL.

// buildBinaries returns the hub and a plugin folder with the example
// connector, built once for the package's tests.
func buildBinaries(t *testing.T) (hubBin, pluginDir string) {
	t.Helper()
	return testbuild.Hub(t), testbuild.PluginDir(t)
}

func TestMain(m *testing.M) {
	startgc.Done() // the hub's main does it first; so do its tests
	testbuild.Main(m)
}

// scanPlant writes n orders of MES scans into dir.
func scanPlant(t *testing.T, dir string, n int) {
	t.Helper()
	var b strings.Builder
	for o := range n {
		at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(o) * time.Minute).Format(time.RFC3339)
		fmt.Fprintf(&b, `{"scan_id":"S%d-in","time":%q,"station":"MIX-1","order":"WO-%d","direction":"IN","item":"RAW","lot":"R-%d","qty":5,"uom":"KG"}`+"\n", o, at, o, o%9)
		fmt.Fprintf(&b, `{"scan_id":"S%d-out","time":%q,"station":"PACK-1","order":"WO-%d","direction":"OUT","item":"FG","lot":"FG-%d","qty":10,"uom":"EA"}`+"\n", o, at, o, o)
	}
	if err := os.WriteFile(filepath.Join(dir, "scans-0001.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeConfig(t *testing.T, dir, pluginDir string, batch int) string {
	t.Helper()
	mapping, _ := filepath.Abs("../../examples/connector-example/mapping.yaml")
	scans := filepath.Join(dir, "scans")
	os.MkdirAll(scans, 0o755)
	cfg := fmt.Sprintf(`plugin_dir: %s
connectors:
  - name: mes
    plugin: scans
    mapping: %s
    batch_size: %d
    config:
      dir: %s
      webhook_secret: ${env:LOTHUB_TEST_WEBHOOK}
intake:
  listen: 127.0.0.1:0
  tokens:
    - name: t
      token: ${env:LOTHUB_TEST_WEBHOOK}
`, pluginDir, mapping, batch, scans)
	path := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// eventRows lists every stored event version as "id v hash status".
func eventRows(t *testing.T, db string) []string { return crashtest.StoredEvents(t, db) }

// processesWith returns the pids of live processes whose command line
// contains s.
func processesWith(s string) []string {
	var out []string
	ms, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil || !bytes.Contains(b, []byte(s)) {
			continue
		}
		stat, _ := os.ReadFile(strings.TrimSuffix(m, "cmdline") + "stat")
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			continue // a zombie is dead
		}
		out = append(out, filepath.Base(filepath.Dir(m)))
	}
	return out
}

func TestSyncKilledMidwayEndsLikeAnUninterruptedSync(t *testing.T) {
	hubBin, pluginDir := buildBinaries(t)
	t.Setenv("LOTHUB_TEST_WEBHOOK", "whsec-0123456789")
	dir := t.TempDir()
	cfg := writeConfig(t, dir, pluginDir, 4)
	scanPlant(t, filepath.Join(dir, "scans"), 300)

	// The reference: one uninterrupted sync.
	clean := filepath.Join(dir, "clean.db")
	if out, err := exec.Command(hubBin, "--db", clean, "--config", cfg, "sync", "mes").CombinedOutput(); err != nil {
		t.Fatalf("clean sync: %v\n%s", err, out)
	}
	want := eventRows(t, clean)
	if len(want) != 600 {
		t.Fatalf("clean sync stored %d events, want 600", len(want))
	}

	// The same sync, killed with SIGKILL once some batches are committed.
	crashed := filepath.Join(dir, "crashed.db")
	cmd := exec.Command(hubBin, "--db", crashed, "--config", cfg, "sync", "mes")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), crashed)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for {
		c, err := st.Cursor(context.Background(), "mes")
		if err == nil && len(c.Position) > 0 {
			break
		}
		if cmd.ProcessState != nil {
			t.Fatal("the sync ended before it could be killed")
		}
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	partial := len(eventRows(t, crashed))
	if partial == 0 || partial >= 600 {
		t.Fatalf("killed sync left %d events: want some, not all (kill it sooner)", partial)
	}
	// No plugin process outlives the hub.
	deadline := time.Now().Add(10 * time.Second)
	for len(processesWith(pluginDir)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if left := processesWith(pluginDir); len(left) > 0 {
		t.Errorf("plugin processes outlived the killed hub: %v", left)
	}

	// Started again, the sync resumes after the last committed batch.
	if out, err := exec.Command(hubBin, "--db", crashed, "--config", cfg, "sync", "mes").CombinedOutput(); err != nil {
		t.Fatalf("sync after the crash: %v\n%s", err, out)
	}
	got := eventRows(t, crashed)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events after crash and resume differ from an uninterrupted sync: %d vs %d rows", len(got), len(want))
	}
	runs, err := st.Runs(context.Background(), core.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Status != core.RunOK || runs[1].Status != core.RunFailed || !strings.Contains(runs[1].Error, "interrupted") {
		t.Errorf("runs = %+v, want the killed run marked failed (interrupted) and the second ok", runs)
	}
}

func TestWebhookSurvivesKillAfterAnswer(t *testing.T) {
	hubBin, pluginDir := buildBinaries(t)
	const secret = "whsec-0123456789"
	t.Setenv("LOTHUB_TEST_WEBHOOK", secret)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, pluginDir, 100)
	db := filepath.Join(dir, "hub.db")
	cmd := exec.Command(hubBin, "--db", db, "--config", cfg, "serve")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("hub serve printed nothing: %v", err)
	}
	_, rest, _ := strings.Cut(line, "http://")
	addr, _, _ := strings.Cut(rest, " ")
	body := []byte(`{"scan_id":"W1","time":"2026-03-05T08:00:00Z","order":"WO-7","direction":"IN","item":"SUGAR","lot":"SG-1","qty":5,"uom":"KG"}`)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/webhooks/mes", bytes.NewReader(body))
	req.Header.Set("X-Lothub-Signature", hex.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Killed the moment the answer is in.
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook answered %d, want 202", resp.StatusCode)
	}
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.FindLot(context.Background(), core.LotRef{Item: "SUGAR", Lot: "SG-1"}); err != nil {
		t.Errorf("the acknowledged webhook's lot is not in the store after the kill: %v", err)
	}
	raw, _ := st.RawRecords(context.Background(), core.RawFilter{Source: "mes"})
	if len(raw) != 1 || raw[0].RecordID != "scan/W1" {
		t.Errorf("archive after the kill = %+v, want the webhook's record", raw)
	}
}
