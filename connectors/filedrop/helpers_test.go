package filedrop

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lothub/lothub/connectors/filedrop/sftptest"
	"github.com/lothub/lothub/sdk"
	"github.com/lothub/lothub/sdk/sdktest"
)

// testPassword is the SFTP password of the test servers; long enough for
// sdktest to look for leaks of it.
const testPassword = "pw-7f3a9c1e55"

// startSFTP serves root over SFTP on 127.0.0.1 for the test.
func startSFTP(t testing.TB, root string) *sftptest.Server {
	t.Helper()
	srv, err := sftptest.Start(sftptest.Options{Root: root, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// sftpConfig is a configuration of srv's folder dir (relative to its
// root), logging in with the key pair and pinning the host key.
func sftpConfig(srv *sftptest.Server, dir string, extra map[string]string) map[string]string {
	cfg := map[string]string{
		"source":      srv.URL(dir),
		"private_key": string(srv.ClientKey),
		"host_key":    srv.Fingerprint(),
		"stable_wait": "0s",
	}
	maps.Copy(cfg, extra)
	return cfg
}

func localConfig(dir string, extra map[string]string) map[string]string {
	cfg := map[string]string{"source": dir, "stable_wait": "0s"}
	maps.Copy(cfg, extra)
	return cfg
}

func mustConfig(t testing.TB, raw map[string]string) sdk.Config {
	t.Helper()
	cfg, err := sdk.ParseConfig(New().Spec(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// write writes a file below dir, creating folders, and returns its path.
func write(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// touch sets a file's modification time.
func touch(t testing.TB, p string, mt time.Time) {
	t.Helper()
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
}

// receiveCSV is a canonical receive file of n rows, ids from first.
func receiveCSV(first, n int) string {
	var b strings.Builder
	b.WriteString("id,time,item,lot,qty,uom,supplier_id,supplier_name\n")
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, "R-%05d,2026-03-02T08:%02d:00Z,FLOUR,L-%d,%d,KG,V-MILL,Mill Co\n", i, i%60, i, 100+i)
	}
	return b.String()
}

// readAll reads from pos to the end in batches of max.
func readAll(t testing.TB, c *Connector, cfg sdk.Config, pos sdk.Position, max int) ([]sdk.Record, sdk.Position) {
	t.Helper()
	return sdktest.ReadAll(t, c, cfg, pos, max)
}

func ids(rs []sdk.Record) []string { return sdktest.IDs(rs) }
