// Command imagetool writes a one-layer container image as a `docker save`-format tarball that
// `ctr images import` (and `docker load`) accept, without any registry or base image: the
// offline stand-in for the Dockerfile's final stage (distroless/static:nonroot + /messager).
//
//	imagetool -o messager.tar -ref docker.io/messager/messager:ci -messager ./messager
//	imagetool -o pause.tar -ref docker.io/library/pause:3.10 -pause ./pause
//
// The messager image holds what the Dockerfile's final stage holds that messager uses: the
// static binary at /messager, /data owned by 65532, /tmp (1777), the CA bundle, /etc/passwd
// and /etc/group naming nonroot (65532); user 65532:65532, entrypoint ["/messager"], command
// ["all", "--data-dir", "/data"], port 8080. Timestamps are fixed, so the same inputs give the
// same image digest.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type file struct {
	path     string
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

func main() {
	out := flag.String("o", "", "output tarball")
	ref := flag.String("ref", "", "image reference stored in the tarball (give the normalized docker.io/... name)")
	messager := flag.String("messager", "", "static messager binary: build the messager image")
	pause := flag.String("pause", "", "static pause binary: build the pause image")
	caFile := flag.String("ca", "/etc/ssl/certs/ca-certificates.crt", "CA bundle copied into the messager image")
	version := flag.String("version", "ci", "org.opencontainers.image.version label")
	flag.Parse()
	if *out == "" || *ref == "" || (*messager == "") == (*pause == "") {
		log.Fatal("usage: imagetool -o OUT.tar -ref REF (-messager BIN | -pause BIN)")
	}
	tag, err := name.NewTag(*ref)
	if err != nil {
		log.Fatalf("ref: %v", err)
	}

	var files []file
	cfg := v1.Config{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, WorkingDir: "/"}
	if *pause != "" {
		files = []file{{path: "pause", mode: 0o755, data: mustRead(*pause)}}
		cfg.Entrypoint = []string{"/pause"}
	} else {
		files = []file{
			{path: "data", dir: true, mode: 0o755, uid: 65532, gid: 65532},
			{path: "etc", dir: true, mode: 0o755},
			{path: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n")},
			{path: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
			{path: "etc/ssl", dir: true, mode: 0o755},
			{path: "etc/ssl/certs", dir: true, mode: 0o755},
			{path: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: mustRead(*caFile)},
			{path: "home", dir: true, mode: 0o755},
			{path: "home/nonroot", dir: true, mode: 0o700, uid: 65532, gid: 65532},
			{path: "messager", mode: 0o755, data: mustRead(*messager)},
			{path: "tmp", dir: true, mode: 0o1777},
		}
		cfg.Env = append(cfg.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
		cfg.User = "65532:65532"
		cfg.Entrypoint = []string{"/messager"}
		cfg.Cmd = []string{"all", "--data-dir", "/data"}
		cfg.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
		cfg.Labels = map[string]string{
			"org.opencontainers.image.title":       "messager",
			"org.opencontainers.image.description": "Kubernetes-native, horizontally scalable browser chat",
			"org.opencontainers.image.version":     *version,
			"org.opencontainers.image.source":      "https://github.com/messager/messager",
		}
	}

	layerTar, err := tarOf(files)
	if err != nil {
		log.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		log.Fatal(err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: "test/cluster/imagetool", Created: v1.Time{Time: time.Unix(0, 0).UTC()}}})
	if err != nil {
		log.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		log.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Created, cf.Config = "amd64", "linux", v1.Time{Time: time.Unix(0, 0).UTC()}, cfg
	if arch := os.Getenv("GOARCH"); arch != "" {
		cf.Architecture = arch
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		log.Fatal(err)
	}
	if err := tarball.WriteToFile(*out, tag, img); err != nil {
		log.Fatal(err)
	}
	d, _ := img.Digest()
	fmt.Printf("%s %s\n", tag, d)
}

func mustRead(p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		log.Fatal(err)
	}
	return b
}

func tarOf(files []file) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.path, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag, h.Name = tar.TypeDir, strings.TrimSuffix(f.path, "/")+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
