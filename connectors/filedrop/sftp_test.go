package filedrop

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/lothub/lothub/sdk"
)

func TestHostKeyVerification(t *testing.T) {
	root := t.TempDir()
	write(t, root, "receive_1.csv", receiveCSV(1, 2))
	srv := startSFTP(t, root)
	other := startSFTP(t, t.TempDir()) // a server with another host key
	dir := t.TempDir()
	knownFile := func(name string, lines ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "")), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := knownFile("good", other.KnownHosts(), srv.KnownHosts())
	wrong := knownFile("wrong", knownhosts.Line([]string{knownhosts.Normalize(srv.Addr)}, other.HostKey)+"\n")
	unknown := knownFile("unknown", other.KnownHosts())

	tests := []struct {
		name string
		cfg  map[string]string
		want []string // substrings of the error; none: success
	}{
		{"PinnedOK", map[string]string{"host_key": srv.Fingerprint()}, nil},
		{"PinnedDuringRollover", map[string]string{"host_key": other.Fingerprint() + ", " + srv.Fingerprint()}, nil},
		{"KnownHostsOK", map[string]string{"host_key": "", "known_hosts": good}, nil},
		{"PinnedMismatch", map[string]string{"host_key": other.Fingerprint()},
			[]string{"host key verification failed", srv.Fingerprint(), "host_key pins " + other.Fingerprint(), "do not connect"}},
		{"KnownHostsMismatch", map[string]string{"host_key": "", "known_hosts": wrong},
			[]string{"host key verification failed", srv.Fingerprint(), "known_hosts expects " + other.Fingerprint(), wrong + ":1"}},
		{"UnknownHost", map[string]string{"host_key": "", "known_hosts": unknown},
			[]string{"host key verification failed", "has no key for this host", "ssh-keyscan"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustConfig(t, sftpConfig(srv, "", tt.cfg))
			c := New()
			defer c.Close()
			err := c.Check(context.Background(), cfg)
			_, rerr := c.Read(context.Background(), cfg, nil, 10)
			if tt.want == nil {
				if err != nil || rerr != nil {
					t.Fatalf("Check: %v; Read: %v", err, rerr)
				}
				return
			}
			for _, e := range []error{err, rerr} {
				if e == nil {
					t.Fatalf("connected despite the wrong host key")
				}
				for _, w := range tt.want {
					if !strings.Contains(e.Error(), w) {
						t.Errorf("error %q does not say %q", e, w)
					}
				}
				if errors.Is(e, sdk.ErrRetry) {
					t.Errorf("a host key mismatch is retried: %v", e)
				}
			}
		})
	}

	t.Run("InsecureWarns", func(t *testing.T) {
		var logs bytes.Buffer
		defer slog.SetDefault(slog.Default())
		slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
		cfg := mustConfig(t, sftpConfig(srv, "", map[string]string{"host_key": "", "insecure_ignore_host_key": "true", "password": testPassword, "private_key": ""}))
		if err := New().Check(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), "host key NOT verified") {
			t.Errorf("no warning logged: %s", logs.String())
		}
		if strings.Contains(logs.String(), testPassword) {
			t.Errorf("the log shows the password: %s", logs.String())
		}
	})

	t.Run("NoVerificationRefused", func(t *testing.T) {
		_, err := parseOptions(mustConfig(t, sftpConfig(srv, "", map[string]string{"host_key": ""})))
		var ic *sdk.InvalidConfigError
		if !errors.As(err, &ic) || ic.Param != "host_key" || !strings.Contains(err.Error(), "known_hosts") {
			t.Errorf("err = %v, want an invalid host_key saying what to set", err)
		}
	})
}

// Secrets never appear in errors or logs, whatever goes wrong.
func TestSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	root := t.TempDir()
	srv := startSFTP(t, root)
	const wrongPassword = "not-the-password-5521"
	const keyBody = "c2VjcmV0LWtleS1tYXRlcmlhbC10aGF0LW11c3Qtbm90LWxlYWs="
	badKey := "-----BEGIN OPENSSH PRIVATE KEY-----\n" + keyBody + "\n-----END OPENSSH PRIVATE KEY-----\n"
	const passphrase = "open-sesame-8812"
	encrypted := func() string {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(block))
	}()
	tests := []struct {
		name    string
		cfg     map[string]string
		secrets []string
		want    string
	}{
		{"WrongPassword", map[string]string{"private_key": "", "password": wrongPassword}, []string{wrongPassword}, "refused the credentials"},
		{"BadKey", map[string]string{"private_key": badKey, "password": wrongPassword}, []string{keyBody, wrongPassword}, "cannot read the private key"},
		{"EncryptedKeyNoPassphrase", map[string]string{"private_key": encrypted}, []string{passphrase}, "set private_key_passphrase"},
		{"WrongPassphrase", map[string]string{"private_key": encrypted, "private_key_passphrase": "wrong-phrase-7731"}, []string{"wrong-phrase-7731"}, "passphrase does not open"},
		{"PasswordInURL", map[string]string{"source": fmt.Sprintf("sftp://lothub:%s@%s/", wrongPassword, srv.Addr)}, []string{wrongPassword}, "the URL holds a password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			defer slog.SetDefault(slog.Default())
			slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			cfg := mustConfig(t, sftpConfig(srv, "", tt.cfg))
			c := New()
			defer c.Close()
			errs := []error{c.Check(context.Background(), cfg)}
			_, err := c.Read(context.Background(), cfg, nil, 5)
			errs = append(errs, err)
			for _, err := range errs {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("err = %v, want one saying %q", err, tt.want)
				}
				for _, s := range tt.secrets {
					if err != nil && strings.Contains(err.Error(), s) {
						t.Errorf("the error shows a secret: %v", err)
					}
				}
			}
			for _, s := range tt.secrets {
				if strings.Contains(logs.String(), s) {
					t.Errorf("a secret is logged or printed")
				}
			}
		})
	}
}

func TestConventionsForPartialFiles(t *testing.T) {
	full := receiveCSV(1, 40)
	tests := []struct {
		name string
		cfg  map[string]string
		// drop writes the file in steps; step i is done before Read i.
		// reads is how many records each Read must return.
		drop  func(t *testing.T, dir string, step int)
		reads []int
	}{
		{
			name: "SlowWriter",
			cfg:  map[string]string{"stable_wait": "1s"},
			drop: func(t *testing.T, dir string, step int) {
				if step == 0 {
					write(t, dir, "receive_1.csv", full[:100])
				}
			},
			reads: []int{0, 0, 0, 40},
		},
		{
			name: "TemporaryName",
			drop: func(t *testing.T, dir string, step int) {
				switch step {
				case 0:
					write(t, dir, "receive_1.csv.part", full)
				case 1:
					os.Rename(filepath.Join(dir, "receive_1.csv.part"), filepath.Join(dir, "receive_1.csv"))
				}
			},
			reads: []int{0, 40},
		},
		{
			name: "TriggerFile",
			cfg:  map[string]string{"ready_suffix": ".done"},
			drop: func(t *testing.T, dir string, step int) {
				switch step {
				case 0:
					write(t, dir, "receive_1.csv", full)
				case 1:
					write(t, dir, "receive_1.csv.done", "")
				}
			},
			reads: []int{0, 40},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			srv := startSFTP(t, root)
			c := New()
			defer c.Close()
			// The slow writer writes between the two listings of the
			// stable check of the first three Reads, then stops.
			writes := []string{full[100:500], full[500:900], full[900:]}
			c.wait = func(ctx context.Context, d time.Duration) error {
				if len(writes) == 0 || tt.name != "SlowWriter" {
					return nil
				}
				f, err := os.OpenFile(filepath.Join(root, "receive_1.csv"), os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					return err
				}
				defer f.Close()
				_, err = f.WriteString(writes[0])
				writes = writes[1:]
				return err
			}
			cfg := mustConfig(t, sftpConfig(srv, "", tt.cfg))
			var pos sdk.Position
			for i, want := range tt.reads {
				tt.drop(t, root, i)
				res, err := c.Read(context.Background(), cfg, pos, 100)
				if err != nil {
					t.Fatalf("Read %d: %v", i, err)
				}
				if len(res.Records) != want {
					t.Fatalf("Read %d returned %d records, want %d", i, len(res.Records), want)
				}
				if len(res.Next) > 0 {
					pos = res.Next
				}
			}
			// What was read is the whole file, in order.
			fresh := New()
			defer fresh.Close()
			fresh.wait = func(context.Context, time.Duration) error { return nil }
			recs, _ := readAll(t, fresh, cfg, nil, 1000)
			if len(recs) != 40 || recs[0].ID != "receive_1.csv:2" || recs[39].ID != "receive_1.csv:41" {
				t.Errorf("a fresh read gives %v", ids(recs))
			}
		})
	}
}

// A connection that drops mid-file loses and doubles nothing: the Read
// either reconnects and starts over from its position, or fails with a
// retryable error, and the caller reads again from the same position.
func TestConnectionDroppedMidFile(t *testing.T) {
	root := t.TempDir()
	write(t, root, "receive_1.csv", receiveCSV(1, 30000)) // about 1.9 MB
	write(t, root, "receive_2.csv", receiveCSV(40000, 5000))
	srv := startSFTP(t, root)
	cfg := mustConfig(t, sftpConfig(srv, "", nil))
	want, _ := readAll(t, New(), cfg, nil, 100000)
	if len(want) != 35000 {
		t.Fatalf("full read: %d records", len(want))
	}

	for _, fresh := range []bool{false, true} {
		name := map[bool]string{false: "ReconnectInRead", true: "RetryableError"}[fresh]
		t.Run(name, func(t *testing.T) {
			c := New()
			defer c.Close()
			var got []string
			var pos sdk.Position
			drops, failures := 0, 0
			logins := srv.Logins()
			for calls := 0; calls < 1000; calls++ {
				if calls%3 == 1 && drops < 5 {
					srv.DropAfter(150_000) // in the middle of the next batch's bytes
					drops++
				}
				if fresh {
					c.Close() // no idle connection to fall back on
				}
				res, err := c.Read(context.Background(), cfg, pos, 2500)
				if err != nil {
					if !errors.Is(err, sdk.ErrRetry) {
						t.Fatalf("Read: %v; want a retryable error", err)
					}
					failures++
					continue // the hub retries from the committed position
				}
				got = append(got, ids(res.Records)...)
				if len(res.Next) > 0 {
					pos = res.Next
				}
				if !res.More {
					break
				}
			}
			srv.DropAfter(0)
			if !slices.Equal(got, ids(want)) {
				t.Fatalf("read %d records across drops, want %d in the same order (no loss, no double)", len(got), len(want))
			}
			if srv.Logins()-logins < 3 {
				t.Errorf("only %d logins: the connection was not dropped", srv.Logins()-logins)
			}
			if fresh && failures == 0 {
				t.Errorf("no Read failed: the drops did not hit a read")
			}
		})
	}
}

func TestSameFileTwiceAndChangedFile(t *testing.T) {
	root := t.TempDir()
	srv := startSFTP(t, root)
	c := New()
	defer c.Close()
	cfg := mustConfig(t, sftpConfig(srv, "", nil))
	p := write(t, root, "receive_1.csv", receiveCSV(1, 3))
	mt := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	touch(t, p, mt)

	first, pos := readAll(t, c, cfg, nil, 10)
	if len(first) != 3 {
		t.Fatalf("first read: %d records", len(first))
	}
	// Dropped again, same content, later time: skipped.
	write(t, root, "receive_1.csv", receiveCSV(1, 3))
	touch(t, p, mt.Add(time.Hour))
	again, pos := readAll(t, c, cfg, pos, 10)
	if len(again) != 0 {
		t.Errorf("the same file dropped again gave %d records, want 0", len(again))
	}
	res, err := c.Read(context.Background(), cfg, pos, 10)
	if err != nil || len(res.Records) != 0 || string(res.Next) != string(pos) || res.More {
		t.Errorf("after the re-drop: %d records, next changed %v, more %v, err %v; want nothing", len(res.Records), string(res.Next) != string(pos), res.More, err)
	}
	// Changed content under the same name: read again, same ids.
	changed := strings.Replace(receiveCSV(1, 3), ",101,KG,", ",111,KG,", 1)
	write(t, root, "receive_1.csv", changed)
	touch(t, p, mt.Add(2*time.Hour))
	third, _ := readAll(t, c, cfg, pos, 10)
	if !slices.Equal(ids(third), ids(first)) {
		t.Fatalf("changed file: ids %v, want %v", ids(third), ids(first))
	}
	if !strings.Contains(string(third[0].Payload), `"qty":"111"`) {
		t.Errorf("changed row = %s", third[0].Payload)
	}
}

// After-processing moves or deletes a file (and its trigger file) only
// once its rows are committed: over SFTP, in a local directory, and with
// the archive folder on another file system than the source, which rename
// cannot cross.
func TestAfterProcessing(t *testing.T) {
	tests := []struct {
		name, after string
		sftp        bool
		// archive returns the archive folder to configure (absolute);
		// nil: root/archive, configured as ../archive below root/in.
		archive func(t *testing.T, root string) string
	}{
		{"SFTPMove", afterMove, true, nil},
		{"SFTPDelete", afterDelete, true, nil},
		{"LocalMove", afterMove, false, nil},
		{"LocalDelete", afterDelete, false, nil},
		{"LocalMoveToAnotherFileSystem", afterMove, false, otherFileSystem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			in := filepath.Join(root, "in")
			archive, archiveCfg := filepath.Join(root, "archive"), "../archive"
			if tt.archive != nil {
				archive = tt.archive(t, root)
				archiveCfg = archive
			}
			extra := map[string]string{"after": tt.after, "ready_suffix": ".done", "archive_dir": archiveCfg}
			var raw map[string]string
			if tt.sftp {
				raw = sftpConfig(startSFTP(t, root), "in", extra)
			} else {
				if err := os.MkdirAll(in, 0o755); err != nil {
					t.Fatal(err)
				}
				raw = localConfig(in, extra)
			}
			c := New()
			defer c.Close()
			now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
			c.now = func() time.Time { return now }
			cfg := mustConfig(t, raw)
			content := receiveCSV(1, 3)
			mtime := time.Date(2026, 3, 1, 22, 15, 0, 0, time.UTC)
			drop := func() {
				touch(t, write(t, in, "receive_1.csv", content), mtime)
				write(t, in, "receive_1.csv.done", "")
			}
			exists := func(dir, name string) bool {
				_, err := os.Stat(filepath.Join(dir, name))
				return err == nil
			}
			drop()

			res, err := c.Read(context.Background(), cfg, nil, 10)
			if err != nil || len(res.Records) != 3 || res.More {
				t.Fatalf("first Read: %d records, more %v, %v; want 3 and no more", len(res.Records), res.More, err)
			}
			if !exists(in, "receive_1.csv") {
				t.Fatalf("the file was processed before its rows were committed")
			}
			// The hub reads ahead from res.Next before it commits res:
			// that read proves nothing and must leave the file alone.
			ahead, err := c.Read(context.Background(), cfg, res.Next, 10)
			if err != nil || len(ahead.Records) != 0 || !exists(in, "receive_1.csv") || !exists(in, "receive_1.csv.done") {
				t.Fatalf("read ahead of the commit: %d records, %v; the file must stay until its rows are acknowledged", len(ahead.Records), err)
			}
			// The hub died before it committed: reading from the old
			// position again gives the rows again.
			again, err := c.Read(context.Background(), cfg, nil, 10)
			if err != nil || len(again.Records) != 3 || !exists(in, "receive_1.csv") {
				t.Fatalf("re-read from the uncommitted position: %d records, %v", len(again.Records), err)
			}
			// The hub committed res.Next and says so: the file goes.
			if err := c.Ack(context.Background(), cfg, res.Next); err != nil {
				t.Fatalf("Ack: %v", err)
			}
			if exists(in, "receive_1.csv") || exists(in, "receive_1.csv.done") {
				t.Errorf("file or trigger still in the folder after %s", tt.after)
			}
			// Acknowledged again (a hub that restarts acknowledges its
			// stored position): nothing to do, no error.
			if err := c.Ack(context.Background(), cfg, res.Next); err != nil {
				t.Errorf("Ack repeated: %v", err)
			}
			res2, err := c.Read(context.Background(), cfg, res.Next, 10)
			if err != nil || len(res2.Records) != 0 || res2.More {
				t.Fatalf("second Read: %d records, more %v, %v", len(res2.Records), res2.More, err)
			}
			want := tt.after == afterMove
			if exists(archive, "receive_1.csv") != want || exists(archive, "receive_1.csv.done") != want {
				t.Errorf("archive holds the file: %v, want %v", exists(archive, "receive_1.csv"), want)
			}
			if want {
				// The archived file is the file: same content, same time.
				p := filepath.Join(archive, "receive_1.csv")
				b, err := os.ReadFile(p)
				if err != nil || string(b) != content {
					t.Errorf("archived file: %d bytes, %v; want the %d bytes dropped", len(b), err, len(content))
				}
				if info, err := os.Stat(p); err != nil || !info.ModTime().Equal(mtime) {
					t.Errorf("archived file's modification time: %v, %v; want %v", info.ModTime(), err, mtime)
				}
			}
			// Dropped again: not read again, but processed the same way.
			drop()
			res3, err := c.Read(context.Background(), cfg, res2.Next, 10)
			if err != nil || len(res3.Records) != 0 || !exists(in, "receive_1.csv") {
				t.Fatalf("re-drop: %d records, %v", len(res3.Records), err)
			}
			if err := c.Ack(context.Background(), cfg, res3.Next); err != nil || exists(in, "receive_1.csv") {
				t.Fatalf("re-dropped file not processed: %v", err)
			}
			res4, err := c.Read(context.Background(), cfg, res3.Next, 10)
			if err != nil {
				t.Fatal(err)
			}
			if want {
				matches, _ := filepath.Glob(filepath.Join(archive, "receive_1.csv.*"))
				if len(matches) < 2 { // the second copy and the triggers
					t.Errorf("the second copy is not archived beside the first: %v", matches)
				}
				// Nothing half-copied is left behind.
				if hidden, _ := filepath.Glob(filepath.Join(archive, ".*")); len(hidden) > 0 {
					t.Errorf("the archive holds leftovers: %v", hidden)
				}
			}
			// After the retention, the file is forgotten.
			if p, _ := decodePosition(res4.Next); len(p.Done) != 1 {
				t.Fatalf("position = %s", res4.Next)
			}
			now = now.Add(721 * time.Hour)
			res5, err := c.Read(context.Background(), cfg, res4.Next, 10)
			if p, _ := decodePosition(res5.Next); err != nil || len(p.Done) != 0 {
				t.Errorf("after the retention: position %s, %v; want no done files", res5.Next, err)
			}
		})
	}
}

// otherFileSystem returns a new folder on another file system than root,
// where a rename from root fails with EXDEV: one in /dev/shm when that is
// a separate tmpfs. Without one the test is skipped, except in CI (CI set),
// whose machines have one: there it fails.
func otherFileSystem(t *testing.T, root string) string {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") != "" {
		skip = t.Fatalf
	}
	other, err := os.MkdirTemp("/dev/shm", "filedrop-test-")
	if err != nil {
		skip("no /dev/shm for an archive on another file system: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(other) })
	probe := write(t, root, ".probe", "")
	err = os.Rename(probe, filepath.Join(other, ".probe"))
	os.Remove(probe)
	os.Remove(filepath.Join(other, ".probe"))
	if !errors.Is(err, syscall.EXDEV) {
		skip("/dev/shm and %s are on the same file system (rename across: %v)", root, err)
	}
	return other
}

// moveAcross, the move to an archive on another file system, copies the
// file completely before it removes the source, and leaves the source in
// place whenever it cannot finish.
func TestMoveAcrossFileSystems(t *testing.T) {
	content := receiveCSV(1, 2000) // about 130 KB: several copy buffers
	mtime := time.Date(2026, 3, 1, 22, 15, 0, 0, time.UTC)
	tests := []struct {
		name string
		// setup prepares the archive folder before the move and returns
		// the destination path.
		setup func(t *testing.T, archive string) string
		// moved: the move succeeds, the source is gone and dst holds it;
		// otherwise err is one saying want, and the source is untouched.
		moved bool
		want  string
		is    error
		// left is what the archive folder holds afterwards.
		left []string
	}{
		{
			name:  "Moved",
			setup: func(t *testing.T, archive string) string { return filepath.Join(archive, "receive_1.csv") },
			moved: true,
			left:  []string{"receive_1.csv"},
		},
		{
			name: "LeftoverOfAnInterruptedCopy",
			setup: func(t *testing.T, archive string) string {
				write(t, archive, ".receive_1.csv.1234.part", content[:100])
				return filepath.Join(archive, "receive_1.csv")
			},
			moved: true,
			left:  []string{".receive_1.csv.1234.part", "receive_1.csv"},
		},
		{
			name: "DestinationExists",
			setup: func(t *testing.T, archive string) string {
				return write(t, archive, "receive_1.csv", "an earlier version\n")
			},
			is:   fs.ErrExist,
			left: []string{"receive_1.csv"},
		},
		{
			name: "CannotWriteTheArchive",
			setup: func(t *testing.T, archive string) string {
				// The archive folder's name is taken by a file.
				return filepath.Join(write(t, archive, "sub", "not a folder"), "receive_1.csv")
			},
			want: "the file stays and the move is tried again",
			left: []string{"sub"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := write(t, t.TempDir(), "receive_1.csv", content)
			if err := os.Chmod(src, 0o640); err != nil {
				t.Fatal(err)
			}
			touch(t, src, mtime)
			archive := t.TempDir()
			dst := tt.setup(t, archive)
			before, _ := os.ReadFile(dst)

			err := moveAcross(src, dst)

			if tt.moved {
				if err != nil {
					t.Fatalf("moveAcross: %v", err)
				}
				if _, err := os.Stat(src); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("the source is still there: %v", err)
				}
				info, err := os.Stat(dst)
				b, _ := os.ReadFile(dst)
				if err != nil || string(b) != content || !info.ModTime().Equal(mtime) || info.Mode().Perm() != 0o640 {
					t.Errorf("moved file: %d bytes of %d, time %v, mode %v, %v; want the source's content, time %v and mode 0640",
						len(b), len(content), info.ModTime(), info.Mode().Perm(), err, mtime)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
					t.Errorf("err = %v, want one saying %q (is %v)", err, tt.want, tt.is)
				}
				if err != nil && tt.is == nil && (!strings.Contains(err.Error(), src) || !strings.Contains(err.Error(), dst)) {
					t.Errorf("the error %q does not name the file and where it goes", err)
				}
				if b, err := os.ReadFile(src); err != nil || string(b) != content {
					t.Errorf("the source after a failed move: %d bytes, %v; want it untouched", len(b), err)
				}
				if after, _ := os.ReadFile(dst); string(after) != string(before) {
					t.Errorf("the destination was changed: %q", after)
				}
			}
			var left []string
			des, _ := os.ReadDir(archive)
			for _, de := range des {
				left = append(left, de.Name())
			}
			if !slices.Equal(left, tt.left) {
				t.Errorf("the archive folder holds %v, want %v", left, tt.left)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name  string
		cfg   map[string]string
		param string
		want  string
	}{
		{"NoUser", map[string]string{"source": "sftp://example.com/in"}, "source", "name the SFTP user"},
		{"BadScheme", map[string]string{"source": "ftp://u@example.com/in"}, "source", "not supported"},
		{"NoCredentials", map[string]string{"source": "sftp://u@example.com/in", "host_key": "SHA256:abcdefghijklmnopqrstuvwxyz"}, "password", "password or private_key"},
		{"BadFingerprint", map[string]string{"source": "sftp://u@example.com/in", "password": "secret-1", "host_key": "ab:cd"}, "host_key", "SHA256"},
		{"KindsNotPairs", map[string]string{"kinds": "receipts_*.csv"}, "kinds", "KIND=GLOB"},
		{"UnknownKind", map[string]string{"kinds": "invoice=inv*.csv"}, "kinds", "not a record kind"},
		{"BadGlob", map[string]string{"kinds": "receipt=[.csv"}, "kinds", "not a glob"},
		{"GlobOutside", map[string]string{"kinds": "receipt=../x/*.csv"}, "kinds", "not a glob"},
		{"Delimiter", map[string]string{"delimiter": ";;"}, "delimiter", "one ASCII character"},
		{"Encoding", map[string]string{"encoding": "ebcdic"}, "encoding", "not supported"},
		{"After", map[string]string{"after": "shred"}, "after", "leave, move or delete"},
		{"Format", map[string]string{"format": "xml"}, "format", "auto, csv, jsonl or xlsx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := map[string]string{"source": t.TempDir()}
			for k, v := range tt.cfg {
				raw[k] = v
			}
			_, err := parseOptions(mustConfig(t, raw))
			var ic *sdk.InvalidConfigError
			if !errors.As(err, &ic) || ic.Param != tt.param || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want an invalid %s saying %q", err, tt.param, tt.want)
			}
		})
	}
	t.Run("KindOf", func(t *testing.T) {
		o, err := parseOptions(mustConfig(t, map[string]string{"source": t.TempDir(), "kinds": "receipt=receipts_*.csv, shipment=out/*.csv, row=*"}))
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]string{"receipts_1.csv": "receipt", "x/receipts_1.csv": "receipt", "out/a.csv": "shipment", "a.csv": "row"} {
			if got := o.kindOf(name); got != want {
				t.Errorf("kindOf(%q) = %q, want %q", name, got, want)
			}
		}
	})
}
