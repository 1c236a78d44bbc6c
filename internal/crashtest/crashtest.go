// Package crashtest is the crash harness: it runs the real hub binary,
// with its real plugin processes and a real store (a SQLite file, a
// PostgreSQL database), kills it with SIGKILL at random moments, and
// compares what the store then holds with a clean run of the same input:
// the same event versions, holds, gaps and run counts. The moments are
// random; the seed is logged and LOTHUB_CRASH_SEED replays one. Each
// scenario kills at most Kills times, so a harness run is bounded in time.
package crashtest

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
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/lothub/lothub/internal/testpg"
)

// Kills bounds the kills of one scenario.
const Kills = 5

// Rand returns the random source of the kill moments, logging its seed.
func Rand(t *testing.T) *rand.Rand {
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

// Store is a kind of store the harness runs against: db returns a
// new, empty one (a file path or a postgres:// URL).
type Store struct {
	Name string
	DB   func(t *testing.T, dir, name string) string
}

var Stores = []Store{
	{"SQLite", func(t *testing.T, dir, name string) string { return filepath.Join(dir, name+".db") }},
	{"PostgreSQL", func(t *testing.T, _, _ string) string { return testpg.NewDatabase(t) }},
}

// Hub runs the hub binary on one store and configuration.
type Hub struct {
	Bin, DB, Config string
}

func (h Hub) Command(args ...string) *exec.Cmd {
	cmd := exec.Command(h.Bin, append([]string{"--db", h.DB, "--config", h.Config}, args...)...)
	return cmd
}

// run runs the hub to its end and returns its standard output.
func (h Hub) Run(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := h.Command(args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hub %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

// Proc is a hub process started in the background.
type Proc struct {
	Cmd *exec.Cmd
	Out bytes.Buffer // its standard output and error
	// Done receives the process's end once; Wait and Ended read it.
	Done chan error
}

// Start starts the hub with args in the background.
func (h Hub) Start(t *testing.T, args ...string) *Proc {
	t.Helper()
	p := &Proc{Cmd: h.Command(args...), Done: make(chan error, 1)}
	p.Cmd.Stdout, p.Cmd.Stderr = &p.Out, &p.Out
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.Done <- p.Cmd.Wait() }()
	return p
}

// Kill kills the process with SIGKILL and waits for its end.
func (p *Proc) Kill() {
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.Done
}

// KillRandomly starts the hub with args and kills it with SIGKILL after a
// random moment, again and again, until it ends by itself or has been
// killed Kills times. It returns how many times it killed it.
func (h Hub) KillRandomly(t *testing.T, rng *rand.Rand, maxDelay time.Duration, args ...string) int {
	t.Helper()
	kills := 0
	for kills < Kills {
		p := h.Start(t, args...)
		delay := time.Duration(rng.Int64N(int64(maxDelay))) + 20*time.Millisecond
		select {
		case err := <-p.Done:
			if err != nil {
				t.Fatalf("hub %s (after %d kills): %v\n%s", strings.Join(args, " "), kills, err, p.Out.Bytes())
			}
			return kills
		case <-time.After(delay):
			p.Kill()
			kills++
		}
	}
	return kills
}

// State is what a scenario compares: the store as a user and a
// script see it.
type State struct {
	Events []string // every stored version: id version hash status
	Holds  []string
	Gaps   []string
}

func (h Hub) State(t *testing.T) State {
	t.Helper()
	// Whatever was killed where, the audit trail still verifies: every
	// committed batch has its entry, and no entry names rows that are not
	// there (hub audit verify exits non-zero otherwise, and Run fails).
	h.Run(t, "audit", "verify")
	var s State
	s.Events = StoredEvents(t, h.DB)
	var holds struct {
		Holds []struct{ Item, Lot, Since, Event, Origin string }
	}
	if err := json.Unmarshal(h.Run(t, "holds", "--json"), &holds); err != nil {
		t.Fatal(err)
	}
	for _, x := range holds.Holds {
		s.Holds = append(s.Holds, fmt.Sprintf("%s/%s since %s by %s (origin %s)", x.Item, x.Lot, x.Since, x.Event, x.Origin))
	}
	var gaps struct {
		Gaps []struct{ Kind, Item, Lot, Order, Detail, Since string }
	}
	if err := json.Unmarshal(h.Run(t, "gaps", "--json"), &gaps); err != nil {
		t.Fatal(err)
	}
	for _, g := range gaps.Gaps {
		if g.Kind == "quarantined" {
			// Since is when the hub quarantined the input: a clean run
			// and a crashed one did that at different moments. The
			// reason quoted names the run's own mapping file: compare
			// how many records of which source.
			g.Since = "(when quarantined)"
			g.Detail, _, _ = strings.Cut(g.Detail, " in quarantine")
		}
		s.Gaps = append(s.Gaps, fmt.Sprintf("%s %s/%s %s since %s: %s", g.Kind, g.Item, g.Lot, g.Order, g.Since, g.Detail))
	}
	slices.Sort(s.Holds)
	slices.Sort(s.Gaps)
	return s
}

// storedEvents lists every stored event version of a store, SQLite or
// PostgreSQL, as "id version hash status".
func StoredEvents(t *testing.T, db string) []string {
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
func (h Hub) RunTotals(t *testing.T, connector string) (records, events int) {
	t.Helper()
	var runs struct {
		Runs []struct {
			Connector, Status, Error string
			Records, Events          int
		}
	}
	if err := json.Unmarshal(h.Run(t, "runs", "--json"), &runs); err != nil {
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

func Compare(t *testing.T, got, want State) {
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
			t.Errorf("%s after crashes and resume differ from a clean run (%d vs %d): %s", c.what, len(c.got), len(c.want), DiffLines(c.got, c.want))
		}
	}
}

// diffLines names the first lines only one side has.
func DiffLines(got, want []string) string {
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
