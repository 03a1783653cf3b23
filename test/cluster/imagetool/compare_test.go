package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// testEntries is a small tree shaped like the messager rootfs.
func testEntries() []entry {
	dir := func(name string, mode int64, id int) entry {
		return entry{hdr: &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: id, Gid: id, ModTime: epoch}}
	}
	file := func(name string, mode int64, data string) entry {
		return entry{hdr: &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch}, data: []byte(data)}
	}
	return []entry{
		dir("data", 0o755, 65532),
		dir("etc", 0o755, 0),
		file("etc/passwd", 0o644, "nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"),
		file("messager", 0o755, "binary"),
		dir("tmp", 0o1777, 0),
	}
}

func mustImage(t *testing.T, entries []entry, cfg v1.Config) v1.Image {
	t.Helper()
	img, err := newImage(entries, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestDiff_SameFilesAndConfigHaveNoDifferences(t *testing.T) {
	a := mustImage(t, testEntries(), messagerConfig("v1"))

	// The same files in two layers, other timestamps, a file added and then deleted by a
	// whiteout, and an empty list where the other has none: still the same image.
	entries := testEntries()
	first, second := entries[:2], entries[2:]
	for _, e := range second {
		e.hdr.ModTime = time.Unix(1_700_000_000, 0)
	}
	second = append(second,
		entry{hdr: &tar.Header{Typeflag: tar.TypeReg, Name: "etc/.wh.gone", Mode: 0o644, ModTime: epoch}})
	cfg := messagerConfig("v1")
	cfg.Volumes = map[string]struct{}{}
	b := mustImage(t, append(first, entry{hdr: &tar.Header{Typeflag: tar.TypeReg, Name: "etc/gone", Mode: 0o644, ModTime: epoch}}), cfg)
	secondTar, err := layerTar(second)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := layerFromBytes(secondTar)
	if err != nil {
		t.Fatal(err)
	}
	if b, err = mutate.AppendLayers(b, layer); err != nil {
		t.Fatal(err)
	}

	diffs, _, err := diffImages(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("differences between equal images:\n%s", strings.Join(diffs, "\n"))
	}
}

func TestDiff_ReportsEachDifference(t *testing.T) {
	tests := []struct {
		name   string
		change func(entries []entry, cfg *v1.Config) []entry
		want   string // a substring of the one difference reported
	}{
		{"user", func(e []entry, c *v1.Config) []entry { c.User = "nonroot"; return e }, `config User: A "65532:65532", B "nonroot"`},
		{"entrypoint", func(e []entry, c *v1.Config) []entry { c.Entrypoint = []string{"/bin/messager"}; return e }, "config Entrypoint:"},
		{"cmd", func(e []entry, c *v1.Config) []entry { c.Cmd = []string{"api"}; return e }, "config Cmd:"},
		{"env", func(e []entry, c *v1.Config) []entry { c.Env = c.Env[:1]; return e }, "config Env:"},
		{"workdir", func(e []entry, c *v1.Config) []entry { c.WorkingDir = ""; return e }, `config WorkingDir: A "/", B null`},
		{"port", func(e []entry, c *v1.Config) []entry { c.ExposedPorts = map[string]struct{}{"8081/tcp": {}}; return e }, "config ExposedPorts:"},
		{"label", func(e []entry, c *v1.Config) []entry { c.Labels["org.opencontainers.image.version"] = "v2"; return e }, "config Labels:"},
		{"volume", func(e []entry, c *v1.Config) []entry { c.Volumes = map[string]struct{}{"/data": {}}; return e }, "config Volumes:"},
		{"extra file", func(e []entry, _ *v1.Config) []entry {
			return append(e, entry{hdr: &tar.Header{Typeflag: tar.TypeReg, Name: "etc/extra", Mode: 0o644, Size: 1, ModTime: epoch}, data: []byte("x")})
		}, "/etc/extra: only in B"},
		{"missing file", func(e []entry, _ *v1.Config) []entry { return slices.Delete(e, 2, 3) }, "/etc/passwd: only in A"},
		{"mode", func(e []entry, _ *v1.Config) []entry { e[4].hdr.Mode = 0o777; return e }, "/tmp: A dtrwxrwxrwx 0:0, B drwxrwxrwx 0:0"},
		{"owner", func(e []entry, _ *v1.Config) []entry { e[0].hdr.Uid, e[0].hdr.Gid = 0, 0; return e }, "/data: A drwxr-xr-x 65532:65532, B drwxr-xr-x 0:0"},
		{"content of the same size", func(e []entry, _ *v1.Config) []entry { e[3].data = []byte("BINARY"); return e }, "/messager: A -rwxr-xr-x 0:0 6 bytes"},
		{"type", func(e []entry, _ *v1.Config) []entry {
			e[3] = entry{hdr: &tar.Header{Typeflag: tar.TypeSymlink, Name: "messager", Linkname: "/bin/true", Mode: 0o777, ModTime: epoch}}
			return e
		}, "B Lrwxrwxrwx 0:0 -> /bin/true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustImage(t, testEntries(), messagerConfig("v1"))
			cfg := messagerConfig("v1")
			b := mustImage(t, tt.change(testEntries(), &cfg), cfg)
			diffs, _, err := diffImages(a, b)
			if err != nil {
				t.Fatal(err)
			}
			if len(diffs) != 1 || !strings.Contains(diffs[0], tt.want) {
				t.Errorf("differences:\n%s\nwant exactly one, containing %q", strings.Join(diffs, "\n"), tt.want)
			}
		})
	}
}

func TestRootfsEntries_KeepsModesOwnersContentsAndLinks(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(dir, "tmp"), 0o700))
	must(os.Chmod(filepath.Join(dir, "tmp"), os.ModeSticky|0o777)) // Mkdir is subject to the umask; Chmod is not
	must(os.Mkdir(filepath.Join(dir, "etc"), 0o755))
	passwd := []byte("root:x:0:0::/:/sbin/nologin\n")
	sum := sha256.Sum256(passwd)
	must(os.WriteFile(filepath.Join(dir, "etc", "passwd"), passwd, 0o600))
	must(os.Chmod(filepath.Join(dir, "etc", "passwd"), 0o640))
	must(os.Symlink("etc/passwd", filepath.Join(dir, "link")))

	entries, err := rootfsEntries(dir)
	if err != nil {
		t.Fatal(err)
	}
	img := mustImage(t, entries, v1.Config{})
	files, err := filesOf(img)
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	want := map[string]fileInfo{
		"/etc":        {Mode: 0o755 | os.ModeDir, UID: uid, GID: gid},
		"/etc/passwd": {Mode: 0o640, UID: uid, GID: gid, Size: int64(len(passwd)), SHA256: hex.EncodeToString(sum[:])},
		"/link":       {Mode: 0o777 | os.ModeSymlink, UID: uid, GID: gid, Link: "etc/passwd"},
		"/tmp":        {Mode: 0o777 | os.ModeDir | os.ModeSticky, UID: uid, GID: gid},
	}
	for p, w := range want {
		if got, ok := files[p]; !ok || got.String() != w.String() || got.SHA256 != w.SHA256 {
			t.Errorf("%s: %v, want %v", p, got, w)
		}
	}
	if len(files) != len(want) {
		t.Errorf("%d paths in the image, want %d: %v", len(files), len(want), files)
	}

	// The same tree gives the same digest.
	again, err := rootfsEntries(dir)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := mustImage(t, again, v1.Config{}).Digest()
	if d1 != d2 {
		t.Errorf("digests %s and %s for the same tree", d1, d2)
	}
}
