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

func TestDockerfile_BuildsAStaticBinaryIntoDistrolessNonroot(t *testing.T) {
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
	b := build.index("RUN", "go build")
	if b < 0 {
		t.Fatal("no go build in the builder stage")
	}
	goBuild := build.Instructions[b].Args
	for _, want := range []string{"-trimpath", "-s -w", "-X github.com/messager/messager/pkg/version.Version=", "./cmd/messager"} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("go build lacks %q: %s", want, goBuild)
		}
	}
	cgoOff := strings.Contains(goBuild, "CGO_ENABLED=0") ||
		slices.ContainsFunc(build.all("ENV"), func(a string) bool { return regexp.MustCompile(`\bCGO_ENABLED=0\b`).MatchString(a) })
	if !cgoOff {
		t.Error("CGO_ENABLED=0 is not set for the build: the binary would need libc, which distroless/static lacks")
	}

	if final.From != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final stage FROM %s, want gcr.io/distroless/static-debian12:nonroot", final.From)
	}
	if users := final.all("USER"); len(users) == 0 || !strings.HasPrefix(users[len(users)-1], "nonroot") {
		t.Errorf("USER %q, want nonroot", users)
	}
	if !slices.ContainsFunc(final.all("COPY"), func(a string) bool {
		return strings.Contains(a, "--from="+build.Name) && strings.HasSuffix(a, " /messager")
	}) {
		t.Errorf("final stage does not copy the binary from %q to /messager: %q", build.Name, final.all("COPY"))
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
	for _, never := range []string{"go.mod", "go.sum", "cmd", "pkg", "ent", "*.go"} {
		if slices.Contains(lines, never) {
			t.Errorf(".dockerignore excludes %q, which the build needs", never)
		}
	}
}
