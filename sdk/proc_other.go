//go:build !linux

package sdk

import "os/exec"

// dieWithParent does nothing outside Linux: a hub that dies without closing
// its clients (plugin.CleanupClients) can leave plugins running there.
func dieWithParent(*exec.Cmd) {}
