package filedrop

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/lothub/lothub/sdk"
)

// entry is a file or directory of the source.
type entry struct {
	name  string // slash-separated path below the root
	size  int64
	mtime time.Time
	dir   bool
}

func (e entry) stamp() stamp { return stamp{Name: e.name, Size: e.size, Mtime: e.mtime.UnixNano()} }

// file is an open file of the source.
type file interface {
	io.Reader
	io.Seeker
	io.Closer
}

// fsys is the source's file system: a local directory or an SFTP server.
// Names are slash-separated paths below the root; the archive folder may
// be outside it.
type fsys interface {
	readDir(ctx context.Context, dir string) ([]entry, error)
	stat(ctx context.Context, name string) (entry, error)
	open(ctx context.Context, name string) (file, error)
	// move renames name to the path to (below the root unless absolute),
	// creating to's folder; it fails if to exists.
	move(ctx context.Context, name, to string) error
	remove(ctx context.Context, name string) error
	exists(ctx context.Context, name string) (bool, error)
	close() error
}

// localFS is a local directory.
type localFS struct{ root string }

func (l *localFS) path(name string) string {
	if filepath.IsAbs(filepath.FromSlash(name)) {
		return filepath.FromSlash(name)
	}
	return filepath.Join(l.root, filepath.FromSlash(name))
}

func (l *localFS) readDir(_ context.Context, dir string) ([]entry, error) {
	des, err := os.ReadDir(l.path(dir))
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(des))
	for _, de := range des {
		if !de.Type().IsRegular() && !de.IsDir() {
			continue // symbolic links, devices, sockets
		}
		info, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, entry{name: path.Join(dir, de.Name()), size: info.Size(), mtime: info.ModTime(), dir: de.IsDir()})
	}
	return out, nil
}

func (l *localFS) stat(_ context.Context, name string) (entry, error) {
	info, err := os.Stat(l.path(name))
	if err != nil {
		return entry{}, err
	}
	return entry{name: name, size: info.Size(), mtime: info.ModTime(), dir: info.IsDir()}, nil
}

func (l *localFS) open(_ context.Context, name string) (file, error) { return os.Open(l.path(name)) }

func (l *localFS) move(_ context.Context, name, to string) error {
	src, dst := l.path(name), l.path(to)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if _, err := os.Lstat(dst); err == nil {
		return fs.ErrExist
	}
	err := os.Rename(src, dst)
	if errors.Is(err, syscall.EXDEV) {
		// The archive folder is on another file system (a mount, another
		// disk): rename cannot cross it.
		return moveAcross(src, dst)
	}
	return err
}

// moveAcross moves the file src to dst on another file system, where
// rename cannot: it copies src to a hidden temporary file beside dst
// (keeping its permissions and modification time), flushes it to disk,
// renames it to dst, and only then removes src. A crash or an error at any
// point leaves src where it was, so the move is tried again at the next
// read; what may stay behind is a hidden .NAME.*.part file or a complete
// copy in the archive folder, never a lost file. Like rename, it fails
// with fs.ErrExist if dst exists.
func moveAcross(src, dst string) (err error) {
	fail := func(step string, err error) error {
		return fmt.Errorf("move %s to %s (another file system): %s: %w (check free space and that the hub's user may write to %s and delete from %s; the file stays and the move is tried again at the next read)",
			src, dst, step, err, filepath.Dir(dst), filepath.Dir(src))
	}
	in, err := os.Open(src)
	if err != nil {
		return fail("open", err)
	}
	defer in.Close()
	before, err := in.Stat()
	if err != nil {
		return fail("stat", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.part")
	if err != nil {
		return fail("create the copy", err)
	}
	tmpName, renamed := tmp.Name(), false
	defer func() {
		if err != nil {
			tmp.Close()
			if !renamed {
				os.Remove(tmpName)
			}
		}
	}()
	if _, err = io.Copy(tmp, in); err != nil {
		return fail("copy", err)
	}
	// Permissions and time are kept where the file system allows it: an
	// archive that cannot take them still gets the content.
	_ = tmp.Chmod(before.Mode().Perm())
	if err = tmp.Sync(); err != nil {
		return fail("flush the copy to disk", err)
	}
	if err = tmp.Close(); err != nil {
		return fail("close the copy", err)
	}
	_ = os.Chtimes(tmpName, time.Time{}, before.ModTime())
	if _, err = os.Lstat(dst); err == nil {
		return fs.ErrExist // appeared meanwhile: keep it, the caller picks another name
	}
	if err = os.Rename(tmpName, dst); err != nil {
		return fail("rename the copy", err)
	}
	renamed = true
	if err = syncDir(filepath.Dir(dst)); err != nil {
		os.Remove(dst)
		return fail("flush the archive folder to disk", err)
	}
	// Remove src only if it is still the file that was copied: an uploader
	// may have replaced it (or written to it) meanwhile, and that version
	// has not been read.
	after, err := in.Stat()
	if err != nil {
		os.Remove(dst)
		return fail("stat", err)
	}
	unchanged := after.Size() == before.Size() && after.ModTime().Equal(before.ModTime())
	now, err := os.Lstat(src)
	switch {
	case errors.Is(err, fs.ErrNotExist) && unchanged:
		return nil // removed by someone else meanwhile: the copy is complete
	case err != nil:
		os.Remove(dst)
		return fail("stat", err)
	case !unchanged || !os.SameFile(before, now):
		os.Remove(dst)
		err = errors.New("the file changed while it was copied")
		return fmt.Errorf("move %s to %s (another file system): %w; it is left in place and read again as a changed file", src, dst, err)
	}
	if err = os.Remove(src); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// Undo the copy, or every later attempt would add one.
		os.Remove(dst)
		return fail("remove the source", err)
	}
	return nil
}

// syncDir flushes a folder's entries to disk, so that a file renamed into
// it survives a crash. File systems that cannot sync a folder are trusted
// as they are.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}

func (l *localFS) remove(_ context.Context, name string) error { return os.Remove(l.path(name)) }

func (l *localFS) exists(_ context.Context, name string) (bool, error) {
	_, err := os.Stat(l.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (l *localFS) close() error { return nil }

// sftpFS is a folder on an SFTP server.
type sftpFS struct {
	root string // "." for the login folder
	ssh  *ssh.Client
	c    *sftp.Client
}

func (s *sftpFS) path(name string) string {
	if strings.HasPrefix(name, "/") {
		return name
	}
	return path.Join(s.root, name)
}

func (s *sftpFS) readDir(ctx context.Context, dir string) ([]entry, error) {
	infos, err := s.c.ReadDirContext(ctx, s.path(dir))
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(infos))
	for _, info := range infos {
		if !info.Mode().IsRegular() && !info.IsDir() {
			continue
		}
		out = append(out, entry{name: path.Join(dir, info.Name()), size: info.Size(), mtime: info.ModTime(), dir: info.IsDir()})
	}
	return out, nil
}

func (s *sftpFS) stat(_ context.Context, name string) (entry, error) {
	info, err := s.c.Stat(s.path(name))
	if err != nil {
		return entry{}, err
	}
	return entry{name: name, size: info.Size(), mtime: info.ModTime(), dir: info.IsDir()}, nil
}

func (s *sftpFS) open(_ context.Context, name string) (file, error) { return s.c.Open(s.path(name)) }

func (s *sftpFS) move(ctx context.Context, name, to string) error {
	dst := s.path(to)
	if err := s.c.MkdirAll(path.Dir(dst)); err != nil {
		return err
	}
	if ok, err := s.exists(ctx, to); err != nil || ok {
		if err == nil {
			err = fs.ErrExist
		}
		return err
	}
	return s.c.Rename(s.path(name), dst)
}

func (s *sftpFS) remove(_ context.Context, name string) error { return s.c.Remove(s.path(name)) }

func (s *sftpFS) exists(_ context.Context, name string) (bool, error) {
	_, err := s.c.Stat(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (s *sftpFS) close() error {
	err := s.c.Close()
	if cerr := s.ssh.Close(); err == nil {
		err = cerr
	}
	return err
}

// where describes the source for messages; it holds no secret.
func (o *options) where() string {
	if o.sftp {
		return fmt.Sprintf("sftp://%s@%s/%s", o.user, o.host, strings.TrimPrefix(o.root, "/"))
	}
	return o.root
}

// connect opens the source: checks that a local directory exists, or
// connects and logs in to the SFTP server.
func connect(ctx context.Context, o *options) (fsys, error) {
	if !o.sftp {
		info, err := os.Stat(o.root)
		if err != nil {
			return nil, fmt.Errorf("source directory %s: %w (check the path, and that the share is mounted and readable by the hub)", o.root, err)
		}
		if !info.IsDir() {
			return nil, sdk.InvalidConfig("source", "%s is not a directory", o.root)
		}
		return &localFS{root: o.root}, nil
	}
	return dialSFTP(ctx, o)
}

func dialSFTP(ctx context.Context, o *options) (*sftpFS, error) {
	auth, err := authMethods(o)
	if err != nil {
		return nil, err
	}
	hostKey, algos, err := hostKeyCheck(o)
	if err != nil {
		return nil, err
	}
	cfg := &ssh.ClientConfig{
		User:              o.user,
		Auth:              auth,
		HostKeyCallback:   hostKey,
		HostKeyAlgorithms: algos,
		Timeout:           o.timeout,
	}
	d := net.Dialer{Timeout: o.timeout}
	conn, err := d.DialContext(ctx, "tcp", o.host)
	if err != nil {
		return nil, sdk.RetryAfter(0, fmt.Errorf("connect to SFTP server %s: %w (check host and port, and that the hub may reach it through the firewall)", o.host, err))
	}
	// The deadline bounds the handshake, the login and the sftp start.
	conn.SetDeadline(time.Now().Add(o.timeout))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, chans, reqs, err := ssh.NewClientConn(conn, o.host, cfg)
	if err != nil {
		conn.Close()
		var hk *hostKeyError
		switch {
		case errors.As(err, &hk):
			return nil, hk
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, fmt.Errorf("log in to SFTP server %s as %q: the server refused the credentials: check the user name, the password, or that the public half of private_key is in the user's authorized_keys (%v)", o.host, o.user, err)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("connect to SFTP server %s: %w", o.host, ctx.Err())
		}
		return nil, sdk.RetryAfter(0, fmt.Errorf("SSH handshake with %s: %w", o.host, err))
	}
	client := ssh.NewClient(c, chans, reqs)
	sc, err := sftp.NewClient(client, sftp.UseConcurrentReads(true), sftp.MaxConcurrentRequestsPerFile(64))
	if err != nil {
		client.Close()
		return nil, sdk.RetryAfter(0, fmt.Errorf("start SFTP on %s (is the sftp subsystem enabled for this user?): %w", o.host, err))
	}
	conn.SetDeadline(time.Time{})
	if o.insecure && len(o.hostKeys) == 0 && o.knownHosts == "" {
		slog.WarnContext(ctx, "SFTP host key NOT verified (insecure_ignore_host_key: true): anyone between the hub and the server can read and forge the files; set host_key or known_hosts",
			"host", o.host)
	}
	return &sftpFS{root: o.root, ssh: client, c: sc}, nil
}

func authMethods(o *options) ([]ssh.AuthMethod, error) {
	var auth []ssh.AuthMethod
	if o.privateKey != "" {
		var signer ssh.Signer
		var err error
		if o.passphrase != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(o.privateKey), []byte(o.passphrase))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(o.privateKey))
		}
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing):
			return nil, sdk.InvalidConfig("private_key_passphrase", "the private key is encrypted: set private_key_passphrase (as a reference)")
		case err != nil && o.passphrase != "" && errors.Is(err, x509.IncorrectPasswordError): // what x/crypto/ssh returns for a wrong passphrase
			return nil, sdk.InvalidConfig("private_key_passphrase", "the passphrase does not open the private key")
		case err != nil:
			// The parser's message names the format problem, never the key.
			return nil, sdk.InvalidConfig("private_key", "cannot read the private key: want the text of an OpenSSH or PEM private key, usually given as ${file:/path/to/key} (%v)", err)
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	if pw := o.password; pw != "" {
		auth = append(auth, ssh.Password(pw), ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i := range answers {
				answers[i] = pw
			}
			return answers, nil
		}))
	}
	return auth, nil
}

// hostKeyError is a host key that does not match the configuration.
type hostKeyError struct {
	host, got, want, advice string
}

func (e *hostKeyError) Error() string {
	return fmt.Sprintf("SFTP host key verification failed for %s: the server presented %s, %s. %s", e.host, e.got, e.want, e.advice)
}

// hostKeyCheck returns the callback that verifies the server's host key
// against the pinned fingerprints and the known_hosts file (either may
// accept it), and the key algorithms to ask for (those known_hosts has, so
// that a server with several keys presents one we can check).
func hostKeyCheck(o *options) (ssh.HostKeyCallback, []string, error) {
	if len(o.hostKeys) == 0 && o.knownHosts == "" {
		if o.insecure {
			return ssh.InsecureIgnoreHostKey(), nil, nil
		}
		return nil, nil, sdk.InvalidConfig("host_key", "set host_key or known_hosts to verify the SFTP server")
	}
	var kh ssh.HostKeyCallback
	var algos []string
	if o.knownHosts != "" {
		var err error
		kh, err = knownhosts.New(o.knownHosts)
		if err != nil {
			return nil, nil, sdk.InvalidConfig("known_hosts", "cannot read %s: %v", o.knownHosts, err)
		}
		if len(o.hostKeys) == 0 {
			algos = knownAlgorithms(kh, o.host)
		}
	}
	return func(host string, remote net.Addr, key ssh.PublicKey) error {
		got := key.Type() + " key " + ssh.FingerprintSHA256(key)
		if slices.Contains(o.hostKeys, ssh.FingerprintSHA256(key)) {
			return nil
		}
		var wants []string
		if len(o.hostKeys) > 0 {
			wants = append(wants, "host_key pins "+strings.Join(o.hostKeys, " or "))
		}
		advice := fmt.Sprintf("If the server's key was changed on purpose, check the new fingerprint with the server's admin and update the configuration (ssh-keyscan -p %s %s | ssh-keygen -lf - shows it); otherwise someone may be intercepting the connection: do not connect.",
			portOf(host), hostOf(host))
		if kh != nil {
			err := kh(host, remote, key)
			if err == nil {
				return nil
			}
			var ke *knownhosts.KeyError
			switch {
			case errors.As(err, &ke) && len(ke.Want) == 0:
				wants = append(wants, fmt.Sprintf("and %s has no key for this host", o.knownHosts))
				if len(o.hostKeys) == 0 {
					advice = fmt.Sprintf("Add the host's key to %s once its fingerprint is confirmed by the server's admin (ssh-keyscan -p %s %s >> %s).",
						o.knownHosts, portOf(host), hostOf(host), o.knownHosts)
				}
			case errors.As(err, &ke):
				var fps []string
				for _, w := range ke.Want {
					fps = append(fps, fmt.Sprintf("%s (%s:%d)", ssh.FingerprintSHA256(w.Key), w.Filename, w.Line))
				}
				wants = append(wants, "but known_hosts expects "+strings.Join(fps, " or "))
			default:
				wants = append(wants, fmt.Sprintf("and known_hosts could not be checked: %v", err))
			}
		}
		return &hostKeyError{host: host, got: got, want: strings.Join(wants, " "), advice: advice}
	}, algos, nil
}

// knownAlgorithms returns the key algorithms known_hosts has for host, or
// nil when it has none (then the server chooses).
func knownAlgorithms(kh ssh.HostKeyCallback, host string) []string {
	// Ask about a key that cannot be known: the error lists the known ones.
	probe, err := ssh.NewPublicKey(probeKey)
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if err := kh(host, &net.TCPAddr{IP: net.IPv4zero}, probe); !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var algos []string
	for _, w := range ke.Want {
		t := w.Key.Type()
		if t == ssh.KeyAlgoRSA {
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
		}
		if !slices.Contains(algos, t) {
			algos = append(algos, t)
		}
	}
	return algos
}

// probeKey is an ed25519 public key nobody holds (all zeros but one byte).
var probeKey = func() ed25519.PublicKey {
	k := make(ed25519.PublicKey, ed25519.PublicKeySize)
	k[31] = 1
	return k
}()

func hostOf(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return h
}

func portOf(hostport string) string {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "22"
	}
	return p
}

// transient reports whether err is a network failure worth retrying: the
// connection was lost, reset or timed out.
func transient(err error) bool {
	var ne net.Error
	switch {
	case err == nil:
		return false
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, sftp.ErrSSHFxConnectionLost), errors.Is(err, sftp.ErrSSHFxNoConnection),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNREFUSED),
		errors.As(err, &ne):
		return true
	}
	return strings.Contains(err.Error(), "connection lost")
}
