package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/filedrop"
	demoplant "github.com/lothub/lothub/examples/demo-plant"
	"github.com/lothub/lothub/internal/crashtest"
	"github.com/lothub/lothub/internal/testbuild"
)

// The crash harness's scenarios for the CLI, filedrop and plugins:
// internal/crashtest runs the hub, kills it and compares.

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
	rng := crashtest.Rand(t)
	for _, st := range crashtest.Stores {
		t.Run(st.Name, func(t *testing.T) {
			dir := t.TempDir()
			// The reference: one uninterrupted sync.
			cleanDir := filepath.Join(dir, "clean")
			files := crashPlant(t, filepath.Join(cleanDir, "in"), 40, 60)
			clean := crashtest.Hub{Bin: hubBin, DB: st.DB(t, dir, "clean"), Config: filedropConfig(t, cleanDir, filepath.Join(cleanDir, "in"), "leave", 20)}
			began := time.Now()
			clean.Run(t, "sync", "fd")
			took := time.Since(began) // the kills fall within a sync's time
			want := clean.State(t)
			wantRecords, wantEvents := clean.RunTotals(t, "fd")
			if len(want.Events) < 1000 || len(want.Holds) == 0 {
				t.Fatalf("clean sync stored %d events and %d holds: the plant is too small to test", len(want.Events), len(want.Holds))
			}
			for _, after := range []string{"leave", "move", "delete"} {
				t.Run(after, func(t *testing.T) {
					sub := filepath.Join(dir, after)
					in := filepath.Join(sub, "in")
					crashPlant(t, in, 40, 60)
					h := crashtest.Hub{Bin: hubBin, DB: st.DB(t, dir, after), Config: filedropConfig(t, sub, in, after, 20)}
					kills := h.KillRandomly(t, rng, took*3/4, "sync", "fd")
					h.Run(t, "sync", "fd")
					t.Logf("%d kills", kills)
					crashtest.Compare(t, h.State(t), want)
					if r, e := h.RunTotals(t, "fd"); r != wantRecords || e != wantEvents {
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
	rng := crashtest.Rand(t)
	dir := t.TempDir()
	plant := filepath.Join(dir, "plant.jsonl")
	noConfig := filepath.Join(dir, "none.yaml") // no connectors
	if err := os.WriteFile(noConfig, []byte("connectors: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	crashtest.Hub{Bin: hubBin, DB: filepath.Join(dir, "gen.db"), Config: noConfig}.Run(t, "gen", "--events", "8000", "--seed", "11", "--out", plant)
	for _, st := range crashtest.Stores {
		t.Run(st.Name, func(t *testing.T) {
			clean := crashtest.Hub{Bin: hubBin, DB: st.DB(t, dir, "clean-"+st.Name), Config: noConfig}
			began := time.Now()
			clean.Run(t, "ingest", "--events", plant)
			took := time.Since(began)
			want := clean.State(t)
			h := crashtest.Hub{Bin: hubBin, DB: st.DB(t, dir, "crashed-"+st.Name), Config: noConfig}
			kills := h.KillRandomly(t, rng, took*3/4, "ingest", "--events", plant)
			h.Run(t, "ingest", "--events", plant)
			t.Logf("%d kills", kills)
			crashtest.Compare(t, h.State(t), want)
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
	rng := crashtest.Rand(t)
	dir := t.TempDir()
	for _, st := range crashtest.Stores {
		t.Run(st.Name, func(t *testing.T) {
			cleanDir, sub := filepath.Join(dir, st.Name, "clean"), filepath.Join(dir, st.Name, "killed")
			crashPlant(t, filepath.Join(cleanDir, "in"), 40, 60)
			crashPlant(t, filepath.Join(sub, "in"), 40, 60)
			clean := crashtest.Hub{Bin: hubBin, DB: st.DB(t, dir, st.Name+"-clean"), Config: filedropConfig(t, cleanDir, filepath.Join(cleanDir, "in"), "move", 20)}
			began := time.Now()
			clean.Run(t, "sync", "fd")
			took := time.Since(began)
			want := clean.State(t)

			h := crashtest.Hub{Bin: hubBin, DB: st.DB(t, dir, st.Name+"-killed"), Config: filedropConfig(t, sub, filepath.Join(sub, "in"), "move", 20)}
			p := h.Start(t, "sync", "fd")
			kills := 0
		loop:
			for kills < crashtest.Kills {
				select {
				case err := <-p.Done:
					p.Done <- err
					break loop
				case <-time.After(time.Duration(rng.Int64N(int64(took)/2)) + 50*time.Millisecond):
				}
				for _, pid := range pluginPIDs(hubBin) {
					if syscall.Kill(pid, syscall.SIGKILL) == nil {
						kills++
					}
				}
			}
			if err := <-p.Done; err != nil {
				t.Fatalf("sync with its plugin killed %d times: %v\n%s", kills, err, p.Out.Bytes())
			}
			t.Logf("plugin killed %d times", kills)
			crashtest.Compare(t, h.State(t), want)
			if left := dataFiles(t, filepath.Join(sub, "in")); len(left) != 0 {
				t.Errorf("%d files left in the folder after the sync, want all archived", len(left))
			}
		})
	}
}

// An EPCIS capture (hub ingest --format epcis) killed again and again,
// then run to its end, stores what one uninterrupted capture stores; and
// the same events captured as two documents in reverse order give the
// same answers. The document is a real plant's lot genealogy, exported by
// hub export epcis.
func TestCrashHarnessEPCISCapture(t *testing.T) {
	hubBin := testbuild.Hub(t)
	rng := crashtest.Rand(t)
	dir := t.TempDir()
	noConfig := filepath.Join(dir, "none.yaml")
	if err := os.WriteFile(noConfig, []byte("connectors: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plant, doc := filepath.Join(dir, "plant.jsonl"), filepath.Join(dir, "film.jsonld")
	src := crashtest.Hub{Bin: hubBin, DB: filepath.Join(dir, "source.db"), Config: noConfig}
	src.Run(t, "gen", "--events", "8000", "--seed", "11", "--out", plant)
	src.Run(t, "ingest", "--events", plant)
	// FILM/20260105-FILM-0001 is the plant's widest raw lot (hub gen says so).
	src.Run(t, "export", "epcis", "FILM", "20260105-FILM-0001", "--direction", "both", "--out", doc)
	halves := splitEPCIS(t, doc)
	for _, st := range crashtest.Stores {
		t.Run(st.Name, func(t *testing.T) {
			clean := crashtest.Hub{Bin: hubBin, DB: st.DB(t, dir, "epcis-clean-"+st.Name), Config: noConfig}
			began := time.Now()
			clean.Run(t, "ingest", "--format", "epcis", doc)
			took := time.Since(began)
			want := clean.State(t)
			if len(want.Events) < 1000 {
				t.Fatalf("the capture stored %d events: too few to test", len(want.Events))
			}
			h := crashtest.Hub{Bin: hubBin, DB: st.DB(t, dir, "epcis-crashed-"+st.Name), Config: noConfig}
			kills := h.KillRandomly(t, rng, took*3/4, "ingest", "--format", "epcis", doc)
			h.Run(t, "ingest", "--format", "epcis", doc)
			t.Logf("%d kills", kills)
			crashtest.Compare(t, h.State(t), want)

			// The same events in two documents, the second half first.
			split := crashtest.Hub{Bin: hubBin, DB: st.DB(t, dir, "epcis-split-"+st.Name), Config: noConfig}
			split.Run(t, "ingest", "--format", "epcis", halves[1])
			split.Run(t, "ingest", "--format", "epcis", halves[0])
			got := split.State(t)
			if a, b := strings.Join(trace(t, split), "\n"), strings.Join(trace(t, clean), "\n"); a != b {
				t.Errorf("the recall of FILM/20260105-FILM-0001 differs when the document comes in two parts, second first")
			}
			crashtest.Compare(t, crashtest.State{Events: got.Events, Holds: got.Holds, Gaps: got.Gaps}, want)
		})
	}
}

// trace returns the lots of the widest lot's recall, as "item/lot depth".
func trace(t *testing.T, h crashtest.Hub) []string {
	t.Helper()
	var r struct {
		Lots []struct {
			Item, Lot string
			Depth     int
		}
	}
	if err := json.Unmarshal(h.Run(t, "recall", "FILM", "20260105-FILM-0001", "--json"), &r); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range r.Lots {
		out = append(out, fmt.Sprintf("%s/%s %d", l.Item, l.Lot, l.Depth))
	}
	slices.Sort(out)
	return out
}

// splitEPCIS writes the events of the EPCIS document at path as two
// documents, each with the same header, and returns their paths.
func splitEPCIS(t *testing.T, path string) [2]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(doc["epcisBody"], &body); err != nil {
		t.Fatal(err)
	}
	var events []json.RawMessage
	if err := json.Unmarshal(body["eventList"], &events); err != nil || len(events) < 2 {
		t.Fatalf("eventList: %d events, %v", len(events), err)
	}
	var out [2]string
	for i, part := range [][]json.RawMessage{events[:len(events)/2], events[len(events)/2:]} {
		body["eventList"], _ = json.Marshal(part)
		doc["epcisBody"], _ = json.Marshal(body)
		data, _ := json.Marshal(doc)
		out[i] = fmt.Sprintf("%s.part%d.jsonld", strings.TrimSuffix(path, ".jsonld"), i+1)
		if err := os.WriteFile(out[i], data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
