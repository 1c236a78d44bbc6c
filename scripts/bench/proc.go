package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// usage is what one process cost: wall time from start to exit (process
// start included), its CPU time and its peak resident size (wait4's
// rusage).
type usage struct {
	wall      time.Duration
	user, sys time.Duration
	maxRSSKB  int64
}

func (u usage) cpu() time.Duration { return u.user + u.sys }

// runProc runs a command to its end within limit, its standard output to
// stdout (nil: discarded), and returns what it cost. A failure names the
// command and carries the end of its standard error.
func runProc(ctx context.Context, limit time.Duration, stdout io.Writer, dir string, name string, args ...string) (usage, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout = stdout
	var stderr tail
	cmd.Stderr = &stderr
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	u := usage{wall: time.Since(start)}
	if st := cmd.ProcessState; st != nil {
		u.user, u.sys = st.UserTime(), st.SystemTime()
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			u.maxRSSKB = ru.Maxrss // kilobytes on Linux
		}
	}
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("%w: over its time limit of %s (raise -step-timeout)", err, limit)
		}
		return u, fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return u, nil
}

// tail keeps the last 4 KB written to it: a failed command's last words.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string { return strings.TrimSpace(string(t.b)) }

// output runs a short command and returns its standard output, trimmed.
func output(ctx context.Context, dir, name string, args ...string) (string, error) {
	var out bytes.Buffer
	if _, err := runProc(ctx, 2*time.Minute, &out, dir, name, args...); err != nil {
		return "", err
	}
	return strings.TrimSpace(out.String()), nil
}

// repoRoot is the directory of the module's go.mod: where hub is built.
func repoRoot(ctx context.Context) (string, error) {
	gomod, err := output(ctx, "", "go", "env", "GOMOD")
	if err != nil {
		return "", fmt.Errorf("find the lothub module (run from inside the repository): %w", err)
	}
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the lothub module: run go run ./scripts/bench from the repository")
	}
	return filepath.Dir(gomod), nil
}

// loopbackOnly refuses a PostgreSQL URL whose host is not this machine:
// the bench creates and drops databases and loads the server.
func loopbackOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("-pg %q is not a URL: %w", raw, err)
	}
	host := u.Hostname()
	if host == "" || host == "localhost" || strings.HasPrefix(host, "/") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-pg host %q is not a loopback address: the bench creates, loads and drops databases, so it runs against 127.0.0.1 or localhost only", host)
}

// dbURL is the URL of database name on the server of the -pg URL.
func dbURL(admin, name string) string {
	u, err := url.Parse(admin)
	if err != nil {
		return admin
	}
	u.Path = "/" + name
	return u.String()
}

// machine describes the computer: CPU model, cores, memory.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "unknown memory"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s, %s/%s, %s", model, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// loadAvg is the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
