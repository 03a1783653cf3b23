package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is every timestamp imagetool writes, so that equal inputs give equal digests.
var epoch = time.Unix(0, 0).UTC()

// defaultPath is the PATH both docker builders (classic and BuildKit) put into an image built
// FROM scratch that sets none.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// messagerConfig is the runtime config the Dockerfile's final stage declares. It is written out
// here, not read from the Dockerfile: test/cluster/image-equivalence fails when the two differ.
func messagerConfig(version string) v1.Config {
	return v1.Config{
		Env:          []string{defaultPath, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		WorkingDir:   "/",
		User:         "65532:65532",
		Entrypoint:   []string{"/messager"},
		Cmd:          []string{"all", "--data-dir", "/data"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "messager",
			"org.opencontainers.image.description": "Kubernetes-native, horizontally scalable browser chat",
			"org.opencontainers.image.version":     version,
			"org.opencontainers.image.source":      "https://github.com/messager/messager",
		},
	}
}

// entry is one file of a layer: its tar header and, for a regular file, its content.
type entry struct {
	hdr  *tar.Header
	data []byte
}

// rootfsEntries reads the tree under dir as layer entries, in lexical order, keeping each
// path's type, permission and setuid/setgid/sticky bits, numeric owner, content and link target
// exactly as they are on disk. dir itself is not an entry (it stands for /, whose mode the
// runtime decides). Anything but directories, regular files and symlinks is an error.
func rootfsEntries(dir string) ([]entry, error) {
	var entries []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		var link string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		} else if !fi.Mode().IsDir() && !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: %s is neither a directory, a regular file nor a symlink", p, fi.Mode().Type())
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no owner information", p)
		}
		// Only numeric owners: names would come from this host's /etc/passwd, not the image's.
		hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = filepath.ToSlash(rel), int(st.Uid), int(st.Gid), "", ""
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime, hdr.Format = epoch, time.Time{}, time.Time{}, tar.FormatPAX
		e := entry{hdr: hdr}
		if fi.Mode().IsRegular() {
			if e.data, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		entries = append(entries, e)
		return nil
	})
	return entries, err
}

// layerTar writes entries as one uncompressed layer tarball.
func layerTar(entries []entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := *e.hdr
		if h.Typeflag == tar.TypeDir && h.Name[len(h.Name)-1] != '/' {
			h.Name += "/"
		}
		if err := tw.WriteHeader(&h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// layerFromBytes makes an uncompressed layer tarball a layer.
func layerFromBytes(b []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
}

// newImage makes a one-layer image from entries with config cfg, for this machine's platform
// (or $GOARCH's), every timestamp at the epoch.
func newImage(entries []entry, cfg v1.Config) (v1.Image, error) {
	b, err := layerTar(entries)
	if err != nil {
		return nil, err
	}
	layer, err := layerFromBytes(b)
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: "test/cluster/imagetool", Created: v1.Time{Time: epoch}}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Created, cf.Config = runtime.GOARCH, "linux", v1.Time{Time: epoch}, cfg
	if arch := os.Getenv("GOARCH"); arch != "" {
		cf.Architecture = arch
	}
	return mutate.ConfigFile(img, cf)
}

// writeMessagerImage writes the messager image, the tree under rootfs with messagerConfig, to
// out as a `docker save` tarball tagged ref, and returns its digest.
func writeMessagerImage(out, ref, rootfs, version string) (string, error) {
	entries, err := rootfsEntries(rootfs)
	if err != nil {
		return "", err
	}
	img, err := newImage(entries, messagerConfig(version))
	if err != nil {
		return "", err
	}
	return writeTarball(out, ref, img)
}

// writePauseImage writes an image holding only bin as /pause, its entrypoint.
func writePauseImage(out, ref, bin string) (string, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "pause", Mode: 0o755, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}
	img, err := newImage([]entry{{hdr: hdr, data: data}}, v1.Config{Env: []string{defaultPath}, WorkingDir: "/", Entrypoint: []string{"/pause"}})
	if err != nil {
		return "", err
	}
	return writeTarball(out, ref, img)
}

func writeTarball(out, ref string, img v1.Image) (string, error) {
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", fmt.Errorf("ref: %w", err)
	}
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}
