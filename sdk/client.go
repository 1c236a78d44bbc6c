package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
// get [DefaultCallTimeout].
type Client struct {
	pc   *plugin.Client
	conn *grpcClient
	pid  int
	log  *slog.Logger
}

var (
	_ Connector      = (*Client)(nil)
	_ WebhookHandler = (*Client)(nil)
	_ Acknowledger   = (*Client)(nil)
)

// Launch starts cmd as a connector plugin and connects to it: go-plugin over
// gRPC only, the versioned handshake, automatic mutual TLS, and a managed
// client (plugin.CleanupClients kills it). The plugin's log lines and
// go-plugin's own messages go to logger (slog.Default when nil), under
// logger=<executable name>.
//
// ctx bounds the start: the handshake and the first Spec call (a deadline
// on ctx is go-plugin's start timeout; without one it is a minute). If ctx
// ends first, Launch returns at once and the process is killed as soon as
// go-plugin gives it up. On Linux the process also gets SIGKILL when
// the hub dies. cmd must not have been started; Launch sets its environment
// on top of the hub's.
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
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake(),
		Plugins:          PluginSet(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Managed:          true,
		StartTimeout:     startTimeout,
		Logger:           newHCLogAdapter(logger),
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
		},
	})

	type started struct {
		conn *grpcClient
		err  error
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
			done <- started{err: err}
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
		// go-plugin's start cannot be interrupted (a deadline on ctx
		// became its StartTimeout): stop the plugin once it returns.
		go func() {
			<-done
			pc.Kill()
		}()
		return nil, fmt.Errorf("launch connector plugin %s: %w", cmd.Path, ctx.Err())
	}
	if s.err != nil {
		pc.Kill()
		return nil, fmt.Errorf("launch connector plugin %s: %w", cmd.Path, s.err)
	}
	pid, _ := strconv.Atoi(pc.ID())
	c := &Client{pc: pc, conn: s.conn, pid: pid, log: logger.With("plugin", name, "pid", pid)}
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
	deadline := time.Now().Add(time.Second)
	for !c.pc.Exited() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c.pc.Exited() {
		return fmt.Errorf("%w (pid %d): %w", ErrPluginExited, c.pid, err)
	}
	return err
}

// PID returns the plugin's process id.
func (c *Client) PID() int { return c.pid }

// Exited reports whether the plugin process has exited.
func (c *Client) Exited() bool { return c.pc.Exited() }

// Close asks the plugin to exit, kills it if it has not within two seconds,
// and waits until it is gone. It is safe to call more than once and after a
// crash.
func (c *Client) Close() error {
	c.pc.Kill()
	c.log.Debug("connector plugin stopped")
	return nil
}

// Kill ends the plugin at once (SIGKILL), for a plugin that does not answer
// within its timeout, and waits until it is gone.
func (c *Client) Kill() {
	if p, err := os.FindProcess(c.pid); err == nil && c.pid > 0 && !c.pc.Exited() {
		_ = p.Kill()
	}
	c.pc.Kill()
}
