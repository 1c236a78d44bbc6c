package sdk

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Errors a connector returns (wrapped with %w and context) and the hub tests
// for with errors.Is and errors.As. They keep their identity across the
// process boundary. A connector without a webhook answers Webhook with
// errors.ErrUnsupported.
var (
	// ErrRetry marks a transient failure: the source is rate limiting,
	// overloaded, down for maintenance or locked. The hub backs off and
	// tries again, within a bounded time. Use [RetryAfter] to say when.
	ErrRetry = errors.New("temporary failure, retry later")

	// ErrInvalidConfig marks a configuration the connector cannot work
	// with. Every [InvalidConfigError] matches it.
	ErrInvalidConfig = errors.New("invalid configuration")

	// ErrInvalidPosition marks a position the connector cannot resume from
	// (corrupt, from an incompatible version, or pointing into data the
	// source no longer has). Retrying does not help; an operator decides
	// (hub cursor reset).
	ErrInvalidPosition = errors.New("invalid position")

	// ErrInvalidSignature marks a webhook request that could not be
	// authenticated. The hub answers 401 and keeps nothing.
	ErrInvalidSignature = errors.New("invalid webhook signature")

	// ErrPluginExited is returned by [Client] methods when the plugin
	// process died (crashed or was killed) during or before the call.
	ErrPluginExited = errors.New("connector plugin exited")
)

// RetryError is a transient failure with the delay the source asked for.
// It matches [ErrRetry].
type RetryError struct {
	// After is how long to wait before trying again; 0 means the source
	// did not say, and the hub uses its own backoff.
	After time.Duration
	// Err is the underlying failure.
	Err error
}

func (e *RetryError) Error() string {
	if e.Err == nil {
		return ErrRetry.Error()
	}
	return e.Err.Error()
}

func (e *RetryError) Unwrap() error { return e.Err }

// Is makes every RetryError match ErrRetry.
func (e *RetryError) Is(target error) bool { return target == ErrRetry }

// RetryAfter returns a [RetryError]: err is transient, try again after d
// (0 when the source gave no delay).
func RetryAfter(d time.Duration, err error) error {
	if d < 0 {
		d = 0
	}
	return &RetryError{After: d, Err: err}
}

// RetryDelay reports whether err is transient and, if so, how long the
// source asked to wait (0 when it did not say).
func RetryDelay(err error) (time.Duration, bool) {
	var re *RetryError
	if errors.As(err, &re) {
		return re.After, true
	}
	return 0, errors.Is(err, ErrRetry)
}

// RetryFromResponse returns a [RetryError] honouring the Retry-After header
// when resp's status is 429 Too Many Requests or any 5xx, and nil
// otherwise. Connectors that call HTTP APIs use it on every response:
//
//	if err := sdk.RetryFromResponse(resp); err != nil {
//		return sdk.ReadResult{}, fmt.Errorf("list documents: %w", err)
//	}
func RetryFromResponse(resp *http.Response) error {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500) {
		return nil
	}
	d := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	where := ""
	if resp.Request != nil && resp.Request.URL != nil {
		// Redacted drops a password in the URL; query strings can hold
		// tokens too, so leave them out.
		u := *resp.Request.URL
		u.RawQuery = ""
		where = resp.Request.Method + " " + u.Redacted() + ": "
	}
	return RetryAfter(d, fmt.Errorf("%s%s", where, resp.Status))
}

// ParseRetryAfter parses an HTTP Retry-After header value (RFC 9110
// §10.2.3): delay seconds or an HTTP date, relative to now. It returns 0 for
// an empty, malformed or past value.
func ParseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(value); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// InvalidConfigError says which parameter is wrong and why. It matches
// [ErrInvalidConfig]. Reason never holds a secret value.
type InvalidConfigError struct {
	Param  string
	Reason string
}

func (e *InvalidConfigError) Error() string {
	return fmt.Sprintf("config parameter %q: %s", e.Param, e.Reason)
}

// Is makes every InvalidConfigError match ErrInvalidConfig.
func (e *InvalidConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// InvalidConfig returns an [InvalidConfigError] for param. Connectors use it
// for what the SDK cannot check from the Spec alone (a malformed glob, a
// client id the source rejects); never put a secret value in the reason.
func InvalidConfig(param, format string, args ...any) error {
	return &InvalidConfigError{Param: param, Reason: fmt.Sprintf(format, args...)}
}
