package filedrop

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/connectors/filedrop/sftptest"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	demoplant "github.com/lothub/lothub/examples/demo-plant"
	"github.com/lothub/lothub/internal/testbuild"
	"github.com/lothub/lothub/runner"
)

// These tests run the connector as the hub does: the hub binary, built
// once, serves it as a plugin process (hub plugin filedrop), and the
// runner syncs it into a real SQLite file.

func hubBinary(t testing.TB) string { return testbuild.Hub(t) }

func TestMain(m *testing.M) { testbuild.Main(m) }

// hubEnv is a hub configuration with one filedrop connector, fd, reading
// srv's folder in with the default mapping.
type hubEnv struct {
	dir   string
	file  string // hub.yaml
	cfg   *config.Hub
	store core.Store
	r     *runner.Runner
}

func newHub(t testing.TB, srv *sftptest.Server, batch int, extra string) *hubEnv {
	t.Helper()
	return newHubMapping(t, srv, batch, "mapping.yaml", extra)
}

// newHubMapping is newHub with another mapping file.
func newHubMapping(t testing.TB, srv *sftptest.Server, batch int, mappingFile, extra string) *hubEnv {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "client_key"), srv.ClientKey, 0o600); err != nil {
		t.Fatal(err)
	}
	mapping, err := filepath.Abs(mappingFile)
	if err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`connectors:
  - name: fd
    plugin: filedrop
    mapping: %s
    batch_size: %d
    timeout: 30s
    max_retry: 1m
    config:
      source: %s
      private_key: ${file:client_key}
      host_key: %s
      kinds: receive=receive*,consume=consume*,produce=produce*,step=step*,ship=ship*,hold=hold*
      stable_wait: 0s
%s`, mapping, batch, srv.URL("in"), srv.Fingerprint(), extra)
	file := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &runner.Runner{Store: st, Config: h,
		Plugins: &runner.Plugins{Builtins: []string{"filedrop"}, Self: hubBinary(t)},
		Sleep:   func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
	return &hubEnv{dir: dir, file: file, cfg: h, store: st, r: r}
}

func (e *hubEnv) sync(t testing.TB) core.Run {
	t.Helper()
	run, err := e.r.Sync(context.Background(), "fd", "test")
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return run
}

func TestSyncQuarantinesBadRowsAndIngestsTheRest(t *testing.T) {
	root := t.TempDir()
	srv := startSFTP(t, root)
	rows := strings.Split(strings.TrimSpace(receiveCSV(1, 10)), "\n")
	rows[4] = strings.Replace(rows[4], ",104,KG,", ",1O4,KG,", 1) // line 5: a typo the mapping refuses
	rows[7] = "R-00007,2026-03-02T08:07:00Z,FLOUR,L-7,107"        // line 8: fields missing
	write(t, root, "in/receive_1.csv", strings.Join(rows, "\n")+"\n")
	e := newHub(t, srv, 4, "")

	run := e.sync(t)
	if run.Records != 10 || run.Events != 8 || run.Quarant != 2 || run.Status != core.RunOK {
		t.Fatalf("run = %+v, want 10 records, 8 events, 2 quarantined", run)
	}
	q, err := e.store.Quarantined(context.Background(), core.QuarantineFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, r := range q {
		reasons = append(reasons, r.Reason)
	}
	for _, want := range []string{"record receive_1.csv:5 (kind receive)", "record receive_1.csv:8 (kind bad-row): the connector could not read it: "} {
		if !slices.ContainsFunc(reasons, func(r string) bool { return strings.Contains(r, want) }) {
			t.Errorf("quarantine %q has nothing for %q", reasons, want)
		}
	}
	// The row with missing fields is archived with what is wrong with it.
	raws, err := e.store.RawRecords(context.Background(), core.RawFilter{Source: "fd", Kinds: []string{KindBadRow}})
	if err != nil || len(raws) != 1 || !strings.Contains(string(raws[0].Payload), "the row has 5 fields, the header 8") {
		t.Errorf("archived bad rows = %+v, %v", raws, err)
	}
	// The rest is in the genealogy.
	if _, err := e.store.FindLot(context.Background(), core.LotRef{Item: "FLOUR", Lot: "L-10"}); err != nil {
		t.Errorf("the row after the bad ones is missing: %v", err)
	}
}

func TestSyncSameFileTwiceAndChangedFile(t *testing.T) {
	root := t.TempDir()
	srv := startSFTP(t, root)
	e := newHub(t, srv, 100, "")
	p := write(t, root, "in/receive_1.csv", receiveCSV(1, 3))
	mt := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	touch(t, p, mt)
	if run := e.sync(t); run.Records != 3 || run.Events != 3 {
		t.Fatalf("first sync = %+v", run)
	}
	// Dropped again unchanged (a later time, as an upload gives it).
	write(t, root, "in/receive_1.csv", receiveCSV(1, 3))
	touch(t, p, mt.Add(time.Hour))
	if run := e.sync(t); run.Records != 0 || run.Events != 0 {
		t.Errorf("the same file dropped again: %+v, want nothing read", run)
	}
	// Corrected: row 2 has another quantity.
	write(t, root, "in/receive_1.csv", strings.Replace(receiveCSV(1, 3), ",102,KG,", ",120,KG,", 1))
	touch(t, p, mt.Add(2*time.Hour))
	run := e.sync(t)
	if run.Records != 3 || run.Events != 1 || run.Unchanged != 2 {
		t.Errorf("the changed file: %+v, want 3 records read, 1 event superseded, 2 unchanged", run)
	}
	res, err := (&core.Queries{Store: e.store}).Recall(context.Background(), core.Selector{Lot: &core.LotRef{Item: "FLOUR", Lot: "L-2"}})
	if err != nil {
		t.Fatal(err)
	}
	if oh := res.Root.OnHand; oh == nil || len(*oh) != 1 || (*oh)[0].Qty != 120 {
		t.Errorf("on hand of the corrected lot = %+v, want 120", oh)
	}
}

func TestSyncSurvivesDroppedConnections(t *testing.T) {
	root := t.TempDir()
	srv := startSFTP(t, root)
	write(t, root, "in/receive_1.csv", receiveCSV(1, 20000))
	e := newHub(t, srv, 1000, "")
	logins := srv.Logins()
	// Cut the connection a few times in the middle of the file.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 3; i++ {
			srv.DropAfter(300_000)
			for srv.Logins()-logins <= int64(i+1) {
				select {
				case <-time.After(5 * time.Millisecond):
				case <-t.Context().Done():
					return
				}
			}
		}
		srv.DropAfter(0)
	}()
	run := e.sync(t)
	srv.DropAfter(0)
	if run.Records != 20000 || run.Events != 20000 || run.Unchanged != 0 || run.Quarant != 0 {
		t.Errorf("run = %+v, want every row read and written once", run)
	}
	if srv.Logins()-logins < 2 {
		t.Errorf("%d logins: the connection was never dropped", srv.Logins()-logins)
	}
}

// A hub killed with SIGKILL mid-sync and started again ends with exactly
// what an uninterrupted sync stores.
func TestHubKilledMidSyncEndsLikeUninterrupted(t *testing.T) {
	hub := hubBinary(t)
	root := t.TempDir()
	plant := demoplant.Generate(demoplant.Config{Days: 60})
	if err := plant.Write(filepath.Join(root, "in")); err != nil {
		t.Fatal(err)
	}
	srv := startSFTP(t, root)
	e := newHub(t, srv, 20, "")
	sync := func(db string) {
		t.Helper()
		if out, err := exec.Command(hub, "--db", db, "--config", e.file, "sync", "fd").CombinedOutput(); err != nil {
			t.Fatalf("hub sync: %v\n%s", err, out)
		}
	}
	clean := filepath.Join(e.dir, "clean.db")
	sync(clean)

	crashed := filepath.Join(e.dir, "crashed.db")
	cmd := exec.Command(hub, "--db", crashed, "--config", e.file, "sync", "fd")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), crashed)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Kill it once a few batches are committed, in the middle of a file.
	for {
		c, err := st.Cursor(context.Background(), "fd")
		if err == nil {
			p, _ := decodePosition(c.Position)
			if p.Cur != nil && len(p.Done) >= 1 {
				break
			}
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	partial, _ := st.RawRecords(context.Background(), core.RawFilter{Source: "fd"})
	if len(partial) == 0 || len(partial) >= plant.Rows {
		t.Fatalf("the killed sync archived %d of %d rows: want some, not all", len(partial), plant.Rows)
	}
	out, err := exec.Command(hub, "--db", crashed, "--config", e.file, "sync", "fd", "--json").Output()
	if err != nil {
		t.Fatalf("sync after the kill: %v", err)
	}
	var resumed core.Run
	if err := json.Unmarshal(out, &resumed); err != nil {
		t.Fatal(err)
	}
	if resumed.Records+len(partial) > plant.Rows+20 {
		t.Errorf("the resumed sync read %d rows after %d were committed (of %d): it re-read more than the batch in flight", resumed.Records, len(partial), plant.Rows)
	}

	want, got := snapshot(t, clean, plant), snapshot(t, crashed, plant)
	if len(want) < plant.Rows {
		t.Fatalf("clean snapshot has %d lines for %d rows", len(want), plant.Rows)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("after kill and resume, the store differs from an uninterrupted sync at %d:\n got %s\nwant %s", i, got[i], want[i])
			}
		}
		t.Fatalf("after kill and resume: %d lines, uninterrupted: %d", len(got), len(want))
	}
	for _, args := range [][]string{
		{"recall", plant.Contaminated.Item, plant.Contaminated.Lot, "--json"},
		{"trace", "backward", "--sales-order", plant.ComplaintOrder, "--json"},
	} {
		a, err1 := exec.Command(hub, append([]string{"--db", clean}, args...)...).Output()
		b, err2 := exec.Command(hub, append([]string{"--db", crashed}, args...)...).Output()
		if err1 != nil || err2 != nil || string(a) != string(b) {
			t.Errorf("hub %s differs after kill and resume (%v, %v)", strings.Join(args, " "), err1, err2)
		}
	}
}

// snapshot lists what a sync stored: every archived record with the events
// it made, every quarantined row, and every stored event version of the
// plant's lots.
func snapshot(t *testing.T, db string, plant *demoplant.Plant) []string {
	t.Helper()
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var out []string
	raws, err := st.RawRecords(ctx, core.RawFilter{Source: "fd"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range raws {
		out = append(out, fmt.Sprintf("raw %s %s %s %v", r.RecordID, r.Kind, r.Hash, r.Events))
	}
	q, err := st.Quarantined(ctx, core.QuarantineFilter{IncludeResolved: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range q {
		out = append(out, "quarantine "+r.Key+" "+r.Reason)
	}
	lots := map[core.LotRef]bool{}
	for _, name := range plant.Names() {
		for _, line := range strings.Split(string(plant.Files[name]), "\n")[1:] {
			if f := strings.Split(line, ","); len(f) > 3 {
				lots[core.LotRef{Item: f[2], Lot: f[3]}] = true
			}
		}
	}
	for ref := range lots {
		id, err := st.FindLot(ctx, ref)
		if err != nil {
			t.Fatalf("lot %s: %v", ref, err)
		}
		evs, err := st.LotEvents(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			// Not the sequence, lot id or time seen: those are the store's.
			out = append(out, fmt.Sprintf("event %s %s v%d %s %s %s %s", ref, ev.ID, ev.Version, ev.Hash, ev.Status, ev.Reverses, ev.Body))
		}
	}
	slices.Sort(out)
	return out
}
