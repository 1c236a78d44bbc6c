package main

import (
	"bytes"
	"context"
	"encoding/json"
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
//
// The command runs under a small child of this program (measureChild)
// rather than directly: Go starts processes with vfork semantics
// (CLONE_VM), and Linux then counts the parent's peak resident size —
// this program's, which holds the plant's rows — in the child's
// ru_maxrss. A small measuring process in between keeps the figure the
// command's own (plus at most the few MB of that process).
func runProc(ctx context.Context, limit time.Duration, stdout io.Writer, dir string, name string, args ...string) (usage, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	self, err := os.Executable()
	if err != nil {
		return usage{}, fmt.Errorf("find this program to measure %s: %w", name, err)
	}
	res, err := os.CreateTemp("", "lothub-bench-usage-")
	if err != nil {
		return usage{}, fmt.Errorf("measure %s: %w", name, err)
	}
	res.Close()
	defer os.Remove(res.Name())
	cmd := exec.CommandContext(ctx, self, append([]string{name}, args...)...)
	cmd.Env = append(withoutEnv(os.Environ(), measureEnv), measureEnv+"="+res.Name())
	cmd.Dir = dir
	cmd.Stdout = stdout
	var stderr tail
	cmd.Stderr = &stderr
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	var u usage
	if data, rerr := os.ReadFile(res.Name()); rerr == nil && len(data) > 0 {
		var m measured
		if jerr := json.Unmarshal(data, &m); jerr == nil {
			u = usage{wall: time.Duration(m.WallNS), user: time.Duration(m.UserNS), sys: time.Duration(m.SysNS), maxRSSKB: m.MaxRSSKB}
		}
	}
	if err != nil {
		switch ctx.Err() {
		case context.DeadlineExceeded:
			err = fmt.Errorf("%w: over its time limit of %s (raise -step-timeout)", err, limit)
		case context.Canceled:
			err = fmt.Errorf("%w: interrupted", err)
		}
		return u, fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	if u.wall == 0 {
		return u, fmt.Errorf("%s %s: its measurement was not written", filepath.Base(name), strings.Join(args, " "))
	}
	return u, nil
}

// measureEnv, set to a file name, makes this program measureChild.
const measureEnv = "LOTHUB_BENCH_MEASURE"

// measured is what measureChild writes.
type measured struct {
	WallNS, UserNS, SysNS, MaxRSSKB int64
}

// measureChild runs argv with this process's standard streams, writes its
// wall time (process start included) and wait4 rusage to the file out,
// and returns its exit status. It dies with its parent, and the command
// with it.
func measureChild(out string, argv []string) int {
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "bench: measure: no command")
		return 2
	}
	runtime.LockOSThread() // Pdeathsig follows the thread that started the command
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = withoutEnv(os.Environ(), measureEnv)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	err := cmd.Run()
	m := measured{WallNS: int64(time.Since(start))}
	if st := cmd.ProcessState; st != nil {
		m.UserNS, m.SysNS = int64(st.UserTime()), int64(st.SystemTime())
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			m.MaxRSSKB = ru.Maxrss // kilobytes on Linux
		}
	}
	if data, jerr := json.Marshal(m); jerr == nil {
		if werr := os.WriteFile(out, data, 0o600); werr != nil {
			fmt.Fprintln(os.Stderr, "bench: measure:", werr)
			return 2
		}
	}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return max(1, ee.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "bench: measure:", err)
		return 127
	}
	return 0
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
