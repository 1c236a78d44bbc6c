package sdk_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/sdk"
)

func TestRetryDelay(t *testing.T) {
	cause := errors.New("429 Too Many Requests")
	tests := []struct {
		name      string
		err       error
		wantRetry bool
		wantAfter time.Duration
	}{
		{"RetryAfter", sdk.RetryAfter(5*time.Second, cause), true, 5 * time.Second},
		{"Wrapped", fmt.Errorf("list orders: %w", sdk.RetryAfter(time.Minute, cause)), true, time.Minute},
		{"Sentinel", fmt.Errorf("list orders: %w", sdk.ErrRetry), true, 0},
		{"Negative", sdk.RetryAfter(-time.Second, cause), true, 0},
		{"Other", cause, false, 0},
		{"Nil", nil, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after, retry := sdk.RetryDelay(tt.err)
			if retry != tt.wantRetry || after != tt.wantAfter {
				t.Errorf("RetryDelay = %v, %v; want %v, %v", after, retry, tt.wantAfter, tt.wantRetry)
			}
			if tt.wantRetry && !errors.Is(tt.err, sdk.ErrRetry) {
				t.Errorf("%v does not match ErrRetry", tt.err)
			}
		})
	}
	if err := sdk.RetryAfter(time.Second, cause); !errors.Is(err, cause) || err.Error() != cause.Error() {
		t.Errorf("RetryAfter hides its cause: %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 5 ", 5 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"9999999999", 24 * time.Hour}, // capped
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0}, // in the past
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := sdk.ParseRetryAfter(tt.value, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tt.value, got, tt.want)
		}
	}
}

func TestRetryFromResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/limited":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	tests := []struct {
		path      string
		wantRetry bool
		wantAfter time.Duration
	}{
		{"/limited", true, 7 * time.Second},
		{"/down", true, 0},
		{"/missing", false, 0},
		{"/ok", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			u, _ := url.Parse(srv.URL + tt.path + "?token=" + password)
			u.User = url.UserPassword("hub", password)
			resp, err := srv.Client().Get(u.String())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			err = sdk.RetryFromResponse(resp)
			after, retry := sdk.RetryDelay(err)
			if retry != tt.wantRetry || after != tt.wantAfter {
				t.Errorf("RetryFromResponse = %v (retry %v after %v); want retry %v after %v", err, retry, after, tt.wantRetry, tt.wantAfter)
			}
			if err != nil && (strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), tt.path)) {
				t.Errorf("error %q: want the path and no credentials", err)
			}
		})
	}
}

func TestInvalidConfig(t *testing.T) {
	err := fmt.Errorf("check: %w", sdk.InvalidConfig("pattern", "%q is not a glob", "[a-"))
	var ic *sdk.InvalidConfigError
	if !errors.As(err, &ic) || ic.Param != "pattern" || !errors.Is(err, sdk.ErrInvalidConfig) {
		t.Fatalf("InvalidConfig: %v (%+v)", err, ic)
	}
	if got, want := err.Error(), `check: config parameter "pattern": "[a-" is not a glob`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
