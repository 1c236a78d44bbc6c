package sdk

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks Linux to SIGKILL the plugin when the hub dies, so that
// a crashed hub leaves no orphan plugins behind (a hub that exits normally
// closes its clients; see plugin.CleanupClients). Linux ties the signal to
// the thread that started the child, which the Go runtime keeps alive unless
// a goroutine locked to it exits. A command that brings its own SysProcAttr
// is left alone.
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
}
