//go:build unix

package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lothub/lothub/sdk"
)

// These tests run the example connector as a real plugin process, built
// with go build, launched with sdk.Launch: handshake, AutoMTLS, logs,
// errors, crashes and shutdown, as the hub will see them.

const exampleSecret = "whsec-plugin-test-81f2"

// buildExample builds examples/connector-example into dir.
func buildExample(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "lothub-connector-mes-scans")
	cmd := exec.Command(goCommand(t), "build", "-o", bin, "github.com/lothub/lothub/examples/connector-example")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build the example connector: %v\n%s", err, out)
	}
	return bin
}

// writeScans writes n scans into dir and returns their record ids.
func writeScans(t *testing.T, dir string, n int) []string {
	t.Helper()
	var b strings.Builder
	var ids []string
	for i := range n {
		fmt.Fprintf(&b, `{"scan_id":"P-%03d","time":"2026-03-01T08:00:%02dZ","item":"FG-1","lot":"L-%d"}`+"\n", i, i%60, i)
		ids = append(ids, fmt.Sprintf("scan/P-%03d", i))
	}
	if err := os.WriteFile(filepath.Join(dir, "scans-1.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return ids
}

// logRecorder is a slog.Handler that keeps what it is given.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// find waits up to five seconds for a record with message msg; plugin
// lines arrive asynchronously, through the plugin's stderr.
func (h *logRecorder) find(msg string) (slog.Record, bool) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		h.mu.Lock()
		for _, r := range h.records {
			if r.Message == msg {
				h.mu.Unlock()
				return r, true
			}
		}
		h.mu.Unlock()
	}
	return slog.Record{}, false
}

func launch(t *testing.T, bin string, logger *slog.Logger) *sdk.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := sdk.Launch(ctx, exec.Command(bin), logger)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func parse(t *testing.T, c *sdk.Client, raw map[string]string) sdk.Config {
	t.Helper()
	cfg, err := sdk.ParseConfig(c.Spec(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// gone reports whether no process (not even a zombie) has the id pid.
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestPluginProcess(t *testing.T) {
	bin := buildExample(t, t.TempDir())

	t.Run("ReadToEnd", func(t *testing.T) {
		dir := t.TempDir()
		want := writeScans(t, dir, 25)
		logs := &logRecorder{}
		c := launch(t, bin, slog.New(logs))
		if s := c.Spec(); s.Name != "mes-scans" || !c.SupportsWebhook() {
			t.Fatalf("Spec = %+v, webhook %v", s, c.SupportsWebhook())
		}
		cfg := parse(t, c, map[string]string{"dir": dir})
		if err := c.Check(context.Background(), cfg); err != nil {
			t.Fatalf("Check: %v", err)
		}
		var got []string
		var pos sdk.Position
		for calls := 0; ; calls++ {
			if calls > 10 {
				t.Fatal("Read never reached the end")
			}
			res, err := c.Read(context.Background(), cfg, pos, 4)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			for _, r := range res.Records {
				got = append(got, r.ID)
			}
			pos = res.Next
			if !res.More {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("read %v, want %v", got, want)
		}
		r, ok := logs.find("read scans")
		if !ok {
			t.Fatalf("the plugin's slog line did not reach the host logger")
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		if attrs["logger"] != filepath.Base(bin) || attrs["dir"] != dir {
			t.Errorf("plugin log attributes %v, want logger=%s and dir=%s", attrs, filepath.Base(bin), dir)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		dir := t.TempDir()
		writeScans(t, dir, 3)
		c := launch(t, bin, slog.New(&logRecorder{}))
		good := map[string]string{"dir": dir, "retry_wait": "2m", "webhook_secret": exampleSecret}
		with := func(k, v string) map[string]string {
			m := maps.Clone(good)
			m[k] = v
			return m
		}

		// Required parameter missing, sent anyway: the plugin re-validates.
		relaxed := c.Spec()
		relaxed.Params = slices.Clone(relaxed.Params)
		relaxed.Params[0].Required = false
		noDir, err := sdk.ParseConfig(relaxed, map[string]string{})
		if err != nil {
			t.Fatal(err)
		}
		lock := filepath.Join(dir, ".exporting")

		tests := []struct {
			name  string
			call  func() error
			check func(error) bool
		}{
			{"MissingRequired", func() error { return c.Check(context.Background(), noDir) }, func(err error) bool {
				var ic *sdk.InvalidConfigError
				return errors.As(err, &ic) && ic.Param == "dir"
			}},
			{"ConnectorInvalidConfig", func() error {
				_, err := c.Read(context.Background(), parse(t, c, with("pattern", "[")), nil, 1)
				return err
			}, func(err error) bool {
				var ic *sdk.InvalidConfigError
				return errors.As(err, &ic) && ic.Param == "pattern"
			}},
			{"RetryAfter", func() error {
				if err := os.WriteFile(lock, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				defer os.Remove(lock)
				_, err := c.Read(context.Background(), parse(t, c, good), nil, 1)
				return err
			}, func(err error) bool {
				d, ok := sdk.RetryDelay(err)
				return ok && d == 2*time.Minute && strings.Contains(err.Error(), ".exporting exists")
			}},
			{"InvalidPosition", func() error {
				_, err := c.Read(context.Background(), parse(t, c, good), sdk.Position("garbage"), 1)
				return err
			}, func(err error) bool { return errors.Is(err, sdk.ErrInvalidPosition) }},
			{"InvalidSignature", func() error {
				_, err := c.Webhook(context.Background(), parse(t, c, good), sdk.WebhookRequest{
					Method: http.MethodPost, Body: []byte(`{"scan_id":"X","time":"2026-03-01T00:00:00Z"}`),
					Headers: http.Header{"X-Lothub-Signature": {sdk.SignHMACSHA256([]byte("wrong-secret"), []byte("{}"))}},
				})
				return err
			}, func(err error) bool { return errors.Is(err, sdk.ErrInvalidSignature) }},
			{"Deadline", func() error {
				ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
				defer cancel()
				<-ctx.Done()
				_, err := c.Read(ctx, parse(t, c, good), nil, 1)
				return err
			}, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := tt.call()
				if err == nil || !tt.check(err) {
					t.Errorf("error %v has lost its kind", err)
				}
				if err != nil && strings.Contains(err.Error(), exampleSecret) {
					t.Errorf("error shows the secret: %v", err)
				}
				if errors.Is(err, sdk.ErrPluginExited) || c.Exited() {
					t.Errorf("the plugin died: %v", err)
				}
			})
		}
	})

	t.Run("Crash", func(t *testing.T) {
		dir := t.TempDir()
		writeScans(t, dir, 3)
		c := launch(t, bin, slog.New(&logRecorder{}))
		cfg := parse(t, c, map[string]string{"dir": dir})
		if err := syscall.Kill(c.PID(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_, err := c.Read(context.Background(), cfg, nil, 1)
		if !errors.Is(err, sdk.ErrPluginExited) {
			t.Fatalf("Read after the plugin was killed: %v, want ErrPluginExited", err)
		}
		if !c.Exited() {
			t.Errorf("Exited() = false after the crash")
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close after a crash: %v", err)
		}
		if !gone(c.PID()) {
			t.Errorf("process %d is still there after Close", c.PID())
		}
	})

	t.Run("Close", func(t *testing.T) {
		c := launch(t, bin, slog.New(&logRecorder{}))
		pid := c.PID()
		if pid <= 0 || gone(pid) {
			t.Fatalf("PID() = %d, not a running process", pid)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if !gone(pid) {
			t.Errorf("process %d is still there after Close", pid)
		}
		if err := c.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})

	t.Run("Kill", func(t *testing.T) {
		c := launch(t, bin, slog.New(&logRecorder{}))
		c.Kill()
		if !gone(c.PID()) || !c.Exited() {
			t.Errorf("process %d is still there after Kill", c.PID())
		}
	})

	t.Run("StartedByHand", func(t *testing.T) {
		out, err := exec.Command(bin).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "This binary is a plugin") {
			t.Errorf("running the plugin by hand: %v\n%s", err, out)
		}
	})

	t.Run("NotAPlugin", func(t *testing.T) {
		// The test binary itself, running no test: it prints PASS instead
		// of a handshake.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := sdk.Launch(ctx, exec.Command(os.Args[0], "-test.run=^$"), slog.New(&logRecorder{}))
		if err == nil {
			c.Close()
			t.Fatal("Launch of a program that is not a plugin succeeded")
		}
	})

	t.Run("StartTimeout", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHang$")
		cmd.Env = append(os.Environ(), "SDK_TEST_HANG=1")
		c, err := sdk.Launch(ctx, cmd, slog.New(&logRecorder{}))
		if err == nil {
			c.Close()
			t.Fatal("Launch of a plugin that never answers succeeded")
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Launch took %v with a 300ms deadline", d)
		}
	})
}

// TestHelperHang stands in for a plugin that never completes its handshake;
// TestPluginProcess/StartTimeout starts it. Without SDK_TEST_HANG it checks
// nothing.
func TestHelperHang(t *testing.T) {
	if os.Getenv("SDK_TEST_HANG") == "" {
		return
	}
	time.Sleep(time.Minute)
}
