package filedrop

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lothub/lothub/sdk"
	"github.com/lothub/lothub/sdk/sdktest"
)

// plantFolder writes a small folder of every format: 3 + 2 + 2 + 1 bad
// row = 8 records, and files that must be ignored.
func plantFolder(t *testing.T, dir string) int {
	t.Helper()
	write(t, dir, "receive_1.csv", receiveCSV(1, 3))
	write(t, dir, "ship_1.jsonl", `{"id":"S-1","item":"BREAD","lot":"B1","qty":5}`+"\n\n"+`{"id":"S-2","item":"BREAD","lot":"B1","qty":6}`+"\n")
	write(t, dir, "step_1.csv", "id,step,lot\r\nQ-1,metal,B1\r\nQ-2,\"temp, core\",B1\r\nQ-3,only two\r\n")
	write(t, dir, "receive_2.csv.tmp", receiveCSV(10, 5)) // still uploading
	write(t, dir, "notes.txt", "not matched by any glob\n")
	write(t, dir, ".receive_3.csv", receiveCSV(20, 5)) // hidden
	return 8
}

func TestConformanceLocal(t *testing.T) {
	dir := t.TempDir()
	n := plantFolder(t, dir)
	sdktest.Run(t, sdktest.Harness{
		New:         func() sdk.Connector { return New() },
		Config:      localConfig(dir, map[string]string{"kinds": "receive=receive*,ship=ship*,step=step*"}),
		BadEndpoint: localConfig(filepath.Join(dir, "missing"), nil),
		Expect:      n,
	})
}

func TestConformanceSFTP(t *testing.T) {
	root := t.TempDir()
	n := plantFolder(t, filepath.Join(root, "in"))
	srv := startSFTP(t, root)
	cfg := sftpConfig(srv, "in", map[string]string{"kinds": "receive=receive*,ship=ship*,step=step*", "password": testPassword})
	bad := sftpConfig(srv, "in", map[string]string{"source": "sftp://lothub@127.0.0.1:1/in", "password": testPassword})
	sdktest.Run(t, sdktest.Harness{
		New:         func() sdk.Connector { return New() },
		Config:      cfg,
		BadEndpoint: bad,
		Expect:      n,
	})
}

// With after-processing, the kit's crash check (read ahead, killed before
// the commit, resumed) must find every row: files are moved or deleted on
// acknowledgement only, never because the hub read past them.
func TestConformanceAfterProcessing(t *testing.T) {
	for _, after := range []string{afterMove, afterDelete} {
		t.Run(after, func(t *testing.T) {
			root := t.TempDir()
			in, archive := filepath.Join(root, "in"), filepath.Join(root, "archive")
			n := plantFolder(t, in)
			reset := func(t *testing.T) {
				for _, dir := range []string{in, archive} {
					if err := os.RemoveAll(dir); err != nil {
						t.Fatal(err)
					}
				}
				plantFolder(t, in)
			}
			sdktest.Run(t, sdktest.Harness{
				New:         func() sdk.Connector { return New() },
				Config:      localConfig(in, map[string]string{"kinds": "receive=receive*,ship=ship*,step=step*", "after": after, "archive_dir": "../archive"}),
				BadEndpoint: localConfig(filepath.Join(root, "missing"), nil),
				Expect:      n,
				Reset:       reset,
			})
		})
	}
}
