package core_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/core"
)

func TestParseAsOf(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)
	for in, want := range map[string]string{
		"2026-03-02T14:00:00Z":        "2026-03-02T14:00:00Z",
		"2026-03-02T15:00:00+01:00":   "2026-03-02T14:00:00Z",
		"2026-03-02T14:00:00.123456Z": "2026-03-02T14:00:00.123456Z",
		"2026-03-02":                  "2026-03-02T23:59:59.999999Z",
		" 2026-03-02 ":                "2026-03-02T23:59:59.999999Z",
		"-24h":                        "2026-12-06T10:30:00Z",
		"-90m":                        "2026-12-07T09:00:00Z",
		"-7d":                         "2026-11-30T10:30:00Z",
	} {
		got, err := core.ParseAsOf("--as-of", in, now)
		if err != nil || got.Format(time.RFC3339Nano) != want {
			t.Errorf("ParseAsOf(%q) = %s, %v; want %s", in, got.Format(time.RFC3339Nano), err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2026-02-30", "24h", "+24h", "-", "-0h", "-xd", "03/02/2026"} {
		_, err := core.ParseAsOf(`parameter "as_of"`, bad, now)
		if core.ErrorCode(err) != core.EINVALID || !strings.Contains(err.Error(), `parameter "as_of" "`+bad+`"`) {
			t.Errorf("ParseAsOf(%q): err = %v; want EINVALID naming the parameter and the value", bad, err)
		}
	}
}
