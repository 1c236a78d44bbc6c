// Package testbuild builds the project's executables for tests that run
// them as real processes: the hub (whose built-in connectors run as plugin
// processes of it, "hub plugin NAME") and the example connector. Each is
// built once per test binary, into a temporary folder that Main removes.
package testbuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// ExamplePlugin is the file name the example connector is installed under
// in the folder PluginDir returns: the hub finds it as plugin "scans".
const ExamplePlugin = "lothub-connector-scans"

var (
	mu     sync.Mutex
	dir    string
	builds = map[string]*build{}
)

type build struct {
	once sync.Once
	path string
	err  error
}

// binary builds pkg once into name inside the shared folder.
func binary(t testing.TB, pkg, name string) string {
	t.Helper()
	mu.Lock()
	if dir == "" {
		d, err := os.MkdirTemp("", "lothub-testbuild-")
		if err != nil {
			mu.Unlock()
			t.Fatal(err)
		}
		dir = d
	}
	b := builds[name]
	if b == nil {
		b = &build{}
		builds[name] = b
	}
	root := dir
	mu.Unlock()
	b.once.Do(func() {
		b.path = filepath.Join(root, name)
		if out, err := exec.Command("go", "build", "-o", b.path, pkg).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Hub returns the path of the hub executable.
func Hub(t testing.TB) string {
	return binary(t, "github.com/lothub/lothub/cmd/hub", "hub")
}

// PluginDir returns a plugin folder holding the example connector as
// ExamplePlugin.
func PluginDir(t testing.TB) string {
	p := binary(t, "github.com/lothub/lothub/examples/connector-example", filepath.Join("plugins", ExamplePlugin))
	return filepath.Dir(p)
}

// Main runs the tests and removes what was built. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	if dir != "" {
		os.RemoveAll(dir)
	}
	mu.Unlock()
	os.Exit(code)
}
