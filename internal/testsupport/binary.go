package testsupport

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// messagerPkg is built by import path, so the build works from whichever
// package directory of the module the test runs in.
const messagerPkg = "github.com/messager/messager/cmd/messager"

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// MessagerBinary builds cmd/messager the first time a test asks and
// returns its path; later calls in the same test binary reuse it. The
// binary outlives every single test, so a package that uses it has Main
// as its TestMain, which removes it.
func MessagerBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "messager-test-bin-")
		if build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "messager")
		out, err := exec.Command("go", "build", "-o", build.bin, messagerPkg).CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build %s: %w\n%s", messagerPkg, err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// Main runs the tests and then removes what MessagerBinary built:
// func TestMain(m *testing.M) { testsupport.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	os.Exit(code)
}
