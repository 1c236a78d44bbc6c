package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Client is the hub's handle on one running connector plugin process. It
// implements [Connector] and [WebhookHandler] by calling the plugin, so the
// hub drives a plugin exactly as it would drive a connector in process.
//
// Errors keep their identity across the boundary: errors.Is(err, ErrRetry),
// [RetryDelay], errors.As(err, **InvalidConfigError) and so on work as in
// the plugin. When the process has died, methods return an error wrapping
// [ErrPluginExited]; a Client is not restarted: launch a new one (the hub's
// supervisor does, with backoff).
//
// A Client is safe for concurrent use. Calls whose context has no deadline
// get [DefaultCallTimeout]; [Client.Close] and [Client.Kill] are bounded
// too: no wait on a plugin lasts forever, whatever the plugin does (one
// stopped with kill -STOP answers nothing and never exits by itself).
type Client struct {
	pc   *plugin.Client
	proc *process
	conn *grpcClient
	pid  int
	log  *slog.Logger

	stopOnce sync.Once
	stopErr  error
}

var (
	_ Connector      = (*Client)(nil)
	_ WebhookHandler = (*Client)(nil)
	_ Acknowledger   = (*Client)(nil)
)

// Deadlines on a plugin's end. go-plugin's own Kill first waits for the
// plugin to answer a gRPC Shutdown, with no deadline, and only then starts
// its two-second timer: a plugin that never answers (stopped, wedged,
// malicious) would hold the hub forever. The hub bounds each step itself.
const (
	// closeGrace is how long Close lets a plugin exit by itself after
	// asking it to; then it is killed (SIGKILL).
	closeGrace = 2 * time.Second
	// reapTimeout bounds the wait, after SIGKILL, for the process to be
	// reaped and go-plugin to let go of it (its log pipes drained: a
	// grandchild that inherited them could hold them open).
	reapTimeout = 10 * time.Second
)

// Launch starts cmd as a connector plugin and connects to it: go-plugin over
// gRPC only, the versioned handshake and automatic mutual TLS. The client
// is not go-plugin "managed": the hub ends every plugin itself (Close,
// Kill), and a managed client would stay in go-plugin's global list for
// the life of the process, one per launch of a long-running hub serve.
// The plugin's log lines and go-plugin's own messages go to logger
// (slog.Default when nil), under logger=<executable name>. The plugin's Unix socket is made in a directory
// of its own in the temporary directory, removed once the plugin is gone
// (even after a kill -9).
//
// ctx bounds the start: the handshake and the first Spec call (a deadline
// on ctx is go-plugin's start timeout; without one it is a minute). If ctx
// ends first, the process is killed and Launch returns as soon as it is
// gone (at most a few seconds). On Linux the process also gets SIGKILL
// when the hub dies. cmd must not have been started; Launch sets its
// environment on top of the hub's.
func Launch(ctx context.Context, cmd *exec.Cmd, logger *slog.Logger) (*Client, error) {
	if cmd == nil || cmd.Path == "" {
		return nil, errors.New("launch connector plugin: no command")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("launch connector plugin %s: %w", cmd.Path, err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	name := filepath.Base(cmd.Path)
	dieWithParent(cmd)
	startTimeout := time.Minute
	if dl, ok := ctx.Deadline(); ok {
		startTimeout = max(time.Until(dl), time.Millisecond)
	}
	proc := &process{cmd: cmd}
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake(),
		Plugins:          PluginSet(nil),
		RunnerFunc:       proc.prepare,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     startTimeout,
		Logger:           newHCLogAdapter(logger),
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
		},
	})
	log := logger.With("plugin", name)

	type started struct {
		conn *grpcClient
		err  error
		// afterHandshake: the plugin answered go-plugin's handshake and
		// the first call (Spec) failed.
		afterHandshake bool
	}
	done := make(chan started, 1)
	go func() {
		rpc, err := pc.Client()
		if err != nil {
			done <- started{err: err}
			return
		}
		raw, err := rpc.Dispense(PluginName)
		if err != nil {
			done <- started{err: err, afterHandshake: true}
			return
		}
		conn, ok := raw.(*grpcClient)
		if !ok {
			done <- started{err: fmt.Errorf("dispensed %T, want a connector", raw)}
			return
		}
		done <- started{conn: conn}
	}()

	var s started
	select {
	case s = <-done:
	case <-ctx.Done():
		// go-plugin's start cannot be interrupted, but the process can:
		// killed, it ends the handshake or the Spec call at once.
		proc.kill()
		select {
		case <-done:
			_ = stop(pc, proc, 0, log)
		case <-time.After(reapTimeout):
			log.Warn("connector plugin killed during its start and not yet let go of; leaving it", "waited", reapTimeout)
			go func() {
				<-done
				_ = stop(pc, proc, 0, log)
			}()
		}
		return nil, fmt.Errorf("launch connector plugin %s: %w", cmd.Path, ctx.Err())
	}
	if s.err != nil {
		// A plugin that passed the handshake and whose Spec call failed
		// may have died (gRPC sees the broken connection before go-plugin
		// reaps the process): give it a moment, and remember whether it
		// was gone before the hub killed it.
		goneAlone := s.afterHandshake && exitedWithin(pc, time.Second)
		proc.kill()
		_ = stop(pc, proc, 0, log)
		if sig, ok := proc.diedBySignal(goneAlone); ok && ctx.Err() == nil {
			// Killed during its start (the OOM killer, an operator): a
			// crash, which the hub retries, not a broken plugin.
			return nil, fmt.Errorf("launch connector plugin %s: %w (%s during its start): %w", cmd.Path, ErrPluginExited, sig, s.err)
		}
		return nil, fmt.Errorf("launch connector plugin %s: %w", cmd.Path, s.err)
	}
	pid, _ := strconv.Atoi(pc.ID())
	c := &Client{pc: pc, proc: proc, conn: s.conn, pid: pid, log: log.With("pid", pid)}
	c.log.Debug("connector plugin started", "connector", s.conn.spec.Name, "version", s.conn.spec.Version,
		"protocol", pc.NegotiatedVersion())
	return c, nil
}

// Spec returns the spec the plugin sent when it started.
func (c *Client) Spec() Spec { return c.conn.Spec() }

// SupportsWebhook reports whether the connector implements WebhookHandler.
func (c *Client) SupportsWebhook() bool { return c.conn.webhook }

// Check calls the plugin's Check. The plugin validates cfg against its spec
// again before its connector sees it.
func (c *Client) Check(ctx context.Context, cfg Config) error {
	return c.wrap(ctx, c.conn.Check(ctx, cfg))
}

// Read calls the plugin's Read and checks the batch keeps the protocol (at
// most max records, each with an id, a declared kind and a JSON payload, and
// a next position when there are records).
func (c *Client) Read(ctx context.Context, cfg Config, pos Position, max int) (ReadResult, error) {
	res, err := c.conn.Read(ctx, cfg, pos, max)
	return res, c.wrap(ctx, err)
}

// Webhook calls the plugin's Webhook. It returns an error wrapping
// errors.ErrUnsupported when the connector accepts no webhooks.
func (c *Client) Webhook(ctx context.Context, cfg Config, req WebhookRequest) (WebhookResult, error) {
	res, err := c.conn.Webhook(ctx, cfg, req)
	return res, c.wrap(ctx, err)
}

// Ack calls the plugin's Ack; a connector without one needs nothing done.
func (c *Client) Ack(ctx context.Context, cfg Config, pos Position) error {
	return c.wrap(ctx, c.conn.Ack(ctx, cfg, pos))
}

// wrap marks transport failures caused by the process dying. gRPC notices
// the broken connection before go-plugin has reaped the process, so give it
// a moment to.
func (c *Client) wrap(ctx context.Context, err error) error {
	var te *transportError
	if !errors.As(err, &te) || ctx.Err() != nil {
		return err
	}
	if exitedWithin(c.pc, time.Second) {
		return fmt.Errorf("%w (pid %d): %w", ErrPluginExited, c.pid, err)
	}
	return err
}

// exitedWithin reports whether go-plugin has seen the plugin process exit
// within d: gRPC notices a broken connection before the process is
// reaped.
func exitedWithin(pc *plugin.Client, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !pc.Exited() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return pc.Exited()
}

// PID returns the plugin's process id.
func (c *Client) PID() int { return c.pid }

// Exited reports whether the plugin process has exited.
func (c *Client) Exited() bool { return c.pc.Exited() }

// Close asks the plugin to exit (go-plugin's gRPC Shutdown), kills it
// (SIGKILL) if it has not within two seconds, waits until it is gone, and
// removes its socket directory. If the process is not reaped within ten
// seconds of its SIGKILL, Close returns an error saying so and leaves it:
// it never waits longer. It is safe to call more than once,
// concurrently, and after a crash or a Kill; every call returns the first
// one's result.
func (c *Client) Close() error { return c.stop(closeGrace) }

// Kill ends the plugin at once (SIGKILL), for a plugin that does not answer
// within its timeout, and waits until it is gone, as Close does but without
// asking first. A Kill during a Close cuts its grace short.
func (c *Client) Kill() {
	c.proc.kill()
	_ = c.stop(0)
}

func (c *Client) stop(grace time.Duration) error {
	c.stopOnce.Do(func() {
		c.stopErr = stop(c.pc, c.proc, grace, c.log)
		if c.stopErr == nil {
			c.log.Debug("connector plugin stopped")
		}
	})
	return c.stopErr
}

// stop ends the plugin run by pc and proc: go-plugin's Kill asks it to exit
// and waits for it, without a deadline of its own, so it runs aside while
// stop gives the plugin grace to exit, then kills it and gives go-plugin
// reapTimeout more to let go. Last, the socket directory goes: the plugin is
// gone by then, or killed and unable to make another socket.
func stop(pc *plugin.Client, proc *process, grace time.Duration, log *slog.Logger) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		pc.Kill()
	}()
	var err error
	if !within(done, grace) {
		if grace > 0 {
			log.Warn("connector plugin did not exit when asked to, killing it", "grace", grace)
		}
		proc.kill()
		if !within(done, reapTimeout) {
			err = fmt.Errorf("connector plugin %s (pid %s) was killed but is still not reaped after %s: leaving it behind", proc.Name(), proc.ID(), reapTimeout)
			log.Error("connector plugin not reaped after SIGKILL, leaving it", "err", err)
		}
	}
	if rerr := proc.removeSocketDir(); rerr != nil {
		log.Warn("connector plugin's socket directory left behind", "err", rerr)
		if err == nil {
			err = rerr
		}
	}
	return err
}

// within reports whether done is closed within d.
func within(done <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
