package filedrop

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/internal/bulkgc"
	"github.com/lothub/lothub/sdk"
)

// BenchmarkSyncMillionRows measures the whole path of a big export: a CSV
// of receipts (every row a new lot) dropped on a real SFTP server on
// loopback, read by the filedrop plugin process, mapped with the default
// mapping and stored in a fresh SQLite file by the runner.
//
//	go test ./connectors/filedrop/ -run '^$' -bench SyncMillionRows -benchtime 1x
//
// FILEDROP_BENCH_ROWS and FILEDROP_BENCH_BATCH change the row count
// (1000000) and batch size (5000).
func BenchmarkSyncMillionRows(b *testing.B) {
	bulkgc.Tune() // as hub sync does
	rows := envInt(b, "FILEDROP_BENCH_ROWS", 1_000_000)
	batch := envInt(b, "FILEDROP_BENCH_BATCH", 5000)
	root, size := bigFile(b, rows)
	srv := startSFTP(b, root)
	hubBinary(b)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		e := newHub(b, srv, batch, "")
		b.StartTimer()
		run := e.sync(b)
		if run.Records != rows || run.Events != rows {
			b.Fatalf("run = %+v, want %d records and events", run, rows)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(size)/1e6, "MB")
	if kb := peakRSS(); kb > 0 {
		b.ReportMetric(float64(kb)/1024, "peak-RSS-MB") // the runner and the SFTP server; the plugin is a process of its own
	}
}

// peakRSS is this process's peak resident memory in KiB (VmHWM), 0 where
// /proc does not say.
func peakRSS() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb
		}
	}
	return 0
}

// BenchmarkReadMillionRows measures the connector's share alone, in
// process: the same file read over SFTP on loopback, parsed and turned
// into records, in batches of 5000.
//
//	go test ./connectors/filedrop/ -run '^$' -bench ReadMillionRows -benchtime 1x -benchmem
func BenchmarkReadMillionRows(b *testing.B) {
	rows := envInt(b, "FILEDROP_BENCH_ROWS", 1_000_000)
	batch := envInt(b, "FILEDROP_BENCH_BATCH", 5000)
	root, size := bigFile(b, rows)
	srv := startSFTP(b, root)
	cfg := mustConfig(b, sftpConfig(srv, "in", nil))
	b.ResetTimer()
	for b.Loop() {
		c := New()
		var pos sdk.Position
		n := 0
		for {
			res, err := c.Read(context.Background(), cfg, pos, batch)
			if err != nil {
				b.Fatal(err)
			}
			n += len(res.Records)
			pos = res.Next
			if !res.More {
				break
			}
		}
		c.Close()
		if n != rows {
			b.Fatalf("read %d rows, want %d", n, rows)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(size)/1e6, "MB")
}

// bigFile writes a CSV of receipts (every row a new lot) into root/in.
func bigFile(b *testing.B, rows int) (root string, size int64) {
	b.Helper()
	root = b.TempDir()
	if err := os.Mkdir(filepath.Join(root, "in"), 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(root, "in", "receive_big.csv"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("id,time,item,lot,qty,uom,supplier_id,supplier_name,supplier_lot,po\n")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		fmt.Fprintf(w, "R-%07d,%s,RAW-%03d,L-%07d,%d,KG,V-%02d,Supplier %02d,SL-%07d,PO-%06d\n",
			i, t0.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), i%500, i, 10+i%90, i%40, i%40, i, i/10)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	info, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	return root, info.Size()
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
