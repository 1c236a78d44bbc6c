package sdk_test

import (
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/lothub/lothub/sdk"
)

// A plugin killed during its start is a crash the hub retries
// (ErrPluginExited); a program that is no plugin fails for good.
func TestLaunchTellsACrashFromABrokenPlugin(t *testing.T) {
	tests := []struct {
		name   string
		script string
		crash  bool
	}{
		{"KilledBeforeItsHandshake", "kill -KILL $$", true},
		{"ExitsWithAStatus", "exit 3", false},
		{"WritesSomethingElse", "echo hello; sleep 5", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := sdk.Launch(ctx, exec.Command("/bin/sh", "-c", tt.script), nil)
			if err == nil {
				c.Close()
				t.Fatal("Launch succeeded")
			}
			if got := errors.Is(err, sdk.ErrPluginExited); got != tt.crash {
				t.Errorf("Launch: %v; errors.Is(err, ErrPluginExited) = %v, want %v", err, got, tt.crash)
			}
		})
	}
}
