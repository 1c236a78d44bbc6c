// Package sftptest runs a real SFTP server (golang.org/x/crypto/ssh with
// github.com/pkg/sftp) on 127.0.0.1, for the filedrop connector's tests and
// for hub demo: a fresh host key on every start, one user who logs in with
// a fresh key pair or a password.
//
// It is not a production server: it serves the machine's file system with
// the rights of the process (clients start in Root, but absolute paths reach
// everything), listens on loopback only, and keeps no logs. What it offers
// besides serving is what tests need: dropping connections, at once or after
// a number of bytes, to simulate a network failure mid-file.
package sftptest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Options configure a server.
type Options struct {
	// Root is the directory clients start in. Required.
	Root string
	// User is the login name; "lothub" when empty.
	User string
	// Password, when not empty, lets the user log in with it besides the
	// key pair.
	Password string
	// Logger receives connection errors; nothing is logged when nil.
	Logger *slog.Logger
}

// Server is a running SFTP server.
type Server struct {
	// Addr is host:port, on 127.0.0.1.
	Addr string
	// User is the login name.
	User string
	// Password is the user's password; "" when password login is off.
	Password string
	// HostKey is the server's public host key.
	HostKey ssh.PublicKey
	// ClientKey is the private key (OpenSSH PEM, unencrypted) of the key
	// pair the server accepts for User.
	ClientKey []byte
	// Root is the absolute path of the directory clients start in.
	Root string

	ln        net.Listener
	clientPub []byte
	log       *slog.Logger

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup

	sent      atomic.Int64 // bytes sent to clients, all connections
	dropAt    atomic.Int64 // close every connection when sent reaches it; 0: never
	logins    atomic.Int64
	closed    atomic.Bool
	sshConfig *ssh.ServerConfig
}

// Start starts a server on a free port of 127.0.0.1.
func Start(opt Options) (*Server, error) {
	if opt.Root == "" {
		return nil, errors.New("sftptest: Options.Root is empty")
	}
	root, err := filepath.Abs(opt.Root)
	if err != nil {
		return nil, fmt.Errorf("sftptest: root: %w", err)
	}
	user := opt.User
	if user == "" {
		user = "lothub"
	}
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sftptest: host key: %w", err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return nil, fmt.Errorf("sftptest: host key: %w", err)
	}
	clientPub, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sftptest: client key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(clientPriv, "lothub test client")
	if err != nil {
		return nil, fmt.Errorf("sftptest: client key: %w", err)
	}
	sshClientPub, err := ssh.NewPublicKey(clientPub)
	if err != nil {
		return nil, fmt.Errorf("sftptest: client key: %w", err)
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		User:      user,
		Password:  opt.Password,
		HostKey:   hostSigner.PublicKey(),
		ClientKey: pem.EncodeToMemory(block),
		Root:      root,
		clientPub: sshClientPub.Marshal(),
		log:       log,
		conns:     map[net.Conn]bool{},
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if c.User() == s.User && bytes.Equal(key.Marshal(), s.clientPub) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	if opt.Password != "" {
		cfg.PasswordCallback = func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if c.User() == s.User && subtle.ConstantTimeCompare(pw, []byte(s.Password)) == 1 {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		}
	}
	cfg.AddHostKey(hostSigner)
	s.sshConfig = cfg

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sftptest: listen: %w", err)
	}
	s.ln = ln
	s.Addr = ln.Addr().String()
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Fingerprint is the host key's SHA-256 fingerprint as ssh-keygen -l
// prints it: SHA256:base64.
func (s *Server) Fingerprint() string { return ssh.FingerprintSHA256(s.HostKey) }

// KnownHosts is a known_hosts line for the server.
func (s *Server) KnownHosts() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey) + "\n"
}

// URL is the sftp:// URL of dir, a path relative to Root (or "" for Root
// itself), for the server's user.
func (s *Server) URL(dir string) string {
	p := filepath.ToSlash(filepath.Join(s.Root, dir))
	return fmt.Sprintf("sftp://%s@%s%s", s.User, s.Addr, p)
}

// Logins counts the SSH logins so far.
func (s *Server) Logins() int64 { return s.logins.Load() }

// DropConnections closes every open connection now, as a network failure
// would.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// DropAfter closes every open connection once n more bytes have been sent
// to clients (over all connections), once. n <= 0 cancels it.
func (s *Server) DropAfter(n int64) {
	if n <= 0 {
		s.dropAt.Store(0)
		return
	}
	s.dropAt.Store(s.sent.Load() + n)
}

// Close stops the server and closes every connection.
func (s *Server) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	err := s.ln.Close()
	s.DropConnections()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed.Load() {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serve(&countingConn{Conn: c, s: s})
		}()
	}
}

func (s *Server) serve(c net.Conn) {
	sc, chans, reqs, err := ssh.NewServerConn(c, s.sshConfig)
	if err != nil {
		s.log.Debug("sftptest: handshake failed", "err", err)
		return
	}
	defer sc.Close()
	s.logins.Add(1)
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	defer wg.Wait()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ch.Close()
			s.session(ch, creqs)
		}()
	}
}

// session serves the sftp subsystem on one channel.
func (s *Server) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	for req := range reqs {
		ok := req.Type == "subsystem" && len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp"
		req.Reply(ok, nil)
		if !ok {
			continue
		}
		go ssh.DiscardRequests(reqs)
		srv, err := sftp.NewServer(ch, sftp.WithServerWorkingDirectory(s.Root))
		if err != nil {
			s.log.Debug("sftptest: sftp server", "err", err)
			return
		}
		if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
			s.log.Debug("sftptest: sftp session ended", "err", err)
		}
		srv.Close()
		return
	}
}

// countingConn counts the bytes sent and drops every connection when the
// DropAfter mark is reached.
type countingConn struct {
	net.Conn
	s *Server
}

func (c *countingConn) Write(p []byte) (int, error) {
	at := c.s.dropAt.Load()
	if at > 0 && c.s.sent.Load()+int64(len(p)) >= at {
		// Send what fits before the mark, then fail like a cut cable.
		if keep := at - c.s.sent.Load(); keep > 0 && keep < int64(len(p)) {
			n, _ := c.Conn.Write(p[:keep])
			c.s.sent.Add(int64(n))
		}
		if c.s.dropAt.CompareAndSwap(at, 0) {
			go c.s.DropConnections()
		}
		c.Conn.Close()
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Write(p)
	c.s.sent.Add(int64(n))
	return n, err
}
