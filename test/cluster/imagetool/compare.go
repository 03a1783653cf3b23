package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// fileInfo is what the comparison looks at for one path of an image's flattened filesystem.
type fileInfo struct {
	Mode     fs.FileMode // type, permission and setuid/setgid/sticky bits
	UID, GID int
	Size     int64
	SHA256   string // content of a regular file
	Link     string // target of a symlink or hard link
	Xattrs   map[string]string
}

func (f fileInfo) String() string {
	s := fmt.Sprintf("%v %d:%d", f.Mode, f.UID, f.GID)
	if f.Mode.IsRegular() {
		s += fmt.Sprintf(" %d bytes sha256:%.12s", f.Size, f.SHA256)
	}
	if f.Link != "" {
		s += " -> " + f.Link
	}
	if len(f.Xattrs) > 0 {
		s += fmt.Sprintf(" xattrs %v", f.Xattrs)
	}
	return s
}

// filesOf returns the flattened filesystem of img (all layers applied, whiteouts honoured),
// keyed by absolute path. The root directory itself is left out.
func filesOf(img v1.Image) (map[string]fileInfo, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]fileInfo{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		p := path.Clean("/" + h.Name)
		if p == "/" {
			continue
		}
		f := fileInfo{Mode: h.FileInfo().Mode(), UID: h.Uid, GID: h.Gid, Link: h.Linkname}
		if h.Typeflag == tar.TypeReg {
			sum := sha256.New()
			n, err := io.Copy(sum, tr)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			f.Size, f.SHA256 = n, hex.EncodeToString(sum.Sum(nil))
		}
		for k, v := range h.PAXRecords {
			if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				if f.Xattrs == nil {
					f.Xattrs = map[string]string{}
				}
				f.Xattrs[x] = v
			}
		}
		files[p] = f
	}
}

// runtimeConfig is the part of an image's config that decides how its containers run.
type runtimeConfig struct {
	Architecture, OS, Variant string
	User                      string
	Entrypoint, Cmd           []string
	Env                       []string
	WorkingDir                string
	ExposedPorts              map[string]struct{}
	Labels                    map[string]string
	Volumes                   map[string]struct{}
	StopSignal                string
	Healthcheck               *v1.HealthConfig
	OnBuild, Shell            []string
}

func runtimeConfigOf(img v1.Image) (runtimeConfig, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return runtimeConfig{}, err
	}
	c := cf.Config
	return runtimeConfig{
		Architecture: cf.Architecture, OS: cf.OS, Variant: cf.Variant,
		User: c.User, Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir,
		ExposedPorts: c.ExposedPorts, Labels: c.Labels, Volumes: c.Volumes, StopSignal: c.StopSignal,
		Healthcheck: c.Healthcheck, OnBuild: c.OnBuild, Shell: c.Shell,
	}, nil
}

// diffImages lists every difference between a and b in files (see fileInfo) and in runtime
// config; none means containers of the two run the same program on the same filesystem. It also
// returns how many paths it compared.
func diffImages(a, b v1.Image) ([]string, int, error) {
	var diffs []string
	ca, err := runtimeConfigOf(a)
	if err != nil {
		return nil, 0, fmt.Errorf("A: %w", err)
	}
	cb, err := runtimeConfigOf(b)
	if err != nil {
		return nil, 0, fmt.Errorf("B: %w", err)
	}
	// Field by field through JSON, where an empty list or map and a missing one are the same.
	var ma, mb map[string]any
	for _, x := range []struct {
		c runtimeConfig
		m *map[string]any
	}{{ca, &ma}, {cb, &mb}} {
		raw, err := json.Marshal(x.c)
		if err != nil {
			return nil, 0, err
		}
		if err := json.Unmarshal(raw, x.m); err != nil {
			return nil, 0, err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ma)) {
		ja, _ := json.Marshal(emptyToNil(ma[k]))
		jb, _ := json.Marshal(emptyToNil(mb[k]))
		if string(ja) != string(jb) {
			diffs = append(diffs, fmt.Sprintf("config %s: A %s, B %s", k, ja, jb))
		}
	}

	fa, err := filesOf(a)
	if err != nil {
		return nil, 0, fmt.Errorf("A: %w", err)
	}
	fb, err := filesOf(b)
	if err != nil {
		return nil, 0, fmt.Errorf("B: %w", err)
	}
	paths := slices.Sorted(maps.Keys(fa))
	for p := range fb {
		if _, ok := fa[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, p := range paths {
		x, inA := fa[p]
		y, inB := fb[p]
		switch {
		case !inB:
			diffs = append(diffs, fmt.Sprintf("%s: only in A (%v)", p, x))
		case !inA:
			diffs = append(diffs, fmt.Sprintf("%s: only in B (%v)", p, y))
		case x.String() != y.String() || x.SHA256 != y.SHA256:
			diffs = append(diffs, fmt.Sprintf("%s: A %v, B %v", p, x, y))
		}
	}
	return diffs, len(paths), nil
}

func emptyToNil(v any) any {
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return nil
		}
	case map[string]any:
		if len(x) == 0 {
			return nil
		}
	case string:
		if x == "" {
			return nil
		}
	}
	return v
}

// compareTarballs loads the one image in each `docker save` tarball and diffs them.
func compareTarballs(a, b string) ([]string, int, error) {
	ia, err := tarball.ImageFromPath(a, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", a, err)
	}
	ib, err := tarball.ImageFromPath(b, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", b, err)
	}
	return diffImages(ia, ib)
}
