package tests

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type composeService struct {
	Image           string                       `yaml:"image"`
	Build           any                          `yaml:"build"`
	Command         []string                     `yaml:"command"`
	Environment     map[string]string            `yaml:"environment"`
	DependsOn       map[string]map[string]string `yaml:"depends_on"`
	Healthcheck     *struct{ Test []string }     `yaml:"healthcheck"`
	Volumes         []string                     `yaml:"volumes"`
	Ports           []string                     `yaml:"ports"`
	Restart         string                       `yaml:"restart"`
	StopGracePeriod string                       `yaml:"stop_grace_period"`
}

func loadCompose(t *testing.T) map[string]composeService {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Decoded through a generic map first so YAML anchors and `<<` merges resolve the
	// way compose resolves them.
	var doc struct {
		Services map[string]composeService `yaml:"services"`
		Volumes  map[string]any            `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("docker-compose.yaml: %v", err)
	}
	return doc.Services
}

func TestCompose_ServicesAreWiredToRedisAndPostgres(t *testing.T) {
	svcs := loadCompose(t)
	for name, want := range map[string]string{"redis": "redis:7", "postgres": "postgres:16"} {
		s, ok := svcs[name]
		if !ok {
			t.Fatalf("no %s service", name)
		}
		if s.Image != want {
			t.Errorf("%s image %q, want %q", name, s.Image, want)
		}
		if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
			t.Errorf("%s has no healthcheck, so service_healthy can never hold", name)
		}
	}
	messager := map[string]string{"migrate": "migrate", "api": "api", "api2": "api", "worker": "worker"}
	for name, sub := range messager {
		s, ok := svcs[name]
		if !ok {
			t.Errorf("no %s service", name)
			continue
		}
		if !slices.Equal(s.Command, []string{sub}) {
			t.Errorf("%s command %q, want [%s]", name, s.Command, sub)
		}
		if s.Build == nil && s.Image == "" {
			t.Errorf("%s has neither build nor image", name)
		}
		if u := s.Environment["MESSAGER_DATABASE_URL"]; !strings.HasPrefix(u, "postgres://") || !strings.Contains(u, "@postgres:5432/") {
			t.Errorf("%s MESSAGER_DATABASE_URL = %q, want postgres://…@postgres:5432/…", name, u)
		}
		if sub != "migrate" && s.Environment["MESSAGER_REDIS_URL"] != "redis://redis:6379/0" {
			t.Errorf("%s MESSAGER_REDIS_URL = %q", name, s.Environment["MESSAGER_REDIS_URL"])
		}
		if s.DependsOn["postgres"]["condition"] != "service_healthy" {
			t.Errorf("%s does not wait for a healthy postgres: %v", name, s.DependsOn)
		}
		if sub == "migrate" {
			continue
		}
		if s.DependsOn["redis"]["condition"] != "service_healthy" {
			t.Errorf("%s does not wait for a healthy redis: %v", name, s.DependsOn)
		}
		if s.DependsOn["migrate"]["condition"] != "service_completed_successfully" {
			t.Errorf("%s does not wait for the migration to finish: %v", name, s.DependsOn)
		}
	}
	if svcs["migrate"].Restart != "no" {
		t.Errorf("migrate restart = %q, want \"no\" (one-shot)", svcs["migrate"].Restart)
	}
	// Two api replicas must not fight over one host port.
	if p1, p2 := svcs["api"].Ports, svcs["api2"].Ports; len(p1) == 0 || len(p2) == 0 || p1[0] == p2[0] {
		t.Errorf("api ports %q and api2 ports %q", p1, p2)
	}
	for name, s := range svcs {
		for dep := range s.DependsOn {
			if _, ok := svcs[dep]; !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
			}
		}
	}
}

func TestCompose_MonitoringMountsFilesThatExist(t *testing.T) {
	svcs := loadCompose(t)
	for _, name := range []string{"prometheus", "grafana"} {
		s, ok := svcs[name]
		if !ok {
			t.Fatalf("no %s service", name)
		}
		if len(s.Volumes) == 0 {
			t.Errorf("%s mounts nothing", name)
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, "./") {
				continue
			}
			if _, err := os.Stat(filepath.Join(repoRoot, src)); err != nil {
				t.Errorf("%s mounts %s: %v", name, src, err)
			}
		}
	}
	if !slices.ContainsFunc(svcs["prometheus"].Volumes, func(v string) bool { return strings.HasPrefix(v, "./observability/prometheus:") }) {
		t.Errorf("prometheus does not mount observability/prometheus: %q", svcs["prometheus"].Volumes)
	}
	for _, dir := range []string{"./observability/grafana/provisioning:", "./observability/grafana/dashboards:"} {
		if !slices.ContainsFunc(svcs["grafana"].Volumes, func(v string) bool { return strings.HasPrefix(v, dir) }) {
			t.Errorf("grafana does not mount %s", strings.TrimSuffix(dir, ":"))
		}
	}
}
