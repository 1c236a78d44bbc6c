package filedrop

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Outbound is a folder lothub writes files to, for an ERP without an API
// that imports them (hub.yaml actions: kind file): a local directory or
// sftp://USER@HOST[:PORT]/PATH, with the same login and host-key settings
// as the connector's source.
type Outbound struct {
	// Dest is the folder: a directory path or an sftp:// URL.
	Dest string
	// Password, PrivateKey, Passphrase, KnownHosts, HostKey (SHA256:…
	// fingerprints, comma separated), Insecure: as the connector's
	// parameters of the same names.
	Password, PrivateKey, Passphrase, KnownHosts, HostKey string
	Insecure                                              bool
	Timeout                                               time.Duration
}

func (ob Outbound) options() (*options, error) {
	o := &options{password: ob.Password, privateKey: ob.PrivateKey, passphrase: ob.Passphrase,
		knownHosts: ob.KnownHosts, insecure: ob.Insecure, timeout: ob.Timeout}
	if err := o.parseSource(ob.Dest); err != nil {
		return nil, fmt.Errorf("outbound folder: %w", err)
	}
	if o.sftp {
		if o.password == "" && o.privateKey == "" {
			return nil, errors.New("an sftp outbound folder needs the credential password or private_key")
		}
		for _, fp := range splitList(ob.HostKey) {
			o.hostKeys = append(o.hostKeys, fp)
		}
		if o.knownHosts == "" && len(o.hostKeys) == 0 && !o.insecure {
			return nil, errors.New("the SFTP server's host key must be verified: set host_key (its SHA256:… fingerprint) or known_hosts")
		}
	}
	if o.timeout <= 0 {
		o.timeout = 15 * time.Second
	}
	return o, nil
}

// Where describes the folder for messages; it holds no secret.
func (ob Outbound) Where() string {
	o, err := ob.options()
	if err != nil {
		return ob.Dest
	}
	return o.where()
}

// Write writes data as name in the folder atomically: to a temporary name
// (name + ".tmp", which importers skip, like the connector does) first,
// then renamed, so that an importer never reads half a file. A file of
// that name already there is replaced.
func (ob Outbound) Write(ctx context.Context, name string, data []byte) error {
	o, err := ob.options()
	if err != nil {
		return err
	}
	if name != path.Base(name) || strings.HasPrefix(name, ".") {
		return fmt.Errorf("outbound file name %q must be a plain name", name)
	}
	if !o.sftp {
		tmp := filepath.Join(o.root, name+".tmp")
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return fmt.Errorf("write %s: %w (does the directory exist, and may the hub write to it?)", tmp, err)
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, filepath.Join(o.root, name))
		}
		if err != nil {
			os.Remove(tmp)
			return fmt.Errorf("write %s in %s: %w", name, o.root, err)
		}
		return syncDir(o.root)
	}
	s, err := dialSFTP(ctx, o)
	if err != nil {
		return err
	}
	defer s.close()
	stop := context.AfterFunc(ctx, func() { s.close() })
	defer stop()
	tmp, dst := s.path(name+".tmp"), s.path(name)
	f, err := s.c.Create(tmp)
	if err != nil {
		return fmt.Errorf("create %s on %s: %w", tmp, o.host, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// POSIX rename replaces the target; plain SFTP rename refuses to.
		if err = s.c.PosixRename(tmp, dst); err != nil {
			s.c.Remove(dst)
			err = s.c.Rename(tmp, dst)
		}
	}
	if err != nil {
		s.c.Remove(tmp)
		return fmt.Errorf("write %s on %s: %w", dst, o.host, err)
	}
	return nil
}

// Exists reports whether any of names is in the folder (names may be
// relative to it, like done/NAME for a folder the importer moves files
// to).
func (ob Outbound) Exists(ctx context.Context, names ...string) (bool, error) {
	o, err := ob.options()
	if err != nil {
		return false, err
	}
	var fsys interface {
		exists(context.Context, string) (bool, error)
		close() error
	}
	if o.sftp {
		s, err := dialSFTP(ctx, o)
		if err != nil {
			return false, err
		}
		fsys = s
	} else {
		fsys = &localFS{root: o.root}
	}
	defer fsys.close()
	for _, n := range names {
		ok, err := fsys.exists(ctx, n)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("look for %s in %s: %w", n, o.where(), err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}
