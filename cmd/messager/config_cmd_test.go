package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCmd(&out, &errb)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errb.String(), err
}

func TestConfigValidate_NamesEveryProblemInOneRun(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bad.yaml")
	doc := "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: default}\nspec:\n  presense: {ttl: 60s}\n  presence: {ttl: -60s}\n"
	if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := run(t, "config", "validate", "-f", f)
	var exit exitError
	if !errors.As(err, &exit) || exit != 1 {
		t.Fatalf("want exit status 1, got %v", err)
	}
	for _, want := range []string{"spec.presense: unknown field", "spec.presence.ttl: must be positive"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, stderr)
		}
	}
}

func TestConfigDefaults_IsValidInputToValidate(t *testing.T) {
	out, _, err := run(t, "config", "defaults")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apiVersion: messager.io/v1alpha1", "kind: MessagerConfig", "ttl: 1m0s", "maxBodyLength: 1000"} {
		if !strings.Contains(out, want) {
			t.Fatalf("defaults lack %q:\n%s", want, out)
		}
	}
	f := filepath.Join(t.TempDir(), "defaults.yaml")
	if err := os.WriteFile(f, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, err := run(t, "config", "validate", "-f", f); err != nil || !strings.Contains(stdout, "valid") {
		t.Fatalf("defaults do not validate: %v %s %s", err, stdout, stderr)
	}
}

func TestLoadConfig_FlagsBeatEnvBeatFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.yaml")
	doc := "apiVersion: messager.io/v1alpha1\nkind: MessagerConfig\nmetadata: {name: default}\nspec:\n  http: {addr: \":7000\"}\n  dataDir: /from/file\n  database: {url: /from/file.db}\n"
	if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MESSAGER_HTTP_ADDR", ":7001")
	t.Setenv("MESSAGER_DATA_DIR", "/from/env")
	cfg, err := loadConfig(&runFlags{configFile: f, httpAddr: ":7002"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Spec.HTTP.Addr != ":7002" || cfg.Spec.DataDir != "/from/env" || cfg.Spec.Database.URL != "/from/file.db" {
		t.Fatalf("precedence wrong: addr %q dataDir %q db %q", cfg.Spec.HTTP.Addr, cfg.Spec.DataDir, cfg.Spec.Database.URL)
	}
}

func TestAPIModeRefusesToRunWithoutRedis(t *testing.T) {
	t.Setenv("MESSAGER_REDIS_URL", "")
	_, _, err := run(t, "api", "--http-addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "needs a real Redis") {
		t.Fatalf("got %v", err)
	}
}

func TestVersion(t *testing.T) {
	out, _, err := run(t, "version")
	if err != nil || !strings.HasPrefix(out, "messager ") {
		t.Fatalf("%q %v", out, err)
	}
}

// `messager version` reports the build info, never the old "dev"
// placeholder: "devel" for a build without module version (go test, a
// build with -buildvcs=false), else the version Go stamped.
func TestVersion_ComesFromTheBuildInfo(t *testing.T) {
	out, _, err := run(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	v := strings.Fields(strings.TrimPrefix(out, "messager "))
	if len(v) == 0 || v[0] == "dev" || (v[0] != "devel" && !strings.HasPrefix(v[0], "v")) {
		t.Fatalf("version %q, want devel or a module version", out)
	}
}
