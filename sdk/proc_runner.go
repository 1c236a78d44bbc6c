package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin/runner"
)

// process runs a connector plugin for go-plugin (as its RunnerFunc). It
// does what go-plugin's own command runner does, and keeps the process
// within the hub's reach: go-plugin holds its client's lock for the whole
// of a start and hides the process behind it, while the hub must be able to
// kill a plugin at any moment (one stopped with kill -STOP mid-handshake, or
// that never answers a call) without waiting on go-plugin.
//
// Running through a RunnerFunc also makes go-plugin create a private
// directory for the plugin's Unix socket and tell the plugin to use it
// (PLUGIN_UNIX_SOCKET_DIR); without one, the plugin makes its socket in the
// temporary directory itself and only removes it when it exits cleanly.
// The hub removes the directory once the plugin is gone, however it ended.
type process struct {
	cmd       *exec.Cmd
	stdout    io.ReadCloser
	stderr    io.ReadCloser
	socketDir string // made by go-plugin for this process; "" before prepare

	mu     sync.Mutex
	pid    int  // 0 until started
	killed bool // kill was called: do not start, or the process was killed

	printed atomic.Bool // the plugin wrote to its stdout (its handshake line)
}

var _ runner.Runner = (*process)(nil)

// prepare is the RunnerFunc: spec is the command go-plugin would have run,
// with the environment it built (the hub's, the handshake, the TLS
// certificate and the socket directory) and its stdin; the plugin's own
// command keeps its path, arguments and attributes and gets them on top of
// its environment, as go-plugin does to the command it is given.
func (p *process) prepare(_ hclog.Logger, spec *exec.Cmd, socketDir string) (runner.Runner, error) {
	p.cmd.Env = append(p.cmd.Env, spec.Env...)
	p.cmd.Stdin = spec.Stdin
	p.socketDir = socketDir
	var err error
	if p.stdout, err = p.cmd.StdoutPipe(); err != nil {
		return nil, fmt.Errorf("connector plugin %s: %w", p.cmd.Path, err)
	}
	if p.stderr, err = p.cmd.StderrPipe(); err != nil {
		return nil, fmt.Errorf("connector plugin %s: %w", p.cmd.Path, err)
	}
	return p, nil
}

// Start starts the process, unless kill came first.
func (p *process) Start(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killed {
		return errors.New("connector plugin stopped before it started")
	}
	if err := p.cmd.Start(); err != nil {
		return err
	}
	p.pid = p.cmd.Process.Pid
	return nil
}

// kill sends SIGKILL to the process if it is running, and keeps it from
// starting if it is not yet. It does not wait; it is safe to call at any
// time, from any goroutine, any number of times. os.Process signals the
// process it started, never another that reused its pid.
func (p *process) kill() {
	p.mu.Lock()
	p.killed = true
	started := p.pid != 0
	p.mu.Unlock()
	if started {
		_ = p.cmd.Process.Kill() // os.ErrProcessDone once it is reaped
	}
}

// Wait waits for the process to end (go-plugin calls it once).
func (p *process) Wait(context.Context) error { return p.cmd.Wait() }

// Kill kills the process; go-plugin calls it when a graceful exit fails.
func (p *process) Kill(context.Context) error {
	p.kill()
	return nil
}

// ID is the process id, "" before the start (go-plugin then has nothing to
// kill).
func (p *process) ID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pid == 0 {
		return ""
	}
	return strconv.Itoa(p.pid)
}

func (p *process) Name() string          { return p.cmd.Path }
func (p *process) Stdout() io.ReadCloser { return &seenReader{ReadCloser: p.stdout, seen: &p.printed} }

// seenReader notes that something was read.
type seenReader struct {
	io.ReadCloser
	seen *atomic.Bool
}

func (r *seenReader) Read(b []byte) (int, error) {
	n, err := r.ReadCloser.Read(b)
	if n > 0 {
		r.seen.Store(true)
	}
	return n, err
}

// diedBySignal reports whether the process, now gone, was ended by a
// signal from outside (the OOM killer, an operator) or crashed during its
// start: before it wrote anything, or, when goneAlone, after its
// handshake but before the hub killed it. Not a program that is no
// connector plugin (which exits with a status, or writes something else
// than the handshake and is killed for it) nor one that never answered
// (which go-plugin's start timeout ends, and Launch reports as such).
func (p *process) diedBySignal(goneAlone bool) (syscall.Signal, bool) {
	st := p.cmd.ProcessState
	if st == nil || (p.printed.Load() && !goneAlone) {
		return 0, false
	}
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return ws.Signal(), true
}
func (p *process) Stderr() io.ReadCloser { return p.stderr }

// Diagnose explains a plugin that did not complete go-plugin's handshake.
func (p *process) Diagnose(context.Context) string {
	return fmt.Sprintf("%s did not start as a lothub connector plugin: check that it was built for this machine, that it is executable, and that its main calls sdk.Serve", p.cmd.Path)
}

// PluginToHost and HostToPlugin translate nothing: the plugin runs on the
// hub's machine.
func (p *process) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (p *process) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}

// removeSocketDir removes the plugin's socket directory. Call it once the
// process is gone: a killed plugin leaves its socket file behind.
func (p *process) removeSocketDir() error {
	if p.socketDir == "" {
		return nil
	}
	if err := os.RemoveAll(p.socketDir); err != nil {
		return fmt.Errorf("remove the socket directory of connector plugin %s: %w", p.cmd.Path, err)
	}
	return nil
}
