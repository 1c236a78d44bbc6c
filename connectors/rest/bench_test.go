package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/lothub/lothub/config"
	"github.com/lothub/lothub/connectors/rest"
	"github.com/lothub/lothub/core"
	"github.com/lothub/lothub/core/store/sqlite"
	"github.com/lothub/lothub/intake"
	"github.com/lothub/lothub/internal/bulkgc"
	"github.com/lothub/lothub/internal/testbuild"
	"github.com/lothub/lothub/mapping"
	"github.com/lothub/lothub/runner"
	"github.com/lothub/lothub/sdk"
)

// TestMain removes the hub executable built for the runner benchmark.
func TestMain(m *testing.M) { testbuild.Main(m) }

// BenchmarkOracle100k measures a first sync of 100,000 completed
// transactions (issue 20 §6: ≥ 20,000 records/s) from the Oracle fake
// (basic auth, limit/offset pages of 500, the profile's q/orderBy/expand),
// and beside it, in the same run, its baseline:
//
//	go test ./connectors/rest/ -run '^$' -bench Oracle100k -benchtime 1x -count 2
//
// sync: the rest connector reads a batch (the runner's default size; pages of 500) from
// the fake over loopback HTTP, the records are mapped by the default
// Oracle mapping and committed by intake into a fresh SQLite file
// (archive, events, genealogy), one transaction a batch; the next batch is
// read and mapped while one commits, as the runner does (read-ahead); in
// this process. runner: the path of hub sync: runner.Runner syncs the
// connector configured in a hub.yaml, the rest connector served by the
// hub executable ("hub plugin rest", built from this tree, or
// LOTHUB_REST_BENCH_HUB) as a plugin process over gRPC, into a fresh
// SQLite file. Every record is a new lot. read: the connector alone, the
// same pages, no mapping or store. events: the baseline, the same 100,000
// records' events, mapped beforehand, as canonical JSON Lines through
// core.Ingester's IngestJSONL into a fresh SQLite file (hub ingest's
// path).
//
// The fake's pages are the bytes it always writes, but its records are
// encoded before the clock starts (fakeOracle.freeze), as a server that
// answers from a cache: its work is not the sync's, and a real ERP does
// it on another machine.
//
// LOTHUB_REST_BENCH_RECORDS changes the record count, LOTHUB_REST_BENCH_BATCH
// the batch size (records per read and per transaction, the runner's
// batch_size; config.DefaultBatchSize). Each reports records/s of wall
// time and cpu-s/100k, the CPU time of this process and of the plugin
// processes it waited for, during the sync, for 100,000 records.
func BenchmarkOracle100k(b *testing.B) {
	bulkgc.Tune() // as hub sync does
	n := benchEnv(b, "LOTHUB_REST_BENCH_RECORDS", 100_000)
	batch := benchEnv(b, "LOTHUB_REST_BENCH_BATCH", config.DefaultBatchSize)
	data := benchOracleData(n)
	f := newFakeOracle(b, data)
	// The fake's answers are encoded before the clock starts and the
	// transactions dropped: a real ERP builds its pages on its own
	// machine, not on the two cores the sync runs on (≈ 0.6 s of CPU per
	// 100,000 records here), and its data is not in the hub's heap (≈ 60
	// MB of transactions, as many maps and strings).
	if err := f.freeze(); err != nil {
		b.Fatal(err)
	}
	m, err := mapping.Load("profiles/oracle-fusion-scm.mapping.yaml")
	if err != nil {
		b.Fatal(err)
	}
	c := rest.New()
	cfg := mustConfig(b, c, f.config())
	ctx := context.Background()

	b.Run("sync", func(b *testing.B) {
		var cpu time.Duration
		for b.Loop() {
			b.StopTimer()
			st := benchStore(b)
			b.StartTimer()
			c0 := cpuTime()
			stats := benchSync(b, ctx, c, cfg, &intake.Pipeline{Ingester: &core.Ingester{Store: st}, Mapping: m, Source: "fusion"}, batch)
			if stats.Records != n || stats.New != n || stats.Quarantined != 0 {
				b.Fatalf("records %d, new events %d, quarantined %d; want %d, %d, 0", stats.Records, stats.New, stats.Quarantined, n, n)
			}
			cpu += cpuTime() - c0
			b.StopTimer()
			st.Close()
			b.StartTimer()
		}
		reportRate(b, n, cpu)
	})

	b.Run("runner", func(b *testing.B) {
		hub := benchHub(b)
		var cpu time.Duration
		for b.Loop() {
			b.StopTimer()
			st := benchStore(b)
			r := benchRunner(b, st, hub, f, batch)
			b.StartTimer()
			c0 := cpuTime()
			run, err := r.Sync(ctx, "fusion", "bench")
			cpu += cpuTime() - c0
			if err != nil {
				b.Fatal(err)
			}
			if run.Records != n || run.Events != n || run.Quarant != 0 {
				b.Fatalf("records %d, events %d, quarantined %d; want %d, %d, 0", run.Records, run.Events, run.Quarant, n, n)
			}
			b.StopTimer()
			st.Close()
			b.StartTimer()
		}
		reportRate(b, n, cpu)
	})

	b.Run("read", func(b *testing.B) {
		var cpu time.Duration
		for b.Loop() {
			c0 := cpuTime()
			var pos sdk.Position
			got := 0
			for {
				res, err := c.Read(ctx, cfg, pos, batch)
				if err != nil {
					b.Fatal(err)
				}
				got += len(res.Records)
				pos = res.Next
				if !res.More {
					break
				}
			}
			if got != n {
				b.Fatalf("read %d records, want %d", got, n)
			}
			cpu += cpuTime() - c0
		}
		reportRate(b, n, cpu)
	})

	b.Run("events", func(b *testing.B) {
		jsonl := benchEvents(b, m, benchOracleData(n)) // the same transactions
		var cpu time.Duration
		for b.Loop() {
			b.StopTimer()
			st := benchStore(b)
			b.StartTimer()
			c0 := cpuTime()
			s, err := (&core.Ingester{Store: st}).IngestJSONL(ctx, bytes.NewReader(jsonl), "events.jsonl")
			cpu += cpuTime() - c0
			if err != nil {
				b.Fatal(err)
			}
			if s.New != n {
				b.Fatalf("ingest: %+v, want %d new events", s, n)
			}
			b.StopTimer()
			st.Close()
			b.StartTimer()
		}
		reportRate(b, n, cpu)
	})
}

// reportRate reports records a second of wall time, and the CPU time
// (user and system, of this process and the plugin processes it waited
// for) of 100,000 records: on a loaded machine the wall time says more
// about the other jobs than about the sync.
func reportRate(b *testing.B, n int, cpu time.Duration) {
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(cpu.Seconds()/float64(b.N)*100_000/float64(n), "cpu-s/100k")
}

// benchHub is the hub executable whose "hub plugin rest" serves the
// connector: LOTHUB_REST_BENCH_HUB when set (to compare two builds in one
// run), else the hub built from this tree.
func benchHub(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("LOTHUB_REST_BENCH_HUB"); p != "" {
		return p
	}
	return testbuild.Hub(b)
}

// benchRunner is a runner as hub sync sets it up: the connector "fusion"
// configured in a hub.yaml (the password a ${file:…} reference), the
// built-in rest plugin served by the hub executable hub as a process of
// its own.
func benchRunner(b *testing.B, st core.Store, hub string, f *fakeOracle, batch int) *runner.Runner {
	b.Helper()
	dir := b.TempDir()
	pass := filepath.Join(dir, "oracle.pass")
	if err := os.WriteFile(pass, []byte(oraclePass), 0o600); err != nil {
		b.Fatal(err)
	}
	m, err := filepath.Abs("profiles/oracle-fusion-scm.mapping.yaml")
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(dir, "hub.yaml")
	yaml := fmt.Sprintf(`
connectors:
  - name: fusion
    plugin: rest
    mapping: %s
    batch_size: %d
    config:
      profile: oracle-fusion-scm
      base_url: %s
      username: %s
      password: ${file:%s}
`, m, batch, f.URL, oracleUser, pass)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		b.Fatal(err)
	}
	h, err := config.Load(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := h.Resolve(); err != nil {
		b.Fatal(err)
	}
	return &runner.Runner{Store: st, Config: h, Plugins: &runner.Plugins{Builtins: []string{"rest"}, Self: hub},
		Logger: slog.New(slog.DiscardHandler)}
}

// benchSync reads the connector to its end in batches, mapping the next
// batch while the last one commits (the runner's read-ahead).
func benchSync(b *testing.B, ctx context.Context, c *rest.Connector, cfg sdk.Config, p *intake.Pipeline, batch int) core.RecordStats {
	type mapped struct {
		b    *intake.Batch
		more bool
		err  error
	}
	out := make(chan mapped, 1)
	go func() {
		defer close(out)
		var pos sdk.Position
		for {
			res, err := c.Read(ctx, cfg, pos, batch)
			var mb mapped
			mb.err, mb.more = err, res.More
			if err == nil && len(res.Records) > 0 {
				var inputs []intake.Input
				if inputs, mb.err = runner.Inputs(res.Records); mb.err == nil {
					mb.b, mb.err = p.Map(inputs)
				}
			}
			out <- mb
			if mb.err != nil || !res.More {
				return
			}
			pos = res.Next
		}
	}()
	var stats core.RecordStats
	for mb := range out {
		if mb.err != nil {
			b.Fatal(mb.err)
		}
		if mb.b != nil {
			s, err := p.Commit(ctx, mb.b, nil)
			if err != nil {
				b.Fatal(err)
			}
			stats.Add(s)
		}
	}
	return stats
}

// benchOracleData is n transactions of oracleData, with a work order for
// every four of them and a sales order each, so that the genealogy is a
// plant's, not one work order consuming everything.
func benchOracleData(n int) []oracleTxn {
	data := oracleData(n)
	for i := range data {
		switch data[i].Type {
		case "Work Order Issue", "Work Order Completion":
			data[i].Source = fmt.Sprintf("WO-%d", i/4)
		case "Sales Order Issue":
			data[i].Source = fmt.Sprintf("SO-%d", i)
		}
	}
	return data
}

// benchEvents maps the records once and writes their events as JSON
// Lines.
func benchEvents(b *testing.B, m *mapping.Mapping, data []oracleTxn) []byte {
	b.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, t := range data {
		raw, err := json.Marshal(t.json())
		if err != nil {
			b.Fatal(err)
		}
		var fields map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&fields); err != nil {
			b.Fatal(err)
		}
		evs, err := m.Map(mapping.Record{Kind: rest.KindOracle, ID: "inventoryCompletedTransactions:" + strconv.FormatInt(t.ID, 10), Fields: fields})
		if err != nil || len(evs) != 1 {
			b.Fatalf("transaction %d: %d events, %v", t.ID, len(evs), err)
		}
		if err := enc.Encode(evs[0]); err != nil {
			b.Fatal(err)
		}
	}
	return buf.Bytes()
}

func benchStore(b *testing.B) core.Store {
	b.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hub.db"))
	if err != nil {
		b.Fatal(err)
	}
	return st
}

func benchEnv(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
