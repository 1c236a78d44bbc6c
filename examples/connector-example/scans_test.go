package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	scans "github.com/lothub/lothub/examples/connector-example"
	"github.com/lothub/lothub/sdk"
	"github.com/lothub/lothub/sdk/sdktest"
)

const secret = "whsec-example-3f9a1c"

// writeExport fills dir with an MES export: two complete files, then the
// newest file with a line still being written. It returns how many records
// a full read yields.
func writeExport(t *testing.T, dir string) int {
	t.Helper()
	var old strings.Builder
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&old, `{"scan_id":"S-%04d","time":"2026-03-01T08:%02d:00Z","station":"MIX-1","item":"DOUGH","lot":"D-%d","qty":%d,"uom":"KG"}`+"\n", i, i, i, 10*i)
	}
	old.WriteString("\n")                                                                // blank: skipped
	old.WriteString("not json at all\n")                                                 // bad-line
	old.WriteString(`{"scan_id":"S-0010","time":"2026-03-01T08:10:00Z","item":"DOUGH"}`) // last line of an older file: no newline needed
	write(t, filepath.Join(dir, "scans-2026-03-01.jsonl"), old.String())

	write(t, filepath.Join(dir, "scans-2026-03-02.jsonl"),
		`{"scan_id":"S-0011","time":"2026-03-02T07:00:00Z","item":"BREAD","lot":"B-1"}`+"\r\n"+ // CRLF
			`{"time":"2026-03-02T07:01:00Z","item":"BREAD"}`+"\n"+ // no scan_id: bad-line
			`{"scan_id":"S-0012","time":"2026-03-02T07:02:00Z","item":"BREAD","lot":"B-2"}`+"\n")

	write(t, filepath.Join(dir, "scans-2026-03-03.jsonl"),
		`{"scan_id":"S-0013","time":"2026-03-03T06:00:00Z","item":"BREAD","lot":"B-3"}`+"\n"+
			`{"scan_id":"S-0014","time":"2026-03-03T06:01:00Z","item":"BR`) // still being written

	write(t, filepath.Join(dir, "README.txt"), "not a scan file\n") // does not match the pattern
	return 10 + 1 + 3 + 1                                           // S-0001..S-0010, bad line, S-0011, bad line, S-0012, S-0013
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func signed(body string) sdk.WebhookRequest {
	return sdk.WebhookRequest{
		Method:  http.MethodPost,
		Headers: http.Header{scans.SignatureHeader: {sdk.SignHMACSHA256([]byte(secret), []byte(body))}},
		Body:    []byte(body),
	}
}

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	n := writeExport(t, dir)
	sdktest.Run(t, sdktest.Harness{
		New:         func() sdk.Connector { return scans.New() },
		Config:      map[string]string{"dir": dir, "webhook_secret": secret},
		BadEndpoint: map[string]string{"dir": filepath.Join(dir, "no-such-share"), "webhook_secret": secret},
		Expect:      n,
		Webhook: &sdktest.WebhookCase{
			Request: signed(`{"scan_id":"S-9001","time":"2026-03-04T10:00:00Z","station":"HAND-3","item":"BREAD","lot":"B-9"}` + "\n" +
				`{"scan_id":"S-9002","time":"2026-03-04T10:00:05Z","station":"HAND-3","item":"BREAD","lot":"B-9"}`),
			Expect: 2,
		},
	})
}

func config(t *testing.T, raw map[string]string) sdk.Config {
	t.Helper()
	cfg, err := sdk.ParseConfig(scans.New().Spec(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func readAll(t *testing.T, cfg sdk.Config, pos sdk.Position) ([]sdk.Record, sdk.Position) {
	t.Helper()
	var all []sdk.Record
	for {
		res, err := scans.New().Read(context.Background(), cfg, pos, 100)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		all = append(all, res.Records...)
		if res.Next != nil {
			pos = res.Next
		}
		if !res.More {
			return all, pos
		}
	}
}

func TestReadPicksUpTheLineBeingWritten(t *testing.T) {
	dir := t.TempDir()
	writeExport(t, dir)
	cfg := config(t, map[string]string{"dir": dir})
	first, pos := readAll(t, cfg, nil)
	if got, want := first[len(first)-1].ID, "scan/S-0013"; got != want {
		t.Fatalf("last record %q, want %q", got, want)
	}

	// The MES finishes the line and appends one more.
	f, err := os.OpenFile(filepath.Join(dir, "scans-2026-03-03.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, `EAD","lot":"B-4"}`+"\n"+`{"scan_id":"S-0015","time":"2026-03-03T06:02:00Z","item":"BREAD","lot":"B-5"}`+"\n")
	f.Close()

	rest, _ := readAll(t, cfg, pos)
	var got []string
	for _, r := range rest {
		got = append(got, r.ID)
	}
	if want := []string{"scan/S-0014", "scan/S-0015"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after the export grew: %v, want %v", got, want)
	}
	var doc struct{ Lot string }
	if err := json.Unmarshal(rest[0].Payload, &doc); err != nil || doc.Lot != "B-4" {
		t.Errorf("completed line payload %s (%v), want lot B-4", rest[0].Payload, err)
	}
}

func TestBadLinesSayWhere(t *testing.T) {
	dir := t.TempDir()
	writeExport(t, dir)
	// A newer file: the unfinished last line of scans-2026-03-03.jsonl is
	// now final, and bad.
	write(t, filepath.Join(dir, "scans-2026-03-04.jsonl"), strings.Repeat("x", 300)+"\n")
	recs, _ := readAll(t, config(t, map[string]string{"dir": dir, "max_line_bytes": "200"}), nil)

	type badLine struct {
		File  string
		Line  int
		Error string
	}
	var got []badLine
	for _, r := range recs {
		if r.Kind != scans.KindBadLine {
			continue
		}
		var b badLine
		if err := json.Unmarshal(r.Payload, &b); err != nil {
			t.Fatalf("bad-line payload %s: %v", r.Payload, err)
		}
		got = append(got, b)
	}
	want := []struct {
		file  string
		line  int
		error string
	}{
		{"scans-2026-03-01.jsonl", 11, "not a JSON document"},
		{"scans-2026-03-02.jsonl", 2, `no "scan_id"`},
		{"scans-2026-03-03.jsonl", 2, "not a JSON document"},
		{"scans-2026-03-04.jsonl", 1, "longer than max_line_bytes (200)"},
	}
	if len(got) != len(want) {
		t.Fatalf("bad lines %+v, want %d", got, len(want))
	}
	for i, w := range want {
		if got[i].File != w.file || got[i].Line != w.line || got[i].Error != w.error {
			t.Errorf("bad line %d: %+v, want %s:%d %q", i, got[i], w.file, w.line, w.error)
		}
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) (map[string]string, sdk.Position)
		check func(t *testing.T, err error)
	}{
		{
			name: "ExportInProgress",
			setup: func(t *testing.T, dir string) (map[string]string, sdk.Position) {
				write(t, filepath.Join(dir, ".exporting"), "")
				return map[string]string{"dir": dir, "retry_wait": "2m"}, nil
			},
			check: func(t *testing.T, err error) {
				if d, ok := sdk.RetryDelay(err); !ok || d != 2*time.Minute {
					t.Errorf("error %v: retry %v after %v, want retry after 2m", err, ok, d)
				}
			},
		},
		{
			name: "BadPattern",
			setup: func(t *testing.T, dir string) (map[string]string, sdk.Position) {
				return map[string]string{"dir": dir, "pattern": "[a-"}, nil
			},
			check: func(t *testing.T, err error) {
				var ic *sdk.InvalidConfigError
				if !errors.As(err, &ic) || ic.Param != "pattern" {
					t.Errorf("error %v, want an invalid pattern", err)
				}
			},
		},
		{
			name: "HangFileNotAName",
			setup: func(t *testing.T, dir string) (map[string]string, sdk.Position) {
				return map[string]string{"dir": dir, "hang_file": "../hang"}, nil
			},
			check: func(t *testing.T, err error) {
				var ic *sdk.InvalidConfigError
				if !errors.As(err, &ic) || ic.Param != "hang_file" {
					t.Errorf("error %v, want an invalid hang_file", err)
				}
			},
		},
		{
			name: "FileRewritten",
			setup: func(t *testing.T, dir string) (map[string]string, sdk.Position) {
				return map[string]string{"dir": dir}, sdk.Position(`{"v":1,"file":"scans-2026-03-02.jsonl","offset":99999}`)
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, sdk.ErrInvalidPosition) || !strings.Contains(err.Error(), "rewritten") {
					t.Errorf("error %v, want an invalid position saying the file was rewritten", err)
				}
			},
		},
		{
			name: "PositionFromElsewhere",
			setup: func(t *testing.T, dir string) (map[string]string, sdk.Position) {
				return map[string]string{"dir": dir}, sdk.Position(`{"v":1,"file":"../etc/passwd","offset":0}`)
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, sdk.ErrInvalidPosition) {
					t.Errorf("error %v, want an invalid position", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeExport(t, dir)
			raw, pos := tt.setup(t, dir)
			_, err := scans.New().Read(context.Background(), config(t, raw), pos, 10)
			if err == nil {
				t.Fatal("Read succeeded, want an error")
			}
			tt.check(t, err)
		})
	}
}

func TestWebhook(t *testing.T) {
	body := `{"scan_id":"S-9001","time":"2026-03-04T10:00:00Z","item":"BREAD","lot":"B-9"}`
	tests := []struct {
		name       string
		raw        map[string]string
		req        sdk.WebhookRequest
		wantErr    error
		wantStatus int
		wantIDs    int
	}{
		{"OK", map[string]string{"dir": "/x", "webhook_secret": secret}, signed(body), nil, http.StatusAccepted, 1},
		{"Base64Signature", map[string]string{"dir": "/x", "webhook_secret": secret}, func() sdk.WebhookRequest {
			r := signed(body)
			r.Headers.Set(scans.SignatureHeader, "XhjSJ2M5v2aqbQ0qk2cY2R5U8QWcq5S9u4GJkqY2qeU=") // wrong MAC, right shape
			return r
		}(), sdk.ErrInvalidSignature, 0, 0},
		{"WrongSecret", map[string]string{"dir": "/x", "webhook_secret": "another-secret"}, signed(body), sdk.ErrInvalidSignature, 0, 0},
		{"NoSecretConfigured", map[string]string{"dir": "/x"}, signed(body), sdk.ErrInvalidConfig, 0, 0},
		{"NotAScan", map[string]string{"dir": "/x", "webhook_secret": secret}, signed(`{"hello":1}`), nil, 0, 0},
		{"GET", map[string]string{"dir": "/x", "webhook_secret": secret}, func() sdk.WebhookRequest {
			r := signed(body)
			r.Method = http.MethodGet
			return r
		}(), nil, http.StatusMethodNotAllowed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := scans.New().Webhook(context.Background(), config(t, tt.raw), tt.req)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("error %v, want %v", err, tt.wantErr)
				}
			case tt.name == "NotAScan":
				if err == nil || !strings.Contains(err.Error(), "scan_id") {
					t.Errorf("error %v, want one about the missing scan_id", err)
				}
			case err != nil:
				t.Fatalf("Webhook: %v", err)
			default:
				if res.Status != tt.wantStatus || len(res.Records) != tt.wantIDs {
					t.Errorf("status %d with %d records, want %d with %d", res.Status, len(res.Records), tt.wantStatus, tt.wantIDs)
				}
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}
