package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// measureServe starts hub serve on the store on a free loopback port,
// with a viewer's token, waits until the genealogy is in memory, and
// times the typical forward trace (-requests requests, one at a time,
// keep-alive) and the widest recall (-runs requests) over HTTP.
func (b *bench) measureServe(ctx context.Context, store string) error {
	slog.Info("hub serve", "store", store, "load", loadAvg())
	user := fmt.Sprintf("bench%d", os.Getpid())
	if _, err := b.hubRun(ctx, store, nil, "user", "add", user, "--role", "viewer", "--no-password"); err != nil {
		return fmt.Errorf("add the bench's viewer user on %s: %w", store, err)
	}
	var tok bytes.Buffer
	if _, err := runProc(ctx, time.Minute, &tok, b.work, b.hub, "--db", b.dsn(store), "token", "create", "--user", user, "--expires", "1d"); err != nil {
		return fmt.Errorf("create the bench's token on %s: %w", store, err)
	}
	token := strings.TrimSpace(tok.String())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("find a free loopback port: %w", err)
	}
	addr := l.Addr().String()
	l.Close()

	logPath := filepath.Join(b.work, "serve-"+store+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create %s: %w", logPath, err)
	}
	defer logf.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(sctx, b.hub, "--db", b.dsn(store), "serve", "--listen", addr)
	cmd.Dir = b.work // no ./hub.yaml there: the defaults, no connectors
	cmd.Env = withoutEnv(os.Environ(), "HUB_CONFIG")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start hub serve: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
	}
	defer stop()

	r := &serveResult{}
	client := &http.Client{Timeout: b.cfg.step}
	base := "http://" + addr
	get := func(path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s: %.300s", path, resp.Status, body)
		}
		return body, nil
	}
	lotPath := func(p pick) string { return url.PathEscape(p.item) + "/" + url.PathEscape(p.lot) }
	typical := "/v1/trace/forward/" + lotPath(b.typical)
	widest := "/v1/recall/" + lotPath(b.widest)

	// Up, and the genealogy in memory: the first trace starts its load.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if _, err := get("/v1/health"); err == nil {
			break
		}
		select {
		case err := <-done:
			stopped = true
			return fmt.Errorf("hub serve on %s stopped before answering: %v; its log: %s", store, err, logPath)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("hub serve on %s did not answer /v1/health within 5 minutes; its log: %s", store, logPath)
		}
	}
	if _, err := get(typical); err != nil {
		return fmt.Errorf("hub serve on %s: %w", store, err)
	}
	// waitLog asks for the typical trace (which starts the loads) every
	// half second until done says yes to hub serve's log, then warms up.
	waitLog := func(what string, done func(logText []byte) bool) error {
		for {
			logText, _ := os.ReadFile(logPath)
			if done(logText) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("hub serve on %s did not load %s into memory within 5 minutes; its log: %s", store, what, logPath)
			}
			if _, err := get(typical); err != nil {
				return fmt.Errorf("hub serve on %s: %w", store, err)
			}
			time.Sleep(500 * time.Millisecond)
		}
		for range 10 { // warm-up
			if _, err := get(typical); err != nil {
				return fmt.Errorf("hub serve on %s: %w", store, err)
			}
		}
		return nil
	}
	if err := waitLog("the genealogy", func(logText []byte) bool {
		i := bytes.Index(logText, []byte("genealogy loaded into memory"))
		if i < 0 {
			return false
		}
		line := logText[bytes.LastIndexByte(logText[:i], '\n')+1:]
		if j := bytes.IndexByte(line, '\n'); j >= 0 {
			line = line[:j]
		}
		r.graph = string(line)
		return true
	}); err != nil {
		return err
	}
	// A build that keeps the lot data in memory too (its binary has the
	// log line) is timed once that is loaded as well.
	bin, _ := os.ReadFile(b.hub)
	lotData := bytes.Contains(bin, []byte("lot data loaded into memory"))
	bin = nil
	if err := waitLog("the lot data", func(logText []byte) bool {
		if lotData && !bytes.Contains(logText, []byte("lot data loaded into memory")) {
			return false
		}
		for _, l := range strings.Split(string(logText), "\n") {
			if strings.Contains(l, "loaded into memory") {
				r.loads = append(r.loads, l)
			}
		}
		return true
	}); err != nil {
		return err
	}
	slog.Info("timing hub serve", "store", store, "requests", b.cfg.requests)
	cpu0 := procCPU(cmd.Process.Pid)
	for range b.cfg.requests {
		t0 := time.Now()
		if _, err := get(typical); err != nil {
			return fmt.Errorf("hub serve on %s: %w", store, err)
		}
		r.typical = append(r.typical, time.Since(t0))
	}
	r.cpu = procCPU(cmd.Process.Pid) - cpu0
	body, err := get(widest) // warm-up, and the answer to check
	if err != nil {
		return fmt.Errorf("hub serve on %s: %w", store, err)
	}
	tmp := filepath.Join(b.work, "serve-answer.json")
	if err := os.WriteFile(tmp, body, 0o644); err != nil {
		return err
	}
	a, _, err := readAnswer(tmp, false)
	os.Remove(tmp)
	if err != nil {
		return fmt.Errorf("hub serve on %s, widest recall: %w", store, err)
	}
	r.lots, r.shipment = a.Lots, a.Shipments
	for range b.cfg.runs {
		t0 := time.Now()
		if _, err := get(widest); err != nil {
			return fmt.Errorf("hub serve on %s: %w", store, err)
		}
		r.widest = append(r.widest, time.Since(t0))
	}
	r.peakRSS = vmHWM(cmd.Process.Pid)
	stop()
	if err := ctx.Err(); err != nil {
		return err
	}
	b.serve[store] = r
	return nil
}

// procCPU is a live process's user + system time so far (0: unknown).
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command's closing parenthesis: utime and
	// stime are the 12th and 13th, in clock ticks (100 a second).
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	var u, st int64
	fmt.Sscan(f[11], &u)
	fmt.Sscan(f[12], &st)
	return time.Duration(u+st) * 10 * time.Millisecond
}

// vmHWM is a live process's peak resident size in KB (0: unknown).
func vmHWM(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb
		}
	}
	return 0
}

func withoutEnv(env []string, name string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}
