package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	Cmd  string // upper-case: FROM, RUN, ...
	Args string
}

// stage is one FROM ... block.
type stage struct {
	From, Name   string
	Instructions []instruction
}

func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		stages  []stage
		pending string
	)
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if pending == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasPrefix(trimmed, "#") { // comment inside a continuation
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			pending += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		full := pending + trimmed
		pending = ""
		cmd, args, _ := strings.Cut(full, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		switch {
		case in.Cmd == "FROM":
			f := strings.Fields(in.Args)
			s := stage{From: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.Name = f[2]
			}
			stages = append(stages, s)
		case len(stages) == 0:
			if in.Cmd != "ARG" {
				t.Fatalf("%s before the first FROM", in.Cmd)
			}
		default:
			stages[len(stages)-1].Instructions = append(stages[len(stages)-1].Instructions, in)
		}
	}
	return stages
}

func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.Instructions {
		if in.Cmd == cmd {
			out = append(out, in.Args)
		}
	}
	return out
}

func (s stage) index(cmd, contains string) int {
	return slices.IndexFunc(s.Instructions, func(in instruction) bool {
		return in.Cmd == cmd && strings.Contains(in.Args, contains)
	})
}

// joinContinuations returns a shell script's lines with backslash continuations joined.
func joinContinuations(script string) []string {
	var (
		lines   []string
		pending string
	)
	for _, line := range strings.Split(script, "\n") {
		if trimmed := strings.TrimSpace(line); strings.HasSuffix(trimmed, "\\") {
			pending += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		lines = append(lines, pending+strings.TrimSpace(line))
		pending = ""
	}
	return lines
}

func TestDockerfile_BuildsAStaticBinaryIntoAScratchImageRunAsNonroot(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a multi-stage build", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	if !strings.HasPrefix(build.From, "golang:") {
		t.Errorf("builder FROM %s, want golang:", build.From)
	}
	// Module download is a layer of its own, before the sources are copied.
	mod := build.index("COPY", "go.mod")
	dl := build.index("RUN", "go mod download")
	src := build.index("COPY", ". .")
	if mod < 0 || dl < 0 || src < 0 || !(mod < dl && dl < src) {
		t.Errorf("want COPY go.mod go.sum, RUN go mod download, COPY . . in that order; got indexes %d %d %d", mod, dl, src)
	}

	// The builder runs build/image/rootfs.sh, the one definition of the image's files, which
	// test/cluster/up and test/cluster/image-equivalence run too: the go build is in it.
	const script = "build/image/rootfs.sh"
	r := build.index("RUN", script)
	if r < 0 || r < src {
		t.Fatalf("the builder stage does not run %s after COPY . . (RUN index %d)", script, r)
	}
	out := regexp.MustCompile(regexp.QuoteMeta(script) + `\s+(\S+)`).FindStringSubmatch(build.Instructions[r].Args)
	if out == nil {
		t.Fatalf("RUN %s: no output directory", build.Instructions[r].Args)
	}
	if !strings.Contains(build.Instructions[r].Args, "VERSION=") && build.index("ARG", "VERSION") < 0 {
		t.Error("the builder passes no VERSION to " + script)
	}
	fi, err := os.Stat(filepath.Join(repoRoot, script))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&0o111 == 0 {
		t.Errorf("%s is not executable (%v): the Dockerfile runs it directly", script, fi.Mode())
	}
	body, err := os.ReadFile(filepath.Join(repoRoot, script))
	if err != nil {
		t.Fatal(err)
	}
	var goBuild string
	for _, l := range joinContinuations(string(body)) {
		if strings.Contains(l, " build ") && strings.Contains(l, "./cmd/messager") {
			goBuild = l
		}
	}
	if goBuild == "" {
		t.Fatalf("no go build of ./cmd/messager in %s", script)
	}
	// CGO_ENABLED=0 on the command itself: the script also runs outside the builder's ENV.
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X github.com/messager/messager/internal/version.Version=", `-o "$root/messager"`} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("%s: go build lacks %q (the binary must be static, reproducible, versioned, at /messager): %s", script, want, goBuild)
		}
	}

	if final.From != "scratch" {
		t.Errorf("final stage FROM %s, want scratch (everything in it comes from %s)", final.From, script)
	}
	if c := final.all("COPY"); len(c) != 1 || c[0] != "--from="+build.Name+" "+out[1]+"/rootfs/ /" {
		t.Errorf("final stage COPY %q, want exactly [--from=%s %s/rootfs/ /]: the rootfs is the image's only content", c, build.Name, out[1])
	}
	if f := final.all("RUN"); len(f) > 0 {
		t.Errorf("final stage RUN %q: a scratch image has no shell", f)
	}
	// A numeric user, so Kubernetes can enforce runAsNonRoot, and one the image's
	// /etc/passwd and /etc/group call nonroot.
	if users := final.all("USER"); len(users) == 0 || users[len(users)-1] != "65532:65532" {
		t.Errorf("USER %q, want 65532:65532 (nonroot)", users)
	}
	for file, want := range map[string]string{
		"build/image/etc/passwd": "nonroot:x:65532:65532:",
		"build/image/etc/group":  "nonroot:x:65532:",
	} {
		data, err := os.ReadFile(filepath.Join(repoRoot, file))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(strings.Split(string(data), "\n"), func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("%s has no line starting %q", file, want)
		}
	}
	if e := final.all("EXPOSE"); !slices.Contains(e, "8080") {
		t.Errorf("EXPOSE %q, want 8080", e)
	}
	var entrypoint, cmd []string
	if e := final.all("ENTRYPOINT"); len(e) != 1 || json.Unmarshal([]byte(e[0]), &entrypoint) != nil {
		t.Fatalf("ENTRYPOINT %q, want one in exec (JSON) form", e)
	}
	if !slices.Equal(entrypoint, []string{"/messager"}) {
		t.Errorf("ENTRYPOINT %q, want [/messager]", entrypoint)
	}
	if c := final.all("CMD"); len(c) != 1 || json.Unmarshal([]byte(c[0]), &cmd) != nil || len(cmd) == 0 || cmd[0] != "all" {
		t.Errorf("CMD %q, want [\"all\", ...] so `docker run` needs nothing else", c)
	}
}

func TestDockerignore_KeepsLocalStateOutOfTheContext(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for _, want := range []string{".git", "data/"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
	for _, never := range []string{"go.mod", "go.sum", "cmd", "internal", "ent", "*.go"} {
		if slices.Contains(lines, never) {
			t.Errorf(".dockerignore excludes %q, which the build needs", never)
		}
	}
}
