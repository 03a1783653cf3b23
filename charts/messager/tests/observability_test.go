package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// What the dashboards and alerts compute is tested against a real Prometheus scraping
// real processes in test/observability (main module). These tests pin what the chart and
// compose do with the files: the chart ships copies (Helm's .Files reads only inside the
// chart), rendered into sidecar ConfigMaps and a PrometheusRule.

var observabilityDir = filepath.Join(repoRoot, "observability")

// PrometheusRule (monitoring.coreos.com/v1): the fields the chart writes.
type PrometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Groups []ruleGroup `json:"groups"`
	} `json:"spec"`
}

// ruleGroup is Prometheus' rule group format (rulefmt), closed to unknown fields.
type ruleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []struct {
		Alert       string            `json:"alert,omitempty"`
		Record      string            `json:"record,omitempty"`
		Expr        string            `json:"expr"`
		For         string            `json:"for,omitempty"`
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"rules"`
}

func loadRules(t *testing.T) []ruleGroup {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(observabilityDir, "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []ruleGroup `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(data, &rules); err != nil {
		t.Fatalf("rules.yaml: %v", err)
	}
	if len(rules.Groups) == 0 {
		t.Fatal("rules.yaml has no groups")
	}
	return rules.Groups
}

// The chart's files/ are byte-for-byte copies of observability/ (`make chart-files`).
func TestChartFiles_AreIdenticalCopiesOfObservability(t *testing.T) {
	pairs := map[string]string{
		filepath.Join(chartDir, "files", "prometheus", "rules.yaml"): filepath.Join(observabilityDir, "prometheus", "rules.yaml"),
	}
	src, _ := filepath.Glob(filepath.Join(observabilityDir, "grafana", "dashboards", "*.json"))
	dst, _ := filepath.Glob(filepath.Join(chartDir, "files", "dashboards", "*.json"))
	if len(src) == 0 {
		t.Fatal("no dashboards in observability/grafana/dashboards")
	}
	base := func(ps []string) []string {
		var out []string
		for _, p := range ps {
			out = append(out, filepath.Base(p))
		}
		sort.Strings(out)
		return out
	}
	if !slices.Equal(base(src), base(dst)) {
		t.Errorf("chart dashboards %q, observability dashboards %q: run make chart-files", base(dst), base(src))
	}
	for _, s := range src {
		pairs[filepath.Join(chartDir, "files", "dashboards", filepath.Base(s))] = s
	}
	for copyPath, orig := range pairs {
		a, errA := os.ReadFile(orig)
		b, errB := os.ReadFile(copyPath)
		if errA != nil || errB != nil {
			t.Errorf("%v %v", errA, errB)
			continue
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s: edit observability/, then run make chart-files", copyPath, orig)
		}
	}
}

func TestGrafanaDashboards_OffByDefault(t *testing.T) {
	r := render(t, valuesURLs)
	if n := r.kinds()["PrometheusRule"]; n != 0 {
		t.Errorf("%d PrometheusRules rendered by default", n)
	}
	for _, cm := range all[corev1.ConfigMap](r) {
		if _, ok := cm.Labels["grafana_dashboard"]; ok {
			t.Errorf("dashboard ConfigMap %s rendered by default", cm.Name)
		}
	}
}

func TestGrafanaDashboards_RenderAsSidecarConfigMaps(t *testing.T) {
	for _, tc := range []struct {
		name, values, namespace, folder string
	}{
		{"defaults", valuesURLs + "grafanaDashboards: {enabled: true}\n", namespace, ""},
		{"folder and namespace", valuesURLs + "grafanaDashboards: {enabled: true, namespace: monitoring, folder: Chat, labels: {team: chat}}\n", "monitoring", "Chat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, tc.values)
			files, _ := filepath.Glob(filepath.Join(observabilityDir, "grafana", "dashboards", "*.json"))
			found := 0
			for _, cm := range all[corev1.ConfigMap](r) {
				if cm.Labels["grafana_dashboard"] == "" {
					continue
				}
				found++
				if cm.Labels["grafana_dashboard"] != "1" {
					t.Errorf("%s: grafana_dashboard=%q, want \"1\"", cm.Name, cm.Labels["grafana_dashboard"])
				}
				if cm.Namespace != tc.namespace {
					t.Errorf("%s: namespace %q, want %q", cm.Name, cm.Namespace, tc.namespace)
				}
				if got := cm.Annotations["grafana_folder"]; got != tc.folder {
					t.Errorf("%s: folder annotation %q, want %q", cm.Name, got, tc.folder)
				}
				if tc.folder != "" && cm.Labels["team"] != "chat" {
					t.Errorf("%s: extra labels missing: %v", cm.Name, cm.Labels)
				}
				if len(cm.Data) != 1 {
					t.Errorf("%s holds %d keys, want one dashboard", cm.Name, len(cm.Data))
				}
				for key, body := range cm.Data {
					orig, err := os.ReadFile(filepath.Join(observabilityDir, "grafana", "dashboards", key))
					if err != nil {
						t.Errorf("%s: key %s is not a dashboard in observability/: %v", cm.Name, key, err)
						continue
					}
					// The chart's copy, unchanged by templating (Grafana's {{legend}} survives).
					if body != strings.TrimRight(string(orig), "\n") {
						t.Errorf("%s: %s differs from observability/grafana/dashboards/%s", cm.Name, key, key)
					}
					var d struct {
						UID string `json:"uid"`
					}
					if err := json.Unmarshal([]byte(body), &d); err != nil || d.UID == "" {
						t.Errorf("%s: %s is not a dashboard with a uid: %v", cm.Name, key, err)
					}
					if !strings.Contains(body, "{{route}}") {
						t.Errorf("%s: legend templates were consumed by Helm", cm.Name)
					}
				}
			}
			if found != len(files) {
				t.Errorf("%d dashboard ConfigMaps, want %d (one per observability/grafana/dashboards/*.json)", found, len(files))
			}
		})
	}
}

func TestPrometheusRule_RendersTheRulesOfRulesYAML(t *testing.T) {
	r := render(t, valuesURLs+"prometheusRule: {enabled: true, labels: {release: kube-prometheus-stack}}\n")
	rules := all[PrometheusRule](r)
	if len(rules) != 1 {
		t.Fatalf("%d PrometheusRules, want 1", len(rules))
	}
	pr := rules[0]
	if pr.Namespace != namespace || pr.Labels["release"] != "kube-prometheus-stack" || pr.Labels["app.kubernetes.io/instance"] != releaseName {
		t.Errorf("PrometheusRule %s/%s labels %v", pr.Namespace, pr.Name, pr.Labels)
	}
	want := loadRules(t)
	if !reflect.DeepEqual(pr.Spec.Groups, want) {
		got, _ := yaml.Marshal(pr.Spec.Groups)
		exp, _ := yaml.Marshal(want)
		t.Errorf("PrometheusRule groups differ from rules.yaml:\n--- rendered\n%s\n--- rules.yaml\n%s", got, exp)
	}
	alerts := 0
	for _, g := range pr.Spec.Groups {
		for _, rule := range g.Rules {
			if rule.Alert != "" {
				alerts++
				if rule.Labels["severity"] == "" || rule.Annotations["summary"] == "" {
					t.Errorf("alert %s lacks a severity label or a summary", rule.Alert)
				}
				if strings.Contains(rule.Expr, `job=`) || strings.Contains(rule.Expr, `job=~`) {
					t.Errorf("alert %s names a job: compose and the chart name their jobs differently", rule.Alert)
				}
			}
		}
	}
	if alerts < 10 {
		t.Errorf("only %d alerts rendered", alerts)
	}
}

// Every alert in rules.yaml has a promtool unit test (rules_test.yaml), which .ci/run runs.
func TestPrometheusRules_EveryAlertHasAPromtoolTest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(observabilityDir, "prometheus", "rules_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		RuleFiles []string `json:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(data, &tests); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tests.RuleFiles, "rules.yaml") {
		t.Errorf("rules_test.yaml loads %q, not rules.yaml", tests.RuleFiles)
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for _, g := range loadRules(t) {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			if !firing[r.Alert] || !quiet[r.Alert] {
				t.Errorf("alert %s: promtool cases firing=%v quiet=%v, want both", r.Alert, firing[r.Alert], quiet[r.Alert])
			}
		}
	}
}

func TestPrometheusConfig_ScrapesQueuesFromOneTarget(t *testing.T) {
	cfgPath := filepath.Join(observabilityDir, "prometheus", "prometheus.yml")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Global        map[string]any `json:"global"`
		RuleFiles     []string       `json:"rule_files"`
		ScrapeConfigs []struct {
			JobName        string `json:"job_name"`
			MetricsPath    string `json:"metrics_path"`
			ScrapeInterval string `json:"scrape_interval"`
			StaticConfigs  []struct {
				Targets []string          `json:"targets"`
				Labels  map[string]string `json:"labels"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	// Rule files resolve against the config's directory: relative paths work both under
	// compose (the directory is mounted at /etc/prometheus) and for promtool in the repo.
	if len(cfg.RuleFiles) == 0 {
		t.Error("prometheus.yml loads no rule files")
	}
	for _, rf := range cfg.RuleFiles {
		if path.IsAbs(rf) {
			t.Errorf("rule file %s is absolute: promtool check config fails outside the container", rf)
		} else if _, err := os.Stat(filepath.Join(filepath.Dir(cfgPath), rf)); err != nil {
			t.Errorf("rule file %s: %v", rf, err)
		}
	}
	compose := loadCompose(t)
	targets := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets[sc.MetricsPath] = append(targets[sc.MetricsPath], st.Targets...)
		}
	}
	var perPod []string
	for _, tg := range targets["/metrics"] {
		host, _, _ := strings.Cut(tg, ":")
		if _, ok := compose[host]; !ok {
			t.Errorf("/metrics target %s is not a compose service", tg)
		}
		perPod = append(perPod, host)
	}
	sort.Strings(perPod)
	if want := []string{"api", "api2", "worker"}; !slices.Equal(perPod, want) {
		t.Errorf("/metrics scraped from %q, want %q", perPod, want)
	}
	if q := targets["/metrics/queues"]; len(q) != 1 {
		t.Errorf("/metrics/queues scraped from %q, want exactly one target", q)
	}
}
