package core

import (
	"strconv"
	"strings"
	"time"
)

// ParseAsOf reads the time of an as-of question (hub … --as-of, the HTTP
// routes' as_of): an RFC 3339 instant; a date YYYY-MM-DD, meaning the end
// of that day in UTC (what the store had recorded by midnight); or a time
// back from now, -24h, -90m or -7d. The answer is the one the store would
// have given at that time (core/store/asof). name is the flag or
// parameter, for the error (EINVALID).
func ParseAsOf(name, s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		// The store records times in microseconds: the day's last one.
		return t.AddDate(0, 0, 1).Add(-time.Microsecond), nil
	}
	if back, ok := strings.CutPrefix(s, "-"); ok && back != "" {
		var d time.Duration
		var err error
		if days, ok := strings.CutSuffix(back, "d"); ok {
			var n int
			if n, err = strconv.Atoi(days); err == nil {
				d = time.Duration(n) * 24 * time.Hour
			}
		} else {
			d, err = time.ParseDuration(back)
		}
		if err == nil && d > 0 {
			return now.UTC().Add(-d), nil
		}
	}
	return time.Time{}, Errorf(EINVALID, "%s %q: want an RFC 3339 time (2026-03-02T14:00:00Z), a date (2026-03-02: the end of that day, UTC) or a time back from now (-24h, -90m, -7d)", name, s)
}
