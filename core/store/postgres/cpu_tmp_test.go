package postgres_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var PGByKind = map[string]time.Duration{}

func pgKinds(sign int64) {
	ms, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		c, _ := os.ReadFile(strings.TrimSuffix(m, "stat") + "cmdline")
		cmd := string(c)
		if !strings.HasPrefix(cmd, "postgres") {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+2:])
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		k := "other"
		switch {
		case strings.Contains(cmd, "lothub_test"):
			k = "backend"
		case strings.Contains(cmd, "autovacuum"):
			k = "autovacuum"
		case strings.Contains(cmd, "walwriter"):
			k = "walwriter"
		case strings.Contains(cmd, "checkpointer"):
			k = "checkpointer"
		case strings.Contains(cmd, "background writer"):
			k = "bgwriter"
		}
		PGByKind[k] += time.Duration(sign*(u+st)) * 10 * time.Millisecond
	}
}

// pgCPU sums user+system CPU of every postgres process.
func pgCPU() time.Duration {
	var ticks int64
	ms, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if !strings.HasSuffix(s[:i], "(postgres") {
			continue
		}
		if c, _ := os.ReadFile(strings.TrimSuffix(m, "stat") + "cmdline"); !strings.HasPrefix(string(c), "postgres") {
			f := strings.Fields(s[i+2:])
			println("odd", m, string(c), f[11], f[12])
		}
		f := strings.Fields(s[i+2:])
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
