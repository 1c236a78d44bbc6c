package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to read a PostgreSQL store's rows

	"github.com/lothub/lothub/connectors/filedrop"
	demoplant "github.com/lothub/lothub/examples/demo-plant"
	"github.com/lothub/lothub/internal/testbuild"
	"github.com/lothub/lothub/internal/testpg"
)

// The crash harness: the real hub binary, its real plugin processes and a
// real store (a SQLite file, a PostgreSQL database) are killed with SIGKILL
// at random moments, resumed, and compared with a clean run of the same
// input: the same event versions, holds, gaps and run counts, and every
// source file accounted for. The moments are random; the seed is logged
// and LOTHUB_CRASH_SEED replays one. Each scenario kills at most
// crashKills times, so the harness is bounded in time.

const crashKills = 5

func crashRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LOTHUB_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LOTHUB_CRASH_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("crash moments from seed %d (LOTHUB_CRASH_SEED=%d replays them)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// crashStore is a kind of store the harness runs against: db returns a
// new, empty one (a file path or a postgres:// URL).
type crashStore struct {
	name string
	db   func(t *testing.T, dir, name string) string
}

var crashStores = []crashStore{
	{"SQLite", func(t *testing.T, dir, name string) string { return filepath.Join(dir, name+".db") }},
	{"PostgreSQL", func(t *testing.T, _, _ string) string { return testpg.NewDatabase(t) }},
}

// hubCmd runs the hub binary on one store and configuration.
type hubCmd struct {
	bin, db, cfg string
}

func (h hubCmd) command(args ...string) *exec.Cmd {
	cmd := exec.Command(h.bin, append([]string{"--db", h.db, "--config", h.cfg}, args...)...)
	return cmd
}

// run runs the hub to its end and returns its standard output.
func (h hubCmd) run(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := h.command(args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hub %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

// killRandomly starts the hub with args and kills it with SIGKILL after a
// random moment, again and again, until it ends by itself or has been
// killed crashKills times. It returns how many times it killed it.
func (h hubCmd) killRandomly(t *testing.T, rng *rand.Rand, maxDelay time.Duration, args ...string) int {
	t.Helper()
	kills := 0
	for kills < crashKills {
		cmd := h.command(args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		delay := time.Duration(rng.Int64N(int64(maxDelay))) + 20*time.Millisecond
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("hub %s (after %d kills): %v\n%s", strings.Join(args, " "), kills, err, out.Bytes())
			}
			return kills
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
		}
	}
	return kills
}

// crashState is what a scenario compares: the store as a user and a
// script see it.
type crashState struct {
	Events []string // every stored version: id version hash status
	Holds  []string
	Gaps   []string
}

func (h hubCmd) state(t *testing.T) crashState {
	t.Helper()
	var s crashState
	s.Events = storedEvents(t, h.db)
	var holds struct {
		Holds []struct{ Item, Lot, Since, Event, Origin string }
	}
	if err := json.Unmarshal(h.run(t, "holds", "--json"), &holds); err != nil {
		t.Fatal(err)
	}
	for _, x := range holds.Holds {
		s.Holds = append(s.Holds, fmt.Sprintf("%s/%s since %s by %s (origin %s)", x.Item, x.Lot, x.Since, x.Event, x.Origin))
	}
	var gaps struct {
		Gaps []struct{ Kind, Item, Lot, Order, Detail, Since string }
	}
	if err := json.Unmarshal(h.run(t, "gaps", "--json"), &gaps); err != nil {
		t.Fatal(err)
	}
	for _, g := range gaps.Gaps {
		s.Gaps = append(s.Gaps, fmt.Sprintf("%s %s/%s %s since %s: %s", g.Kind, g.Item, g.Lot, g.Order, g.Since, g.Detail))
	}
	slices.Sort(s.Holds)
	slices.Sort(s.Gaps)
	return s
}

// storedEvents lists every stored event version of a store, SQLite or
// PostgreSQL, as "id version hash status".
func storedEvents(t *testing.T, db string) []string {
	t.Helper()
	driver := "sqlite"
	if strings.HasPrefix(db, "postgres://") {
		driver = "pgx"
	}
	conn, err := sql.Open(driver, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query(`SELECT id, version, hash, status FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, hash, status string
		var v int
		if err := rows.Scan(&id, &v, &hash, &status); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d %s %s", id, v, hash, status))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out) // byte order: the stores' collations differ
	return out
}

// runTotals sums the counts of a connector's runs and checks that none is
// left running and that the ones before the last were interrupted.
func (h hubCmd) runTotals(t *testing.T, connector string) (records, events int) {
	t.Helper()
	var runs struct {
		Runs []struct {
			Connector, Status, Error string
			Records, Events          int
		}
	}
	if err := json.Unmarshal(h.run(t, "runs", "--json"), &runs); err != nil {
		t.Fatal(err)
	}
	for i, r := range runs.Runs {
		if r.Connector != connector {
			continue
		}
		if i == 0 && r.Status != "ok" {
			t.Errorf("the last run is %s (%s), want ok", r.Status, r.Error)
		}
		if i > 0 && r.Status == "ok" && r.Records == 0 {
			continue // a sync that found nothing to do
		}
		if i > 0 && r.Status != "ok" && !strings.Contains(r.Error, "interrupted") {
			t.Errorf("run %d is %s: %s; want ok, or failed as interrupted", i, r.Status, r.Error)
		}
		records += r.Records
		events += r.Events
	}
	return records, events
}

func compareStates(t *testing.T, got, want crashState) {
	t.Helper()
	for _, c := range []struct {
		what      string
		got, want []string
	}{
		{"stored event versions", got.Events, want.Events},
		{"lots on hold", got.Holds, want.Holds},
		{"open gaps", got.Gaps, want.Gaps},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s after crashes and resume differ from a clean run (%d vs %d): %s", c.what, len(c.got), len(c.want), diffLines(c.got, c.want))
		}
	}
}

// diffLines names the first lines only one side has.
func diffLines(got, want []string) string {
	in := func(s []string) map[string]bool {
		m := make(map[string]bool, len(s))
		for _, x := range s {
			m[x] = true
		}
		return m
	}
	g, w := in(got), in(want)
	var missing, extra []string
	for _, x := range want {
		if !g[x] && len(missing) < 3 {
			missing = append(missing, x)
		}
	}
	for _, x := range got {
		if !w[x] && len(extra) < 3 {
			extra = append(extra, x)
		}
	}
	return fmt.Sprintf("missing %q, extra %q", missing, extra)
}

// crashPlant writes the demo bakery of days days as the filedrop
// connector's CSV files, each cut into files of at most rows rows, into
// dir, and returns the files' names and contents.
func crashPlant(t *testing.T, dir string, days, rows int) map[string][]byte {
	t.Helper()
	p := demoplant.Generate(demoplant.Config{Days: days})
	files := map[string][]byte{}
	for _, name := range p.Names() {
		lines := strings.SplitAfter(string(p.Files[name]), "\n")
		header, body := lines[0], lines[1:]
		if body[len(body)-1] == "" {
			body = body[:len(body)-1]
		}
		base := strings.TrimSuffix(name, ".csv")
		for part := 0; part*rows < len(body); part++ {
			chunk := body[part*rows : min((part+1)*rows, len(body))]
			files[fmt.Sprintf("%s-%03d.csv", base, part)] = []byte(header + strings.Join(chunk, ""))
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// filedropConfig writes a hub configuration with one filedrop connector,
// fd, reading dir with after-processing after.
func filedropConfig(t *testing.T, dir, source, after string, batch int) string {
	t.Helper()
	mapping := filepath.Join(dir, "mapping.yaml")
	if err := os.WriteFile(mapping, filedrop.DefaultMapping, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`connectors:
  - name: fd
    plugin: filedrop
    mapping: %s
    batch_size: %d
    timeout: 1m
    max_retry: 1m
    config:
      source: %s
      kinds: receive=receive*.csv,consume=consume*.csv,produce=produce*.csv,step=step*.csv,ship=ship*.csv,hold=hold*.csv
      stable_wait: 0s
      after: %s
      archive_dir: %s
`, mapping, batch, source, after, filepath.Join(dir, "archive"))
	path := filepath.Join(dir, "hub-"+after+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// dataFiles returns the CSV files in dir (not below it), by name.
func dataFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".csv") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// A filedrop sync killed again and again, in each after-processing mode,
// ends like a clean sync: every row's event stored once, the same holds
// and gaps, run counts that add up to the clean run's, and every file
// where its mode puts it, with its content.
func TestCrashHarnessFiledrop(t *testing.T) {
	hubBin := testbuild.Hub(t)
	rng := crashRand(t)
	for _, st := range crashStores {
		t.Run(st.name, func(t *testing.T) {
			dir := t.TempDir()
			// The reference: one uninterrupted sync.
			cleanDir := filepath.Join(dir, "clean")
			files := crashPlant(t, filepath.Join(cleanDir, "in"), 40, 60)
			clean := hubCmd{bin: hubBin, db: st.db(t, dir, "clean"), cfg: filedropConfig(t, cleanDir, filepath.Join(cleanDir, "in"), "leave", 20)}
			began := time.Now()
			clean.run(t, "sync", "fd")
			took := time.Since(began) // the kills fall within a sync's time
			want := clean.state(t)
			wantRecords, wantEvents := clean.runTotals(t, "fd")
			if len(want.Events) < 1000 || len(want.Holds) == 0 {
				t.Fatalf("clean sync stored %d events and %d holds: the plant is too small to test", len(want.Events), len(want.Holds))
			}
			for _, after := range []string{"leave", "move", "delete"} {
				t.Run(after, func(t *testing.T) {
					sub := filepath.Join(dir, after)
					in := filepath.Join(sub, "in")
					crashPlant(t, in, 40, 60)
					h := hubCmd{bin: hubBin, db: st.db(t, dir, after), cfg: filedropConfig(t, sub, in, after, 20)}
					kills := h.killRandomly(t, rng, took, "sync", "fd")
					h.run(t, "sync", "fd")
					t.Logf("%d kills", kills)
					compareStates(t, h.state(t), want)
					if r, e := h.runTotals(t, "fd"); r != wantRecords || e != wantEvents {
						t.Errorf("runs count %d records and %d events in all, want the clean run's %d and %d", r, e, wantRecords, wantEvents)
					}
					// Every file accounted for.
					left, archived := dataFiles(t, in), dataFiles(t, filepath.Join(sub, "archive"))
					wantLeft, wantArchived := files, map[string][]byte{}
					switch after {
					case "move":
						wantLeft, wantArchived = map[string][]byte{}, files
					case "delete":
						wantLeft = map[string][]byte{}
					}
					for _, c := range []struct {
						where     string
						got, want map[string][]byte
					}{{"in the folder", left, wantLeft}, {"in the archive", archived, wantArchived}} {
						if len(c.got) != len(c.want) {
							t.Errorf("%d files %s, want %d", len(c.got), c.where, len(c.want))
						}
						for name, b := range c.want {
							if !bytes.Equal(c.got[name], b) {
								t.Errorf("%s %s: missing or changed", name, c.where)
							}
						}
					}
				})
			}
		})
	}
}

// hub ingest killed again and again, then run to its end, stores what one
// uninterrupted ingest stores, with the same holds and gaps.
func TestCrashHarnessIngest(t *testing.T) {
	hubBin := testbuild.Hub(t)
	rng := crashRand(t)
	dir := t.TempDir()
	plant := filepath.Join(dir, "plant.jsonl")
	noConfig := filepath.Join(dir, "none.yaml") // no connectors
	if err := os.WriteFile(noConfig, []byte("connectors: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hubCmd{bin: hubBin, db: filepath.Join(dir, "gen.db"), cfg: noConfig}.run(t, "gen", "--events", "8000", "--seed", "11", "--out", plant)
	for _, st := range crashStores {
		t.Run(st.name, func(t *testing.T) {
			clean := hubCmd{bin: hubBin, db: st.db(t, dir, "clean-"+st.name), cfg: noConfig}
			began := time.Now()
			clean.run(t, "ingest", "--events", plant)
			took := time.Since(began)
			want := clean.state(t)
			h := hubCmd{bin: hubBin, db: st.db(t, dir, "crashed-"+st.name), cfg: noConfig}
			kills := h.killRandomly(t, rng, took, "ingest", "--events", plant)
			h.run(t, "ingest", "--events", plant)
			t.Logf("%d kills", kills)
			compareStates(t, h.state(t), want)
		})
	}
}

// pluginPIDs returns the pids of the filedrop plugin processes of the hub
// binary bin.
func pluginPIDs(bin string) []int {
	var out []int
	for _, p := range processesWith(bin + "\x00plugin\x00filedrop") {
		if pid, err := strconv.Atoi(p); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// A sync whose connector plugin is killed with SIGKILL at random moments
// restarts it and ends like a clean sync.
func TestCrashHarnessPluginKilled(t *testing.T) {
	hubBin := testbuild.Hub(t)
	rng := crashRand(t)
	dir := t.TempDir()
	for _, st := range crashStores {
		t.Run(st.name, func(t *testing.T) {
			cleanDir, sub := filepath.Join(dir, st.name, "clean"), filepath.Join(dir, st.name, "killed")
			crashPlant(t, filepath.Join(cleanDir, "in"), 40, 60)
			crashPlant(t, filepath.Join(sub, "in"), 40, 60)
			clean := hubCmd{bin: hubBin, db: st.db(t, dir, st.name+"-clean"), cfg: filedropConfig(t, cleanDir, filepath.Join(cleanDir, "in"), "move", 20)}
			began := time.Now()
			clean.run(t, "sync", "fd")
			took := time.Since(began)
			want := clean.state(t)

			h := hubCmd{bin: hubBin, db: st.db(t, dir, st.name+"-killed"), cfg: filedropConfig(t, sub, filepath.Join(sub, "in"), "move", 20)}
			cmd := h.command("sync", "fd")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			kills := 0
		loop:
			for kills < crashKills {
				select {
				case err := <-done:
					done <- err
					break loop
				case <-time.After(time.Duration(rng.Int64N(int64(took)/2)) + 50*time.Millisecond):
				}
				for _, pid := range pluginPIDs(hubBin) {
					if syscall.Kill(pid, syscall.SIGKILL) == nil {
						kills++
					}
				}
			}
			if err := <-done; err != nil {
				t.Fatalf("sync with its plugin killed %d times: %v\n%s", kills, err, out.Bytes())
			}
			t.Logf("plugin killed %d times", kills)
			compareStates(t, h.state(t), want)
			if left := dataFiles(t, filepath.Join(sub, "in")); len(left) != 0 {
				t.Errorf("%d files left in the folder after the sync, want all archived", len(left))
			}
		})
	}
}
